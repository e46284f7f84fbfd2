"""A journey's webhook call: a JSON body signed with HMAC-SHA256 under the journey's own secret.

The receiver checks ``X-Siyu-Signature: sha256=<hex>`` against ``HMAC-SHA256(secret, "<timestamp>." + body)``
with the timestamp of ``X-Siyu-Timestamp`` (refusing old ones stops replays), and de-duplicates on
``X-Siyu-Delivery``, which stays the same when a call is retried. The call happens outside any database
transaction; a 5xx, a timeout or a refused connection is retried with backoff by the step's durable row, a 4xx
is final. Addresses that are not public (loopback, private, link-local such as a cloud metadata service) are
refused, so an operator cannot make Siyu probe the internal network.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import socket
import time
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from siyu.core.durable import PermanentFailure

TIMEOUT_SECONDS = 10.0
RETRYABLE = {408, 425, 429}


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def refuse_internal(url: str) -> None:
    """PermanentFailure unless every address ``url``'s host resolves to is a public one."""
    if settings.JOURNEY_WEBHOOK_INTERNAL:
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PermanentFailure(f"not an http(s) URL: {url}")
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443)}
    except (socket.gaierror, UnicodeError) as exc:
        raise PermanentFailure(f"cannot resolve {parts.hostname}: {exc}") from None
    for address in addresses:
        if not ipaddress.ip_address(address.split("%")[0]).is_global:
            raise PermanentFailure(f"{parts.hostname} resolves to the internal address {address}")


def body_for(journey, row, customer) -> bytes:
    """What the receiver learns: the journey, the step, and the customer's ids (no personal data)."""
    return json.dumps({
        "journey": {"id": journey.pk, "name": journey.name},
        "step": row.path,
        "entry": row.entry_id,
        "customer": {"id": customer.pk, "external_userid": customer.external_userid},
        "delivery": delivery_id(row),
    }, ensure_ascii=False, sort_keys=True).encode()


def delivery_id(row) -> str:
    return f"journey-step-{row.org_id}-{row.pk}"


def call(journey, row, customer) -> None:
    """POST the signed body to the step's URL; raises for a retry, PermanentFailure when retrying cannot help."""
    from siyu.journeys import steps

    url = steps.at(row.version.steps, row.path)["url"]
    refuse_internal(url)
    body = body_for(journey, row, customer)
    timestamp = int(time.time())  # the receiver compares it with its own clock: real time, never the test shift
    headers = {"Content-Type": "application/json", "User-Agent": "Siyu-Journeys",
               "X-Siyu-Timestamp": str(timestamp), "X-Siyu-Delivery": delivery_id(row),
               "X-Siyu-Signature": sign(journey.webhook_secret, timestamp, body)}
    # No redirects: a public address must not be able to send the call on into the internal network.
    response = httpx.post(url, content=body, headers=headers, timeout=TIMEOUT_SECONDS, follow_redirects=False)
    if response.is_success:
        return
    if response.status_code < 500 and response.status_code not in RETRYABLE:
        raise PermanentFailure(f"{url} answered {response.status_code}")  # a redirect or a refusal
    raise ReceiverError(f"{url} answered {response.status_code}")


class ReceiverError(Exception):
    """The receiver failed in a way that may pass (5xx, 429): the step is tried again later."""
