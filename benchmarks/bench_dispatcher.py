"""Durable-row dispatcher throughput on SQLite, beside raw batched SQLite writes of the same rows.

N ``Chore`` rows are due; ``dispatch_once`` runs in a loop until every one is done. Each row costs what a
real outbound send costs the database: the batch claim (one UPDATE … RETURNING per batch), reading the
batch, the row's effect written under its idempotency key (``get_or_create``) and the compare-and-set that
marks it done. The physical limit is the same database file, with the same pragmas, writing the same rows with
no framework and no per-row commit: ``executemany`` of the rows' INSERT, their effects' INSERT and the
UPDATE to done, one transaction each.
"""

from __future__ import annotations

import os
import sqlite3
from concurrent.futures import ThreadPoolExecutor

from benchmarks.common import figure, setup_django, stopwatch

ROWS = int(os.environ.get("SIYU_BENCH_DISPATCHER_ROWS", "20000"))
POOL_THREADS = 4  # what `siyu worker` runs by default (SIYU_DISPATCH_THREADS)


def _insert_due_rows(org, n: int, tag: str) -> None:
    from django.utils import timezone

    from tests.durable_app.models import Chore

    due = timezone.now()
    Chore.objects.bulk_create((Chore(org=org, idempotency_key=f"{tag}-{i}", due_at=due) for i in range(n)),
                              batch_size=2000)


def _drain(owner: str, pool: ThreadPoolExecutor | None = None) -> float:
    """Dispatch until nothing is due; returns the seconds it took."""
    from siyu.core.dispatch import dispatch_once

    with stopwatch() as elapsed:
        while dispatch_once(owner=owner, pool=pool):
            pass
    return elapsed()


def _check_all_done(n: int) -> None:
    from siyu.core.durable import DurableRow
    from tests.durable_app.models import Chore, Effect

    done = Chore.objects.filter(status=DurableRow.Status.DONE).count()
    effects = Effect.objects.count()
    if done != n or effects != n:
        raise AssertionError(f"expected {n} rows done with one effect each, got {done} done and {effects} effects")


def _clear() -> None:
    from tests.durable_app.models import Chore, Effect

    Chore.objects.all().delete()
    Effect.objects.all().delete()


def _raw_limit(org, n: int) -> float:
    """Seconds for raw batched writes of the same rows: INSERT rows, INSERT effects, UPDATE rows to done."""
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from tests.durable_app.models import Chore, Effect

    db = settings.DATABASES["default"]
    raw = sqlite3.connect(db["NAME"], isolation_level=None)
    for pragma in db["OPTIONS"]["init_command"].split(";"):
        if pragma.strip():
            raw.execute(pragma)
    # Twin tables with the same columns, constraints and indexes, in the same file.
    twins = {Chore._meta.db_table: "raw_chore", Effect._meta.db_table: "raw_effect"}
    ddl = []
    for table, twin in twins.items():
        for (sql,) in raw.execute("SELECT sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL "
                                  "ORDER BY type = 'index'", [table]):
            ddl.append(sql.replace(f'"{table}', f'"{twin}').replace(f"{table}_", f"{twin}_"))
    for sql in ddl:
        raw.execute(sql)

    # The rows exactly as the ORM writes them (same columns, same stored values), prepared before timing.
    fields = [f for f in Chore._meta.concrete_fields if not f.primary_key]
    template = Chore(org=org, idempotency_key="", due_at=timezone.now())
    for f in fields:
        if getattr(f, "auto_now_add", False):
            setattr(template, f.attname, timezone.now())
    key_index = [f.attname for f in fields].index("idempotency_key")
    base = [f.get_db_prep_save(getattr(template, f.attname), connection) for f in fields]
    rows = []
    for i in range(n):
        values = list(base)
        values[key_index] = f"raw-{i}"
        rows.append(values)
    columns = ", ".join(f'"{f.column}"' for f in fields)
    insert_rows = f'INSERT INTO raw_chore ({columns}) VALUES ({", ".join("?" * len(fields))})'
    done_at = connection.ops.adapt_datetimefield_value(timezone.now())
    effects = [(org.pk, f"raw-{i}", "bench") for i in range(n)]

    try:
        with stopwatch() as elapsed:
            raw.execute("BEGIN IMMEDIATE")
            raw.executemany(insert_rows, rows)
            raw.execute("COMMIT")
            ids = [row_id for (row_id,) in raw.execute("SELECT id FROM raw_chore ORDER BY id")]
            raw.execute("BEGIN IMMEDIATE")
            raw.executemany('INSERT INTO raw_effect ("org_id", "key", "by") VALUES (?, ?, ?)', effects)
            raw.executemany(
                "UPDATE raw_chore SET status = 'done', attempts = attempts + 1, lease_owner = 'bench', "
                "lease_until = NULL, finished_at = ? WHERE id = ?",
                [(done_at, row_id) for row_id in ids],
            )
            raw.execute("COMMIT")
        (done,) = raw.execute("SELECT count(*) FROM raw_chore WHERE status = 'done'").fetchone()
        if done != n:
            raise AssertionError(f"raw writes: {done} of {n} rows done")
        return elapsed()
    finally:
        for twin in twins.values():
            raw.execute(f'DROP TABLE IF EXISTS "{twin}"')
        raw.close()


def run() -> list[dict]:
    setup_django()
    from django.conf import settings

    from tests.factories import make_org

    org = make_org()
    limit_seconds = _raw_limit(org, ROWS)
    limit = ROWS / limit_seconds

    _insert_due_rows(org, ROWS, "serial")
    serial_seconds = _drain("bench-serial")
    _check_all_done(ROWS)
    _clear()

    # Half as many rows: the pool is the slower way on SQLite, and the whole benchmark stays within a minute.
    pool_rows = ROWS // 2
    _insert_due_rows(org, pool_rows, "pool")
    with ThreadPoolExecutor(max_workers=POOL_THREADS) as pool:
        pool_seconds = _drain("bench-pool", pool)
    _check_all_done(pool_rows)
    _clear()

    batch = settings.DISPATCH_BATCH
    return [
        figure(
            "dispatcher, one thread", ROWS / serial_seconds, "rows/s", limit_value=limit, limit_unit="rows/s",
            notes=(f"{ROWS:,} due Chore rows claimed {batch} at a time and performed in the claiming thread "
                   f"(dispatch_once(pool=None)), {serial_seconds:.1f} s; limit: the same rows, effects and "
                   f"UPDATE to done as raw executemany in one connection, {limit_seconds:.2f} s"),
        ),
        figure(
            f"dispatcher, pool of {POOL_THREADS} threads", pool_rows / pool_seconds, "rows/s", limit_value=limit,
            limit_unit="rows/s",
            notes=(f"{pool_rows:,} rows as `siyu worker` runs them (dispatch_once with a {POOL_THREADS}-thread "
                   f"pool, one connection per thread per batch), {pool_seconds:.1f} s"),
        ),
    ]
