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


def _run_slice(model, rows: list, owner: str) -> None:
    """Perform one slice of a chunk on a pool thread, on one connection, closed at the end.

    A connection per row (SQLite's pragmas, or a PostgreSQL login, each time) cost more than the row itself:
    the pool ran at half the speed of a single thread (benchmarks/bench_dispatcher.py). One per thread per
    slice keeps that cost out of the rows and still hands every slice a fresh connection.
    """
    try:
        durable.run_rows(model, rows, owner)
    finally:
        connections.close_all()


# Rows of the slower lanes are performed this many at a time; between two chunks the deadline lane is served
# again, so a welcome never waits behind a whole batch of slower rows.
CHUNK = 100
# The worker's slower lanes run in chunks this small (a few rows per thread), so they give way to the deadline
# lane within a fraction of a second.
YIELDING_CHUNK = 8


def _models(lane0: bool | None) -> list[type[durable.DurableRow]]:
    models = sorted(durable.durable_models(), key=lambda m: m.dispatch_lane)
    if lane0 is None:
        return models
    return [m for m in models if (m.dispatch_lane == 0) == lane0]


def _perform(model, rows: list, owner: str, pool: ThreadPoolExecutor | None) -> None:
    if pool is None or len(rows) < 2:
        durable.run_rows(model, rows, owner)
        return
    # One slice per thread, dealt out row by row so slow rows (often the oldest) spread over every thread.
    width = min(pool._max_workers, len(rows))
    list(pool.map(lambda part: _run_slice(model, part, owner), [rows[i::width] for i in range(width)]))


def _serve(models, owner: str, limit: int, pool: ThreadPoolExecutor | None, between=None, chunk: int | None = None) -> int:
    """Claim one batch of each model in turn and perform it chunk by chunk, calling ``between`` after a chunk."""
    chunk = chunk or CHUNK
    performed = 0
    for model in durable.with_claimable_rows(models):
        rows = durable.claim(model, owner=owner, limit=limit, lease_seconds=settings.DISPATCH_LEASE_SECONDS)
        for start in range(0, len(rows), chunk):
            _perform(model, rows[start:start + chunk], owner, pool)
            if between is not None:
                performed += between()
        performed += len(rows)
    return performed


def dispatch_once(
    *, owner: str | None = None, limit: int | None = None, pool: ThreadPoolExecutor | None = None,
    lane0: bool | None = None,
) -> int:
    """Claim and perform one batch of every durable model, lowest lane first; returns how many rows were performed.

    ``lane0`` True serves only the deadline lane, False only the others (the worker runs the deadline lane in
    a thread of its own), None all of them, with the deadline lane served again between chunks of the others.
    """
    owner = owner or worker_id()
    limit = limit or settings.DISPATCH_BATCH
    if lane0 is not None:
        return _serve(_models(lane0), owner, limit, pool)
    urgent = _models(True)
    performed = _serve(urgent, owner, limit, pool)
    between = (lambda: _serve(urgent, owner, limit, pool)) if urgent else None
    return performed + _serve(_models(False), owner, limit, pool, between=between)


class Dispatcher(threading.Thread):
    """Polls for due rows; sleeps briefly only when a whole pass found nothing to do.

    The deadline lane (``dispatch_lane == 0``) has a thread and a pool of its own, so its rows never queue
    behind a long batch of slower ones.
    """

    def __init__(self, threads: int | None = None):
        super().__init__(name="siyu-dispatcher", daemon=True)
        self.owner = worker_id()
        self.threads = threads or int(os.environ.get("SIYU_DISPATCH_THREADS", "4"))
        self.stopping = threading.Event()
        # Set while the deadline lane's last pass found nothing to do. The slower lanes wait for it before each
        # small chunk: the threads of one process share one interpreter lock, and in a burst every CPU
        # millisecond the slower rows take (re-reading a customer, tagging, rules) is one a welcome with a
        # 20 s window does not get. They catch up when the burst is over.
        self.urgent_idle = threading.Event()
        self.urgent = threading.Thread(target=self._loop, args=(True,), name="siyu-dispatcher-lane0", daemon=True)

    def run(self) -> None:
        self.urgent.start()
        self._loop(False)
        self.urgent.join()

    def _loop(self, lane0: bool) -> None:
        with ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix=f"siyu-row{'0' if lane0 else ''}") as pool:
            while not self.stopping.is_set():
                close_old_connections()
                try:
                    if lane0:
                        performed = dispatch_once(owner=self.owner, pool=pool, lane0=True)
                    else:
                        self._wait_for_urgent()
                        performed = _serve(_models(False), self.owner, settings.DISPATCH_BATCH, pool,
                                           between=self._wait_for_urgent, chunk=YIELDING_CHUNK)
                except Exception:  # noqa: BLE001 - a database hiccup must not end the loop
                    log.exception("dispatcher pass failed")
                    performed = 0
                if lane0:
                    (self.urgent_idle.clear if performed else self.urgent_idle.set)()
                if not performed:
                    self.stopping.wait(settings.DISPATCH_IDLE_SLEEP)
        connections.close_all()

    def _wait_for_urgent(self) -> int:
        while not self.urgent_idle.wait(0.5) and not self.stopping.is_set():
            pass
        return 0

    def stop(self) -> None:
        self.stopping.set()
