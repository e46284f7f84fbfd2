"""Tracked-link opens through the real request path, beside the raw insert rate of the same rows.

"opens": a real ``siyu web`` (granian, WSGI, two processes, SQLite in a throwaway data dir) serves
``GET /t/<token>/`` over keep-alive connections from an asyncio client: each request finds its link and its
material's state (one indexed join), inserts the visit row (the open, due for its reactions) in one committed
INSERT, sets the reader's signed cookie and fills in the article page. After the warm-up every open is answered
by ``siyu.tracking.quick_opens`` (each process has seen the page and its headers). The limit is the storage side
alone: the same Visit rows inserted by one process, one committed INSERT each, as the server does, without HTTP,
lookup or rendering. Reactions (timeline, rules, notices) are the dispatcher's work and are not part of either.
"""

from __future__ import annotations

import asyncio
import os
import secrets

from benchmarks.bench_callbacks import _load
from benchmarks.common import database_description, figure, setup_django, siyu_web, stopwatch

OPENS = int(os.environ.get("SIYU_BENCH_TRACKING_OPENS", "20000"))
LINKS = 1000
WEB_WORKERS = 2


def _links(org) -> list[str]:
    from siyu.content import materials
    from siyu.content.models import Scope
    from siyu.customers.models import Customer
    from siyu.orgs.models import Staff
    from siyu.tracking import links

    article = materials.save_material(org, kind="article", scope=Scope.HQ, by=None, title="秋冬新品上市",
                                      summary="本周到店", body="<p>" + "秋冬新品到店，欢迎试穿。" * 40 + "</p>")
    materials.submit_for_review(article, by=None)
    materials.approve_material(article, by=None)
    guide = Staff.objects.create(org=org, userid="bench-guide", name="导购")
    customers = Customer.objects.bulk_create(
        [Customer(org=org, external_userid=f"wmbench{n:06d}", name=f"客户{n}") for n in range(LINKS)])
    return [links.link_for(article, customer=c, staff=guide, channel="sidebar").token for c in customers]


def _requests(tokens: list[str], n: int) -> list[bytes]:
    return [f"GET /t/{tokens[i % len(tokens)]}/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode() for i in range(n)]


def _insert_limit(org, n: int) -> float:
    """Opens/s of the same Visit rows inserted by one process, one committed INSERT each."""
    from django.db import connection
    from django.utils import timezone

    from siyu.tracking.models import TrackedLink, Visit

    link_ids = list(TrackedLink.objects.for_org(org).values_list("pk", flat=True))
    fields = [f for f in Visit._meta.concrete_fields if not f.primary_key]
    q = connection.ops.quote_name
    sql = (f"INSERT INTO {q(Visit._meta.db_table)} ({', '.join(q(f.column) for f in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))})")
    now = timezone.now()
    rows = []
    for i in range(n):
        visit = Visit(org_id=org.pk, link_id=link_ids[i % len(link_ids)], visitor=secrets.token_urlsafe(12),
                      opened_at=now, due_at=now, created_at=now, idempotency_key=f"limit-{i}")
        rows.append([f.get_db_prep_save(getattr(visit, f.attname), connection) for f in fields])
    with stopwatch() as elapsed:
        with connection.cursor() as cursor:
            for row in rows:
                cursor.execute(sql, row)  # autocommit: committed one by one, as the web server does
    seconds = elapsed()
    Visit.objects.for_org(org).filter(idempotency_key__startswith="limit-").delete()
    return n / seconds


def run() -> list[dict]:
    data_dir = setup_django()
    from siyu.tracking.models import Visit
    from tests.factories import make_org

    org = make_org()
    tokens = _links(org)
    insert_rate = _insert_limit(org, OPENS)
    with siyu_web(data_dir, workers=WEB_WORKERS) as port:
        asyncio.run(_load(port, _requests(tokens, 2 * LINKS)))  # every worker's threads connected and its page rendered once
        Visit.objects.for_org(org).delete()
        with stopwatch() as elapsed:
            _latencies, statuses = asyncio.run(_load(port, _requests(tokens, OPENS)))
        seconds = elapsed()
    stored = Visit.objects.for_org(org).count()
    if statuses.count(200) != OPENS or stored != OPENS:
        raise RuntimeError(f"{statuses.count(200)} pages served and {stored} opens stored of {OPENS}")
    return [
        figure("tracked-link opens through GET /t/<token>/", OPENS / seconds, "opens/s", limit_value=insert_rate,
               limit_unit="inserts/s",
               notes=(f"{OPENS:,} opens of {LINKS:,} links over 32 keep-alive connections to `siyu web` ({WEB_WORKERS} "
                      f"granian workers, {database_description()}), each the link and its material's state found by "
                      f"one join, the visit inserted and committed, the cookie signed and the article page "
                      f"filled in (siyu.tracking.quick_opens), in {seconds:.1f} s; goal ≥ 2,000/s on 2 cores. "
                      f"Limit: the same Visit rows, one committed INSERT each from one process")),
    ]
