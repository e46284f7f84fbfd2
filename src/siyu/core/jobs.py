"""Starting and running jobs. A job kind is a function registered with :func:`job_handler`.

The handler receives the job row and a :class:`Progress` it reports to; the console polls the row. A job whose
worker died stops sending heartbeats, and the sweeper marks it failed so nobody waits on it forever.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from huey.contrib.djhuey import db_periodic_task, db_task
from huey import crontab

from siyu.core.models import Job
from siyu.core.tenancy import request_guard

log = logging.getLogger(__name__)

_HANDLERS: dict[str, Callable[[Job, "Progress"], dict | None]] = {}
STALE_AFTER = timedelta(minutes=10)


_RESULT_LINKS: dict[str, Callable[[Job], str | None]] = {}


def register_job_result(kind: str, link: Callable[[Job], str | None]) -> None:
    """Say where the result of a finished job of ``kind`` is (an export's download): ``link(job)`` → URL or None."""
    _RESULT_LINKS[kind] = link


def result_link(job: Job, user) -> str | None:
    """The result of ``job`` for ``user``: only whoever started a job gets it (an export holds what *they* may see)."""
    link = _RESULT_LINKS.get(job.kind)
    if link is None or job.status != Job.Status.SUCCEEDED or job.created_by_id != user.pk:
        return None
    return link(job)


def job_handler(kind: str):
    """Register the function that performs jobs of ``kind``."""

    def register(func):
        _HANDLERS[kind] = func
        return func

    return register


class Progress:
    """Progress reporting that writes at most a few times a second, so reporting never slows the work."""

    def __init__(self, job: Job):
        self.job = job
        self._last_write = timezone.now()

    def set_total(self, total: int) -> None:
        self.job.total = total
        Job.objects.filter(pk=self.job.pk).update(total=total, heartbeat_at=timezone.now())

    def advance(self, n: int = 1, message: str | None = None) -> None:
        self.job.done += n
        if message is not None:
            self.job.message = message[:500]
        now = timezone.now()
        if (now - self._last_write).total_seconds() >= 0.5:
            self._last_write = now
            Job.objects.filter(pk=self.job.pk).update(done=self.job.done, message=self.job.message, heartbeat_at=now)


def start_job(*, org, kind: str, title: str, params: dict | None = None, by=None) -> Job:
    """Create a job row and queue it once the surrounding transaction commits."""
    if kind not in _HANDLERS:
        raise KeyError(f"no handler for job kind {kind!r}")
    job = Job.objects.create(org=org, kind=kind, title=title, params=params or {}, created_by=by)
    transaction.on_commit(lambda: run_job_task(job.pk))
    return job


def run_job(job_id: int) -> Job:
    """Run a queued job to the end, recording success or the error. Idempotent for finished jobs."""
    # A job runs as the worker, outside any request, even when huey's immediate mode (tests, debugging) runs
    # it inside the request that queued it: there the armed tenant guard would refuse the runner's own
    # by-id reads and the job would stay queued forever.
    guard = request_guard.set(False)
    try:
        return _run_job(job_id)
    finally:
        request_guard.reset(guard)


def _run_job(job_id: int) -> Job:
    claimed = Job.objects.filter(pk=job_id, status=Job.Status.QUEUED).update(
        status=Job.Status.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now()
    )
    job = Job.objects.get(pk=job_id)
    if not claimed:
        return job
    progress = Progress(job)
    try:
        result = _HANDLERS[job.kind](job, progress) or {}
    except Exception as error:  # noqa: BLE001 - the error is the job's result
        log.exception("job %s (%s) failed", job.pk, job.kind)
        Job.objects.filter(pk=job.pk).update(
            status=Job.Status.FAILED, error=f"{type(error).__name__}: {error}"[:5000], done=progress.job.done,
            finished_at=timezone.now(),
        )
    else:
        Job.objects.filter(pk=job.pk).update(
            status=Job.Status.SUCCEEDED, result=result, done=progress.job.done, message=progress.job.message,
            finished_at=timezone.now(),
        )
    job.refresh_from_db()
    return job


@db_task()
def run_job_task(job_id: int) -> None:
    run_job(job_id)


@db_periodic_task(crontab(minute="*"))
def sweep_stale_jobs() -> int:
    """Fail running jobs whose worker stopped sending heartbeats (a crash or a kill)."""
    cutoff = timezone.now() - STALE_AFTER
    return Job.objects.filter(status=Job.Status.RUNNING, heartbeat_at__lt=cutoff).update(
        status=Job.Status.FAILED, error="worker stopped responding", finished_at=timezone.now()
    )
