"""A local HTTP server for attachment sources (a poster, a PDF), so uploads to WeCom read real bytes."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator

FILES = {"/poster.jpg": b"\xff\xd8\xff\xe0" + b"jpeg" * 64, "/cover.png": b"\x89PNG\r\n" + b"png" * 64,
         "/guide.pdf": b"%PDF-1.4" + b"pdf" * 64}


class _Files(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = FILES.get(self.path)
        self.send_response(200 if body else 404)
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serving() -> Iterator[str]:
    """The base URL of a server answering :data:`FILES` until the block ends."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
