"""The dispatcher loop that ``siyu worker`` runs beside the huey consumer."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections, connections

from siyu.core import durable

log = logging.getLogger(__name__)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _drain(queue: deque, owner: str) -> None:
    """Perform rows from ``queue`` until it is empty, on one connection, closed at the end.

    A connection per row (SQLite's pragmas, or a PostgreSQL login, each time) cost more than the row itself:
    the pool ran at half the speed of a single thread (benchmarks/bench_dispatcher.py). One per thread per
    batch keeps that cost out of the rows and still hands every batch a fresh connection.
    """
    try:
        while True:
            try:
                row = queue.popleft()
            except IndexError:
                return
            durable.run_row(row, owner)
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
        elif rows:
            # One drainer per row, so every thread of the pool joins in whatever its size; drainers that start
            # after the queue has emptied return at once.
            queue = deque(rows)
            list(pool.map(lambda _: _drain(queue, owner), rows))
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
