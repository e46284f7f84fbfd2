import os
import signal
import subprocess
import sys
import time

import httpx
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from siyu import config


class Command(BaseCommand):
    help = "Start everything on one machine: migrate, then the web server and a worker; Ctrl-C stops them all."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("SIYU_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("SIYU_PORT", "8000")))
        parser.add_argument("--demo", action="store_true", help="load the demo brand (idempotent)")

    def handle(self, host, port, demo, **options):
        # Handle Ctrl-C from the very start, so an early one still stops every child cleanly.
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        self.stdout.write(f"Data directory: {settings.DATA_DIR}")
        public_url = config.serve_at(host, port)
        call_command("migrate", interactive=False, verbosity=0)
        simulator_port = port + 100
        if demo:
            call_command("demo", simulator_port=simulator_port)
        base = [sys.executable, "-m", "siyu"]
        # Each child leads its own process group, so stopping a child stops what it started too (granian's
        # worker processes), and only this command decides when children stop.
        spawn = lambda *args: subprocess.Popen([*base, *args], start_new_session=True)  # noqa: E731
        children = [spawn("web", "--host", host, "--port", str(port)), spawn("worker")]
        if demo:
            # The simulator sends callbacks to the web server: start it once the web server answers.
            self._wait_for(f"http://{host}:{port}/login/", children, lambda: stopping)
        if demo and not stopping:
            children.append(spawn(
                "simulator", "demo", "--port", str(simulator_port),
                "--callback-url", f"http://{host}:{port}/wecom/callback/demo/",
            ))
        self.stdout.write(self.style.SUCCESS(f"Siyu is running at {public_url}/ — press Ctrl-C to stop."))
        exit_code = 0
        while not stopping:
            for child in children:
                if child.poll() is not None:
                    self.stderr.write(f"{' '.join(child.args[3:4])} exited with {child.returncode}; stopping.")
                    exit_code, stopping = 1, True
            time.sleep(0.3)
        self._shutdown(children)
        if exit_code:
            sys.exit(exit_code)

    def _wait_for(self, url, children, stopped, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if stopped() or any(child.poll() is not None for child in children):
                return
            try:
                httpx.get(url, timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.2)

    def _shutdown(self, children):
        for child in children:
            _signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in children:
            try:
                child.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                pass
        for child in children:
            _signal_group(child, signal.SIGKILL)  # whatever is left of each group (nothing, usually)
            child.wait()
        self.stdout.write("Siyu stopped.")


def _signal_group(child: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(child.pid, signum)
    except ProcessLookupError:
        pass
