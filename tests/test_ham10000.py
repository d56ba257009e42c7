from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from drai.data.ham10000.metadata import DataError, find_files, read_metadata
from drai.data.ham10000.patches import (
    apply_flip,
    build_patches,
    crop_patch,
    crop_window,
    cut_patch,
    estimate_lesion,
    from_medmnist,
    lesion_from_mask,
)
from drai.data.ham10000.settings import LesionPatchSettings, PatchSetSettings, SyntheticDermSettings
from drai.data.ham10000.synthetic import render_image, write_dataset

# The ci preset's settings (the old dataclass and keyword defaults), changed per test.
LESION = LesionPatchSettings(
    patch_size=48,
    output_size=64,
    crop="per_lesion",
    crop_fraction=0.8,
    lesion_margin=1.25,
    min_crop_fraction=0.25,
    stored_size=72,
)
PATCH_SET = PatchSetSettings(
    classes=("nv", "mel", "bkl"),
    augment_classes=("mel", "bkl"),
    augment_copies=3,
    test_fraction=0.2,
    seed=0,
    lesion=replace(LESION, crop="fixed"),
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dataset(
        tmp_path_factory.mktemp("ham") / "raw",
        SyntheticDermSettings(train_images=60, test_images=20, width=120, height=90, seed=0),
    )


def lesion_centre_in_patch(patch: np.ndarray) -> tuple[float, float]:
    """Centre of mass of the darkest third of a (3, H, W) patch."""
    luminance = patch.mean(axis=0)
    dark = luminance < np.percentile(luminance, 33)
    ys, xs = np.nonzero(dark)
    return ys.mean(), xs.mean()


@pytest.mark.parametrize("seed", range(6))
def test_patch_is_centred_on_a_known_lesion(seed):
    rng = np.random.default_rng(seed)
    image, mask, (cx, cy) = render_image("nv", 200, 150, rng)
    mx, my, extent = lesion_from_mask(mask)
    assert abs(mx - cx) < 3 and abs(my - cy) < 3
    # A disc, no texture, at the known centre (kept clear of the border): the
    # patch's dark blob is centred.
    cx, cy = np.clip(cx, 30, 170), np.clip(cy, 30, 120)
    yy, xx = np.mgrid[0:150, 0:200]
    disc = np.where(((xx - cx) ** 2 + (yy - cy) ** 2 <= 20**2)[..., None], 60, 200).astype(np.uint8).repeat(3, -1)
    patch = crop_patch(disc, cx, cy, 40.0, replace(LESION, stored_size=64))
    assert patch.shape == (3, 64, 64) and patch.min() >= -1 and patch.max() <= 1
    y, x = lesion_centre_in_patch(patch)
    assert abs(y - 31.5) <= 1.0 and abs(x - 31.5) <= 1.0


def test_lesion_estimate_without_mask_finds_the_centre():
    rng = np.random.default_rng(0)
    errors = []
    for dx in ["nv", "mel", "bkl"] * 10:
        image, _, (cx, cy) = render_image(dx, 160, 120, rng)
        ex, ey, _ = estimate_lesion(image)
        errors.append(np.hypot(ex - cx, ey - cy))
    assert np.median(errors) < 2.0
    assert np.mean(np.array(errors) < 8) >= 0.85


def dark_disc(radius: float, width: int = 200, height: int = 150) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
    inside = (xx - (width - 1) / 2) ** 2 + (yy - (height - 1) / 2) ** 2 <= radius**2
    return np.where(inside[..., None], 40, 210).astype(np.uint8).repeat(3, -1)


def dark_share(patch: np.ndarray) -> float:
    return float((patch.mean(axis=0) < 0).mean())


@pytest.mark.parametrize("crop", ["fixed", "per_lesion"])
def test_a_fixed_crop_keeps_the_lesions_size_and_a_per_lesion_crop_does_not(crop):
    settings = replace(LESION, crop=crop, stored_size=64)
    small, large = (crop_patch(dark_disc(r), 99.5, 74.5, 2 * r, settings) for r in (20, 40))
    ratio = dark_share(large) / dark_share(small)
    if crop == "fixed":  # one window for both: the areas keep their ratio, (40 / 20)^2
        assert ratio == pytest.approx(4.0, rel=0.1)
        side = 0.8 * 150
        assert dark_share(small) == pytest.approx(np.pi * 20**2 / side**2, rel=0.1)
    else:  # each lesion fills its window alike
        assert ratio == pytest.approx(1.0, abs=0.1)


@pytest.mark.parametrize("crop", ["fixed", "per_lesion"])
def test_a_window_past_the_border_is_moved_inside_the_image(crop):
    settings = replace(LESION, crop=crop)
    image = np.full((90, 120, 3), 210, np.uint8)
    image[:, :10] = 40  # a dark band along the left edge, 10 pixels wide
    window = crop_window(120, 90, 2.0, 45.0, 40.0, settings)
    stored_side = window.side * 72 / 64
    assert window.x + 0.5 - stored_side / 2 == pytest.approx(0.0)  # the stored patch starts at the image's edge
    patch = crop_patch(image, 2.0, 45.0, 40.0, settings)
    dark_columns = (patch.mean(axis=(0, 1)) < 0).sum()
    # the band keeps its width at the patch's scale: no smeared edge pixels beyond it
    assert abs(dark_columns - 10 * 72 / stored_side) <= 1
    # the lesion centre lies left of the patch centre by the distance the window moved
    shift_x, shift_y = window.lesion_in_patch(2.0, 45.0, 64)
    assert shift_x == pytest.approx((2.0 - window.x) * 64 / window.side) and shift_x < -10 and shift_y == 0
    # a window inside the image is not moved
    inside = crop_window(120, 90, 60.0, 45.0, 20.0, settings)
    assert inside.lesion_in_patch(60.0, 45.0, 64) == (0.0, 0.0)


def test_a_fixed_crop_that_does_not_fit_the_image_is_refused():
    with pytest.raises(ValueError, match="ham10000.crop_fraction"):
        crop_window(120, 90, 60.0, 45.0, 20.0, replace(LESION, crop="fixed", crop_fraction=0.95))
    with pytest.raises(ValueError, match="ham10000.crop must be one of"):
        crop_window(120, 90, 60.0, 45.0, 20.0, replace(LESION, crop="lesion"))


def test_official_split_and_balance(dataset):
    table, patches, skipped, split_source, before = build_patches(dataset, PATCH_SET, progress=False)
    assert split_source == "ISIC 2018 Task 3 test set"
    assert len(table) == len(patches) and patches.shape[1:] == (3, 72, 72)
    # All seven lesion types are patched (for the evaluator); only the modelled ones are balanced.
    assert set(table["dx"]) == {"nv", "mel", "bkl", "akiec", "bcc", "df", "vasc"}
    assert skipped.empty
    # Augmentation: only training mel and bkl, three copies each.
    copies = table[table["augmented"]]
    assert set(copies["split"]) == {"train"} and set(copies["dx"]) <= {"mel", "bkl"}
    for dx in ("mel", "bkl"):
        n = ((before["split"] == "train") & (before["dx"] == dx)).sum()
        assert ((table["split"] == "train") & (table["dx"] == dx)).sum() == 4 * n
    assert (table[table.split == "test"]["augmented"] == False).all()  # noqa: E712
    assert set(copies["flip"]) <= {"h", "v", "hv"}
    # Every copy is its source patch flipped.
    source = {image_id: i for i, image_id in enumerate(table["image_id"]) if not table["augmented"].iloc[i]}
    for i in np.flatnonzero(table["augmented"].to_numpy())[:10]:
        original = patches[source[table["image_id"].iloc[i]]]
        np.testing.assert_array_equal(patches[i], apply_flip(original, table["flip"].iloc[i]))


def test_augmentation_is_reproducible_by_seed(dataset):
    first = build_patches(dataset, replace(PATCH_SET, seed=3), progress=False)[0]
    again = build_patches(dataset, replace(PATCH_SET, seed=3), progress=False)[0]
    other = build_patches(dataset, replace(PATCH_SET, seed=4), progress=False)[0]
    assert list(first["flip"]) == list(again["flip"])
    assert list(first["flip"]) != list(other["flip"])


def test_fallback_split_keeps_lesions_on_one_side(tmp_path):
    root = write_dataset(
        tmp_path / "raw", SyntheticDermSettings(train_images=120, test_images=0, width=96, height=72, seed=0)
    )
    table, _, _, split_source, before = build_patches(root, replace(PATCH_SET, augment_copies=0), progress=False)
    assert "grouped by lesion_id" in split_source
    sides = before.groupby("lesion_id")["split"].nunique()
    assert (sides == 1).all()
    assert set(before["split"]) == {"train", "test"}
    assert before["lesion_id"].duplicated().any()  # lesions with several images exist


def test_bad_input_is_skipped_and_reported(tmp_path):
    root = write_dataset(
        tmp_path / "raw", SyntheticDermSettings(train_images=40, test_images=0, width=96, height=72, seed=0)
    )
    metadata = pd.read_csv(root / "HAM10000_metadata.csv")
    kept = metadata[metadata.dx.isin(["nv", "mel", "bkl", "akiec", "bcc", "df", "vasc"])]
    corrupt, absent, odd_mask = kept.image_id.iloc[0], kept.image_id.iloc[1], kept.image_id.iloc[2]
    corrupt_path = next(root.rglob(f"{corrupt}.jpg"))
    corrupt_path.write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    next(root.rglob(f"{absent}.jpg")).unlink()
    Image.new("L", (10, 10)).save(next(root.rglob(f"{odd_mask}_segmentation.png")))
    metadata.loc[len(metadata)] = {**metadata.iloc[0].to_dict(), "image_id": "ISIC_9999999", "dx": "xyz"}
    metadata.to_csv(root / "HAM10000_metadata.csv", index=False)

    table, patches, skipped, _, before = build_patches(root, PATCH_SET, progress=False)
    reasons = dict(zip(skipped.image_id, skipped.reason, strict=True))
    assert "unreadable image" in reasons[corrupt] and corrupt_path.name in str(
        skipped.set_index("image_id").file[corrupt]
    )
    assert reasons[absent] == "listed but no image file found"
    assert "unknown class 'xyz'" in reasons["ISIC_9999999"]
    assert odd_mask in set(before.image_id)
    assert before.set_index("image_id").centre_source[odd_mask] == "estimate"
    assert len(before) == len(kept) - 2


def test_metadata_without_a_column_stops_naming_file_and_column(tmp_path):
    path = tmp_path / "HAM10000_metadata.csv"
    pd.DataFrame({"lesion_id": ["HAM_1"], "image_id": ["ISIC_1"]}).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"HAM10000_metadata.csv: missing column\(s\) dx"):
        read_metadata(path)


def test_medmnist_is_mapped_onto_the_classes(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 30), ("val", 5), ("test", 10)):
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, 64, 64, 3), dtype=np.uint8)
        arrays[f"{split}_labels"] = rng.integers(0, 7, (n, 1))
    np.savez(tmp_path / "dermamnist_64.npz", **arrays)
    table, patches = from_medmnist(tmp_path / "dermamnist_64.npz")
    labels = np.concatenate([arrays[f"{s}_labels"].ravel() for s in ("train", "val", "test")])
    # DermaMNIST order: akiec bcc bkl df mel nv vasc -> bkl=2, mel=4, nv=5
    assert len(table) == np.isin(labels, [2, 4, 5]).sum()
    assert set(table.dx) <= {"nv", "mel", "bkl"}
    assert patches.shape[1:] == (3, 64, 64) and patches.min() >= -1 and patches.max() <= 1
    del arrays["val_labels"]
    np.savez(tmp_path / "broken.npz", **arrays)
    with pytest.raises(DataError, match="missing key.*val_labels"):
        from_medmnist(tmp_path / "broken.npz")


def test_an_image_listed_twice_is_refused_naming_the_lines(tmp_path):
    root = write_dataset(
        tmp_path / "raw", SyntheticDermSettings(train_images=20, test_images=0, width=96, height=72, seed=0)
    )
    metadata = pd.read_csv(root / "HAM10000_metadata.csv")
    twice = metadata.iloc[3].image_id
    metadata.loc[len(metadata)] = {
        **metadata.iloc[3].to_dict(),
        "lesion_id": "HAM_9999999",
        "dx": "mel" if metadata.iloc[3].dx != "mel" else "nv",
    }
    metadata.to_csv(root / "HAM10000_metadata.csv", index=False)
    with pytest.raises(
        DataError,
        match=f"HAM10000_metadata.csv: image_id {twice} is listed more than once "
        rf"\(lines 5, {len(metadata) + 1}\)",
    ):
        build_patches(root, PATCH_SET, progress=False)


def test_an_image_in_both_training_and_test_lists_is_refused(tmp_path):
    root = write_dataset(
        tmp_path / "raw", SyntheticDermSettings(train_images=20, test_images=5, width=96, height=72, seed=0)
    )
    truth = pd.read_csv(root / "ISIC2018_Task3_Test_GroundTruth.csv")
    truth.loc[0, "image"] = pd.read_csv(root / "HAM10000_metadata.csv").image_id.iloc[0]
    truth.to_csv(root / "ISIC2018_Task3_Test_GroundTruth.csv", index=False)
    with pytest.raises(DataError, match="is also listed in .*HAM10000_metadata.csv .* both the training and the test"):
        build_patches(root, PATCH_SET, progress=False)


def test_an_image_in_both_image_folders_is_logged(tmp_path, caplog):
    root = write_dataset(
        tmp_path / "raw", SyntheticDermSettings(train_images=20, test_images=0, width=96, height=72, seed=0)
    )
    first = sorted((root / "HAM10000_images_part_1").glob("*.jpg"))[0]
    copy = root / "HAM10000_images_part_2" / first.name
    copy.write_bytes(first.read_bytes())
    with caplog.at_level("WARNING", logger="drai.data.ham10000.metadata"):
        files = find_files(root)
    assert files.images[first.stem] == copy
    assert f"image {first.stem} is also in {first}; using {copy}" in caplog.text


def test_an_absent_image_is_reported_with_the_path_looked_for(tmp_path):
    root = write_dataset(
        tmp_path / "raw", SyntheticDermSettings(train_images=20, test_images=5, width=96, height=72, seed=0)
    )
    metadata = pd.read_csv(root / "HAM10000_metadata.csv")
    absent = metadata[metadata.dx.isin(["nv", "mel", "bkl"])].image_id.iloc[0]
    next(root.rglob(f"{absent}.jpg")).unlink()
    truth = pd.read_csv(root / "ISIC2018_Task3_Test_GroundTruth.csv")
    absent_test = truth.image.iloc[0]
    truth.loc[0, ["MEL", "NV", "BKL"]] = [0, 1, 0]
    truth.loc[0, [c for c in truth.columns if c not in ("image", "MEL", "NV", "BKL")]] = 0
    truth.to_csv(root / "ISIC2018_Task3_Test_GroundTruth.csv", index=False)
    next(root.rglob(f"{absent_test}.jpg")).unlink()
    skipped = build_patches(root, PATCH_SET, progress=False)[2].set_index("image_id")
    assert skipped.file[absent] == str(root / "**" / f"{absent}.jpg")
    assert skipped.file[absent_test] == str(root / "**" / "ISIC2018_Task3_Test_Images" / "**" / f"{absent_test}.jpg")


def test_centre_crop_of_the_stored_lesion_patch_is_the_64_pixel_patch():
    from drai.data.crops import centre_crop

    rng = np.random.default_rng(0)
    for _ in range(40):
        height, width = rng.integers(60, 300, 2)
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        cx, cy, extent = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(5, 300)
        # One window (the stored margin decides where the border rule puts it), two stored sizes.
        window = crop_window(width, height, cx, cy, extent, replace(LESION, stored_size=72))
        wide = cut_patch(image, window, replace(LESION, stored_size=72))
        narrow = cut_patch(image, window, replace(LESION, stored_size=64))
        assert wide.shape == (3, 72, 72)
        np.testing.assert_array_equal(centre_crop(wide), narrow)
    with pytest.raises(ValueError, match="ham10000.stored_size: 68"):
        crop_patch(image, cx, cy, extent, replace(LESION, stored_size=68))


def test_patch_set_has_seven_types_for_the_evaluator_and_vectors_for_the_modelled(dataset, tmp_path):
    from drai.data.ham10000.pipeline import make_patch_set

    outputs = {
        name: tmp_path / f"{name}.{ext}"
        for name, ext in (
            ("patches", "npz"),
            ("table", "csv"),
            ("counts_csv", "csv"),
            ("counts_md", "md"),
            ("skipped", "csv"),
            ("qc", "png"),
        )
    }
    make_patch_set({"source": "synthetic", "root": str(dataset)}, PATCH_SET, outputs)
    with np.load(outputs["patches"]) as data:
        names, labels, vectors = list(data["class_names"]), data["labels"], data["vectors"]
        modelled, augmented = data["modelled"], data["augmented"]
        assert data["images"].shape[1:] == (3, 72, 72)
    assert names[:3] == ["nv", "mel", "bkl"] and sorted(names[3:]) == ["akiec", "bcc", "df", "vasc"]
    assert modelled.any() and not modelled.all()
    np.testing.assert_array_equal(modelled, labels < 3)
    assert vectors.shape == (len(labels), 3)
    np.testing.assert_array_equal(vectors[modelled].argmax(1), labels[modelled])
    assert (vectors[modelled].sum(1) == 1).all() and (vectors[~modelled] == 0).all()
    assert not augmented[~modelled].any()
    table = pd.read_csv(outputs["table"])
    assert {"crop_side", "window_shift_x", "window_shift_y"} <= set(table.columns)
    assert (table["crop_side"] == 0.8 * 90).all()  # the fixed crop: one window for every 120x90 image
    assert (np.hypot(table["window_shift_x"], table["window_shift_y"]) > 0.5).any()
    counts = pd.read_csv(outputs["counts_csv"]).set_index("class")
    assert list(counts.index) == names and list(counts["modelled"]) == [True] * 3 + [False] * 4
    assert "evaluator only" in outputs["counts_md"].read_text()


def _small_dataset(tmp_path, test_images=0, train_images=40):
    return write_dataset(
        tmp_path / "raw",
        SyntheticDermSettings(train_images=train_images, test_images=test_images, width=96, height=72, seed=0),
    )


@pytest.mark.parametrize(
    "values",
    [{"NV": 0.0}, {"NV": float("nan")}, {"NV": 1.0, "MEL": 1.0}],
    ids=["all zeros", "blank", "two classes"],
)
def test_a_ground_truth_row_without_exactly_one_class_is_refused_naming_its_line(tmp_path, values):
    root = _small_dataset(tmp_path, test_images=6)
    truth = pd.read_csv(root / "ISIC2018_Task3_Test_GroundTruth.csv")
    truth.loc[2, ["MEL", "NV", "BCC", "AKIEC", "BKL", "DF", "VASC"]] = 0.0
    for column, value in values.items():
        truth.loc[2, column] = value
    truth.to_csv(root / "ISIC2018_Task3_Test_GroundTruth.csv", index=False)
    with pytest.raises(
        DataError,
        match=rf"ISIC2018_Task3_Test_GroundTruth.csv: line 4 \(image {truth.image[2]}\) does not name one class",
    ):
        build_patches(root, PATCH_SET, progress=False)


def test_a_lesion_with_two_diagnoses_is_refused_naming_its_lines(tmp_path):
    root = _small_dataset(tmp_path)
    metadata = pd.read_csv(root / "HAM10000_metadata.csv")
    lesion = metadata.lesion_id[metadata.lesion_id.duplicated()].iloc[0]
    rows = metadata.index[metadata.lesion_id == lesion]
    metadata.loc[rows[-1], "dx"] = "mel" if metadata.dx[rows[0]] != "mel" else "nv"
    metadata.to_csv(root / "HAM10000_metadata.csv", index=False)
    with pytest.raises(
        DataError, match=f"HAM10000_metadata.csv: lesion_id {lesion} has two diagnoses: .*line {rows[-1] + 2}"
    ):
        build_patches(root, PATCH_SET, progress=False)


def test_a_metadata_file_with_a_byte_order_mark_and_crlf_line_ends_is_read(tmp_path):
    root = _small_dataset(tmp_path)
    path = root / "HAM10000_metadata.csv"
    plain = read_metadata(path)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    pd.testing.assert_frame_equal(read_metadata(path), plain)
    assert len(build_patches(root, PATCH_SET, progress=False)[4]) == len(plain)


def test_a_metadata_file_with_a_header_only_is_refused_naming_it(tmp_path):
    root = _small_dataset(tmp_path)
    (root / "HAM10000_metadata.csv").write_text("lesion_id,image_id,dx,dx_type,age,sex,localization\n")
    with pytest.raises(DataError, match="HAM10000_metadata.csv: no rows, only a header"):
        build_patches(root, PATCH_SET, progress=False)


def _claims_size(path, width, height):
    """Rewrite a JPEG's frame header (SOF0) to claim ``width`` x ``height`` pixels, as a huge image's does."""
    data = bytearray(path.read_bytes())
    at = data.index(b"\xff\xc0") + 5  # marker, length, precision, then height and width
    data[at : at + 4] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    path.write_bytes(bytes(data))


def _tiny(root, metadata, row):
    Image.new("RGB", (1, 1)).save(next(root.rglob(f"{metadata.image_id[row]}.jpg")))
    return "image is 1x1 pixels, smaller than ham10000.patch_size (48 pixels)"


def _huge(root, metadata, row):
    _claims_size(next(root.rglob(f"{metadata.image_id[row]}.jpg")), 20000, 20000)
    return "image too large to be a dermoscopy image (Image size (400000000 pixels) exceeds limit"


def _without_lesion(root, metadata, row):
    metadata.loc[row, "lesion_id"] = ""
    metadata.to_csv(root / "HAM10000_metadata.csv", index=False)
    return f"line {row + 2}: empty lesion_id"


@pytest.mark.parametrize("spoil", [_tiny, _huge, _without_lesion], ids=["1x1 image", "huge image", "empty lesion_id"])
def test_a_bad_image_or_row_is_skipped_and_reported_and_the_rest_kept(tmp_path, spoil):
    root = _small_dataset(tmp_path)
    metadata = pd.read_csv(root / "HAM10000_metadata.csv")
    row = 2
    reason = spoil(root, metadata, row)
    table, patches, skipped, _, before = build_patches(root, PATCH_SET, progress=False)
    assert list(skipped.image_id) == [metadata.image_id[row]]
    assert reason in skipped.reason[0]
    assert len(before) == len(metadata) - 1 and metadata.image_id[row] not in set(table.image_id)


def test_a_patch_size_larger_than_every_image_names_the_key(tmp_path):
    root = _small_dataset(tmp_path)
    with pytest.raises(DataError, match="config key ham10000.patch_size: 200 pixels is larger than every image"):
        build_patches(root, replace(PATCH_SET, lesion=replace(LESION, patch_size=200)), progress=False)
