"""Durable work as table rows: outbound sends, reminders, journey steps, callback processing.

A row says what must happen and when (``due_at``). Workers claim due rows with a lease, perform them, and
mark them done with a compare-and-set on the lease owner. A worker that dies simply lets its lease expire;
another worker then claims the row again. Execution is therefore at-least-once, and ``perform()`` makes its
effect exactly-once with the row's ``idempotency_key`` (a unique key on the effect, or the key handed to the
external API). Rows stay visible, cancellable and countable, which queue messages are not.
"""

from __future__ import annotations

import functools
import logging
from datetime import timedelta
from typing import ClassVar

from django.apps import apps
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from siyu.core import clock
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

    @classmethod
    def perform_many(cls, rows: list[DurableRow]) -> dict[int, Exception]:
        """Perform claimed rows; returns the error of each row that failed, by primary key.

        This performs them one by one. A model whose effects can be written in bulk (one INSERT for the chunk)
        or whose rows share reads overrides it; a row it leaves out of the result counts as performed.
        """
        errors: dict[int, Exception] = {}
        for row in rows:
            try:
                row.perform()
            except Exception as error:  # noqa: BLE001 - every failure is recorded on its row
                errors[row.pk] = error
        return errors


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
    now = now or clock.now()
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
    now = clock.now()  # due times and leases are schedules: tests move this clock
    sql = _claim_sql(model, connection.vendor)
    t_now, t_lease = _db_time(now), _db_time(now + timedelta(seconds=lease_seconds))
    with transaction.atomic(), connection.cursor() as cursor:
        expire_late(model, now=now)
        cursor.execute(sql, [t_lease, owner, t_now, t_now, t_now, t_now, limit])
        values = cursor.fetchall()
    rows = _rows_from_db(model, values)
    rows.sort(key=lambda row: (row.due_at, row.pk), reverse=model.deadline_seconds is not None)
    return rows


@functools.cache
def _claim_sql(model: type[DurableRow], vendor: str) -> str:
    """The claim statement of ``model`` on ``vendor``'s database."""
    table = connection.ops.quote_name(model._meta.db_table)
    order = "due_at DESC" if model.deadline_seconds is not None else "due_at"
    picked = f"SELECT id FROM {table} WHERE {CLAIMABLE} ORDER BY {order} LIMIT %s"
    if vendor == "postgresql":
        # ARRAY(…) makes the locking subquery an InitPlan that runs once. As a plain IN (…) the planner may
        # choose a nested-loop semi-join that re-runs it for every outer row and claims past the limit.
        match = f"id = ANY(ARRAY({picked} FOR UPDATE SKIP LOCKED))"
    else:
        match = f"id IN ({picked})"
    # RETURNING every column: the claimed rows come back whole, with no second read.
    columns = ", ".join(connection.ops.quote_name(f.column) for f in model._meta.concrete_fields)
    return (
        f"UPDATE {table} SET status = 'running', lease_until = %s, lease_owner = %s, attempts = attempts + 1 "
        f"WHERE {CLAIMABLE} AND {match} RETURNING {columns}"
    )


def with_claimable_rows(models: list[type[DurableRow]]) -> list[type[DurableRow]]:
    """The models, of ``models``, that have a row to claim now: one read, no write lock.

    Most models have nothing due on most dispatcher passes; asking them all at once spares each of them a
    write transaction (on SQLite, the database's one write lock) that would claim nothing.
    """
    if not models:
        return []
    t_now = _db_time(clock.now())
    probes = [
        f"SELECT {index} WHERE EXISTS (SELECT 1 FROM {connection.ops.quote_name(model._meta.db_table)} WHERE {CLAIMABLE})"
        for index, model in enumerate(models)
    ]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(probes), [t_now, t_now] * len(models))
        found = {index for (index,) in cursor.fetchall()}
    return [model for index, model in enumerate(models) if index in found]


def _rows_from_db(model: type[DurableRow], values: list[tuple]) -> list[DurableRow]:
    """Model instances from raw column values, converted as the ORM converts them (SQLite's text datetimes)."""
    table = model._meta.db_table
    fields = model._meta.concrete_fields
    converters = []
    for index, field in enumerate(fields):
        column = field.get_col(table)
        found = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
        if found:
            converters.append((index, column, found))
    names = [f.attname for f in fields]
    rows = []
    for raw in values:
        raw = list(raw)
        for index, column, found in converters:
            for convert in found:
                raw[index] = convert(raw[index], column, connection)
        rows.append(model.from_db(connection.alias, names, raw))
    return rows


def complete(row: DurableRow, owner: str) -> bool:
    """Mark done if ``owner`` still holds the lease. False means another worker took the row over."""
    return bool(complete_many(type(row), [row], owner))


def complete_many(model: type[DurableRow], rows: list[DurableRow], owner: str) -> set[int]:
    """Mark ``rows`` done in one statement, each only if ``owner`` still holds its lease; returns the pks marked."""
    if not rows:
        return set()
    pks = [row.pk for row in rows]
    held = model._base_manager.filter(pk__in=pks, status=DurableRow.Status.RUNNING, lease_owner=owner)
    updated = held.update(status=DurableRow.Status.DONE, finished_at=timezone.now(), lease_until=None, last_error="")
    if updated == len(pks):
        return set(pks)
    # Some leases were lost (rare): find out which rows this call did mark.
    return set(model._base_manager.filter(pk__in=pks, status=DurableRow.Status.DONE, lease_owner=owner)
               .values_list("pk", flat=True))


def fail(row: DurableRow, owner: str, error: BaseException) -> str:
    """Record a failure: retry later with backoff, or give up after ``max_attempts`` / a permanent failure.

    Returns the row's new status; ``running`` (and no change) if ``owner`` no longer holds the lease.
    """
    model = type(row)
    now = clock.now()  # the retry's due time is a schedule
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


def run_rows(model: type[DurableRow], rows: list[DurableRow], owner: str) -> dict[int, str]:
    """Perform claimed rows of one model and settle them: one UPDATE for all that succeeded, one per failure.

    Returns each row's new status by primary key (``running`` where the lease was lost meanwhile).
    """
    statuses: dict[int, str] = {}
    live = []
    for row in rows:
        if row.attempts > row.max_attempts:
            # Leases kept expiring (the worker died each time): stop re-driving a row that kills workers.
            error = PermanentFailure(f"gave up after {row.attempts - 1} attempts whose leases expired")
            statuses[row.pk] = fail(row, owner, error)
        else:
            live.append(row)
    errors = model.perform_many(live) if live else {}
    succeeded = [row for row in live if row.pk not in errors]
    completed = complete_many(model, succeeded, owner)
    for row in succeeded:
        if row.pk in completed:
            statuses[row.pk] = DurableRow.Status.DONE
        else:
            log.warning("durable row %s#%s: lease lost before completion", model.__name__, row.pk)
            statuses[row.pk] = DurableRow.Status.RUNNING
    for row in live:
        error = errors.get(row.pk)
        if error is None:
            continue
        if not isinstance(error, (RetryLater, PermanentFailure)):
            log.warning("durable row %s#%s failed: %s", model.__name__, row.pk, error, exc_info=error)
        statuses[row.pk] = fail(row, owner, error)
    return statuses


def run_row(row: DurableRow, owner: str) -> str:
    """Perform one claimed row and settle it. Returns the row's new status."""
    return run_rows(type(row), [row], owner)[row.pk]


def requeue_failed(row: DurableRow) -> bool:
    """Queue a failed row again (re-drive): pending, due now, attempts from zero. False if it had not failed."""
    updated = type(row)._base_manager.filter(pk=row.pk, status=DurableRow.Status.FAILED).update(
        status=DurableRow.Status.PENDING, due_at=clock.now(), attempts=0, lease_until=None, lease_owner="",
        finished_at=None,
    )
    return updated == 1


def cancel(row: DurableRow) -> bool:
    """Cancel a row that has not started; False if it is already running or settled."""
    updated = type(row)._base_manager.filter(pk=row.pk, status=DurableRow.Status.PENDING).update(
        status=DurableRow.Status.CANCELLED, finished_at=timezone.now()
    )
    return updated == 1
