"""Durable work as table rows: outbound sends, reminders, journey steps, callback processing.

A row says what must happen and when (``due_at``). Workers claim due rows with a lease, perform them, and
mark them done with a compare-and-set on the lease owner. A worker that dies simply lets its lease expire;
another worker then claims the row again. Execution is therefore at-least-once, and ``perform()`` makes its
effect exactly-once with the row's ``idempotency_key`` (a unique key on the effect, or the key handed to the
external API). Rows stay visible, cancellable and countable, which queue messages are not.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import ClassVar

from django.apps import apps
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from siyu.core.tenancy import TenantModel

log = logging.getLogger(__name__)


class PermanentFailure(Exception):
    """Raised by ``perform()`` when retrying cannot help (bad data, refused by the remote side)."""


class RetryLater(Exception):
    """Raised by ``perform()`` to try again after ``delay`` seconds without it counting as an error."""

    def __init__(self, delay: float, reason: str = ""):
        super().__init__(reason or f"retry in {delay}s")
        self.delay = delay


class DurableRow(TenantModel):
    class Status(models.TextChoices):
        PENDING = "pending", _("待处理")
        RUNNING = "running", _("处理中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")
        CANCELLED = "cancelled", _("已取消")
        EXPIRED = "expired", _("已过期")

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    due_at = models.DateTimeField(default=timezone.now)
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=5)
    last_error = models.TextField(blank=True)
    idempotency_key = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # Seconds before the n-th retry: base * 2**(n-1), capped.
    retry_base_seconds = 10
    retry_max_seconds = 3600

    # Lower lanes are claimed first on every dispatcher pass (0 = deadline work such as welcomes).
    dispatch_lane: ClassVar[int] = 5
    # When set, a row not started within this many seconds after its due_at is settled as EXPIRED without
    # perform(); while a backlog exists, the freshest claimable rows are taken first, so the work that can
    # still be on time is done instead of the work already lost.
    deadline_seconds: ClassVar[float | None] = None

    class Meta:
        abstract = True
        indexes = [models.Index(fields=["status", "due_at"], name="%(app_label)s_%(class)s_due")]
        constraints = [
            models.UniqueConstraint(fields=["org", "idempotency_key"], name="%(app_label)s_%(class)s_idem")
        ]

    def perform(self) -> None:  # pragma: no cover - every concrete row defines it
        raise NotImplementedError


def durable_models() -> list[type[DurableRow]]:
    return [m for m in apps.get_models() if issubclass(m, DurableRow)]


def _db_time(value):
    # Raw SQL must compare datetimes in the same text form the ORM stores (SQLite keeps them as text).
    return connection.ops.adapt_datetimefield_value(value)


CLAIMABLE = "((status = 'pending' AND due_at <= %s) OR (status = 'running' AND lease_until < %s))"


def expire_late(model: type[DurableRow], *, now=None) -> int:
    """Settle as EXPIRED the claimable rows of a deadline model that can no longer start in time."""
    if model.deadline_seconds is None:
        return 0
    now = now or timezone.now()
    claimable = models.Q(status=DurableRow.Status.PENDING, due_at__lte=now) | models.Q(
        status=DurableRow.Status.RUNNING, lease_until__lt=now
    )
    return model._base_manager.filter(claimable, due_at__lt=now - timedelta(seconds=model.deadline_seconds)).update(
        status=DurableRow.Status.EXPIRED,
        lease_until=None,
        finished_at=now,
        last_error=f"not started within {model.deadline_seconds:g}s of its due time",
    )


def claim(model: type[DurableRow], *, owner: str, limit: int, lease_seconds: int) -> list[DurableRow]:
    """Lease up to ``limit`` due rows (or rows whose lease expired) to ``owner``; one statement, race-free.

    PostgreSQL skips rows other workers hold (``FOR UPDATE SKIP LOCKED``). SQLite runs the statement inside
    an IMMEDIATE transaction, which holds the single write lock, and the outer WHERE re-checks the status:
    a compare-and-set, so two workers can never both win a row.

    Rows come oldest due first, except for deadline models: those first lose the rows already past their
    deadline (EXPIRED, never performed), then come newest due first, so a backlog is served from the rows that
    can still be on time.
    """
    now = timezone.now()
    table = connection.ops.quote_name(model._meta.db_table)
    order = "due_at DESC" if model.deadline_seconds is not None else "due_at"
    picked = f"SELECT id FROM {table} WHERE {CLAIMABLE} ORDER BY {order} LIMIT %s"
    if connection.vendor == "postgresql":
        # ARRAY(…) makes the locking subquery an InitPlan that runs once. As a plain IN (…) the planner may
        # choose a nested-loop semi-join that re-runs it for every outer row and claims past the limit.
        match = f"id = ANY(ARRAY({picked} FOR UPDATE SKIP LOCKED))"
    else:
        match = f"id IN ({picked})"
    sql = (
        f"UPDATE {table} SET status = 'running', lease_until = %s, lease_owner = %s, attempts = attempts + 1 "
        f"WHERE {CLAIMABLE} AND {match} RETURNING id"
    )
    t_now, t_lease = _db_time(now), _db_time(now + timedelta(seconds=lease_seconds))
    with transaction.atomic():
        expire_late(model, now=now)
        with connection.cursor() as cursor:
            cursor.execute(sql, [t_lease, owner, t_now, t_now, t_now, t_now, limit])
            ids = [row[0] for row in cursor.fetchall()]
    if not ids:
        return []
    return list(model._base_manager.filter(pk__in=ids).order_by(order.replace("due_at DESC", "-due_at")))


def complete(row: DurableRow, owner: str) -> bool:
    """Mark done if ``owner`` still holds the lease. False means another worker took the row over."""
    updated = type(row)._base_manager.filter(pk=row.pk, status=DurableRow.Status.RUNNING, lease_owner=owner).update(
        status=DurableRow.Status.DONE, finished_at=timezone.now(), lease_until=None, last_error=""
    )
    return updated == 1


def fail(row: DurableRow, owner: str, error: BaseException) -> str:
    """Record a failure: retry later with backoff, or give up after ``max_attempts`` / a permanent failure.

    Returns the row's new status; ``running`` (and no change) if ``owner`` no longer holds the lease.
    """
    model = type(row)
    now = timezone.now()
    if isinstance(error, RetryLater):
        status, due = DurableRow.Status.PENDING, now + timedelta(seconds=error.delay)
        # A requested retry is not an attempt that failed.
        attempts = max(row.attempts - 1, 0)
    elif isinstance(error, PermanentFailure) or row.attempts >= row.max_attempts:
        status, due, attempts = DurableRow.Status.FAILED, row.due_at, row.attempts
    else:
        backoff = min(model.retry_base_seconds * 2 ** (row.attempts - 1), model.retry_max_seconds)
        status, due, attempts = DurableRow.Status.PENDING, now + timedelta(seconds=backoff), row.attempts
    updated = model._base_manager.filter(pk=row.pk, status=DurableRow.Status.RUNNING, lease_owner=owner).update(
        status=status,
        due_at=due,
        attempts=attempts,
        lease_until=None,
        last_error=f"{type(error).__name__}: {error}"[:2000],
        finished_at=now if status == DurableRow.Status.FAILED else None,
    )
    if not updated:
        log.warning("durable row %s#%s: lease lost before recording its failure", model.__name__, row.pk)
        return DurableRow.Status.RUNNING
    return status


def run_row(row: DurableRow, owner: str) -> str:
    """Perform one claimed row and settle it. Returns the row's new status."""
    if row.attempts > row.max_attempts:
        # Leases kept expiring (the worker died each time): stop re-driving a row that kills workers.
        fail(row, owner, PermanentFailure(f"gave up after {row.attempts - 1} attempts whose leases expired"))
        return DurableRow.Status.FAILED
    try:
        row.perform()
    except Exception as error:  # noqa: BLE001 - every failure is recorded on the row
        if not isinstance(error, (RetryLater, PermanentFailure)):
            log.warning("durable row %s#%s failed: %s", type(row).__name__, row.pk, error, exc_info=True)
        return fail(row, owner, error)
    if not complete(row, owner):
        log.warning("durable row %s#%s: lease lost before completion", type(row).__name__, row.pk)
        return DurableRow.Status.RUNNING
    return DurableRow.Status.DONE


def cancel(row: DurableRow) -> bool:
    """Cancel a row that has not started; False if it is already running or settled."""
    updated = type(row)._base_manager.filter(pk=row.pk, status=DurableRow.Status.PENDING).update(
        status=DurableRow.Status.CANCELLED, finished_at=timezone.now()
    )
    return updated == 1
