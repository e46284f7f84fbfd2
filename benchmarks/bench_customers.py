"""The customer list at scale: 1,000,000 customers and 5,000,000 tag links, on SQLite and on PostgreSQL.

One organization with 1,000 staff; every customer has one relation with five tags (5,000,000 ``RelationTag``
rows over 200 tags in five groups: a membership level, a taste, and three interest groups) and a customer stage
(``lifecycle.CustomerLifecycle``). The data is generated inside the database (``INSERT … SELECT`` over a
recursive CTE on SQLite, ``generate_series`` on PostgreSQL), deterministically, so both databases hold the same
rows. ``customers_customertag`` (the per-customer roll-up its triggers keep) is generated the same way with the
triggers off, then they are switched back on; on PostgreSQL the load skips the per-row foreign-key checks when
the role may (``session_replication_role``), and ends with ``VACUUM ANALYZE`` as autovacuum would.

Measured, 20 runs each after one warm-up, p95:

* **list page**: ``GET /customers/?tags=A&tags=B&tag_mode=all&stage=S`` through Django's test client as an HQ
  member: middleware, the filter form (with the stage filter registered by ``siyu.lifecycle``), the first keyset
  page of 50, the capped count, the page's relations and tags, and the template.
* **raw query**: the SELECTs that choose, count and read the page's rows (the planner's bounded counts, the one
  read of ids that gives both the page and the total, the page's customers), as the ORM generated them, run
  directly on the database connection's cursor: what the database itself needs.

PostgreSQL runs when ``SIYU_BENCH_POSTGRES_URL`` names a server the benchmark may create a database on (e.g.
``postgres://siyu:siyu@127.0.0.1:5432/siyu``): a throwaway database is created there, migrated, filled, measured
and dropped, in a child process (the harness itself stays on its SQLite file).
``SIYU_BENCH_CUSTOMERS`` (default 1,000,000) scales the data; tag links are always five per customer.
"""

from __future__ import annotations

import importlib
import os
import re
import statistics
import sys
import time

from benchmarks.common import child_setup, figure, run_on_postgres, setup_django, skipped, stopwatch

CUSTOMERS = int(os.environ.get("SIYU_BENCH_CUSTOMERS", "1000000"))
TAGS_PER_CUSTOMER = 5
STAFF = 1000
RUNS = 20
GOAL_MS = 300
# Tag slots: every relation gets one tag from each slot (so no relation has the same tag twice).
SLOTS = [("会员等级", 4), ("口味偏好", 20), ("兴趣A", 40), ("兴趣B", 64), ("兴趣C", 72)]
PRIME = 1_000_003
MULTIPLIERS = [7919, 104_729, 15_485_863, 32_452_843, 49_979_687, 67_867_967]


# -- generating the rows inside the database ---------------------------------------------------------------------
def _series(vendor: str, n: int) -> str:
    """A relation ``s(i)`` of 1..n."""
    if vendor == "postgresql":
        return f"generate_series(1::bigint, {n}) AS s(i)"
    return f"(WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {n}) SELECT i FROM c) AS s"


def _pick(expr: str, salt: int, size: int) -> str:
    """A deterministic, well-spread choice in 0..size-1 from an integer expression."""
    return f"((({expr}) * {MULTIPLIERS[salt]}) % {PRIME} % {size})"


def _time(vendor: str, seconds_expr: str) -> str:
    if vendor == "postgresql":
        return f"to_timestamp({seconds_expr})"
    return f"datetime({seconds_expr}, 'unixepoch')"  # the text Django writes for a whole-second UTC datetime


def _insert(cursor, model, values: dict[str, str], source: str) -> None:
    """``INSERT INTO <model's table> (<every concrete column>) SELECT … FROM <source>``: columns not named in
    ``values`` get their field's default (or NULL), so a model that grows a column still fills."""
    from django.db import connection

    qn = connection.ops.quote_name
    columns, exprs = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(qn(field.column))
        if field.column in values:
            exprs.append(values[field.column])
            continue
        default = None if field.has_default() and callable(field.default) else field.get_default()
        if default is None and not field.null:
            raise RuntimeError(f"{model.__name__}.{field.name}: no value for a NOT NULL column without a default")
        exprs.append(_literal(field.get_db_prep_save(default, connection)))
    cursor.execute(f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(columns)}) SELECT {', '.join(exprs)} FROM {source}")


def _literal(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def generate(org, n: int) -> dict:
    """Fill the database with ``n`` customers, their relations, tag links and stages. Returns the ids used."""
    from django.db import connection, transaction

    from siyu.customers.models import Customer, CustomerTag, Relation, RelationTag, Tag, TagGroup
    from siyu.lifecycle import stages as lifecycle_stages
    from siyu.lifecycle.models import CustomerLifecycle
    from siyu.orgs.models import Staff, Store

    vendor = connection.vendor
    now = "CURRENT_TIMESTAMP"
    store = Store.objects.create(org=org, code="BENCH", name="压测门店")
    Staff.objects.bulk_create([Staff(org=org, userid=f"bench{i:04d}", name=f"导购{i}", store=store) for i in range(STAFF)])
    staff_ids = list(Staff.objects.for_org(org).order_by("pk").values_list("pk", flat=True))
    tag_ids: list[list[int]] = []
    for order, (name, size) in enumerate(SLOTS):
        group = TagGroup.objects.create(org=org, name=name, wecom_id=f"etbenchgroup{order}", order=100 - order)
        Tag.objects.bulk_create([Tag(org=org, group=group, name=f"{name}{k}", wecom_id=f"etbench{order}x{k}", order=size - k)
                                 for k in range(size)])
        tag_ids.append(list(Tag.objects.for_org(org).filter(group=group).order_by("pk").values_list("pk", flat=True)))
    pipeline = lifecycle_stages.ensure_default_stages(org)
    stage_ids = [s.pk for s in pipeline]

    with transaction.atomic(), connection.cursor() as cursor:
        if vendor == "sqlite":
            cursor.execute("PRAGMA cache_size = -400000")
        else:
            _skip_foreign_key_checks(cursor)
        # The customer_tag rows are written here directly, the same rows the triggers on customers_relationtag
        # would write one link at a time: the triggers are off while the links are generated.
        _link_triggers(cursor, vendor, enabled=False)
        added = _time(vendor, "1704067200 + (i * 104729) % 63072000")
        _insert(cursor, Customer, {
            "org_id": str(org.pk), "external_userid": "'wmbench' || i", "name": "'客户' || i",
            "is_friend": "(i % 10 <> 0)", "first_added_at": added, "created_at": now, "updated_at": now,
            "external_profile": "'{}'",
        }, _series(vendor, n))
        offset = _first_id(cursor, Customer, org) - 1
        _insert(cursor, Relation, {
            "org_id": str(org.pk), "customer_id": f"i + {offset}",
            "staff_id": _array_pick(vendor, staff_ids, _pick("i", 0, len(staff_ids))),
            "status": "CASE WHEN i % 10 = 0 THEN 'deleted_by_customer' ELSE 'active' END",
            "added_at": added, "created_at": now, "remark": "''", "remark_mobiles": "''",
        }, _series(vendor, n))
        relation_offset = _first_id(cursor, Relation, org) - 1
        for slot, ids in enumerate(tag_ids):
            tag = _array_pick(vendor, ids, _pick("i", slot + 1, len(ids)))
            _insert(cursor, RelationTag, {
                "org_id": str(org.pk), "relation_id": f"i + {relation_offset}", "tag_id": tag,
                "source": "'wecom'", "source_ref": "''", "created_at": now,
            }, _series(vendor, n))
            _insert(cursor, CustomerTag, {"org_id": str(org.pk), "customer_id": f"i + {offset}", "tag_id": tag},
                    _series(vendor, n))
        _insert(cursor, CustomerLifecycle, {
            "org_id": str(org.pk), "customer_id": f"i + {offset}",
            "stage_id": _array_pick(vendor, stage_ids, _pick("i", 5, len(stage_ids))),
            "stage_since": added, "updated_at": now,
        }, _series(vendor, n))
    with connection.cursor() as cursor:  # after the commit: PostgreSQL refuses while foreign-key checks are pending
        _link_triggers(cursor, vendor, enabled=True)
    _check(org, n, offset, relation_offset)
    with connection.cursor() as cursor:
        # What autovacuum does on a live PostgreSQL (statistics, and the visibility map index-only scans need).
        cursor.execute("VACUUM ANALYZE" if vendor == "postgresql" else "ANALYZE")
    return {"tags": tag_ids, "stages": stage_ids}


def _skip_foreign_key_checks(cursor) -> None:
    """On PostgreSQL, when the role may: no deferred foreign-key check per generated row at commit (they would
    take longer than the inserts; :func:`_check` verifies the rows instead)."""
    from django.db import DatabaseError, transaction

    try:
        with transaction.atomic():
            cursor.execute("SET LOCAL session_replication_role = replica")
    except DatabaseError:
        pass


def _link_triggers(cursor, vendor: str, *, enabled: bool) -> None:
    migration = importlib.import_module("siyu.customers.migrations.0003_customer_360")
    if vendor == "postgresql":
        cursor.execute(f"ALTER TABLE customers_relationtag {'ENABLE' if enabled else 'DISABLE'} TRIGGER USER")
        return
    for sql in migration.SQLITE_TRIGGERS if enabled else migration.SQLITE_DROP:
        cursor.execute(sql)


def _first_id(cursor, model, org) -> int:
    cursor.execute(f"SELECT MIN(id) FROM {model._meta.db_table} WHERE org_id = %s", [org.pk])
    return cursor.fetchone()[0]


def _check(org, n: int, offset: int, relation_offset: int) -> None:
    """The rows are what the generator meant: ids follow the series, every relation has its five tags."""
    from siyu.customers.models import Customer, CustomerTag, Relation, RelationTag

    for i in (1, n // 2, n):
        customer = Customer.objects.for_org(org).get(pk=offset + i)
        relation = Relation.objects.for_org(org).get(pk=relation_offset + i)
        links = set(RelationTag.objects.for_org(org).filter(relation=relation).values_list("tag_id", flat=True))
        rolled_up = set(CustomerTag.objects.for_org(org).filter(customer=customer).values_list("tag_id", flat=True))
        if (customer.external_userid != f"wmbench{i}" or relation.customer_id != customer.pk
                or len(links) != TAGS_PER_CUSTOMER or links != rolled_up):
            raise AssertionError(f"generated rows are not as planned at i={i}")


def _array_pick(vendor: str, ids: list[int], index_expr: str) -> str:
    """The ``index_expr``-th of ``ids`` as SQL (ids are consecutive when created in one bulk insert)."""
    if ids == list(range(ids[0], ids[0] + len(ids))):
        return f"({ids[0]} + {index_expr})"
    cases = " ".join(f"WHEN {k} THEN {v}" for k, v in enumerate(ids))
    return f"(CASE {index_expr} {cases} END)"


# -- measuring ------------------------------------------------------------------------------------------------
def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[-1]


def _list_sql(viewer, params: dict) -> list[str]:
    """The SQL the list page runs to choose, count and read its rows, captured from the ORM."""
    from django.db import connection
    from django.http import QueryDict
    from django.test.utils import CaptureQueriesContext

    from siyu.customers.forms import CustomerFilterForm
    from siyu.customers.queries import filter_customers, list_page

    query = QueryDict(mutable=True)
    for key, value in params.items():
        query.setlist(key, value if isinstance(value, list) else [value])
    form = CustomerFilterForm(query, viewer=viewer)
    if not form.is_valid():
        raise RuntimeError(f"benchmark filter is invalid: {form.errors}")
    with CaptureQueriesContext(connection) as captured:
        rows = filter_customers(viewer, form.cleaned_data)
        list_page(rows, viewer.org_id, form.cleaned_data["sort"])
    # The SELECTs only: the savepoint and statement_timeout around the count are bookkeeping, not the query.
    return [q["sql"] for q in captured.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]


def measure(org, ids: dict) -> dict:
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from siyu.orgs.roles import Role
    from tests.factories import client_for, make_member

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    admin = make_member(org, Role.HQ_ADMIN, username=f"bench_admin_{org.pk}")
    client: Client = client_for(admin)
    # A common level (a quarter of customers), a taste (a twentieth) and a stage (a fifth): about 0.25 % match.
    tag_a, tag_b, stage = ids["tags"][0][1], ids["tags"][1][7], ids["stages"][2]
    params = {"tags": [str(tag_a), str(tag_b)], "tag_mode": "all", "stage": str(stage)}
    url = "/customers/"
    response = client.get(url, params)
    if response.status_code != 200:
        raise RuntimeError(f"list page answered {response.status_code}: {response.content[:500]!r}")
    html = response.content.decode()
    rows = html.count('name="ids"')
    count = re.search(r'data-testid="customer-count">([^<]*)<', html).group(1).strip()
    page = []
    for _ in range(RUNS):
        with stopwatch() as elapsed:
            client.get(url, params)
        page.append(elapsed() * 1000)

    statements = _list_sql(admin, params)
    raw = []
    with connection.cursor() as cursor:
        for sql in statements:  # warm-up
            cursor.execute(sql)
            cursor.fetchall()
        for _ in range(RUNS):
            with stopwatch() as elapsed:
                for sql in statements:
                    cursor.execute(sql)
                    cursor.fetchall()
            raw.append(elapsed() * 1000)
    return {"page_p95": _p95(page), "page_median": statistics.median(page), "raw_p95": _p95(raw),
            "raw_median": statistics.median(raw), "rows": rows, "count": count, "statements": len(statements)}


def _one_database() -> dict:
    """Generate and measure on the database Django is set up with (the harness's SQLite, or the child's PG)."""
    from django.db import connection

    from tests.factories import make_org

    org = make_org()
    with stopwatch() as elapsed:
        ids = generate(org, CUSTOMERS)
    result = measure(org, ids)
    result["generate_seconds"] = elapsed()
    result["database"] = connection.vendor
    return result


def _figures(result: dict, label: str) -> list[dict]:
    n = f"{CUSTOMERS:,} customers, {CUSTOMERS * TAGS_PER_CUSTOMER:,} tag links"
    return [figure(
        f"list page, 2 tags + stage, p95 ({label})", result["page_p95"], "ms", limit_value=result["raw_p95"], limit_unit="ms",
        notes=(f"{n}; GET /customers/ with two tag filters (all) and a stage filter as HQ, {RUNS} runs after a warm-up: "
               f"p95 {result['page_p95']:.1f} ms, median {result['page_median']:.1f} ms (goal < {GOAL_MS} ms), "
               f"{result['rows']} rows shown, count shown as “{result['count']}”; limit: the {result['statements']} SQL "
               f"statements that choose, count and read the page's rows, run raw on the cursor, p95 {result['raw_p95']:.1f} ms, median "
               f"{result['raw_median']:.1f} ms; data generated in {result['generate_seconds']:.0f} s"),
    )]


# -- PostgreSQL in a child process ---------------------------------------------------------------------------------
def _postgres_url() -> str | None:
    return os.environ.get("SIYU_BENCH_POSTGRES_URL")


def _child_main() -> None:
    """``python -m benchmarks.bench_customers`` with SIYU_BENCH_CHILD_DATABASE_URL: measure on that database."""
    import json

    child_setup()
    sys.stdout.write(json.dumps(_one_database()) + "\n")


def _postgres_figures(url: str | None) -> list[dict]:
    if url:
        return _figures(run_on_postgres(url, "benchmarks.bench_customers", timeout=3600), "PostgreSQL")
    return [skipped("list page, 2 tags + stage, p95 (PostgreSQL)", "ms",
                    reason="set SIYU_BENCH_POSTGRES_URL to a PostgreSQL server the benchmark may create a database on")]


def run() -> list[dict]:
    setup_django()
    started = time.perf_counter()
    figures = _figures(_one_database(), "SQLite")
    figures += _postgres_figures(_postgres_url())
    figures[0]["notes"] += f"; whole benchmark {time.perf_counter() - started:.0f} s"
    return figures


if __name__ == "__main__" and os.environ.get("SIYU_BENCH_CHILD_DATABASE_URL"):
    _child_main()
