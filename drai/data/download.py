"""Fetching a file over HTTP and unpacking a zip safely.

:func:`fetch_to_file` transfers to a ``.part`` file that is resumed with an
HTTP Range request when the server supports it (and restarted otherwise), with
retries and exponential backoff on timeouts, dropped connections, 5xx and 429
answers and files that fail their check (a truncated zip, a wrong checksum).
:func:`safe_extract` extracts a zip, refusing any entry that would land
outside the target folder, links, and archives that expand too far.
"""

from __future__ import annotations

import logging
import os
import posixpath
import shutil
import stat
import time
import zipfile
import zlib
from pathlib import Path

import requests

from drai.progress import progress_bar

CHUNK = 1 << 16
#: Largest expansion of an archive: deflate packs CT slices a few times and JPEGs hardly
#: at all; a zip bomb of zeros expands about a thousand times.
ARCHIVE_RATIO_LIMIT = 200
log = logging.getLogger(__name__)


class DownloadError(RuntimeError):
    """A download that failed for good; the message names the series and why."""


class _Retry(Exception):
    pass


def wait_before_retry(what: str, attempt: int, last_error: str, backoff_s: float) -> None:
    """Log the failed ``attempt`` (1 = the first) and sleep ``backoff_s`` doubled after each failure."""
    delay = backoff_s * 2 ** (attempt - 1)
    log.warning("%s: attempt %d failed (%s); retrying in %.1f s", what, attempt, last_error, delay)
    time.sleep(delay)


def fetch_to_file(
    url: str,
    part: Path,
    params: dict | None = None,
    retries: int = 5,
    backoff_s: float = 2.0,
    timeout_s: float = 60.0,
    session: requests.Session | None = None,
    progress: bool = True,
    check=None,
    what: str = "",
) -> Path:
    """GET ``url`` into ``part``, resuming and retrying; ``check(part)`` validates it.

    A ``ValueError`` from ``check`` (a truncated zip, a wrong checksum)
    discards the file and counts as a failed attempt, so the transfer restarts.
    """
    session = session or requests.Session()
    what = what or url
    last_error = "no attempt made"
    for attempt in range(retries + 1):
        if attempt:
            wait_before_retry(what, attempt, last_error, backoff_s)
        try:
            _transfer(session, url, params, part, timeout_s, progress, what)
            if check is not None:
                try:
                    check(part)
                except ValueError as error:
                    part.unlink(missing_ok=True)
                    raise _Retry(str(error)) from None
                except DownloadError:
                    part.unlink(missing_ok=True)  # refused for good: a rerun must not resume it
                    raise
            return part
        except _Retry as error:
            last_error = str(error)
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as error:
            last_error = f"{type(error).__name__}: {error}"
    raise DownloadError(f"{what}: failed after {retries + 1} attempts; last error: {last_error}")


def _transfer(session, url, params, part: Path, timeout_s, progress, what) -> None:
    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    with session.get(url, params=params, headers=headers, stream=True, timeout=timeout_s) as response:
        if response.status_code == 416 and have:
            # Nothing beyond what we have: the part file is complete (or bad; check decides).
            return
        if response.status_code == 429 or response.status_code >= 500:
            raise _Retry(f"HTTP {response.status_code}")
        if response.status_code not in (200, 206):
            raise DownloadError(f"{what}: HTTP {response.status_code} from {response.url}")
        resumed = response.status_code == 206
        mode = "ab" if resumed else "wb"
        total = response.headers.get("Content-Length")
        expected = int(total) if total is not None else None
        received = 0
        with (
            open(part, mode) as out,
            progress_bar(
                total=expected, initial=0, unit="B", unit_scale=True, desc=what[-40:], disable=not progress, leave=False
            ) as bar,
        ):
            for chunk in response.iter_content(CHUNK):
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
        if expected is not None and received < expected:
            raise _Retry(f"connection closed after {received} of {expected} bytes")


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise DownloadError(f"{path}: not a readable zip file ({error})") from None


def check_entries(
    archive: zipfile.ZipFile,
    archive_path: Path,
    max_total_bytes: int | None = None,
    max_ratio: float | None = ARCHIVE_RATIO_LIMIT,
) -> None:
    """DownloadError naming the archive and the entry, for entries that must not be extracted.

    Refused, from the entry list alone (nothing is decompressed): names that
    land outside the target, a name given twice, a name that is a file in one
    entry and a folder in another, symbolic links, and archives that expand
    beyond ``max_total_bytes`` or by more than ``max_ratio``.
    """
    files, folders, seen = set(), set(), set()
    total = packed = 0
    for member in archive.infolist():
        name = member.filename
        normal = posixpath.normpath(name.replace("\\", "/"))
        if os.path.isabs(name) or normal == ".." or normal.startswith("../") or posixpath.isabs(normal):
            raise DownloadError(f"{archive_path}: refusing entry {name!r} outside the target folder")
        if stat.S_ISLNK(member.external_attr >> 16):
            raise DownloadError(f"{archive_path}: refusing entry {name!r}: a symbolic link")
        if normal in seen:
            raise DownloadError(f"{archive_path}: entry {name!r} appears more than once")
        seen.add(normal)
        (folders if member.is_dir() else files).add(normal)
        parent = posixpath.dirname(normal)
        while parent:
            folders.add(parent)
            parent = posixpath.dirname(parent)
        total += member.file_size
        packed += member.compress_size
        if max_ratio is not None and member.file_size > max_ratio * max(member.compress_size, 1024):
            raise DownloadError(
                f"{archive_path}: refusing entry {name!r}: it expands {member.compress_size} bytes to "
                f"{member.file_size}, more than {max_ratio:g} times"
            )
    clash = sorted(files & folders)
    if clash:
        raise DownloadError(f"{archive_path}: entry {clash[0]!r} is both a file and a folder")
    if max_total_bytes is not None and total > max_total_bytes:
        raise DownloadError(
            f"{archive_path}: refusing to extract {total} bytes, more than the {max_total_bytes} this archive may hold"
        )
    if max_ratio is not None and total > max_ratio * max(packed, 1024):
        raise DownloadError(
            f"{archive_path}: refusing to extract: it expands {packed} bytes to {total}, more than {max_ratio:g} times"
        )


def check_zip(path: Path, max_total_bytes: int | None = None, max_ratio: float | None = ARCHIVE_RATIO_LIMIT) -> None:
    """ValueError when ``path`` is not a complete, readable zip; DownloadError when it must not be extracted."""
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path.name} is not a complete zip file")
    with _open_zip(path) as archive:
        check_entries(archive, path, max_total_bytes, max_ratio)
        try:
            bad = archive.testzip()
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
            raise ValueError(f"{path.name}: corrupt zip ({error})") from None
        if bad is not None:
            raise ValueError(f"{path.name}: corrupt member {bad}")


def safe_extract(
    archive_path: Path,
    target: Path,
    max_total_bytes: int | None = None,
    max_ratio: float | None = ARCHIVE_RATIO_LIMIT,
) -> list[Path]:
    """Extract a zip into ``target``; returns the files now there, counted on disk.

    Every entry is checked before anything is written (:func:`check_entries`);
    an error names the archive and the entry.
    """
    target = target.resolve()
    with _open_zip(archive_path) as archive:
        check_entries(archive, archive_path, max_total_bytes, max_ratio)
        for member in archive.infolist():
            destination = (target / member.filename).resolve()
            if not destination.is_relative_to(target):
                raise DownloadError(f"{archive_path}: refusing entry {member.filename!r} outside the target folder")
        for member in archive.infolist():
            if member.is_dir():
                continue
            destination = target / member.filename
            try:
                destination.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as source, open(destination, "xb") as out:
                    shutil.copyfileobj(source, out)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
                raise DownloadError(
                    f"{archive_path}: entry {member.filename!r} cannot be extracted ({error})"
                ) from None
    return sorted(p for p in target.rglob("*") if p.is_file())
