"""A minimal S3-compatible server (path-style ListObjectsV2, GET, HEAD) on 127.0.0.1, with faults.

Enough of S3 for s5cmd's ``cp 's3://bucket/prefix/*' folder/`` without credentials.
Objects are ``{bucket: {key: bytes}}``; ``drop`` names keys whose next ``drops[key]``
GETs send half the body and then close the connection.
"""

from __future__ import annotations

from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, unquote, urlparse
from xml.sax.saxutils import escape

from fault_server import LocalServer


class LocalS3(LocalServer):
    def __init__(self, objects: dict[str, dict[str, bytes]], drops: dict[str, int] | None = None):
        self.objects = objects
        self.drops = dict(drops or {})
        self.requests: list[tuple[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _split(self):
                url = urlparse(self.path)
                bucket, _, key = unquote(url.path).lstrip("/").partition("/")
                return bucket, key, parse_qs(url.query)

            def _send(self, status, body=b"", content_type="application/xml", length=None):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body) if length is None else length))
                self.send_header("Last-Modified", formatdate(usegmt=True))
                self.send_header("ETag", '"0"')
                self.end_headers()

            def do_HEAD(self):
                bucket, key, _ = self._split()
                server.requests.append(("HEAD", self.path))
                if not key:  # HeadBucket
                    self._send(200 if bucket in server.objects else 404, length=0)
                    return
                body = server.objects.get(bucket, {}).get(key)
                if body is None:
                    self._send(404, length=0)
                else:
                    self._send(200, content_type="application/dicom", length=len(body))

            def do_GET(self):
                bucket, key, query = self._split()
                server.requests.append(("GET", self.path))
                if bucket not in server.objects:
                    body = b"<Error><Code>NoSuchBucket</Code></Error>"
                    self._send(404, body)
                    self.wfile.write(body)
                    return
                if not key:
                    prefix = query.get("prefix", [""])[0]
                    keys = sorted(k for k in server.objects[bucket] if k.startswith(prefix))
                    contents = "".join(
                        f"<Contents><Key>{escape(k)}</Key><Size>{len(server.objects[bucket][k])}</Size>"
                        f'<LastModified>2024-01-01T00:00:00.000Z</LastModified><ETag>"0"</ETag>'
                        f"<StorageClass>STANDARD</StorageClass></Contents>"
                        for k in keys
                    )
                    body = (
                        '<?xml version="1.0" encoding="UTF-8"?>'
                        '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                        f"<Name>{bucket}</Name><Prefix>{escape(prefix)}</Prefix><KeyCount>{len(keys)}</KeyCount>"
                        f"<MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>{contents}</ListBucketResult>"
                    ).encode()
                    self._send(200, body)
                    self.wfile.write(body)
                    return
                body = server.objects[bucket].get(key)
                if body is None:
                    error = b"<Error><Code>NoSuchKey</Code></Error>"
                    self._send(404, error)
                    self.wfile.write(error)
                    return
                self._send(200, content_type="application/dicom", length=len(body))
                if server.drops.get(key, 0) > 0:
                    server.drops[key] -= 1
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self._serve(Handler)
        self.endpoint = self.base
