"""JS-SDK signatures for Siyu's pages inside WeCom (the chat sidebar, the workbench): ``wx.config`` signed with the
corp's ``jsapi_ticket`` and ``wx.agentConfig`` with the app's ticket (reference §6, DOC 90506 / 96909).

WeCom lets a corp fetch its ticket 400 times an hour (100 per app) and the app ticket 100 times an hour, and
each lives 7200 s, so both are cached per organization in the shared cache (Redis in production) until a little
before they expire, and fetched by one process at a time (:func:`siyu.wecom.client.fetch_once`): a burst of
page loads costs one fetch of each. Signatures are only made for pages on Siyu's own address, the one
configured as the app's trusted domain (可信域名): signing an arbitrary URL would let any site use our tickets.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from siyu.wecom.client import WeComClient, fetch_once
from siyu.wecom.crypto import jsapi_signature

# kind -> (endpoint, query): "corp" signs wx.config, "agent" signs wx.agentConfig.
TICKETS = {"corp": ("get_jsapi_ticket", {}), "agent": ("ticket/get", {"type": "agent_config"})}
# Refetch this long before WeCom's expiry, so a page signed just before it still configures.
TICKET_MARGIN = 300
MAX_URL_LENGTH = 2048


@dataclass(frozen=True)
class Signature:
    timestamp: int
    nonceStr: str  # noqa: N815 - the JS-SDK's own field names, handed to the page as they are
    signature: str

    def as_dict(self) -> dict:
        return {"timestamp": self.timestamp, "nonceStr": self.nonceStr, "signature": self.signature}


def ticket(client: WeComClient, kind: str) -> str:
    """The ``kind`` ticket ("corp" or "agent") of ``client``'s app, from the shared cache or fetched once."""
    key = f"{client.cache_scope}:jsapi-ticket:{kind}"
    cached = cache.get(key)
    if cached:
        return cached
    endpoint, params = TICKETS[kind]

    def fetch() -> str:
        answer = client.get(endpoint, **params)
        value = answer.get("ticket") or ""
        expires_in = int(answer.get("expires_in") or 7200)
        cache.set(key, value, timeout=max(expires_in - TICKET_MARGIN, expires_in // 2, 1))
        return value

    return fetch_once(key, fetch, endpoint, lock_ttl=client.lock_ttl)


def sign(ticket_value: str, url: str, *, timestamp: int | None = None, nonce: str | None = None) -> Signature:
    """Sign ``url`` (its ``#fragment`` dropped) with a ticket: a fresh nonce and the current time unless given."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    nonce = nonce or secrets.token_hex(8)
    return Signature(timestamp, nonce, jsapi_signature(ticket_value, nonce, timestamp, url))


def page_url(url: str, *, request_host: str) -> str:
    """``url`` without its fragment, if it is a page on Siyu's own address; else :class:`ValidationError`."""
    url = (url or "").strip().split("#", 1)[0]
    parts = urlsplit(url)
    allowed = {urlsplit(settings.PUBLIC_URL).netloc.lower(), request_host.lower()}
    if len(url) > MAX_URL_LENGTH or parts.scheme not in ("http", "https") or parts.netloc.lower() not in allowed:
        raise ValidationError({"url": _("只能为本系统的页面地址签名（与企业微信应用的可信域名一致）。")})
    return url


def config(org, url: str) -> dict:
    """What a page needs for ``wx.config`` and ``wx.agentConfig``: corp and app ids and both signatures.

    Makes WeCom calls when a ticket is not cached: never inside a database transaction.
    """
    with WeComClient.for_org(org) as client:
        corp, agent = ticket(client, "corp"), ticket(client, "agent")
        conn = client.connection
    return {
        "corpid": conn.corp_id,
        "agentid": conn.agent_id,
        "config": sign(corp, url).as_dict(),
        "agentConfig": sign(agent, url).as_dict(),
    }
