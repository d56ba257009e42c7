"""Fetching HAM10000 from Harvard Dataverse (doi:10.7910/DVN/DBW86T), file by file.

The dataset's file list comes from Dataverse's native API
(``/api/datasets/:persistentId/?persistentId=doi:...``), with each file's id
and the MD5 that Dataverse publishes for it. Each wanted file is fetched from
``/api/access/datafile/{id}`` (``format=original`` for tables that Dataverse
ingested, whose MD5 is the original's) into a ``.part`` file that is resumed
or restarted, checked against its MD5, and then either extracted safely (zips)
or renamed into place (tables). What is already in the folder, extracted or
as the zip itself, is not fetched again.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import requests

from drai.data.download import DownloadError, check_zip, fetch_to_file, safe_extract
from drai.io import atomic_dir

DATAVERSE = "https://dataverse.harvard.edu"
#: Most bytes one HAM10000 zip may expand to (the image parts hold about 1.5 GB each).
ARCHIVE_BYTES_LIMIT = 16 << 30
HAM10000_DOI = "doi:10.7910/DVN/DBW86T"
log = logging.getLogger(__name__)

#: Wanted files by name without extension: kind, and whether the data path needs it.
WANTED = {
    "HAM10000_images_part_1": ("zip", True),
    "HAM10000_images_part_2": ("zip", True),
    "HAM10000_metadata": ("table", True),
    "HAM10000_segmentations_lesion_tschandl": ("zip", False),
    "ISIC2018_Task3_Test_Images": ("zip", False),
    "ISIC2018_Task3_Test_GroundTruth": ("table", False),
}


def _stem(name: str) -> str:
    for suffix in (".zip", ".csv", ".tab", ".txt"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def list_files(server: str, doi: str, session: requests.Session, timeout_s: float = 60.0) -> dict[str, dict]:
    """Wanted files of the dataset's latest version: stem -> id, name, md5, tabular."""
    url = f"{server.rstrip('/')}/api/datasets/:persistentId/"
    try:
        response = session.get(url, params={"persistentId": doi}, timeout=timeout_s)
    except requests.RequestException as error:
        raise DownloadError(f"{doi}: cannot list the dataset's files ({error})") from None
    if response.status_code != 200:
        raise DownloadError(f"{doi}: listing the dataset's files gave HTTP {response.status_code}")
    try:
        entries = response.json()["data"]["latestVersion"]["files"]
    except (ValueError, KeyError, TypeError):
        raise DownloadError(f"{doi}: unexpected answer listing the dataset's files") from None
    found = {}
    for entry in entries:
        data = entry.get("dataFile", {})
        original = data.get("originalFileName") or data.get("filename", "")
        stem = _stem(original)
        if stem not in WANTED:
            continue
        md5 = data.get("md5") or (data.get("checksum") or {}).get("value")
        found[stem] = {
            "id": data["id"],
            "name": original,
            "md5": md5,
            "tabular": bool(data.get("originalFileName")) or data.get("filename", "").endswith(".tab"),
        }
    return found


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _present(root: Path, stem: str, kind: str) -> bool:
    if kind == "zip":
        return (root / stem).is_dir() and any((root / stem).iterdir())
    return any((root / f"{stem}{suffix}").is_file() for suffix in (".csv", ".tab", ""))


def download_dataset(
    root: str | os.PathLike,
    server: str = DATAVERSE,
    doi: str = HAM10000_DOI,
    retries: int = 5,
    backoff_s: float = 2.0,
    timeout_s: float = 120.0,
    progress: bool = True,
    session: requests.Session | None = None,
) -> list[str]:
    """Make every wanted file present under ``root``; returns the stems fetched.

    A zip the user already put in ``root`` is extracted, not fetched. An
    optional file missing from the dataset is reported and skipped; a required
    one stops with an error.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    session = session or requests.Session()
    missing = {s: k for s, (k, _) in WANTED.items() if not _present(root, s, k)}
    for stem in [s for s in missing if missing[s] == "zip" and (root / f"{s}.zip").is_file()]:
        _extract(root / f"{stem}.zip", root / stem)
        del missing[stem]
    if not missing:
        return []
    listing = list_files(server, doi, session, timeout_s)
    fetched = []
    for stem, kind in missing.items():
        if stem not in listing:
            if WANTED[stem][1]:
                raise DownloadError(f"{doi}: the dataset has no file {stem}")
            log.warning("%s: the dataset has no file %s; going on without it", doi, stem)
            continue
        info = listing[stem]
        part = root / f".{stem}.part"

        def check(path: Path, expected=info["md5"], name=info["name"], kind=kind) -> None:
            if expected and md5_of(path) != expected:
                raise ValueError(f"{name}: MD5 does not match the published {expected}")
            if kind == "zip":
                check_zip(path, ARCHIVE_BYTES_LIMIT)

        fetch_to_file(
            f"{server.rstrip('/')}/api/access/datafile/{info['id']}",
            part,
            params={"format": "original"} if info["tabular"] else None,
            retries=retries,
            backoff_s=backoff_s,
            timeout_s=timeout_s,
            session=session,
            progress=progress,
            check=check,
            what=info["name"],
        )
        if kind == "zip":
            try:
                _extract(part, root / stem)
            finally:
                part.unlink(missing_ok=True)
        else:
            suffix = Path(info["name"]).suffix if Path(info["name"]).suffix in (".csv", ".tab") else ".csv"
            os.replace(part, root / f"{stem}{suffix}")
        fetched.append(stem)
    return fetched


def _extract(archive: Path, folder: Path) -> None:
    """Extract ``archive`` into ``folder``; DownloadError naming the archive (and entry) when it cannot be."""
    with atomic_dir(folder) as tmp:
        safe_extract(archive, tmp, ARCHIVE_BYTES_LIMIT)
