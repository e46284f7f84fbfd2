"""Planning a send through the policy guard: a mass message to every customer of a brand, every rule on
(marketing consent, protected tags and ages, WeCom's receive cap, a brand frequency cap, quiet hours in three time
zones, the content check), the decisions written for all of them.

Beside it, the physical limit measured in the same run: reading the same decision rows back with one plain
``SELECT`` (the least any plan that writes them and reads its inputs must cost).

``SIYU_BENCH_MESSAGING_CUSTOMERS`` (default 1,000,000) scales the brand. PostgreSQL runs when
``SIYU_BENCH_POSTGRES_URL`` names a server the benchmark may create a database on.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time

from benchmarks.common import child_setup, figure, run_on_postgres, setup_django, skipped, stopwatch

CUSTOMERS = int(os.environ.get("SIYU_BENCH_MESSAGING_CUSTOMERS", "1000000"))
GOAL_S = 30.0
BEIJING = dt.timezone(dt.timedelta(hours=8))
AT = dt.datetime(2027, 4, 7, 20, 30, tzinfo=BEIJING)  # a Wednesday evening: New York is in its quiet hours
TEXT = "春季新品到店，会员专享第一波优惠，点击查看"  # 第一 is flagged for a person, nothing blocks
BATCH = 20_000


def _insert(model, vary: list[str], rows, **fixed) -> None:
    """Raw multi-row inserts of ``model`` rows: ``fixed`` values for every row, ``vary`` columns from ``rows``."""
    from django.db import connection

    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    template = model(**fixed)
    base = [f.get_db_prep_save(f.pre_save(template, True), connection) for f in fields]
    names = [f.attname for f in fields]
    where = [names.index(model._meta.get_field(v).attname) for v in vary]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    sql = f"INSERT INTO {model._meta.db_table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"
    rows = list(rows)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), BATCH):
            chunk = []
            for row in rows[start:start + BATCH]:
                values = list(base)
                for i, value in zip(where, row, strict=True):
                    values[i] = value
                chunk.append(values)
            cursor.executemany(sql, chunk)


def generate(org, n: int) -> dict:
    """The brand: ``n`` customers, marketing consent from 95 %, a protected tag on 1 %, known ages for 2 %, time
    zones for 2 %, two mass messages already sent to everyone this week and seven to 1 % (at the week's cap)."""
    from django.db import connection, transaction

    from siyu.customers.models import Customer, Relation, RelationTag, Tag
    from siyu.messaging.models import Decision, FrequencyCap, Policy, RecipientFacts, Send
    from siyu.orgs.models import Staff
    from siyu.privacy.models import ConsentRecord

    adapt = connection.ops.adapt_datetimefield_value
    with transaction.atomic():
        _insert(Customer, ["external_userid", "name"], ((f"wm{i:08d}", f"客户{i}") for i in range(n)), org=org)
        ids = list(Customer.objects.for_org(org).order_by("pk").values_list("pk", flat=True))
        long_ago = adapt(AT - dt.timedelta(days=200))
        _insert(ConsentRecord, ["customer", "granted", "at"],
                ((pk, i % 20 != 0, long_ago) for i, pk in enumerate(ids)),
                org=org, purpose="marketing", source="import", at=AT)
        staff = Staff.objects.create(org=org, userid="alice", name="张晓")
        tag = Tag.objects.create(org=org, name="重疾康复")
        tagged = ids[7::100]
        _insert(Relation, ["customer"], ((pk,) for pk in tagged), org=org, staff=staff)
        relations = Relation.objects.for_org(org).values_list("pk", flat=True)
        _insert(RelationTag, ["relation"], ((pk,) for pk in relations), org=org, tag=tag, source="manual")
        births = [dt.date(1950, 1, 1), dt.date(2012, 6, 1), dt.date(1990, 3, 3), dt.date(1975, 9, 9)]
        _insert(RecipientFacts, ["customer", "birth_date"], ((pk, births[i % 4]) for i, pk in enumerate(ids[3::50])),
                org=org)
        zones = ["America/New_York", "Europe/London"]
        _insert(RecipientFacts, ["customer", "timezone"], ((pk, zones[i % 2]) for i, pk in enumerate(ids[5::50])),
                org=org)
        Policy.objects.create(org=org, receive_rule=Policy.ReceiveRule.WEEK, protected_tag_ids=[tag.pk])
        FrequencyCap.objects.create(org=org, channel="mass_message", max_messages=5, days=7)
        capped = ids[11::100]
        for n_send in range(9):
            when = AT - dt.timedelta(days=2, hours=n_send)
            send = Send.objects.create(org=org, kind="bench.history", ref_id=n_send, channel="mass_message",
                                       purpose="marketing", promotional=True, planned_at=when, sent_at=when)
            audience = ids if n_send < 2 else capped
            _insert(Decision, ["customer"], ((pk,) for pk in audience), org=org, send=send, outcome="included",
                    decided_at=when)
    return {"customers": len(ids)}


def measure(org) -> dict:
    from django.db import connection

    from siyu.customers.models import Customer
    from siyu.messaging import guard
    from siyu.messaging.models import Decision, Send

    audience = list(Customer.objects.for_org(org).values_list("pk", flat=True))
    with stopwatch() as dry:
        guard.plan(org, send=("bench.send", 1), customer_ids=audience, purpose="marketing", channel="mass_message",
                   content=TEXT, at=AT, dry_run=True)
    with stopwatch() as planning:
        result = guard.plan(org, send=("bench.send", 1), customer_ids=audience, purpose="marketing",
                            channel="mass_message", content=TEXT, at=AT)
    planned = planning()
    send = Send.objects.for_org(org).get(kind="bench.send")
    written = Decision.objects.for_org(org).filter(send=send).count()
    if written != len(audience):
        raise AssertionError(f"{written:,} decisions written for {len(audience):,} customers")
    with connection.cursor() as cursor, stopwatch() as reading:
        cursor.execute(f"SELECT customer_id, outcome, reason, detail, release_at FROM {Decision._meta.db_table} "
                       "WHERE org_id = %s AND send_id = %s", [org.pk, send.pk])
        read = len(cursor.fetchall())
    return {"plan_s": planned, "dry_s": dry(), "read_s": reading(), "rows": read,
            "reasons": dict(result.reason_counts()),
            "counts": dict(result.counts())}


def _one_database() -> dict:
    from django.db import connection

    from tests.factories import make_org

    org = make_org()
    with stopwatch() as elapsed:
        generate(org, CUSTOMERS)
    result = measure(org)
    result["generate_s"] = elapsed()
    result["database"] = connection.vendor
    return result


def _figures(result: dict, label: str) -> list[dict]:
    reasons = ", ".join(f"{code} {n:,}" for code, n in sorted(result["reasons"].items()))
    outcomes = ", ".join(f"{outcome} {n:,}" for outcome, n in sorted((str(k), v) for k, v in result["counts"].items()))
    return [figure(
        f"planning a mass message to {CUSTOMERS:,} customers, every guard rule on, decisions written ({label})",
        result["plan_s"], "s", limit_value=result["read_s"], limit_unit="s",
        notes=(f"goal ≤ {GOAL_S:.0f} s; limit: reading the same {result['rows']:,} decision rows back with one "
               f"SELECT, {result['read_s']:.2f} s; outcomes {outcomes}; reasons {reasons}; data generated in "
               f"{result['generate_s']:.0f} s"),
    ), figure(
        f"planning dry run of the same send, nothing written ({label})", result["dry_s"], "s",
        limit_value=result["read_s"], limit_unit="s",
        notes="the same rules and audience without writing: planning minus this is the cost of writing the decisions",
    )]


def _child_main() -> None:
    """``python -m benchmarks.bench_messaging`` with SIYU_BENCH_CHILD_DATABASE_URL: measure on that database."""
    child_setup()
    sys.stdout.write(json.dumps(_one_database()) + "\n")


def run() -> list[dict]:
    setup_django()
    started = time.perf_counter()
    figures = _figures(_one_database(), "SQLite")
    url = os.environ.get("SIYU_BENCH_POSTGRES_URL")
    if url:
        figures += _figures(run_on_postgres(url, "benchmarks.bench_messaging", timeout=7200), "PostgreSQL")
    else:
        figures.append(skipped(f"planning a mass message to {CUSTOMERS:,} customers, every guard rule on, decisions "
                               "written (PostgreSQL)", "s",
                               reason="set SIYU_BENCH_POSTGRES_URL to a PostgreSQL server the benchmark may create a "
                                      "database on"))
    figures[0]["notes"] += f"; whole benchmark {time.perf_counter() - started:.0f} s"
    return figures


if __name__ == "__main__" and os.environ.get("SIYU_BENCH_CHILD_DATABASE_URL"):
    _child_main()
