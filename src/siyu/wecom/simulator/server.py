"""Serve a Simulator over HTTP with the standard library's threaded WSGI server.

``serve`` is for the demo and ``python -m siyu.wecom.simulator serve``;
``run_in_thread`` is for tests that need a real socket (the CLI, or Siyu's
client over real HTTP). In-process tests can skip sockets entirely with
``httpx.Client(transport=httpx.WSGITransport(app=sim.wsgi_app))``.
"""

from __future__ import annotations

import signal
import sys
import threading
from socketserver import ThreadingMixIn
from typing import Callable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    """One thread per request: Siyu's workers call the API concurrently."""

    daemon_threads = True
    allow_reuse_address = True


class _Handler(WSGIRequestHandler):
    quiet = False

    def log_message(self, format, *args):  # noqa: A002 - signature of the stdlib method
        if not self.quiet:
            sys.stderr.write("%s - %s\n" % (self.address_string(), format % args))


class _QuietHandler(_Handler):
    quiet = True


def build_server(sim, host: str = "127.0.0.1", port: int = 8100, *, quiet: bool = False) -> ThreadingWSGIServer:
    return make_server(host, port, sim.wsgi_app, ThreadingWSGIServer, _QuietHandler if quiet else _Handler)


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
