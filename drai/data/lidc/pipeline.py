"""The LIDC-IDRI patch set per workflow step.

``case_patches_file`` turns one case's series (its manifest, from
:func:`drai.data.lidc.source.prepare_series`) into that case's patches;
``assemble`` gathers all cases into ``patches.npz``; ``lidc_qc_figure`` shows it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from drai.data.lidc.dicom_series import read_series
from drai.data.lidc.labels import SIZE_BIN_LABELS, VECTOR_COLUMNS
from drai.data.lidc.patches import annotation_to_world, case_patches, refuse_nodules_in_gaps
from drai.data.lidc.settings import LidcPatchSetSettings, PatchSettings
from drai.data.patchset import PatchSet
from drai.io import write_npz
from drai.qc import patch_grid


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


def assemble(
    case_files: list[str], nodules: pd.DataFrame, output: str | Path, settings: LidcPatchSetSettings
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
            distance = dict(zip(data["nodule_ids"].astype(str), data["lung_box_distance"], strict=True))
            images.extend(data["patches"])
            ids.extend(data["patch_nodules"].astype(str))
            offsets.extend(data["slice_offsets"].astype(int))
            distances.extend(distance[i] for i in data["patch_nodules"].astype(str))
    if not images:
        raise ValueError("no patches: every case was empty")
    rows = table.loc[ids]
    frame = pd.DataFrame({"nodule_id": ids, "slice_offset": offsets})
    PatchSet(
        "lidc",
        settings.source,
        images=np.stack(images)[:, None].astype(np.float32),
        vectors=rows.loc[:, list(VECTOR_COLUMNS)].to_numpy(np.float32),
        splits=rows["split"].to_numpy(dtype=str),
        fields=dict(
            sizes=rows["size_mm"].to_numpy(np.float32),
            size_bins=rows["size_bin"].to_numpy(np.int64),
            malignancy=rows["median_malignancy"].to_numpy(np.float32),
            curated=rows["curated"].to_numpy(bool),
            query=rows["query"].to_numpy(bool),
            nodule_ids=np.array(ids),
            slice_offsets=np.array(offsets),
            lung_box_distance=np.array(distances, np.float32),
        ),
    ).save(output)
    return frame


def lidc_qc_figure(patches_path: str | Path, output: str | Path, per_bin: int = 8) -> None:
    """Central-slice patches (with their stored margin) grouped by size bin, each titled with its split,
    and a last row of the nodules nearest the lung box's edge, titled with that distance."""
    patches = PatchSet.load(patches_path, "lidc")
    images, bins, splits, source = patches.images, patches["size_bins"], patches.splits, patches.source
    central = patches["slice_offsets"] == 0
    distance = patches["lung_box_distance"]
    groups = {label: np.flatnonzero(central & (bins == row)) for row, label in enumerate(SIZE_BIN_LABELS)}
    nearest = np.flatnonzero(central)[np.argsort(distance[central], kind="stable")][:per_bin]
    groups["nearest lung edge"] = nearest
    marked = set(nearest.tolist())
    titles = [
        f"{split} {d:.0f} vx" if i in marked else str(split)
        for i, (split, d) in enumerate(zip(splits, distance, strict=True))
    ]
    patch_grid(images, groups, titles, f"LIDC nodule patches by size bin ({source} data)", output, per_bin)
