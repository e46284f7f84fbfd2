"""The callback URL: one per organization, ``/wecom/callback/<org-slug>/``.

GET answers WeCom's echostr check with the bare plaintext. POST verifies, decrypts, stores the raw event and
answers ``success`` at once (WeCom gives up after 5 s and retries up to three times); a dispatcher processes
the stored event afterwards. A retry of the same delivery decrypts to the same XML and is stored only once.
Every failure is a 4xx that stores nothing.
"""

from __future__ import annotations

import hashlib
import logging
import time

from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseForbidden, HttpResponseNotFound
from django.views.decorators.csrf import csrf_exempt

from siyu.orgs.models import Organization
from siyu.wecom.crypto import SignatureMismatch, WeComCryptoError, WXBizMsgCrypt
from siyu.wecom.models import CallbackEvent, WeComConnection
from siyu.wecom.xmlmsg import BadEventXml, parse_event

log = logging.getLogger(__name__)

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


def forget_cryptor(slug: str) -> None:
    """Drop the cached keys of an organization (after its connection changed)."""
    _cryptors.pop(slug, None)


def _params(request) -> tuple[str, str, str]:
    get = request.GET
    return get.get("msg_signature", ""), get.get("timestamp", ""), get.get("nonce", "")


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
    """Insert the event unless this exact delivery is already stored (one statement, no read first)."""
    CallbackEvent.objects.bulk_create(
        [
            CallbackEvent(
                org_id=org_id,
                idempotency_key=hashlib.sha256(xml).hexdigest(),
                event=str(fields.get("Event") or fields.get("InfoType") or "")[:40],
                change_type=str(fields.get("ChangeType") or "")[:40],
                payload=fields,
                xml=xml.decode("utf-8", "replace"),
            )
        ],
        ignore_conflicts=True,
    )
