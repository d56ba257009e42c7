"""A local HTTP server whose answers are scripted, for downloader tests (127.0.0.1 only)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

#: Faults a request can meet, in the order of ``faults``:
#: 500 / 404: that status; timeout: 1.5 s of silence first; drop: half the body,
#: then the connection closes; truncated-zip: half the body padded with zeros;
#: bad-checksum: the body with one byte changed; ignore-range: a Range request
#: answered with the whole body (200).
FAULTS = ("ok", "500", "404", "timeout", "drop", "truncated-zip", "bad-checksum", "ignore-range")


class LocalServer:
    """A threaded HTTP server on 127.0.0.1 (a free port) for a ``with`` block; ``base`` is its URL."""

    def _serve(self, handler) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class FaultyServer(LocalServer):
    """Serves ``payloads`` (path -> bytes); requests to ``faulty`` paths meet ``faults`` in turn."""

    def __init__(self, payloads: dict[str, bytes], faults: list[str], faulty=lambda path: True):
        unknown = set(faults) - set(FAULTS)
        assert not unknown, f"unknown faults {unknown}"
        self.payloads = payloads
        self.faults = list(faults)
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                url = urlparse(self.path)
                server.requests.append(
                    {"path": url.path, "query": parse_qs(url.query), "range": self.headers.get("Range")}
                )
                body = server.payloads.get(url.path)
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                fault = server.faults.pop(0) if faulty(url.path) and server.faults else "ok"
                if fault in ("500", "404"):
                    self.send_response(int(fault))
                    self.end_headers()
                    return
                if fault == "timeout":
                    time.sleep(1.5)
                if fault == "bad-checksum":
                    body = body[:-1] + bytes([body[-1] ^ 0xFF])
                start, status = 0, 200
                if self.headers.get("Range") and fault != "ignore-range":
                    start = int(self.headers["Range"].split("=")[1].split("-")[0])
                    status = 206
                chunk = body[start:]
                self.send_response(status)
                self.send_header("Content-Length", str(len(chunk)))
                self.end_headers()
                if fault == "drop":
                    self.wfile.write(chunk[: len(chunk) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if fault == "truncated-zip":
                    chunk = chunk[: len(chunk) // 2].ljust(len(chunk), b"\0")
                self.wfile.write(chunk)

        self._serve(Handler)
