"""SQLite settings for writing one large batch (a million identifiers), scoped to that batch."""

from __future__ import annotations

from contextlib import ExitStack, contextmanager

from django.db import connection

BIG_BATCH = 50_000  # rows from which a batch is written with these settings


@contextmanager
def bulk_writes(rows: int):
    """Around a transaction that inserts ``rows`` rows, on SQLite when they are many: a 64 MB page cache (the
    identifiers land all over the unique index; with the default 2 MB most pages would be evicted and re-read), and
    no per-row foreign-key look-ups when no transaction is open yet (they cost a quarter of the writing; the
    batch's rows only reference its organization, checked in the transaction, and persons it inserts itself).
    Everything is restored afterwards."""
    if connection.vendor != "sqlite" or rows < BIG_BATCH:
        yield
        return
    with ExitStack() as stack:
        if not connection.in_atomic_block:
            stack.enter_context(connection.constraint_checks_disabled())
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size")
            before = cursor.fetchone()[0]
            cursor.execute("PRAGMA cache_size = -65536")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA cache_size = {int(before)}")
