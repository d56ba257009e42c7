"""HAM10000's raw files: where they are in a folder, and its metadata and ground-truth tables.

* Classes: HAM10000 has seven lesion types; the modelled ones (``classes``,
  nv, mel and bkl by default) come first, the other four follow for the
  evaluator alone (Section III-C: "a 7 way classification on lesion type");
  :func:`all_classes` orders them.
* Files: ``HAM10000_metadata`` (lesion_id, image_id, dx), the images and
  segmentation masks in any nesting, and, when present, the ISIC 2018 Task 3
  test images and their one-hot ground truth.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from drai.data.ham10000.synthetic import GROUND_TRUTH_COLUMNS, HAM_CLASSES, IMAGE_MARK, is_synthetic_image
from drai.io import SYNTHETIC_MARKER

log = logging.getLogger(__name__)

METADATA_COLUMNS = ("lesion_id", "image_id", "dx")
METADATA_NAMES = ("HAM10000_metadata.csv", "HAM10000_metadata.tab", "HAM10000_metadata")
GROUND_TRUTH_NAMES = ("ISIC2018_Task3_Test_GroundTruth.csv", "ISIC2018_Task3_Test_GroundTruth.tab")
TEST_IMAGE_FOLDER = "ISIC2018_Task3_Test_Images"
MASK_SUFFIX = "_segmentation"


class DataError(ValueError):
    """Input that cannot be used; the message names the file."""


@dataclass(frozen=True)
class RawFiles:
    """Where the files of a HAM10000 folder are."""

    metadata: Path
    images: dict[str, Path]  # HAM10000 image_id -> jpg
    masks: dict[str, Path]  # image_id -> segmentation png
    ground_truth: Path | None
    test_images: dict[str, Path]
    root: Path | None = None  # the folder searched


def looked_for(files: RawFiles, image_id: str, split: str) -> str:
    """Where an image would have been found (find_files searches every subfolder)."""
    root = files.root or files.metadata.parent
    folder = root / "**" / TEST_IMAGE_FOLDER if split == "test" else root
    return str(folder / "**" / f"{image_id}.jpg")


def all_classes(classes: tuple[str, ...]) -> tuple[str, ...]:
    """The seven lesion types: the modelled ``classes`` first, in their order, then the others."""
    return tuple(classes) + tuple(c for c in HAM_CLASSES if c not in classes)


def _first(root: Path, names) -> Path | None:
    for name in names:
        hits = sorted(root.rglob(name))
        if hits:
            return hits[0]
    return None


def find_files(root: str | Path) -> RawFiles:
    """Index a folder holding the extracted HAM10000 files, whatever its nesting."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: HAM10000 folder does not exist")
    metadata = _first(root, METADATA_NAMES)
    if metadata is None:
        raise DataError(f"{root}: no HAM10000_metadata file")
    images, test_images, masks = {}, {}, {}
    for path in sorted(root.rglob("*.jpg")):
        target = test_images if TEST_IMAGE_FOLDER in path.parts else images
        if path.stem in target:
            log.warning("%s: image %s is also in %s; using %s", root, path.stem, target[path.stem], path)
        target[path.stem] = path
    for path in sorted(root.rglob(f"*{MASK_SUFFIX}.png")):
        masks[path.stem[: -len(MASK_SUFFIX)]] = path
    ground_truth = _first(root, GROUND_TRUTH_NAMES)
    return RawFiles(metadata, images, masks, ground_truth if test_images else None, test_images, root)


def refuse_synthetic(root: str | Path) -> None:
    """DataError when a folder read as real HAM10000 holds anything this project rendered, at any depth.

    A synthetic folder's marker file, or an image (JPEG or PNG) carrying the
    synthetic mark in its own bytes: a synthetic sub-folder copied into real
    data, or a ``raw_dir`` above a synthetic folder, would otherwise mix
    synthetic images into the real set.
    """
    root = Path(root)
    markers = sorted(root.rglob(SYNTHETIC_MARKER))
    if markers:
        raise DataError(
            f"{markers[0].parent}: synthetic images rendered by this project ({markers[0]}), not HAM10000; "
            "point ham10000.raw_dir at real data"
        )
    marked = [p for pattern in ("*.jpg", "*.png") for p in sorted(root.rglob(pattern)) if is_synthetic_image(p)]
    if marked:
        raise DataError(
            f"{marked[0]}: a synthetic image rendered by this project (marked {IMAGE_MARK!r}), not HAM10000; "
            f"{len(marked)} such image(s) under {root}: point ham10000.raw_dir at real data only"
        )


def _read_table(path: Path) -> pd.DataFrame:
    """A delimited table, its delimiter sniffed; a UTF-8 byte order mark and CRLF line ends are read as any."""
    try:
        table = pd.read_csv(path, sep=None, engine="python", encoding="utf-8-sig")
    except Exception as error:
        raise DataError(f"{path}: cannot be read as a table ({error})") from None
    if table.empty:
        raise DataError(f"{path}: no rows, only a header ({', '.join(map(str, table.columns))})")
    return table


def _line(index) -> int:
    """The file's line of a table row (line 1 is the header)."""
    return int(index) + 2


def read_metadata(path: Path) -> pd.DataFrame:
    table = _read_table(path)
    missing = [c for c in METADATA_COLUMNS if c not in table.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)} (has {', '.join(map(str, table.columns))})")
    _refuse_duplicates(table, path, "image_id")
    _refuse_lesions_of_two_classes(table, path)
    return table


def blank(values: pd.Series) -> pd.Series:
    """Rows whose value is missing or only spaces."""
    return values.isna() | (values.astype(str).str.strip() == "")


def _refuse_lesions_of_two_classes(table: pd.DataFrame, path: Path) -> None:
    """DataError naming the lines of a lesion given two diagnoses: its images are one lesion, of one class.

    Rows of an unknown class are left to the reader, which skips and reports them.
    """
    named = table[~blank(table["lesion_id"]) & table["dx"].isin(HAM_CLASSES)]
    classes = named.groupby(named["lesion_id"].astype(str))["dx"].nunique()
    mixed = classes[classes > 1]
    if mixed.empty:
        return
    lesion = mixed.index[0]
    rows = named[named["lesion_id"].astype(str) == lesion]
    given = ", ".join(f"{dx} (line {_line(i)})" for i, dx in rows["dx"].items())
    raise DataError(
        f"{path}: lesion_id {lesion} has two diagnoses: {given}; "
        f"{len(mixed)} lesion(s) have more than one, a lesion's images must share its dx"
    )


def _refuse_duplicates(table: pd.DataFrame, path: Path, column: str) -> None:
    """DataError naming the lines of an image listed twice: its label and split would be ambiguous."""
    ids = table[column].astype(str)
    repeated = ids[ids.duplicated(keep=False)]
    if repeated.empty:
        return
    first = repeated.iloc[0]
    lines = ", ".join(str(_line(i)) for i in repeated.index[repeated == first])
    raise DataError(
        f"{path}: {column} {first} is listed more than once (lines {lines}); "
        f"{repeated.nunique()} image(s) are listed more than once, each must be listed once"
    )


def read_ground_truth(path: Path) -> pd.DataFrame:
    """ISIC 2018 Task 3 ground truth (one-hot columns) as image_id, dx.

    A row must name exactly one class (one 1, the others 0): a row of zeros or
    blanks, or of two classes, is refused naming its line, as no label can be
    taken from it.
    """
    table = _read_table(path)
    missing = [c for c in ("image", *GROUND_TRUTH_COLUMNS) if c not in table.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
    _refuse_duplicates(table, path, "image")
    onehot = table.loc[:, list(GROUND_TRUTH_COLUMNS)].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    valid = np.isin(onehot, (0.0, 1.0)).all(axis=1) & (np.nansum(onehot, axis=1) == 1)
    if not valid.all():
        bad = np.flatnonzero(~valid)
        first = bad[0]
        values = ", ".join(f"{c}={v:g}" for c, v in zip(GROUND_TRUTH_COLUMNS, onehot[first], strict=True))
        raise DataError(
            f"{path}: line {_line(first)} (image {table['image'].iloc[first]}) does not name one class ({values}); "
            f"{len(bad)} such row(s): each row needs a single 1 among {', '.join(GROUND_TRUTH_COLUMNS)}, 0 elsewhere"
        )
    return pd.DataFrame(
        {
            "image_id": table["image"].astype(str),
            "lesion_id": table["image"].astype(str),  # no lesion ids for the test images
            "dx": [GROUND_TRUTH_COLUMNS[i].lower() for i in onehot.argmax(axis=1)],
        }
    )
