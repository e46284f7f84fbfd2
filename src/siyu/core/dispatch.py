"""The dispatcher loop that ``siyu worker`` runs beside the huey consumer."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections, connections

from siyu.core import durable

log = logging.getLogger(__name__)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _run_in_thread(row, owner):
    try:
        return durable.run_row(row, owner)
    finally:
        connections.close_all()


def dispatch_once(*, owner: str | None = None, limit: int | None = None, pool: ThreadPoolExecutor | None = None) -> int:
    """Claim and perform one batch of every durable model; returns how many rows were performed."""
    owner = owner or worker_id()
    limit = limit or settings.DISPATCH_BATCH
    performed = 0
    for model in durable.durable_models():
        rows = durable.claim(model, owner=owner, limit=limit, lease_seconds=settings.DISPATCH_LEASE_SECONDS)
        if pool is None:
            for row in rows:
                durable.run_row(row, owner)
        else:
            list(pool.map(lambda row: _run_in_thread(row, owner), rows))
        performed += len(rows)
    return performed


class Dispatcher(threading.Thread):
    """Polls for due rows; sleeps briefly only when a whole pass found nothing to do."""

    def __init__(self, threads: int | None = None):
        super().__init__(name="siyu-dispatcher", daemon=True)
        self.owner = worker_id()
        self.threads = threads or int(os.environ.get("SIYU_DISPATCH_THREADS", "4"))
        self.stopping = threading.Event()

    def run(self) -> None:
        with ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="siyu-row") as pool:
            while not self.stopping.is_set():
                close_old_connections()
                try:
                    performed = dispatch_once(owner=self.owner, pool=pool)
                except Exception:  # noqa: BLE001 - a database hiccup must not end the loop
                    log.exception("dispatcher pass failed")
                    performed = 0
                if not performed:
                    self.stopping.wait(settings.DISPATCH_IDLE_SLEEP)
        connections.close_all()

    def stop(self) -> None:
        self.stopping.set()
