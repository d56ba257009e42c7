"""The NBIA downloader against a local HTTP server with faults."""

import io
import os
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from drai.data.dicom_series import SeriesError
from drai.data.download import DownloadError, download_series
from drai.data.synthetic_ct import render_phantom

SERIES_UID = "1.2.826.0.1.3680043.8.498.1"
OTHER_UID = "1.2.826.0.1.3680043.8.498.2"
N_SLICES = 6


def series_zip(tmp_path: Path, uid: str, extra: dict[str, bytes] | None = None) -> bytes:
    folder = render_phantom(tmp_path / uid, matrix=16, pixel_spacing=10.0, slice_spacing=5.0,
                            n_slices=N_SLICES, nodule_world=(0, 0, -90), series_uid=uid)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.glob("*.dcm")):
            archive.write(path, path.name)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


class FaultyNBIA:
    """A getImage endpoint whose answers are scripted per request."""

    def __init__(self, payload: bytes, faults: list[str]):
        self.payload = payload
        self.faults = list(faults)
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                query = parse_qs(urlparse(self.path).query)
                server.requests.append({"path": urlparse(self.path).path, "query": query,
                                        "range": self.headers.get("Range")})
                fault = server.faults.pop(0) if server.faults else "ok"
                body = server.payload
                if fault == "500":
                    self.send_response(500)
                    self.end_headers()
                    return
                if fault == "404":
                    self.send_response(404)
                    self.end_headers()
                    return
                if fault == "timeout":
                    time.sleep(1.5)
                start = 0
                status = 200
                if self.headers.get("Range") and fault != "ignore-range":
                    start = int(self.headers["Range"].split("=")[1].split("-")[0])
                    status = 206
                chunk = body[start:]
                self.send_response(status)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(len(chunk)))
                self.end_headers()
                if fault == "drop":
                    # Half the body, then the connection dies.
                    self.wfile.write(chunk[: len(chunk) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if fault == "truncated-zip":
                    self.wfile.write(chunk[: len(chunk) // 2].ljust(len(chunk), b"\0"))
                    return
                self.wfile.write(chunk)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/nbia-api/services/v4"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def fetch(server, dest, uid=SERIES_UID, retries=3, expected=N_SLICES):
    return download_series(uid, dest, expected_slices=expected, api_url=server.url, retries=retries,
                           backoff_s=0.01, timeout_s=0.5, progress=False)


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
        with pytest.raises(SeriesError, match="6 slices downloaded, the record says 7"):
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
