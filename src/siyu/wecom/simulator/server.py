"""Serve a Simulator over HTTP: a threaded HTTP/1.1 server with keep-alive in front of its WSGI app.

``serve`` is for the demo and ``python -m siyu.wecom.simulator serve``;
``run_in_thread`` is for tests that need a real socket (the CLI, or Siyu's
client over real HTTP). In-process tests can skip sockets entirely with
``httpx.Client(transport=httpx.WSGITransport(app=sim.wsgi_app))``.

Why not ``wsgiref``: it closes the connection after every request, so each API
call and each control call paid a new TCP connection and a new thread, and the
simulator took fewer scans per second than the app under test could process.
Here one thread serves one connection for as many requests as the client sends
on it. The simulator's state lives in this process (one lock guards it), so it
is one process; the WSGI app is called directly, with nothing else in between.
"""

from __future__ import annotations

import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import urlsplit

# A connection left idle this long is closed, so abandoned keep-alive connections do not hold threads forever.
IDLE_SECONDS = 30


class SimulatorServer(ThreadingHTTPServer):
    """One thread per connection; Siyu's workers and the control API call concurrently."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # bursts of new connections (many workers at once) must not be refused

    def __init__(self, address, app, *, quiet: bool):
        self.app = app
        self.quiet = quiet
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive unless the client says Connection: close
    timeout = IDLE_SECONDS
    # Headers and body go out as two writes; with Nagle's algorithm the second waits for the client's delayed
    # ACK (40 ms), which held a keep-alive connection to ~25 requests per second.
    disable_nagle_algorithm = True
    server: SimulatorServer

    def do_GET(self):  # noqa: N802 - names of the stdlib's dispatch
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def _serve(self) -> None:
        url = urlsplit(self.path)
        environ = {
            "REQUEST_METHOD": self.command,
            "PATH_INFO": url.path,
            "QUERY_STRING": url.query,
            "CONTENT_LENGTH": self.headers.get("Content-Length", ""),
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "REMOTE_ADDR": self.client_address[0],
            "SERVER_PROTOCOL": self.request_version,
            "wsgi.input": self.rfile,
            "wsgi.url_scheme": "http",
        }
        started: list = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info=None):
            started[:] = [status, headers]

        try:
            body = b"".join(self.server.app(environ, start_response))
            status, headers = started
        except Exception as exc:  # noqa: BLE001 - a bug in a handler is a 500 for that request, not a dead server
            self.log_error("simulator error: %r", exc)
            body, status = f"simulator error: {type(exc).__name__}: {exc}".encode(), "500 Internal Server Error"
            headers = [("Content-Type", "text/plain; charset=utf-8")]
            self.close_connection = True
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        for name, value in headers:
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))  # keep-alive needs every answer's length
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 - signature of the stdlib method
        if not self.server.quiet:
            sys.stderr.write("%s - %s\n" % (self.address_string(), format % args))


def build_server(sim, host: str = "127.0.0.1", port: int = 8100, *, quiet: bool = False) -> SimulatorServer:
    return SimulatorServer((host, port), sim.wsgi_app, quiet=quiet)


def serve(
    sim,
    host: str = "127.0.0.1",
    port: int = 8100,
    *,
    quiet: bool = False,
    ready: Callable[[str], None] | None = None,
    scenario=None,
) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM), then stop the scenario, deliver queued callbacks, save state.

    ``ready`` is called with the base URL once the socket is bound; ``scenario``
    (a :class:`~.scenario.ScenarioDriver`) is started then and stopped first.
    """
    server = build_server(sim, host, port, quiet=quiet)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)  # `kill` and process managers should save state too
    bound_host, bound_port = server.server_address[:2]
    if ready is not None:
        ready(f"http://{bound_host}:{bound_port}")
    if scenario is not None:
        scenario.start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if scenario is not None:
            scenario.stop()
        server.server_close()
        sim.close()


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def run_in_thread(sim, host: str = "127.0.0.1", port: int = 0) -> tuple[str, Callable[[], None]]:
    """Start a server on a free port in a daemon thread; returns ``(base_url, stop)``."""
    server = build_server(sim, host, port, quiet=True)
    thread = threading.Thread(target=server.serve_forever, name="wecom-simulator", daemon=True)
    thread.start()
    bound_host, bound_port = server.server_address[:2]

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join()

    return f"http://{bound_host}:{bound_port}", stop
