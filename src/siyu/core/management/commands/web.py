import os
import sys

from django.core.management.base import BaseCommand

from siyu import config


class Command(BaseCommand):
    help = "Serve the console, API and callbacks with granian (WSGI). Run several against PostgreSQL to scale out."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("SIYU_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("SIYU_PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("SIYU_WEB_WORKERS", "1")),
                            help="processes (default 1; use the core count in production)")
        parser.add_argument("--threads", type=int, default=int(os.environ.get("SIYU_WEB_THREADS", "4")),
                            help="blocking threads per process")

    def handle(self, host, port, workers, threads, **options):
        config.serve_at(host, port)  # granian's workers inherit the environment, so their links carry this port
        args = [
            sys.executable, "-m", "granian", "--interface", "wsgi", "--host", host, "--port", str(port),
            "--workers", str(workers), "--blocking-threads", str(threads), "--no-ws", "--log-level", "warning",
            "siyu.wsgi:application",
        ]
        sys.stdout.flush()
        # Replace this process so signals reach granian directly.
        os.execv(sys.executable, args)
