import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Start everything on one machine: migrate, then the web server and a worker; Ctrl-C stops them all."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("SIYU_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("SIYU_PORT", "8000")))
        parser.add_argument("--demo", action="store_true", help="load the demo brand (idempotent)")

    def handle(self, host, port, demo, **options):
        self.stdout.write(f"Data directory: {settings.DATA_DIR}")
        call_command("migrate", interactive=False, verbosity=0)
        if demo:
            call_command("demo")
        base = [sys.executable, "-m", "siyu"]
        children = [
            subprocess.Popen([*base, "web", "--host", host, "--port", str(port)]),
            subprocess.Popen([*base, "worker"]),
        ]
        self.stdout.write(self.style.SUCCESS(f"Siyu is running at http://{host}:{port}/ — press Ctrl-C to stop."))
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
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

    def _shutdown(self, children):
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in children:
            try:
                child.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self.stdout.write("Siyu stopped.")
