"""The NBIA downloader against a local HTTP server with faults."""

import io
import os
import stat
import warnings
import zipfile
from pathlib import Path

import pytest

from drai.data.download import DownloadError, safe_extract
from drai.data.lidc.dicom_slices import SeriesError
from drai.data.lidc.nbia import SLICE_BYTES_LIMIT, download_series
from drai.data.lidc.synthetic import render_phantom
from fault_server import FaultyServer

SERIES_UID = "1.2.826.0.1.3680043.8.498.1"
OTHER_UID = "1.2.826.0.1.3680043.8.498.2"
N_SLICES = 6


def series_zip(tmp_path: Path, uid: str, extra: dict[str, bytes] | None = None) -> bytes:
    folder = render_phantom(
        tmp_path / uid,
        matrix=16,
        pixel_spacing=10.0,
        slice_spacing=5.0,
        n_slices=N_SLICES,
        nodule_world=(0, 0, -90),
        series_uid=uid,
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.glob("*.dcm")):
            archive.write(path, path.name)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


GET_IMAGE = "/nbia-api/services/v4/getImage"


def FaultyNBIA(payload: bytes, faults: list[str]) -> FaultyServer:
    """An NBIA getImage endpoint that serves ``payload`` through ``faults``."""
    server = FaultyServer({GET_IMAGE: payload}, faults)
    server.url = server.base + GET_IMAGE.removesuffix("/getImage")
    return server


def fetch(server, dest, uid=SERIES_UID, retries=3, expected=N_SLICES):
    return download_series(
        uid,
        dest,
        expected_slices=expected,
        api_url=server.url,
        retries=retries,
        backoff_s=0.01,
        timeout_s=0.5,
        progress=False,
    )


def test_clean_download(tmp_path):
    dest = tmp_path / "data" / "P" / "study" / SERIES_UID
    with FaultyNBIA(series_zip(tmp_path, SERIES_UID), []) as server:
        files = fetch(server, dest)
    assert len(files) == N_SLICES and dest.is_dir()
    assert server.requests[0]["path"].endswith("/getImage")
    assert server.requests[0]["query"]["SeriesInstanceUID"] == [SERIES_UID]
    assert not list(dest.parent.glob(".*"))  # no part file or temporary folder left


@pytest.mark.parametrize(
    "faults, requests_made",
    [
        (["500", "timeout", "500"], 4),
        (["truncated-zip"], 2),  # a zip that does not check out is fetched again
        (["drop", "ignore-range"], 2),  # a server that ignores Range: the transfer restarts
    ],
)
def test_transient_faults_are_retried(tmp_path, faults, requests_made):
    dest = tmp_path / "d" / SERIES_UID
    with FaultyNBIA(series_zip(tmp_path, SERIES_UID), faults) as server:
        files = fetch(server, dest)
    assert len(files) == N_SLICES
    assert len(server.requests) == requests_made


@pytest.mark.parametrize(
    "fault, message", [("500", "failed after 3 attempts.*HTTP 500"), ("truncated-zip", "not a complete zip")]
)
def test_persistent_fault_fails_cleanly(tmp_path, fault, message):
    dest = tmp_path / "d" / SERIES_UID
    with FaultyNBIA(series_zip(tmp_path, SERIES_UID), [fault] * 10) as server:
        with pytest.raises(DownloadError, match=message):
            fetch(server, dest, retries=2)
    assert len(server.requests) == 3
    assert not dest.exists()
    assert not list(dest.parent.glob(".*"))  # no part file or temporary folder left


def test_client_error_is_not_retried(tmp_path):
    with FaultyNBIA(series_zip(tmp_path, SERIES_UID), ["404"]) as server:
        with pytest.raises(DownloadError, match="HTTP 404"):
            fetch(server, tmp_path / "d" / SERIES_UID)
    assert len(server.requests) == 1


def test_dropped_connection_resumes_with_range(tmp_path):
    dest = tmp_path / "d" / SERIES_UID
    # Large enough that whole chunks arrive before the connection drops.
    payload = series_zip(tmp_path, SERIES_UID, extra={"README.bin": os.urandom(400_000)})
    with FaultyNBIA(payload, ["drop"]) as server:
        files = fetch(server, dest)
    assert len(files) == N_SLICES
    assert server.requests[0]["range"] is None
    resumed_from = int(server.requests[1]["range"].removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_from <= len(payload) // 2


def test_wrong_series_is_refused(tmp_path):
    dest = tmp_path / "d" / SERIES_UID
    with FaultyNBIA(series_zip(tmp_path, OTHER_UID), []) as server:
        with pytest.raises(SeriesError, match=f"belongs to series {OTHER_UID}"):
            fetch(server, dest)
    assert not dest.exists()


def test_incomplete_series_is_refused(tmp_path):
    dest = tmp_path / "d" / SERIES_UID
    with FaultyNBIA(series_zip(tmp_path, SERIES_UID), []) as server:
        with pytest.raises(SeriesError, match="6 slice positions downloaded, the record says 7"):
            fetch(server, dest, expected=7)
    assert not dest.exists()


@pytest.mark.parametrize("name", ["../escape.dcm", "sub/../../escape.dcm", "/tmp/abs-escape.dcm"])
def test_zip_entry_outside_target_is_refused(tmp_path, name):
    dest = tmp_path / "d" / SERIES_UID
    payload = series_zip(tmp_path, SERIES_UID, extra={name: b"evil"})
    with FaultyNBIA(payload, []) as server:
        with pytest.raises(DownloadError, match="refusing entry"):
            fetch(server, dest)
    assert not dest.exists()
    assert not (tmp_path / "d" / "escape.dcm").exists()
    assert not (tmp_path / "escape.dcm").exists()


def zip_of(entries: list[tuple[str | zipfile.ZipInfo, bytes]], compression=zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns of the duplicate names some tests need
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def test_duplicated_entry_is_refused_and_nothing_is_committed(tmp_path):
    folder = render_phantom(
        tmp_path / "src",
        matrix=16,
        pixel_spacing=10.0,
        slice_spacing=5.0,
        n_slices=N_SLICES,
        nodule_world=(0, 0, -90),
        series_uid=SERIES_UID,
    )
    slices = sorted(folder.glob("*.dcm"))
    entries = [(p.name, p.read_bytes()) for p in slices[:-1]] + [(slices[0].name, slices[-1].read_bytes())]
    dest = tmp_path / "d" / SERIES_UID
    with FaultyNBIA(zip_of(entries), []) as server:
        with pytest.raises(DownloadError, match=f"entry '{slices[0].name}' appears more than once"):
            fetch(server, dest)
    assert not dest.exists() and not list(dest.parent.iterdir())  # no folder, no part file
    with FaultyNBIA(series_zip(tmp_path, SERIES_UID), []) as server:
        assert len(fetch(server, dest)) == N_SLICES  # a rerun downloads again


def test_zip_bomb_is_refused_before_anything_is_written(tmp_path):
    dest = tmp_path / "d" / SERIES_UID
    buffer = io.BytesIO(series_zip(tmp_path, SERIES_UID))
    with zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.dcm", bytes(20 << 20))
    with FaultyNBIA(buffer.getvalue(), []) as server:
        with pytest.raises(DownloadError, match="refusing entry 'zeros.dcm': it expands .* more than 200 times"):
            fetch(server, dest)
    assert not dest.exists() and not list(dest.parent.iterdir())


def test_extraction_beyond_the_size_limit_is_refused(tmp_path):
    archive = tmp_path / "series.zip"
    archive.write_bytes(series_zip(tmp_path, SERIES_UID))
    (tmp_path / "out").mkdir()
    with pytest.raises(DownloadError, match=f"{archive}: refusing to extract .* more than the 1000"):
        safe_extract(archive, tmp_path / "out", max_total_bytes=1000)
    assert not list((tmp_path / "out").iterdir())
    assert len(safe_extract(archive, tmp_path / "out", max_total_bytes=N_SLICES * SLICE_BYTES_LIMIT)) == N_SLICES


def symlink_entry(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


@pytest.mark.parametrize(
    "entries, message",
    [
        ([("a", b"x"), ("a/b.dcm", b"y")], "entry 'a' is both a file and a folder"),
        ([("a/b.dcm", b"y"), ("a", b"x")], "entry 'a' is both a file and a folder"),
        ([symlink_entry("link", "/tmp"), ("link/b.dcm", b"y")], "refusing entry 'link': a symbolic link"),
    ],
    ids=["file-then-folder", "folder-then-file", "symlink"],
)
def test_colliding_or_linked_entries_are_refused_naming_archive_and_entry(tmp_path, entries, message):
    archive = tmp_path / "series.zip"
    archive.write_bytes(zip_of(entries))
    (tmp_path / "out").mkdir()
    with pytest.raises(DownloadError, match=f"{archive}: {message}"):
        safe_extract(archive, tmp_path / "out")
    assert not list((tmp_path / "out").iterdir())


def test_truncated_archive_is_named(tmp_path):
    archive = tmp_path / "series.zip"
    archive.write_bytes(series_zip(tmp_path, SERIES_UID)[:500])
    with pytest.raises(DownloadError, match=f"{archive}: not a readable zip file"):
        safe_extract(archive, tmp_path / "out")
