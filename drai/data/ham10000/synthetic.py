"""Synthetic dermoscopy in the files and layout of the real HAM10000 download.

Writes, under one folder, what extracting the Dataverse files gives:

* ``HAM10000_images_part_1/``, ``HAM10000_images_part_2/``: ``ISIC_xxxxxxx.jpg``
* ``HAM10000_metadata.csv``: lesion_id, image_id, dx, dx_type, age, sex, localization
* ``HAM10000_segmentations_lesion_tschandl/``: ``ISIC_xxxxxxx_segmentation.png`` (0/255)
* ``ISIC2018_Task3_Test_Images/``: ``ISIC_xxxxxxx.jpg``
* ``ISIC2018_Task3_Test_GroundTruth.csv``: image, MEL, NV, BCC, AKIEC, BKL, DF, VASC

so that the loading code that reads real data is what runs. Every image marks
itself (:data:`IMAGE_MARK`, in a JPEG comment or a PNG text chunk), so that a
copy of any of them, wherever it ends up, is refused as real data
(:func:`is_synthetic_image`).

Content follows the class (lesion colour, size, pigment pattern); style
varies freely (position, orientation, shape, skin tone, hairs, vignetting).
Several images share a lesion_id, as in the real set (the same lesion seen
again), differing in style only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, PngImagePlugin
from scipy import ndimage

from drai.data.ham10000.settings import SyntheticDermSettings
from drai.io import atomic_dir, mark_synthetic

HAM_CLASSES = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")
GROUND_TRUTH_COLUMNS = ("MEL", "NV", "BCC", "AKIEC", "BKL", "DF", "VASC")

# Roughly HAM10000's class shares.
CLASS_SHARES = {"nv": 0.67, "mel": 0.11, "bkl": 0.11, "bcc": 0.05, "akiec": 0.03, "df": 0.015, "vasc": 0.015}


@dataclass(frozen=True)
class ClassLook:
    """Class content: lesion colour (RGB), relative size and pigment pattern."""

    colour: tuple[int, int, int]
    second_colour: tuple[int, int, int]
    size: tuple[float, float]  # lesion radius as a fraction of the image's short side
    pattern: str  # network | blotches | granular | smooth
    irregularity: float  # border irregularity


LOOKS = {
    "nv": ClassLook((120, 75, 45), (90, 55, 35), (0.14, 0.22), "network", 0.05),
    "mel": ClassLook((55, 35, 40), (70, 80, 120), (0.22, 0.32), "blotches", 0.25),
    "bkl": ClassLook((165, 125, 85), (135, 100, 70), (0.17, 0.27), "granular", 0.12),
    "bcc": ClassLook((190, 120, 120), (150, 90, 100), (0.12, 0.2), "smooth", 0.1),
    "akiec": ClassLook((180, 100, 90), (160, 90, 80), (0.12, 0.2), "granular", 0.15),
    "df": ClassLook((140, 90, 70), (200, 170, 150), (0.08, 0.14), "smooth", 0.05),
    "vasc": ClassLook((170, 40, 60), (120, 20, 40), (0.08, 0.14), "smooth", 0.05),
}


#: What every synthetic image carries in its own bytes: a JPEG comment (COM segment), a PNG text chunk.
IMAGE_MARK = "DRAI SYNTHETIC IMAGE (not patient data): rendered by the drai workflow"


def is_synthetic_image(path: str | Path) -> bool:
    """Whether an image file carries :data:`IMAGE_MARK` (its header only is read; unreadable: False)."""
    try:
        with Image.open(path) as handle:
            found = handle.info.get("comment", b"") or handle.info.get("Comment", "")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return False  # the reader of the images reports an unreadable one
    return (found.decode(errors="replace") if isinstance(found, bytes) else str(found)) == IMAGE_MARK


def save_jpeg(image: np.ndarray, path: Path) -> None:
    Image.fromarray(image).save(path, quality=92, comment=IMAGE_MARK.encode())


def save_mask(mask: np.ndarray, path: Path) -> None:
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", IMAGE_MARK)
    Image.fromarray((mask * 255).astype(np.uint8)).save(path, pnginfo=text)


#: Each image's style factors as drawn, beside the images (a file HAM10000 does not have).
FACTORS_FILE = "synthetic_factors.csv"


#: Images per lesion on average (HAM10000: 10015 images of 7470 lesions, about 1.34).
IMAGES_PER_LESION = 1.4


def render_image(
    dx: str, width: int, height: int, rng: np.random.Generator, factors: dict | None = None
) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """One image of class ``dx``: (RGB uint8 image, lesion mask, lesion centre (x, y)).

    ``factors``, when given, receives the image's style as drawn (recording
    draws nothing: the image is the same either way).
    """
    look = LOOKS[dx]
    short = min(width, height)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    # Style: skin tone, vignetting, lesion position, orientation and shape.
    skin = np.array([rng.uniform(185, 235), rng.uniform(140, 190), rng.uniform(120, 170)], np.float32)
    image = np.ones((height, width, 3), np.float32) * skin
    image += rng.normal(0, 4, (height, width, 1)).astype(np.float32)
    radius = short * rng.uniform(*look.size)
    cx = rng.uniform(radius * 0.8 + 2, width - radius * 0.8 - 2)
    cy = rng.uniform(radius * 0.8 + 2, height - radius * 0.8 - 2)
    angle = rng.uniform(0, np.pi)
    elongation = rng.uniform(0.65, 1.0)
    dx_, dy_ = xx - cx, yy - cy
    u = dx_ * np.cos(angle) + dy_ * np.sin(angle)
    v = (-dx_ * np.sin(angle) + dy_ * np.cos(angle)) / elongation
    r = np.hypot(u, v)
    theta = np.arctan2(v, u)
    wobble = 1 + look.irregularity * sum(
        rng.uniform(-1, 1) * np.cos(k * theta + rng.uniform(0, 2 * np.pi)) for k in range(2, 6)
    )
    inside = r <= radius * wobble
    soft = ndimage.gaussian_filter(inside.astype(np.float32), 1.0 + 2 * look.irregularity)
    # Content: colour and pigment pattern.
    pattern = np.zeros((height, width), np.float32)
    if look.pattern == "network":
        pattern = 0.5 + 0.5 * np.sin(xx / 2.2 + rng.uniform(0, 6)) * np.sin(yy / 2.2 + rng.uniform(0, 6))
    elif look.pattern == "blotches":
        pattern = ndimage.gaussian_filter(rng.random((height, width)).astype(np.float32), short / 18)
        pattern = (pattern - pattern.min()) / (np.ptp(pattern) + 1e-6)
    elif look.pattern == "granular":
        pattern = ndimage.gaussian_filter(rng.random((height, width)).astype(np.float32), 0.8)
    lesion = np.array(look.colour, np.float32) * (1 - pattern[..., None] * 0.6) + np.array(
        look.second_colour, np.float32
    ) * (pattern[..., None] * 0.6)
    alpha = soft[..., None] * rng.uniform(0.85, 1.0)
    image = image * (1 - alpha) + lesion * alpha
    # Style: hairs and vignetting.
    hairs = int(rng.integers(0, 6))
    for _ in range(hairs):
        x0, y0 = rng.uniform(0, width), rng.uniform(0, height)
        direction = rng.uniform(0, 2 * np.pi)
        bend = rng.uniform(-0.01, 0.01)
        length = rng.uniform(0.3, 1.0) * short
        t = np.linspace(0, length, int(length * 2))
        px = np.clip(x0 + t * np.cos(direction + bend * t), 0, width - 1).astype(int)
        py = np.clip(y0 + t * np.sin(direction + bend * t), 0, height - 1).astype(int)
        image[py, px] = image[py, px] * 0.3 + np.array([40, 30, 25]) * 0.7
    vignetting = rng.uniform(0.1, 0.45)
    vignette = 1 - vignetting * np.clip(
        (np.hypot(xx - width / 2, yy - height / 2) / (0.6 * np.hypot(width, height) / 2)) ** 3, 0, 1
    )
    image *= vignette[..., None]
    mask = inside
    if factors is not None:
        # Orientation has period pi (an ellipse): as (cos 2a, sin 2a), so that it is continuous.
        factors.update(
            centre_dx=float(cx / width - 0.5),
            centre_dy=float(cy / height - 0.5),
            orientation_cos=float(np.cos(2 * angle)),
            orientation_sin=float(np.sin(2 * angle)),
            elongation=float(elongation),
            skin_r=float(skin[0]),
            skin_g=float(skin[1]),
            skin_b=float(skin[2]),
            hairs=hairs,
            vignetting=float(vignetting),
            # Content: the lesion's diameter as drawn (along its long axis) per the image's short side.
            lesion_size=float(2 * radius / short),
        )
    return np.clip(image, 0, 255).astype(np.uint8), mask, (float(cx), float(cy))


def _class_draws(count: int, rng: np.random.Generator) -> list[str]:
    names = list(CLASS_SHARES)
    shares = np.array([CLASS_SHARES[n] for n in names])
    # At least one of every class keeps small sets complete.
    draws = list(names) + list(rng.choice(names, size=max(count - len(names), 0), p=shares / shares.sum()))
    return [str(d) for d in draws[:count]]


def write_dataset(root: str | Path, settings: SyntheticDermSettings) -> Path:
    """Write the synthetic HAM10000 + ISIC 2018 test set under ``root``.

    Returns ``root``; also writes ``synthetic_truth.csv`` with each image's
    true lesion centre, for tests, :data:`FACTORS_FILE` with each image's
    style factors as drawn, and the synthetic marker. An existing
    ``root`` is replaced only when it is empty or marked synthetic.
    """
    root = Path(root)
    rng = np.random.default_rng(settings.seed)
    with atomic_dir(root) as tmp:
        parts = [tmp / "HAM10000_images_part_1", tmp / "HAM10000_images_part_2"]
        masks_dir = tmp / "HAM10000_segmentations_lesion_tschandl"
        test_dir = tmp / "ISIC2018_Task3_Test_Images"
        for folder in (*parts, masks_dir, test_dir):
            folder.mkdir()
        rows, truth, factors, image_number = [], [], [], 24306
        lesions = min(settings.train_images, max(1, int(round(settings.train_images / IMAGES_PER_LESION))))
        lesion_classes = _class_draws(lesions, rng)
        # Every lesion seen once, some again.
        repeats = rng.integers(0, lesions, settings.train_images - lesions)
        lesion_of_image = np.sort(np.concatenate([np.arange(lesions), repeats]))
        for index, lesion in enumerate(lesion_of_image):
            dx = lesion_classes[lesion]
            image_id = f"ISIC_{image_number:07d}"
            image_number += 1
            style = {"image_id": image_id}
            image, mask, (cx, cy) = render_image(dx, settings.width, settings.height, rng, style)
            factors.append(style)
            save_jpeg(image, parts[index % 2] / f"{image_id}.jpg")
            save_mask(mask, masks_dir / f"{image_id}_segmentation.png")
            rows.append(
                {
                    "lesion_id": f"HAM_{lesion:07d}",
                    "image_id": image_id,
                    "dx": dx,
                    "dx_type": str(rng.choice(["histo", "follow_up", "consensus", "confocal"])),
                    "age": float(rng.integers(5, 18) * 5),
                    "sex": str(rng.choice(["male", "female"])),
                    "localization": str(rng.choice(["back", "face", "lower extremity", "trunk", "upper extremity"])),
                }
            )
            truth.append({"image_id": image_id, "split": "train", "dx": dx, "centre_x": cx, "centre_y": cy})
        pd.DataFrame(rows).to_csv(tmp / "HAM10000_metadata.csv", index=False)
        test_rows = []
        for dx in _class_draws(settings.test_images, rng):
            image_id = f"ISIC_{image_number:07d}"
            image_number += 1
            style = {"image_id": image_id}
            image, _, (cx, cy) = render_image(dx, settings.width, settings.height, rng, style)
            factors.append(style)
            save_jpeg(image, test_dir / f"{image_id}.jpg")
            test_rows.append({"image": image_id, **{c: float(c.lower() == dx) for c in GROUND_TRUTH_COLUMNS}})
            truth.append({"image_id": image_id, "split": "test", "dx": dx, "centre_x": cx, "centre_y": cy})
        pd.DataFrame(test_rows).to_csv(tmp / "ISIC2018_Task3_Test_GroundTruth.csv", index=False)
        pd.DataFrame(truth).to_csv(tmp / "synthetic_truth.csv", index=False)
        pd.DataFrame(factors).to_csv(tmp / FACTORS_FILE, index=False)
        mark_synthetic(tmp, "Synthetic dermoscopy images in HAM10000's file layout.")
    return root
