"""HAM10000: dermoscopy images to balanced 64x64 lesion patches (paper, Section III-A1).

* Classes: nv, mel and bkl by default (``classes``); the conditioning vector
  is the one-hot class in that order. Patches of the other four lesion types
  are made too, for the evaluator alone (Section III-C: "a 7 way
  classification on lesion type"); :func:`drai.data.ham10000.metadata.all_classes`
  orders them after the modelled ones.
* Lesion centre and extent: from the lesion segmentation mask when there is
  one of the image's size; otherwise estimated from the image
  (:func:`estimate_lesion`): luminance, smoothed and flat-fielded against
  vignetting, thresholded by Otsu's method; the largest dark component.
* Crop window (:func:`crop_window`), a square centred on the lesion that
  becomes the 48x48 patch ("Patches of size 48x48 centered around the lesion
  are extracted and then resized to 64x64", Section III-A1): ``crop``
  ``fixed`` takes one size for every lesion, ``crop_fraction`` of the image's
  short side, so that a lesion's size stays visible in its patch; ``per_lesion``
  takes ``lesion_margin`` x the lesion's larger extent (at least
  ``min_crop_fraction`` of the short side), so that every lesion fills its
  patch alike. The 48x48 patch is resized to 64x64 (bicubic); RGB is mapped
  to [-1, 1].
* Border rule: a window that would run past the image's edge is moved inside
  it, the least distance that does so, stored margin included; the lesion
  then lies off the patch centre by that distance (``window_shift``, in patch
  pixels). No pixel of a patch lies outside its image. (Repeating edge pixels
  beyond the border, as before, drew stripes of smeared edge pixels.)
* Split: HAM10000 is training, the ISIC 2018 Task 3 test images are test
  ("the train-test split provided by the dataset"). Without the test files a
  split grouped by lesion_id (no lesion on both sides) stands in; the outputs
  say which (``split_source``).
* Balance: each training image of ``augment_classes`` (mel, bkl) gets
  ``augment_copies`` (3) extra copies, each flipped horizontally and/or
  vertically at random (never the identity), seeded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError
from scipy import ndimage
from skimage.filters import threshold_otsu
from sklearn.model_selection import GroupShuffleSplit

from drai.data.ham10000.metadata import (
    DataError,
    RawFiles,
    all_classes,
    blank,
    find_files,
    looked_for,
    read_ground_truth,
    read_metadata,
    refuse_synthetic,
)
from drai.data.ham10000.settings import LesionPatchSettings, PatchSetSettings
from drai.data.ham10000.synthetic import HAM_CLASSES
from drai.parallel import progress_map

log = logging.getLogger(__name__)

DEFAULT_CLASSES = ("nv", "mel", "bkl")
CROPS = ("fixed", "per_lesion")  # ham10000.crop
# DermaMNIST's label order (MedMNIST v2).
MEDMNIST_CLASSES = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")


@dataclass(frozen=True)
class CropWindow:
    """The square of an image that becomes the ``output_size`` patch: its centre (pixel coordinates, pixel i
    at i) and side in image pixels. The stored patch covers ``stored_size / output_size`` times that side."""

    x: float
    y: float
    side: float

    def lesion_in_patch(self, cx: float, cy: float, output_size: int) -> tuple[float, float]:
        """Where the lesion centre (cx, cy) lies in the patch, relative to its centre, in patch pixels."""
        scale = output_size / self.side
        return (cx - self.x) * scale, (cy - self.y) * scale


def crop_window(
    width: int, height: int, cx: float, cy: float, extent: float, settings: LesionPatchSettings
) -> CropWindow:
    """The crop window of a lesion at (cx, cy) of larger extent ``extent`` in a ``width`` x ``height`` image.

    Its side is ``crop_fraction`` of the short side (``fixed``) or ``lesion_margin`` x ``extent`` within
    [``min_crop_fraction`` x short side, the largest whose stored patch fits in the image] (``per_lesion``).
    Border rule: centred on the lesion, then moved the least distance that puts the stored patch inside the
    image.
    """
    short = min(width, height)
    largest = short * settings.output_size / settings.stored_size  # its stored patch spans the short side
    if settings.crop == "fixed":
        side = settings.crop_fraction * short
        if side > largest * (1 + 1e-9):
            raise ValueError(
                f"ham10000.crop_fraction: {settings.crop_fraction} of the short side with its stored margin "
                f"({settings.stored_size}/{settings.output_size}) is larger than the image"
            )
    elif settings.crop == "per_lesion":
        side = min(max(settings.lesion_margin * extent, settings.min_crop_fraction * short), largest)
    else:
        raise ValueError(f"ham10000.crop must be one of {CROPS}, got {settings.crop!r}")
    half = side * settings.stored_size / settings.output_size / 2
    # Edge coordinates (pixel i spans [i, i + 1)): the stored patch spans centre +- half.
    x = float(np.clip(cx + 0.5, half, width - half)) - 0.5
    y = float(np.clip(cy + 0.5, half, height - half)) - 0.5
    return CropWindow(x, y, float(side))


def lesion_from_mask(mask: np.ndarray) -> tuple[float, float, float]:
    """Centre (x, y) and larger extent in pixels of a lesion mask."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        raise DataError("empty lesion mask")
    return float(xs.mean()), float(ys.mean()), float(max(np.ptp(xs), np.ptp(ys)) + 1)


def estimate_lesion(image: np.ndarray, rings: int = 16) -> tuple[float, float, float]:
    """Centre (x, y) and extent of the lesion, estimated from the image alone.

    Dermoscopy images darken towards their rim (vignetting), often more than a
    light lesion differs from skin. Luminance is smoothed and divided by its
    median in rings around the image centre (a flat field that a lesion, which
    fills only part of each ring, barely moves); Otsu's threshold then
    separates the dark lesion, and its largest connected component is taken.
    """
    height, width = image.shape[:2]
    short = min(height, width)
    luminance = image[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    smooth = ndimage.gaussian_filter(luminance, max(short / 60, 1.0))
    yy, xx = np.mgrid[0:height, 0:width]
    radius = np.hypot(xx - (width - 1) / 2, yy - (height - 1) / 2)
    ring = np.minimum((radius / radius.max() * rings).astype(int), rings - 1)
    profile = ndimage.median(smooth, ring, np.arange(rings))
    flat = smooth / np.maximum(np.asarray(profile)[ring], 1.0)
    if np.ptp(flat) < 1e-6:
        return width / 2, height / 2, float(short)
    labels, count = ndimage.label(flat < threshold_otsu(flat))
    if count == 0:
        return width / 2, height / 2, float(short)
    sizes = ndimage.sum_labels(np.ones_like(labels), labels, np.arange(1, count + 1))
    return lesion_from_mask(labels == int(np.argmax(sizes)) + 1)


def crop_patch(image: np.ndarray, cx: float, cy: float, extent: float, settings: LesionPatchSettings) -> np.ndarray:
    """The patch of the lesion at (cx, cy) in its :func:`crop_window`: see :func:`cut_patch`."""
    height, width = image.shape[:2]
    return cut_patch(image, crop_window(width, height, cx, cy, extent, settings), settings)


def cut_patch(image: np.ndarray, window: CropWindow, settings: LesionPatchSettings) -> np.ndarray:
    """The patch of ``window`` as (3, stored_size, stored_size) float32 in [-1, 1].

    The window is scaled to ``patch_size``, then resized to ``output_size`` per
    ``patch_size`` (bicubic); the stored patch adds a margin of context at that
    scale around the same centre. Both resizes work on a canvas twice the
    window that does not depend on ``stored_size`` and is cut only afterwards,
    so the centre ``output_size``^2 pixels are the same for every stored size,
    and no pixel of them is near a resize's edge. The stored patch lies inside
    the image (:func:`crop_window`); only the bicubic filter's support, a few
    pixels beyond it, may repeat edge pixels there.
    """
    patch, output, stored = settings.patch_size, settings.output_size, settings.stored_size
    edge = 4  # output pixels of bicubic support kept beyond the stored patch
    canvas = 2 * patch
    needed = (stored + 2 * edge) * patch / output  # canvas pixels the stored patch and its bicubic support need
    if stored < output or (stored - output) % 2 or needed % 1 or (canvas - needed) % 2 or needed > canvas:
        raise ValueError(
            f"ham10000.stored_size: {stored} does not fit: it must be at least ham10000.output_size "
            f"({output}) and at most {2 * output - 2 * edge}, and ({stored} + {2 * edge}) x "
            f"{patch} / {output} must be a whole number of the same parity as {canvas}"
        )
    height, width = image.shape[:2]
    side = window.side
    # PIL's box is in pixel-edge coordinates: pixel i spans [i, i + 1).
    left, top = window.x + 0.5 - side, window.y + 0.5 - side
    box = (left, top, left + 2 * side, top + 2 * side)
    pad = int(np.ceil(max(0, -box[0], -box[1], box[2] - width, box[3] - height))) + 1
    padded = np.pad(image[..., :3], ((pad, pad), (pad, pad), (0, 0)), mode="edge") if pad > 1 else image[..., :3]
    shift = pad if pad > 1 else 0
    source = Image.fromarray(np.ascontiguousarray(padded))
    scaled = source.resize(
        (canvas,) * 2,
        Image.Resampling.BOX if side > patch else Image.Resampling.BILINEAR,
        box=tuple(v + shift for v in box),
    )
    needed = int(needed)
    start = (canvas - needed) // 2
    scaled = scaled.crop((start, start, start + needed, start + needed))
    resized = scaled.resize((stored + 2 * edge,) * 2, Image.Resampling.BICUBIC)
    resized = resized.crop((edge, edge, edge + stored, edge + stored))
    return (np.asarray(resized, np.float32).transpose(2, 0, 1) / 127.5 - 1.0).astype(np.float32)


def load_rgb(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as handle:
            handle.load()
            return np.asarray(handle.convert("RGB"))
    except Image.DecompressionBombError as error:
        # Pillow refuses images of more than twice its MAX_IMAGE_PIXELS before decoding them.
        raise DataError(f"{path}: image too large to be a dermoscopy image ({error})") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise DataError(f"{path}: unreadable image ({error})") from None


#: The start of the reason of an image skipped for being smaller than the patch (see :func:`build_patches`).
SMALLER_THAN_PATCH = "smaller than ham10000.patch_size"


def process_image(job: tuple) -> dict:
    """Patch of one image, or the reason it was skipped."""
    image_id, image_path, mask_path, settings = job
    result = {"image_id": image_id, "file": str(image_path)}
    try:
        image = load_rgb(image_path)
    except DataError as error:
        return {**result, "skipped": str(error)}
    height, width = image.shape[:2]
    if min(height, width) < settings.patch_size:
        # The lesion square, at most the short side, would be enlarged to patch_size: nothing to see in it.
        return {
            **result,
            "skipped": f"{image_path}: image is {width}x{height} pixels, {SMALLER_THAN_PATCH} "
            f"({settings.patch_size} pixels)",
            "short_side": min(height, width),
        }
    source, note = "estimate", ""
    if mask_path is not None:
        try:
            with Image.open(mask_path) as handle:
                mask = np.asarray(handle.convert("L")) > 127
            if mask.shape != image.shape[:2]:
                note = (
                    f"{mask_path}: mask is {mask.shape[1]}x{mask.shape[0]}, "
                    f"image {image.shape[1]}x{image.shape[0]}; estimated instead"
                )
            else:
                cx, cy, extent = lesion_from_mask(mask)
                source = "mask"
        except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError, DataError) as error:
            note = f"{mask_path}: unusable mask ({error}); estimated instead"
    if source == "estimate":
        cx, cy, extent = estimate_lesion(image)
    window = crop_window(image.shape[1], image.shape[0], cx, cy, extent, settings)
    shift_x, shift_y = window.lesion_in_patch(cx, cy, settings.output_size)
    return {
        **result,
        "patch": cut_patch(image, window, settings),
        "centre_x": cx,
        "centre_y": cy,
        "extent": extent,
        "centre_source": source,
        "crop_side": window.side,
        "window_shift_x": shift_x,
        "window_shift_y": shift_y,
        "note": note,
    }


#: What images.csv records of each lesion and its crop window (window_shift_*: the lesion centre's place in the
#: patch relative to the patch centre, in patch pixels; 0 unless the border rule moved the window).
WINDOW_COLUMNS = ("centre_x", "centre_y", "extent", "centre_source", "crop_side", "window_shift_x", "window_shift_y")


def random_flips(count: int, rng: np.random.Generator) -> list[str]:
    """``count`` flips, each horizontal and/or vertical at random, never none."""
    flips = []
    while len(flips) < count:
        h, v = rng.random() < 0.5, rng.random() < 0.5
        if h or v:
            flips.append(("h" if h else "") + ("v" if v else ""))
    return flips


def apply_flip(patch: np.ndarray, flip: str) -> np.ndarray:
    """Flip a (C, H, W) patch: 'h' mirrors left-right, 'v' top-bottom."""
    if "h" in flip:
        patch = patch[:, :, ::-1]
    if "v" in flip:
        patch = patch[:, ::-1, :]
    return np.ascontiguousarray(patch)


def augment(table: pd.DataFrame, patches: np.ndarray, classes: tuple[str, ...], copies: int, seed: int):
    """Append ``copies`` flipped copies of every training patch of ``classes``.

    Returns the extended (table, patches); rows gain ``augmented`` and ``flip``.
    """
    rng = np.random.default_rng(seed)
    table = table.assign(augmented=False, flip="")
    chosen = np.flatnonzero((table["split"] == "train").to_numpy() & table["dx"].isin(classes).to_numpy())
    rows, extra = [], []
    for index in chosen:
        for flip in random_flips(copies, rng):
            rows.append({**table.iloc[index].to_dict(), "augmented": True, "flip": flip})
            extra.append(apply_flip(patches[index], flip))
    if not rows:
        return table, patches
    return (pd.concat([table, pd.DataFrame(rows)], ignore_index=True), np.concatenate([patches, np.stack(extra)]))


def split_by_lesion(table: pd.DataFrame, test_fraction: float, seed: int) -> np.ndarray:
    """'train'/'test' per row, grouped by lesion_id so no lesion is on both sides."""
    splitter = GroupShuffleSplit(n_splits=1, test_size=test_fraction, random_state=seed)
    train_index, _ = next(splitter.split(table, groups=table["lesion_id"]))
    split = np.full(len(table), "test", dtype=object)
    split[train_index] = "train"
    return split


def collect(files: RawFiles, classes: tuple[str, ...], test_fraction: float, seed: int):
    """The images to use with their split, and the rows skipped (with why)."""
    unknown = set(classes) - set(HAM_CLASSES)
    if unknown:
        raise DataError(f"unknown class(es) {sorted(unknown)} in config; HAM10000 has {', '.join(HAM_CLASSES)}")
    skipped = []
    metadata = read_metadata(files.metadata)
    unnamed = blank(metadata["image_id"]) | blank(metadata["lesion_id"])
    for index, row in metadata[unnamed].iterrows():
        column = "image_id" if blank(pd.Series([row.image_id])).iloc[0] else "lesion_id"
        skipped.append(
            {
                "image_id": "" if column == "image_id" else row.image_id,
                "file": str(files.metadata),
                "reason": f"line {index + 2}: empty {column}",
            }
        )
    metadata = metadata[~unnamed]
    strange = ~metadata["dx"].isin(HAM_CLASSES)
    for row in metadata[strange].itertuples():
        skipped.append({"image_id": row.image_id, "file": str(files.metadata), "reason": f"unknown class {row.dx!r}"})
    train = metadata[~strange & metadata["dx"].isin(classes)]
    if files.ground_truth is not None:
        test = read_ground_truth(files.ground_truth)
        both = sorted(set(test["image_id"]) & set(metadata["image_id"].astype(str)))
        if both:
            raise DataError(
                f"{files.ground_truth}: image_id {both[0]} is also listed in {files.metadata} "
                f"({len(both)} such images); an image cannot be in both the training and the test set"
            )
        test = test[test["dx"].isin(classes)]
        train, test = train.assign(split="train"), test.assign(split="test")
        split_source = "ISIC 2018 Task 3 test set"
        table = pd.concat([train, test], ignore_index=True)
        paths = [
            (files.test_images if split == "test" else files.images).get(image_id)
            for image_id, split in zip(table["image_id"], table["split"], strict=True)
        ]
    else:
        table = train.reset_index(drop=True)
        table["split"] = split_by_lesion(table, test_fraction, seed)
        split_source = f"grouped by lesion_id ({test_fraction:.0%} test, seed {seed})"
        paths = [files.images.get(i) for i in table["image_id"]]
    table["path"] = paths
    absent = table["path"].isna()
    for row in table[absent].itertuples():
        skipped.append(
            {
                "image_id": row.image_id,
                "file": looked_for(files, row.image_id, row.split),
                "reason": "listed but no image file found",
            }
        )
    return table[~absent].reset_index(drop=True), skipped, split_source


def build_patches(
    root: str | Path,
    settings: PatchSetSettings,
    processes: int = 1,
    progress: bool = True,
    allow_synthetic: bool = True,
):
    """Patches, per-image table, skipped rows and split source of a HAM10000 folder.

    Every lesion type is patched (the evaluator's seven); ``settings.classes``
    are the modelled ones, and only ``settings.augment_classes`` get flipped copies.
    Without ``allow_synthetic`` (real data), a folder holding anything this
    project rendered is refused (:func:`refuse_synthetic`).
    """
    classes, seed = settings.classes, settings.seed
    if not allow_synthetic:
        refuse_synthetic(root)
    files = find_files(root)
    table, skipped, split_source = collect(files, all_classes(tuple(classes)), settings.test_fraction, seed)
    jobs = [(r.image_id, r.path, files.masks.get(r.image_id), settings.lesion) for r in table.itertuples()]
    results = list(progress_map(process_image, jobs, processes, "HAM10000 patches", "img", progress, chunksize=16))
    kept, patches, short_sides = [], [], []
    for row, result in zip(table.to_dict("records"), results, strict=True):
        if "skipped" in result:
            skipped.append({"image_id": result["image_id"], "file": result["file"], "reason": result["skipped"]})
            short_sides += [result["short_side"]] if "short_side" in result else []
            continue
        if result["note"]:
            log.warning(result["note"])
        kept.append({**row, **{k: result[k] for k in WINDOW_COLUMNS}})
        patches.append(result["patch"])
    if not patches and short_sides and len(short_sides) == len(results):
        raise DataError(
            f"config key ham10000.patch_size: {settings.lesion.patch_size} pixels is larger than every image "
            f"under {root} (their short sides are at most {max(short_sides)} pixels)"
        )
    if not patches:
        raise DataError(f"{root}: no usable image of classes {', '.join(classes)}")
    kept = pd.DataFrame(kept).drop(columns=["path"]).assign(file=[str(r["path"]) for r in kept])
    before = kept.copy()
    kept, stacked = augment(kept, np.stack(patches), tuple(settings.augment_classes), settings.augment_copies, seed)
    return kept, stacked, pd.DataFrame(skipped, columns=["image_id", "file", "reason"]), split_source, before


def from_medmnist(path: str | Path, classes: tuple[str, ...] = DEFAULT_CLASSES):
    """DermaMNIST 64x64 (``dermamnist_64.npz``) mapped onto the same classes.

    Its images are whole dermoscopy images resized to 64x64, used as they are
    (no lesion crop is possible); train and val are training, test is test.
    """
    path = Path(path)
    try:
        data = np.load(path)
    except Exception as error:
        raise DataError(f"{path}: cannot be read as an npz file ({error})") from None
    with data:
        wanted = [f"{s}_{k}" for s in ("train", "val", "test") for k in ("images", "labels")]
        missing = [k for k in wanted if k not in data.files]
        if missing:
            raise DataError(f"{path}: missing key(s) {', '.join(missing)}")
        rows, images = [], []
        for split in ("train", "val", "test"):
            labels = data[f"{split}_labels"].reshape(-1)
            for index, (image, label) in enumerate(zip(data[f"{split}_images"], labels, strict=True)):
                dx = MEDMNIST_CLASSES[int(label)]
                if dx not in classes:
                    continue
                rows.append(
                    {
                        "image_id": f"{split}_{index}",
                        "lesion_id": f"{split}_{index}",
                        "dx": dx,
                        "split": "test" if split == "test" else "train",
                        "centre_source": "whole image",
                    }
                )
                images.append(image)
    if not images:
        raise DataError(f"{path}: no image of classes {', '.join(classes)}")
    stack = np.stack(images).astype(np.float32)
    if stack.shape[1:3] != (64, 64):
        raise DataError(f"{path}: images are {stack.shape[1]}x{stack.shape[2]}, expected 64x64 (dermamnist_64)")
    patches = (stack.transpose(0, 3, 1, 2) / 127.5 - 1.0).astype(np.float32)
    return pd.DataFrame(rows), patches


def class_counts(
    before: pd.DataFrame, after: pd.DataFrame, classes: tuple[str, ...], modelled: tuple[str, ...] | None = None
) -> pd.DataFrame:
    """Per class: training images before and after augmentation, test images, and whether the models use it."""

    def count(frame, split, dx):
        return int(((frame["split"] == split) & (frame["dx"] == dx)).sum())

    modelled = classes if modelled is None else modelled
    return pd.DataFrame(
        [
            {
                "class": dx,
                "train_before": count(before, "train", dx),
                "train_after": count(after, "train", dx),
                "test": count(after, "test", dx),
                "modelled": dx in modelled,
            }
            for dx in classes
        ]
    )
