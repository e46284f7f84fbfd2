"""OneID at scale: "identity resolution of 1,000,000 identifiers" (goal ≤ 10 s).

250,000 people, each known by four identifiers (an anonymous id, a device id, a user id, a phone), arrive as three
identify-like groups per person ([anonymous id, user id], [device id, user id], [phone, user id]) in shuffled
order: 750,000 groups naming 1,000,000 distinct identifiers that union-find must join into 250,000 persons.
Measured: ``identity_batch.resolve_many`` on a fresh organization — normalizing, keyed blind indexes, the
look-ups of stored identifiers, clustering, and writing persons and identifiers (values encrypted) in one
transaction. The hashing and encryption run in the batch's second process, on the other core.

The physical limit beside it, in the same run: a bare union-find over the same pre-normalized strings in Python
plus raw ``executemany`` inserts of the same number of rows (plain text, no encryption, no ORM) into a scratch
table: what this machine needs to cluster and store that many identifiers at all.
``SIYU_BENCH_IDENTITY_PEOPLE`` (default 250,000) scales it.
"""

from __future__ import annotations

import os
import random
import resource
import time

from benchmarks.common import figure, setup_django, stopwatch

PEOPLE = int(os.environ.get("SIYU_BENCH_IDENTITY_PEOPLE", "250000"))
GOAL_S = 10.0


def _groups() -> list[list[tuple[str, str]]]:
    groups = []
    for n in range(PEOPLE):
        user = ("user_id", f"u-{n}")
        groups += [[("anonymous_id", f"a-{n}"), user], [("device_id", f"d-{n}"), user],
                   [("phone", f"13{n:09d}"), user]]
    random.Random(11).shuffle(groups)
    return groups


def _limit(groups) -> float:
    """Seconds for a bare union-find over the groups plus raw inserts of one row per distinct identifier."""
    from django.db import connection, transaction

    with stopwatch() as elapsed:
        parent: dict = {}

        def find(node):
            root = parent.setdefault(node, node)
            while root != parent[root]:
                parent[root] = parent[parent[root]]
                root = parent[root]
            return root

        for group in groups:
            first = find(group[0])
            for item in group[1:]:
                other = find(item)
                if other != first:
                    parent[other] = first
        rows = [(kind, value, find((kind, value))[1]) for kind, value in parent]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("CREATE TEMPORARY TABLE bench_identifier (kind text, value text, root text)")
            cursor.executemany("INSERT INTO bench_identifier VALUES (%s, %s, %s)", rows)
            cursor.execute("DROP TABLE bench_identifier")
    return elapsed()


def _crypto_floor(groups) -> float:
    """Seconds to normalize, blind-index and encrypt every distinct value once, with the same bulk functions
    ``resolve_many`` uses: the part of the work no clustering or writing strategy avoids."""
    from siyu.cdp.identifier_values import canonical_all, indexes_all, seal_all
    from siyu.privacy.keys import keyring

    ring = keyring()
    by_kind: dict = {}
    for kind, value in {item for group in groups for item in group}:
        by_kind.setdefault(kind, []).append(value)
    with stopwatch() as elapsed:
        for kind, values in by_kind.items():
            canonical = canonical_all(kind, values)
            indexes_all(ring, kind, "", canonical)
            seal_all(ring, canonical)
    return elapsed()


def _cpu() -> float:
    """CPU seconds of this process's threads and of its ended child processes (the batch's crypto process)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def run() -> list[dict]:
    setup_django()
    from siyu.cdp.identity import Ident
    from siyu.cdp.identity_batch import resolve_many
    from siyu.cdp.models import Identifier, Person
    from tests.factories import make_org

    groups = _groups()
    identifiers = len({item for group in groups for item in group})
    org = make_org("bench-identity", "OneID")
    idents = [[Ident(kind, value) for kind, value in group] for group in groups]
    cpu = _cpu()
    with stopwatch() as elapsed:
        answer = resolve_many(org, idents, source="web")
    seconds, cpu = elapsed(), _cpu() - cpu
    load = os.getloadavg()[0]
    persons = Person.objects.for_org(org).count()
    stored = Identifier.objects.for_org(org).count()
    if persons != PEOPLE or stored != identifiers or None in answer:
        raise AssertionError(f"expected {PEOPLE} persons and {identifiers} identifiers, got {persons} and {stored}")
    limit = _limit(groups)
    floor = _crypto_floor(groups)
    return [figure(
        f"identity resolution of {identifiers:,} identifiers", seconds, "s", limit_value=limit, limit_unit="s",
        notes=(f"{len(groups):,} groups → {persons:,} persons; goal ≤ {GOAL_S:g} s; limit: bare union-find in "
               "Python + raw executemany of the same rows (plain text); normalizing, blind-indexing and encrypting "
               f"each value alone took {floor:.1f} s in this run; CPU time (all threads, and the crypto process) "
               f"{cpu:.1f} s; load average {load:.1f} at the end of the batch"))]
