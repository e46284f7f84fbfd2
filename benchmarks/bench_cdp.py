"""Event ingestion and normalization, each beside its limit measured in the same run.

"ingestion": a real ``siyu web`` (granian, WSGI, two processes, SQLite in a throwaway data dir) receives
``/v1/batch`` requests of 100 events each over keep-alive connections from an asyncio client; each request's
write key is checked, its body decoded and validated with msgspec, and the batch landed as one encrypted raw row,
committed before the 200. The limit is the storage side alone: the same rows (encrypted beforehand) inserted by
one process, one committed INSERT per batch, as the server does, without HTTP, decoding or encryption.

"normalization": the dispatcher's RawBatch rows performed in this process (decrypt, decode, identity
resolution, one INSERT … ON CONFLICT DO NOTHING of the events, person updates). The limit is a raw executemany
of the same Event rows (already prepared, context already encrypted) in one transaction.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os

from benchmarks.bench_callbacks import _load
from benchmarks.common import database_description, figure, setup_django, siyu_web, stopwatch

EVENTS = int(os.environ.get("SIYU_BENCH_CDP_EVENTS", "100000"))
PER_BATCH = 100
USERS_PER_BATCH = 10  # a batch of a server-side SDK mixes people; one of a phone's SDK is one person
WEB_WORKERS = 2


def _batches(n_batches: int) -> list[list[dict]]:
    batches = []
    for b in range(n_batches):
        batch = []
        for i in range(PER_BATCH):
            user = f"u-{b}-{i % USERS_PER_BATCH}"
            batch.append({"type": "track", "event": "Product Viewed", "userId": user, "anonymousId": f"a-{user}",
                          "messageId": f"m-{b}-{i}", "timestamp": "2030-01-01T10:00:00.000Z",
                          "properties": {"sku": f"SKU-{i % 50}", "price": 19.9, "category": "护肤"},
                          "context": {"ip": "203.0.113.7", "library": {"name": "analytics-python", "version": "2.4.0"},
                                      "locale": "zh-CN"}})
        batches.append(batch)
    return batches


def _requests(key: str, batches: list[list[dict]]) -> list[bytes]:
    auth = base64.b64encode(f"{key}:".encode()).decode()
    requests = []
    for batch in batches:
        body = json.dumps({"batch": batch, "sentAt": "2030-01-01T10:00:01.000Z"}).encode()
        head = (f"POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {auth}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        requests.append(head + body)
    return requests


def _insert_limit(source, batches: list[list[dict]]) -> float:
    """Events/s of the same raw rows inserted by one process, one committed INSERT per batch."""
    from django.db import connection
    from django.utils import timezone

    from siyu.cdp import ingest
    from siyu.cdp.messages import message_decoder
    from siyu.cdp.models import RawBatch

    now = timezone.now()
    prepared = []
    for batch in batches:
        messages = [message_decoder.decode(json.dumps(m)) for m in batch]
        values = {"org_id": source.org_id, "source_id": source.pk, "body": ingest.encoder.encode(messages).decode(),
                  "events": len(messages), "received_at": now, "status": "done", "due_at": now, "lease_owner": "",
                  "attempts": 0, "max_attempts": 5, "last_error": "", "idempotency_key": "", "created_at": now}
        prepared.append(values)
    rows = []
    for n, values in enumerate(prepared):
        values["idempotency_key"] = f"limit-{n}"
        rows.append([ingest._RAW[c].get_db_prep_save(values[c], connection) for c in ingest._RAW_COLUMNS])
    sql = ingest._insert_sql()
    with stopwatch() as elapsed:
        with connection.cursor() as cursor:
            for row in rows:
                cursor.execute(sql, row)  # autocommit: committed one by one, as the web server does
    seconds = elapsed()
    RawBatch.objects.for_org(source.org_id).filter(idempotency_key__startswith="limit-").delete()
    return len(rows) * PER_BATCH / seconds


def _serve_and_send(data_dir, requests: list[bytes], warmup: list[bytes]) -> tuple[float, list[int]]:
    from siyu.cdp.models import RawBatch

    with siyu_web(data_dir, workers=WEB_WORKERS) as port:
        asyncio.run(_load(port, warmup))  # every worker and connection warm; their rows go before the timed run
        RawBatch.objects.all().delete()
        with stopwatch() as elapsed:
            _latencies, statuses = asyncio.run(_load(port, requests))
        return elapsed(), statuses


def _event_limit(org) -> float:
    """Events/s of a raw executemany of the normalized Event rows again (new message ids), one transaction."""
    from django.db import connection, transaction

    from siyu.cdp.models import Event

    fields = [f for f in Event._meta.concrete_fields if not f.primary_key]
    q = connection.ops.quote_name
    sql = (f"INSERT INTO {q(Event._meta.db_table)} ({', '.join(q(f.column) for f in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))})")
    events = list(Event.objects.for_org(org))
    rows = []
    for event in events:
        event.message_id = f"limit-{event.message_id}"
        rows.append([f.get_db_prep_save(getattr(event, f.attname), connection) for f in fields])
    with stopwatch() as elapsed:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, rows)
    seconds = elapsed()
    Event.objects.for_org(org).filter(message_id__startswith="limit-").delete()
    return len(rows) / seconds


def run() -> list[dict]:
    data_dir = setup_django()
    from siyu.cdp import sources
    from siyu.cdp.models import Event, RawBatch
    from siyu.core.dispatch import dispatch_once
    from tests.factories import make_org

    org = make_org()
    source = sources.create_source(org, name="bench", kind="server", by=None)
    key = sources.create_write_key(source, by=None)[1]
    n_batches = EVENTS // PER_BATCH
    batches = _batches(n_batches)
    insert_rate = _insert_limit(source, batches)

    seconds, statuses = _serve_and_send(data_dir, _requests(key, batches), _requests(key, _batches(20)))
    landed = sum(RawBatch.objects.for_org(org).values_list("events", flat=True))
    if statuses.count(200) != n_batches or landed != EVENTS:
        raise RuntimeError(f"{statuses.count(200)} of {n_batches} batches acknowledged, {landed} events landed")
    ingest_rate = EVENTS / seconds

    with stopwatch() as elapsed:
        while dispatch_once(owner="bench"):
            pass
    normalize_seconds = elapsed()
    stored = Event.objects.for_org(org).count()
    if stored != EVENTS:
        raise RuntimeError(f"{stored} events normalized of {EVENTS}")
    normalize_rate = EVENTS / normalize_seconds
    event_rate = _event_limit(org)
    db = database_description()
    return [
        figure("ingestion through /v1/batch to durable", ingest_rate, "events/s", limit_value=insert_rate,
               limit_unit="events/s",
               notes=(f"{EVENTS:,} events in {n_batches:,} batches of {PER_BATCH} over 32 keep-alive connections to "
                      f"`siyu web` ({WEB_WORKERS} granian workers, {db}), each request's key checked, body decoded and "
                      f"validated with msgspec, landed as one encrypted row and committed before its 200, in "
                      f"{seconds:.1f} s; goal ≥ 50,000/s on 2 cores (RudderStack published ~1,700/s). Limit: the same "
                      f"rows, encrypted beforehand, one committed INSERT each from one process")),
        figure("normalization", normalize_rate, "events/s", limit_value=event_rate, limit_unit="events/s",
               notes=(f"{EVENTS:,} landed events ({USERS_PER_BATCH} people per batch of {PER_BATCH}) normalized by the "
                      f"dispatcher in this process in {normalize_seconds:.1f} s: decrypt, decode, identity resolution "
                      f"of {EVENTS // PER_BATCH * USERS_PER_BATCH:,} people (user and anonymous id each), events "
                      f"inserted once, persons updated. Limit: raw executemany of the same Event rows, one transaction")),
    ]
