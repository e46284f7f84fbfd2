"""The callback URL: one per organization, ``/wecom/callback/<org-slug>/``.

GET answers WeCom's echostr check with the bare plaintext. POST verifies, decrypts, stores the raw event and
answers ``success`` at once (WeCom gives up after 5 s and retries up to three times); a dispatcher processes
the stored event afterwards. A retry of the same delivery decrypts to the same XML and is stored only once;
a delivery whose signed timestamp is outside ``WECOM_CALLBACK_WINDOW`` is refused. The stored payload and XML
are encrypted (staff mobile numbers and addresses travel in them). Every failure is a 4xx that stores nothing.
"""

from __future__ import annotations

import hashlib
import logging
import time

from csp.decorators import csp_exempt
from django.conf import settings
from django.db import connection
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseForbidden, HttpResponseNotFound
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from siyu.orgs.models import Organization
from siyu.wecom.crypto import SignatureMismatch, WeComCryptoError, WXBizMsgCrypt
from siyu.wecom.models import CallbackEvent, WeComConnection
from siyu.wecom.xmlmsg import BadEventXml, parse_event

log = logging.getLogger(__name__)

# (Event, ChangeType) → functions called with (org id, fields, received at) right after the event is stored.
# For work that cannot wait behind the queue of stored events (a welcome code expires 20 s after the add);
# each must be one quick, idempotent write. Apps register theirs in AppConfig.ready() with on_receipt().
_receipt_hooks: dict[tuple[str, str], list] = {}

MAX_BODY = 256 * 1024  # WeCom events are a few hundred bytes; anything this large is not from WeCom
_CACHE_SECONDS = 30
_cryptors: dict[str, tuple[float, int, WXBizMsgCrypt]] = {}


def _cryptor(slug: str) -> tuple[int, WXBizMsgCrypt] | None:
    """The organization's id and cryptor, kept in memory briefly: the hot path must not decrypt keys each time."""
    cached = _cryptors.get(slug)
    if cached and cached[0] > time.monotonic():
        return cached[1], cached[2]
    org = Organization.objects.filter(slug=slug, is_active=True).first()
    connection = org and WeComConnection.objects.for_org(org).filter(is_active=True).first()
    if connection is None:
        return None
    cryptor = WXBizMsgCrypt(connection.callback_token, connection.encoding_aes_key, connection.corp_id)
    _cryptors[slug] = (time.monotonic() + _CACHE_SECONDS, org.pk, cryptor)
    return org.pk, cryptor


def on_receipt(event: str, change_type: str, hook) -> None:
    """Call ``hook(org_id, fields, received_at)`` when an (Event, ChangeType) callback has been stored."""
    hooks = _receipt_hooks.setdefault((event, change_type), [])
    if hook not in hooks:
        hooks.append(hook)


def forget_cryptor(slug: str) -> None:
    """Drop the cached keys of an organization (after its connection changed)."""
    _cryptors.pop(slug, None)


def _params(request) -> tuple[str, str, str]:
    get = request.GET
    return get.get("msg_signature", ""), get.get("timestamp", ""), get.get("nonce", "")


def _fresh(timestamp: str) -> bool:
    """Whether the signed timestamp is within the window of our clock: a captured delivery replayed much later
    is refused outright (replays inside the window are still stored only once)."""
    window = settings.WECOM_CALLBACK_WINDOW
    if not window:
        return True
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    return abs(time.time() - sent) <= window


@csp_exempt()
@csrf_exempt
def callback(request, slug: str):
    found = _cryptor(slug)
    if found is None:
        return HttpResponseNotFound("unknown organization")
    org_id, cryptor = found
    signature, timestamp, nonce = _params(request)
    if request.method == "GET":
        try:
            echo = cryptor.verify_url(signature, timestamp, nonce, request.GET.get("echostr", ""))
        except SignatureMismatch:
            return HttpResponseForbidden("bad signature")
        except WeComCryptoError:
            return HttpResponseBadRequest("bad echostr")
        return HttpResponse(echo, content_type="text/plain; charset=utf-8")
    if request.method != "POST":
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    if not _fresh(timestamp):
        log.info("refused a callback for %s: timestamp %r outside the window", slug, timestamp[:20])
        return HttpResponseBadRequest("stale timestamp")
    body = request.body  # Django refuses bodies over DATA_UPLOAD_MAX_MEMORY_SIZE with a 400
    if len(body) > MAX_BODY:
        return HttpResponse("too large", status=413)
    try:
        xml = cryptor.decrypt_message(signature, timestamp, nonce, body)
        fields = parse_event(xml)
    except SignatureMismatch:
        return HttpResponseForbidden("bad signature")
    except (WeComCryptoError, BadEventXml) as error:
        log.info("refused a callback for %s: %s", slug, error)
        return HttpResponseBadRequest("bad payload")
    store_event(org_id, xml, fields)
    return HttpResponse("success", content_type="text/plain")


def store_event(org_id: int, xml: bytes, fields: dict) -> None:
    """Insert the event unless this exact delivery is already stored: one prepared statement, no read first.

    This is the hot path WeCom waits on, so it skips the ORM's per-call query building (measured: most of the
    request's cost); values go through each field's own database preparation, so both backends agree.
    """
    now = timezone.now()
    values = {
        "org_id": org_id,
        "idempotency_key": hashlib.sha256(xml).hexdigest(),
        "event": str(fields.get("Event") or fields.get("InfoType") or "")[:40],
        "change_type": str(fields.get("ChangeType") or "")[:40],
        "payload": fields,
        "xml": xml.decode("utf-8", "replace"),
        "received_at": now,
        "created_at": now,
        "due_at": now,
        "status": CallbackEvent.Status.PENDING,
        "lease_owner": "",
        "attempts": 0,
        "max_attempts": CallbackEvent._meta.get_field("max_attempts").default,
        "last_error": "",
    }
    prepared = [_FIELDS[name].get_db_prep_save(value, connection) for name, value in values.items()]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(rereads=_is_reread(values["event"], values["change_type"])), prepared)
    for hook in _receipt_hooks.get((values["event"], values["change_type"]), ()):
        hook(org_id, fields, now)


_FIELDS = {f.attname: f for f in CallbackEvent._meta.concrete_fields}


# Callbacks whose handler only re-reads WeCom's current state. Their XML carries no more than who and the second
# (CreateTime), so two changes in one second (a tag added, then removed) arrive byte-identical: the second is not
# a retry of the first but news after it. One already handled is queued again (re-reading is idempotent); one
# still pending will read the newer state anyway.
_REREADS = {
    ("change_external_contact", "edit_external_contact"),
    ("change_external_tag", "create"), ("change_external_tag", "update"), ("change_external_tag", "shuffle"),
    ("change_external_chat", "create"), ("change_external_chat", "update"),
}


def _is_reread(event: str, change_type: str) -> bool:
    return (event, change_type) in _REREADS


def _insert_sql(*, rereads: bool = False) -> str:
    q = connection.ops.quote_name
    table = q(CallbackEvent._meta.db_table)
    columns = ["org_id", "idempotency_key", "event", "change_type", "payload", "xml", "received_at", "created_at",
               "due_at", "status", "lease_owner", "attempts", "max_attempts", "last_error"]
    names = ", ".join(q(_FIELDS[c].column) for c in columns)
    placeholders = ", ".join(["%s"] * len(columns))
    if not rereads:
        return f"INSERT INTO {table} ({names}) VALUES ({placeholders}) ON CONFLICT DO NOTHING"
    col = {c: q(_FIELDS[c].column) for c in ("org_id", "idempotency_key", "status", "due_at", "received_at",
                                             "attempts", "last_error", "lease_owner")}
    col["lease_until"], col["finished_at"] = q(_FIELDS["lease_until"].column), q(_FIELDS["finished_at"].column)
    done = CallbackEvent.Status.DONE.value
    pending = CallbackEvent.Status.PENDING.value
    return (
        f"INSERT INTO {table} ({names}) VALUES ({placeholders}) "
        f"ON CONFLICT ({col['org_id']}, {col['idempotency_key']}) DO UPDATE SET "
        f"{col['status']} = '{pending}', {col['due_at']} = excluded.{col['due_at']}, "
        f"{col['received_at']} = excluded.{col['received_at']}, {col['attempts']} = 0, {col['last_error']} = '', "
        f"{col['lease_owner']} = '', {col['lease_until']} = NULL, {col['finished_at']} = NULL "
        f"WHERE {table}.{col['status']} = '{done}'"
    )
