"""The issue's segment over 1,000,000 persons and 10,000,000 events, on SQLite and on PostgreSQL.

"tag 高意向 AND (bought in the last 30 days OR did ``Material Opened`` 3+ times in 7 days) AND NOT stage 流失":
one organization, every person has a WeCom customer with one of ten tags (高意向 is a tenth) and a stage of the
default pipeline (流失 among them); 1,000,000 orders over a year and 10,000,000 events of ten names over 90
days, spread over the persons deterministically. The rows are generated inside the database with raw batched
``INSERT … SELECT`` (the generators of ``bench_customers``), so both databases hold the same rows.

Measured, 5 runs after one warm-up, p95:

* **segment**: counting the members as ``siyu.segments`` compiles the validated rule (the ORM query a refresh and
  the builder's live count run);
* **limit**: the hand-written SQL of the same rule (correlated ``EXISTS`` and a counted subquery, every subquery
  filtered by ``org``), run raw on the same database connection in the same run.

``SIYU_BENCH_SEGMENT_PERSONS`` (default 1,000,000) scales the data (events are ten per person, orders one).
PostgreSQL runs when ``SIYU_BENCH_POSTGRES_URL`` names a server the benchmark may create a database on.
With ``--keep`` (``make bench KEEP=1``) the generated data is kept, keyed by :data:`GENERATOR` and the sizes, and
reused by the next run: generating it takes the better part of an hour, measuring it a minute.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import sys
import time

from benchmarks.bench_customers import _array_pick, _insert, _link_triggers, _pick, _series, _skip_foreign_key_checks, _time
from benchmarks.common import (child_setup, figure, kept_facts, kept_sqlite, mark_kept, run_on_postgres, setup_django,
                               skipped, stopwatch)

PERSONS = int(os.environ.get("SIYU_BENCH_SEGMENT_PERSONS", "1000000"))
EVENTS_PER_PERSON = 10
GENERATOR = 1  # the version of generate(): raise it whenever the rows it generates change, so kept data is not reused
KEEP_KEY = f"cdp_segment-g{GENERATOR}-{PERSONS}p-{EVENTS_PER_PERSON}e"
RUNS = 5
GOAL_S = 2.0
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
EPOCH_NOW = int(NOW.timestamp())
EVENT_NAMES = ["Material Opened", "Page Viewed", "Product Viewed", "Cart Viewed", "Search", "Share", "Coupon Claimed",
               "Video Played", "Signed In", "Checkout Started"]


def generate(org, n: int) -> dict:
    from django.db import connection, transaction

    from siyu.cdp.models import Event, Order, Person, Source
    from siyu.customers.models import Customer, CustomerTag, Tag
    from siyu.lifecycle import stages as lifecycle_stages
    from siyu.lifecycle.models import CustomerLifecycle

    vendor = connection.vendor
    now = "CURRENT_TIMESTAMP"
    Tag.objects.bulk_create([Tag(org=org, name="高意向" if k == 0 else f"标签{k}") for k in range(10)])
    tag_ids = list(Tag.objects.for_org(org).order_by("pk").values_list("pk", flat=True))
    stage_ids = [s.pk for s in lifecycle_stages.ensure_default_stages(org)]
    lost = next(s.pk for s in lifecycle_stages.ensure_default_stages(org) if s.is_lost)
    source = Source.objects.create(org=org, name="官网", kind=Source.Kind.WEB)
    context = Event._meta.get_field("context").get_db_prep_save({}, connection)
    name = Person._meta.get_field("name").get_db_prep_save("", connection)
    with transaction.atomic(), connection.cursor() as cursor:
        if vendor == "sqlite":
            cursor.execute("PRAGMA cache_size = -400000")
        else:
            _skip_foreign_key_checks(cursor)
        _link_triggers(cursor, vendor, enabled=False)
        _insert(cursor, Customer, {
            "org_id": str(org.pk), "external_userid": "'wmseg' || i", "name": "'客户' || i", "is_friend": "TRUE",
            "created_at": now, "updated_at": now, "external_profile": "'{}'"}, _series(vendor, n))
        customers = _first(cursor, Customer, org) - 1
        _insert(cursor, CustomerTag, {"org_id": str(org.pk), "customer_id": f"i + {customers}",
                                      "tag_id": _array_pick(vendor, tag_ids, _pick("i", 1, len(tag_ids)))}, _series(vendor, n))
        _insert(cursor, CustomerLifecycle, {
            "org_id": str(org.pk), "customer_id": f"i + {customers}", "updated_at": now,
            "stage_id": _array_pick(vendor, stage_ids, _pick("i", 2, len(stage_ids)))}, _series(vendor, n))
        _insert(cursor, Person, {
            "org_id": str(org.pk), "customer_id": f"i + {customers}", "name": _quote(name), "traits": "'{}'",
            "sources": "'[\"wecom\"]'", "created_at": now, "updated_at": now}, _series(vendor, n))
        persons = _first(cursor, Person, org) - 1
        _insert(cursor, Order, {
            "org_id": str(org.pk), "person_id": f"1 + {persons} + {_pick('i', 3, n)}", "order_no": "'o' || i",
            "source": "'bench'", "total": "99", "created_at": now,
            "ordered_at": _time(vendor, f"{EPOCH_NOW} - (i * 104729) % {365 * 86400}")}, _series(vendor, n))
        names = " ".join(f"WHEN {k} THEN '{v}'" for k, v in enumerate(EVENT_NAMES))
        _insert(cursor, Event, {
            "org_id": str(org.pk), "source_id": str(source.pk), "person_id": f"1 + {persons} + {_pick('i', 5, n)}",
            "type": "'track'", "name": f"(CASE i % 10 {names} END)", "message_id": "'m' || i",
            "timestamp": _time(vendor, f"{EPOCH_NOW} - (i * 7919) % {90 * 86400}"),
            "received_at": _time(vendor, str(EPOCH_NOW)), "properties": "'{}'", "context": _quote(context),
        }, _series(vendor, n * EVENTS_PER_PERSON))
    with connection.cursor() as cursor:
        _link_triggers(cursor, vendor, enabled=True)
        cursor.execute("VACUUM ANALYZE" if vendor == "postgresql" else "ANALYZE")
    return {"tag": tag_ids[0], "lost": lost}


def _first(cursor, model, org) -> int:
    cursor.execute(f"SELECT MIN(id) FROM {model._meta.db_table} WHERE org_id = %s", [org.pk])
    return cursor.fetchone()[0]


def _quote(value) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def the_rule(ids: dict) -> dict:
    return {"op": "and", "rules": [
        {"type": "tags", "match": "any", "tags": [ids["tag"]]},
        {"op": "or", "rules": [
            {"type": "orders", "measure": "count", "did": "at_least", "value": 1, "days": 30},
            {"type": "event", "event": "Material Opened", "did": "at_least", "count": 3, "days": 7},
        ]},
        {"op": "not", "rule": {"type": "stage", "ids": [ids["lost"]]}},
    ]}


HAND_WRITTEN = """
SELECT COUNT(*) FROM cdp_person p
WHERE p.org_id = %(org)s AND p.merged_into_id IS NULL
  AND EXISTS (SELECT 1 FROM customers_customertag t
              WHERE t.org_id = %(org)s AND t.customer_id = p.customer_id AND t.tag_id = %(tag)s)
  AND (EXISTS (SELECT 1 FROM cdp_order o
               WHERE o.org_id = %(org)s AND o.person_id = p.id AND o.ordered_at >= %(since30)s AND o.ordered_at <= %(now)s)
       OR (SELECT COUNT(*) FROM cdp_event e
           WHERE e.org_id = %(org)s AND e.person_id = p.id AND e.name = 'Material Opened'
             AND e.timestamp >= %(since7)s AND e.timestamp <= %(now)s) >= 3)
  AND NOT EXISTS (SELECT 1 FROM lifecycle_customerlifecycle l
                  WHERE l.org_id = %(org)s AND l.customer_id = p.customer_id AND l.stage_id = %(lost)s)
"""


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[-1] if len(samples) > 1 else samples[0]


def measure(org, ids: dict) -> dict:
    from django.db import connection

    from siyu.segments import rules
    from siyu.segments.compiler import persons

    rule = rules.validate(the_rule(ids))
    compiled_counts, compiled = set(), []
    for run in range(RUNS + 1):
        with stopwatch() as elapsed:
            compiled_counts.add(persons(org, rule, now=NOW).count())
        if run:
            compiled.append(elapsed())
    adapt = connection.ops.adapt_datetimefield_value
    params = {"org": org.pk, "tag": ids["tag"], "lost": ids["lost"], "now": adapt(NOW),
              "since30": adapt(NOW - dt.timedelta(days=30)), "since7": adapt(NOW - dt.timedelta(days=7))}
    raw_counts, raw = set(), []
    with connection.cursor() as cursor:
        for run in range(RUNS + 1):
            with stopwatch() as elapsed:
                cursor.execute(HAND_WRITTEN, params)
                raw_counts.add(cursor.fetchone()[0])
            if run:
                raw.append(elapsed())
    if len(compiled_counts | raw_counts) != 1:
        raise AssertionError(f"compiled rule counted {compiled_counts}, hand-written SQL {raw_counts}")
    return {"p95": _p95(compiled), "median": statistics.median(compiled), "raw_p95": _p95(raw),
            "raw_median": statistics.median(raw), "members": compiled_counts.pop()}


def _one_database() -> dict:
    """Generate the data (or find it kept in this database, complete) and measure."""
    from django.db import connection

    from siyu.cdp.models import Person
    from siyu.orgs.models import Organization
    from tests.factories import make_org

    facts = kept_facts(KEEP_KEY)
    if facts:
        org = Organization.objects.get(pk=facts["org"])
        if Person.objects.for_org(org).count() != PERSONS:
            raise AssertionError(f"the kept data of {KEEP_KEY} is incomplete: delete it and run again")
        ids, generated = facts["ids"], None
    else:
        org = make_org()
        with stopwatch() as elapsed:
            ids = generate(org, PERSONS)
        generated = elapsed()
        mark_kept(KEEP_KEY, {"org": org.pk, "ids": ids})
    result = measure(org, ids)
    result["generate_seconds"] = generated
    result["database"] = connection.vendor
    return result


def _figures(result: dict, label: str) -> list[dict]:
    return [figure(
        f"segment “tag AND (bought 30 d OR event 3+ in 7 d) AND NOT stage”, p95 ({label})", result["p95"], "s",
        limit_value=result["raw_p95"], limit_unit="s",
        notes=(f"{PERSONS:,} persons, {PERSONS * EVENTS_PER_PERSON:,} events, {PERSONS:,} orders; counting the members "
               f"of the compiled rule, {RUNS} runs after a warm-up: p95 {result['p95']:.2f} s, median "
               f"{result['median']:.2f} s (goal ≤ {GOAL_S:.0f} s), {result['members']:,} members; limit: the "
               f"hand-written SQL of the same rule, p95 {result['raw_p95']:.2f} s, median {result['raw_median']:.2f} s; "
               + (f"data generated in {result['generate_seconds']:.0f} s" if result["generate_seconds"] is not None
                  else "data kept from an earlier run")),
    )]


def _child_main() -> None:
    """``python -m benchmarks.bench_cdp_segment`` with SIYU_BENCH_CHILD_DATABASE_URL: measure on that database."""
    child_setup()
    sys.stdout.write(json.dumps(_one_database()) + "\n")


def run() -> list[dict]:
    setup_django()
    started = time.perf_counter()
    with kept_sqlite(KEEP_KEY):
        figures = _figures(_one_database(), "SQLite")
    url = os.environ.get("SIYU_BENCH_POSTGRES_URL")
    if url:
        figures += _figures(run_on_postgres(url, "benchmarks.bench_cdp_segment", timeout=7200, keep_key=KEEP_KEY),
                            "PostgreSQL")
    else:
        figures.append(skipped("segment “tag AND (bought 30 d OR event 3+ in 7 d) AND NOT stage”, p95 (PostgreSQL)", "s",
                               reason="set SIYU_BENCH_POSTGRES_URL to a PostgreSQL server the benchmark may create a database on"))
    figures[0]["notes"] += f"; whole benchmark {time.perf_counter() - started:.0f} s"
    return figures


if __name__ == "__main__" and os.environ.get("SIYU_BENCH_CHILD_DATABASE_URL"):
    _child_main()
