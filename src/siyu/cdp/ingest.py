"""The event API tracking SDKs write to: ``POST /v1/batch``, ``/v1/track``, ``/v1/identify``, ``/v1/page``,
``/v1/screen``, ``/v1/group``, ``/v1/alias`` (Segment's and RudderStack's HTTP API).

This is the hot path: no ORM, no session. The write key (HTTP Basic username, ``?writeKey=`` or ``writeKey``
in the body) is looked up by its keyed hash with one raw query, cached for a few seconds; the body (gzip or
not) is decoded and checked with msgspec; an accepted request is landed as ONE encrypted ``RawBatch`` row in
one autocommitted INSERT, and only then answered 200. A refused request stores nothing but a count of its
reason for the source. The dispatcher normalizes the row into events afterwards (siyu.cdp.normalize).
"""

from __future__ import annotations

import base64
import binascii
import time
import uuid
import zlib

import msgspec
from csp.decorators import csp_exempt
from django.db import connection
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from siyu.cdp.messages import TYPES, Message, batch_decoder, encoder, message_decoder, text
from siyu.cdp.models import IngestReject, RawBatch, Source, WriteKey
from siyu.cdp.sources import key_hash

MAX_EVENT = 32 * 1024  # Segment's limits, on the decompressed body
MAX_BATCH = 500 * 1024
KEY_CACHE_SECONDS = 5  # how long a web process may keep using a key revoked meanwhile
MAX_CACHED_KEYS = 10_000

_keys: dict[str, tuple[float, tuple[int, int, bool] | None]] = {}

REASONS = {
    # reason: (status, message)
    "bad_gzip": (400, "the body is not valid gzip"),
    "bad_json": (400, "the body is not valid JSON for this endpoint"),
    "too_large": (413, "over Segment's limits: 32 KB per event, 500 KB per batch"),
    "empty_batch": (400, "the batch has no messages"),
    "unknown_type": (400, "type must be track, identify, page, screen, group or alias"),
    "track_without_event": (400, "a track call needs an event name"),
    "no_user_id": (400, "userId or anonymousId is required"),
    "alias_without_previous_id": (400, "an alias call needs previousId and userId"),
    "group_without_group_id": (400, "a group call needs a groupId"),
    "no_write_key": (401, "no write key: send it as the Basic auth username, ?writeKey= or writeKey in the body"),
    "bad_write_key": (401, "unknown write key"),
    "revoked_write_key": (401, "this write key was revoked"),
    "source_disabled": (403, "this source is disabled"),
}
REJECT_REASONS = tuple(REASONS)


class Refused(Exception):
    def __init__(self, reason: str, detail: str = "", index: int | None = None):
        super().__init__(reason)
        self.reason, self.detail, self.index = reason, detail, index


def forget_key(hashed: str) -> None:
    """Drop a cached key (this process notices a revoke at once; others within KEY_CACHE_SECONDS)."""
    _keys.pop(hashed, None)


def _lookup(key: str) -> tuple[int, int, bool] | None:
    """(org id, source id, usable) of a write key, or None when no such key exists."""
    hashed = key_hash(key)
    cached = _keys.get(hashed)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    q = connection.ops.quote_name
    sql = (f"SELECT w.{q('org_id')}, w.{q('source_id')}, "
           f"CASE WHEN w.{q('revoked_at')} IS NULL OR w.{q('revoked_at')} > %s THEN 1 ELSE 0 END, s.{q('is_active')} "
           f"FROM {q(WriteKey._meta.db_table)} w JOIN {q(Source._meta.db_table)} s ON s.{q('id')} = w.{q('source_id')} "
           f"WHERE w.{q('key_hash')} = %s")
    with connection.cursor() as cursor:
        cursor.execute(sql, [connection.ops.adapt_datetimefield_value(timezone.now()), hashed])
        row = cursor.fetchone()
    found = None
    if row is not None:
        org_id, source_id, live, active = row
        found = (org_id, source_id, bool(live)) if active else (org_id, source_id, None)
    if len(_keys) > MAX_CACHED_KEYS:  # random keys sent by a stranger must not grow the cache without end
        _keys.clear()
    _keys[hashed] = (time.monotonic() + KEY_CACHE_SECONDS, found)
    return found


def _basic_username(request) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return ""  # present but unreadable: a bad key, not a missing one
    return decoded.partition(":")[0]


def _body(request) -> bytes:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BATCH:  # a compressed body larger than the decompressed limit cannot fit it
        raise Refused("too_large", f"body of {length} bytes")
    body = request.body
    if "gzip" in request.META.get("HTTP_CONTENT_ENCODING", "").lower():
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(body, MAX_BATCH + 1)
        except zlib.error as error:
            raise Refused("bad_gzip", str(error)) from None
        if len(body) > MAX_BATCH:
            raise Refused("too_large", "more than 500 KB decompressed")
        if not inflater.eof:
            raise Refused("bad_gzip", "truncated gzip stream")
    if len(body) > MAX_BATCH:
        raise Refused("too_large", f"body of {len(body)} bytes")
    return body


def _decode(kind: str, body: bytes) -> tuple[list[Message], str | None]:
    """The messages of a request and the write key its body carries."""
    try:
        if kind != "batch":
            if len(body) > MAX_EVENT:
                raise Refused("too_large", f"event of {len(body)} bytes", 0)
            message = message_decoder.decode(body)
            message.type = message.type or kind
            if message.type != kind:
                raise Refused("unknown_type", f"{message.type!r} sent to /v1/{kind}", 0)
            return [message], message.writeKey
        envelope = batch_decoder.decode(body)
        messages = []
        for index, raw in enumerate(envelope.batch):
            if len(raw) > MAX_EVENT:
                raise Refused("too_large", f"event of {len(raw)} bytes", index)
            try:
                message = message_decoder.decode(raw)
            except msgspec.DecodeError as error:
                raise Refused("bad_json", str(error), index) from None
            message.sentAt = message.sentAt or envelope.sentAt
            if not message.context and envelope.context:
                message.context = envelope.context
            messages.append(message)
        return messages, envelope.writeKey
    except msgspec.DecodeError as error:
        raise Refused("bad_json", str(error)) from None
    except RecursionError:  # thousands of nested brackets fit in 32 KB
        raise Refused("bad_json", "nested too deeply") from None


def _check(messages: list[Message]) -> None:
    if not messages:
        raise Refused("empty_batch")
    for index, m in enumerate(messages):
        if m.type not in TYPES:
            raise Refused("unknown_type", repr(m.type)[:60], index)
        user_id = text(m.userId)
        if not user_id and not text(m.anonymousId):
            raise Refused("no_user_id", "", index)
        if m.type == "track" and not (m.event or "").strip():
            raise Refused("track_without_event", "", index)
        if m.type == "alias" and not (user_id and text(m.previousId)):
            raise Refused("alias_without_previous_id", "", index)
        if m.type == "group" and not text(m.groupId):
            raise Refused("group_without_group_id", "", index)
        m.writeKey = None
        if not m.messageId:
            m.messageId = f"siyu-{uuid.uuid4()}"  # Segment's API names the ones SDKs left out


_RAW = {f.attname: f for f in RawBatch._meta.concrete_fields}
_RAW_COLUMNS = ["org_id", "source_id", "body", "events", "received_at", "status", "due_at", "lease_owner", "attempts",
                "max_attempts", "last_error", "idempotency_key", "created_at"]


def _land(org_id: int, source_id: int, messages: list[Message], received_at) -> None:
    """One INSERT, committed (autocommit) before this returns: the row is durable before the 200."""
    values = {
        "org_id": org_id, "source_id": source_id, "body": encoder.encode(messages).decode(), "events": len(messages),
        "received_at": received_at, "status": RawBatch.Status.PENDING, "due_at": received_at, "lease_owner": "",
        "attempts": 0, "max_attempts": _RAW["max_attempts"].default, "last_error": "",
        "idempotency_key": uuid.uuid4().hex, "created_at": received_at,
    }
    prepared = [_RAW[name].get_db_prep_save(values[name], connection) for name in _RAW_COLUMNS]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(), prepared)


def land_batch(source, body: bytes, *, received_at=None) -> int:
    """Accept a ``/v1/batch`` body from inside Siyu (a backfill, the demo) exactly as the API would: the same
    checks, one durable raw row for the worker to normalize. Returns the number of events; raises
    :class:`Refused` with the reason the API would answer."""
    messages, _key = _decode("batch", body)
    _check(messages)
    _land(source.org_id, source.pk, messages, received_at or timezone.now())
    return len(messages)


def _insert_sql() -> str:
    q = connection.ops.quote_name
    names = ", ".join(q(_RAW[c].column) for c in _RAW_COLUMNS)
    return f"INSERT INTO {q(RawBatch._meta.db_table)} ({names}) VALUES ({', '.join(['%s'] * len(_RAW_COLUMNS))})"


def count_reject(org_id: int, source_id: int, reason: str, n: int = 1) -> None:
    """Add ``n`` to today's count of ``reason`` for the source: one upsert."""
    q = connection.ops.quote_name
    table = q(IngestReject._meta.db_table)
    sql = (f"INSERT INTO {table} ({q('org_id')}, {q('source_id')}, {q('day')}, {q('reason')}, {q('count')}) "
           f"VALUES (%s, %s, %s, %s, %s) ON CONFLICT ({q('org_id')}, {q('source_id')}, {q('day')}, {q('reason')}) "
           f"DO UPDATE SET {q('count')} = {table}.{q('count')} + excluded.{q('count')}")
    day = connection.ops.adapt_datefield_value(timezone.localdate())
    with connection.cursor() as cursor:
        cursor.execute(sql, [org_id, source_id, day, reason, n])


_CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "POST, OPTIONS",
         "Access-Control-Allow-Headers": "Authorization, Content-Type, Content-Encoding",
         "Access-Control-Max-Age": "86400"}
_OK = b'{"success":true}'


def _refusal(refused: Refused) -> HttpResponse:
    status, message = REASONS[refused.reason]
    payload = {"success": False, "error": refused.reason, "message": message}
    if refused.detail:
        payload["detail"] = refused.detail[:300]
    if refused.index is not None:
        payload["index"] = refused.index
    return HttpResponse(encoder.encode(payload), status=status, content_type="application/json", headers=_CORS)


def _receive(request, kind: str) -> HttpResponse:
    received_at = timezone.now()
    key = _basic_username(request) or request.GET.get("writeKey") or None
    body = messages = None
    problem = None
    try:
        body = _body(request)
        messages, body_key = _decode(kind, body)
        key = key or body_key
    except Refused as refused:
        problem = refused
    if not key:
        return _refusal(Refused("bad_write_key" if _basic_username(request) == "" else "no_write_key"))
    found = _lookup(key)
    if found is None:
        return _refusal(Refused("bad_write_key"))
    org_id, source_id, live = found
    if not live:
        problem = Refused("source_disabled" if live is None else "revoked_write_key")
    elif problem is None:
        try:
            _check(messages)
        except Refused as refused:
            problem = refused
    if problem is not None:
        count_reject(org_id, source_id, problem.reason)
        return _refusal(problem)
    _land(org_id, source_id, messages, received_at)
    return HttpResponse(_OK, content_type="application/json", headers=_CORS)


def endpoint(kind: str):
    @csp_exempt()
    @csrf_exempt
    def view(request):
        if request.method == "OPTIONS":  # browsers' preflight before analytics.js posts JSON cross-origin
            return HttpResponse(status=204, headers=_CORS)
        if request.method != "POST":
            return HttpResponse(status=405, headers={"Allow": "POST, OPTIONS", **_CORS})
        return _receive(request, kind)

    view.__name__ = f"v1_{kind}"
    return view
