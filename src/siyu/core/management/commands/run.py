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
    help = (
        "Start everything on one machine: migrate, then the web server and a worker (and, with --demo, the "
        "simulated WeCom); a child that crashes is restarted with backoff; Ctrl-C stops them all."
    )

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
            # Sign-in with WeCom goes to the simulator's authorize and web-login pages (the web child inherits it).
            from siyu.wecom.demo import simulator_url

            os.environ.setdefault("SIYU_WECOM_LOGIN_BASE", simulator_url(simulator_port))
        # Each child leads its own process group, so stopping a child stops what it started too (granian's
        # worker processes), and only this command decides when children stop.
        children = [Child("web", "--host", host, "--port", str(port))]
        children[0].start()
        if demo:
            # The simulator sends callbacks to the web server: start it once the web server answers.
            self._wait_for(f"http://{host}:{port}/login/", children, lambda: stopping)
        if demo and not stopping:
            simulator = Child("simulator", "demo", "--port", str(simulator_port),
                              "--callback-url", f"http://{host}:{port}/wecom/callback/demo/")
            simulator.start()
            children.append(simulator)
            # The worker's first jobs (reminders, the archive, syncs) call WeCom: start it once the simulator
            # answers, so they do not fail and wait for a retry.
            self._wait_for(f"http://{host}:{simulator_port}/sim/", children, lambda: stopping)
        worker = Child("worker")
        worker.start()
        children.append(worker)
        self.stdout.write(self.style.SUCCESS(f"Siyu is running at {public_url}/ — press Ctrl-C to stop."))
        while not stopping:
            for child in children:
                if child.exited_unexpectedly():
                    # A crashed child is restarted after a growing pause; the others keep running meanwhile.
                    delay = child.schedule_restart()
                    self.stderr.write(f"{child.name} exited with {child.returncode}; restarting in {delay:g}s "
                                      f"(restart {child.restarts}).")
                elif child.restart_due():
                    child.start()
                    self.stderr.write(f"{child.name} restarted (pid {child.pid}).")
            time.sleep(0.3)
        self._shutdown(children)

    def _wait_for(self, url, children, stopped, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if stopped() or any(child.exited_unexpectedly() for child in children):
                return
            try:
                httpx.get(url, timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.2)

    def _shutdown(self, children):
        running = [child.process for child in children if child.process is not None]
        for process in running:
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in running:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                pass
        for process in running:
            _signal_group(process, signal.SIGKILL)  # whatever is left of each group (nothing, usually)
            process.wait()
        self.stdout.write("Siyu stopped.")


class Child:
    """One supervised ``siyu`` subcommand: started in its own session, restarted with backoff after a crash.

    The pause doubles from 1 s up to 60 s while the child keeps crashing, and starts over once it has stayed
    up for a minute, so a child that cannot start does not spin and a rare crash costs a second.
    """

    FIRST_DELAY, MAX_DELAY, STABLE_AFTER = 1.0, 60.0, 60.0

    def __init__(self, name: str, *args: str):
        self.name = name
        self.command = [sys.executable, "-m", "siyu", name, *args]
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0
        self.restart_at: float | None = None
        self.delay = 0.0
        self.restarts = 0
        self.returncode: int | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, start_new_session=True)
        self.started_at, self.restart_at = time.monotonic(), None

    def exited_unexpectedly(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def schedule_restart(self) -> float:
        self.returncode = self.process.returncode
        _signal_group(self.process, signal.SIGKILL)  # what the crashed child started dies with it
        self.process = None
        stable = time.monotonic() - self.started_at >= self.STABLE_AFTER
        self.delay = self.FIRST_DELAY if stable or not self.delay else min(self.delay * 2, self.MAX_DELAY)
        self.restart_at = time.monotonic() + self.delay
        self.restarts += 1
        return self.delay

    def restart_due(self) -> bool:
        return self.process is None and self.restart_at is not None and time.monotonic() >= self.restart_at


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass
