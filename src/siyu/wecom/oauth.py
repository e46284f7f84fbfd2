"""Sign in with WeCom: the link that sends a visitor to WeCom, the state that brings them back, and who they are.

Two ways in, one way back (reference: DOC 91022 构造网页授权链接, DOC 98152 企业微信网页登录, DOC 91023 获取访问用户身份):

* ``app`` — a page opened inside the WeCom app goes to ``open.weixin.qq.com/connect/oauth2/authorize``
  (``scope=snsapi_base``: WeCom knows the member and redirects at once);
* ``qr`` — the desktop console goes to ``login.work.weixin.qq.com/wwlogin/sso/login``, where the member scans a
  QR code with the app.

Both come back to ``/wecom/oauth/callback/`` with ``code`` and ``state``; ``auth/getuserinfo`` trades the code
(single use, 5 minutes) for the member's ``userid``. ``WECOM_LOGIN_BASE`` replaces both WeCom hosts (the demo
and the tests point it at the simulator, which serves both pages).

The ``state`` guards against sign-in CSRF (an attacker's code landing in a victim's browser): a random nonce kept
in this browser's session plus an HMAC of it with the session key, so it is good for this browser only, once,
for ``STATE_SECONDS``. WeCom passes back only ``a-zA-Z0-9`` of at most 128 bytes, so it is plain hex.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac

from siyu.orgs.models import Organization
from siyu.wecom.client import WeComClient
from siyu.wecom.models import WeComConnection

AUTHORIZE_BASE = "https://open.weixin.qq.com"
WEB_LOGIN_BASE = "https://login.work.weixin.qq.com"
FLOWS = ("app", "qr")
STATE_SECONDS = 600
_SESSION_KEY = "wecom_signin"
_SALT = "siyu.wecom.oauth.state"
# A WeCom code that cannot be traded: missing (41008) or unknown, used or expired (40029).
BAD_CODE_ERRCODES = frozenset({40029, 41008})


@dataclass(frozen=True)
class Pending:
    """A sign-in this browser started: for which organization, by which way, and where to land afterwards."""

    org_id: int
    flow: str
    next_url: str


def flow_for(user_agent: str) -> str:
    """``app`` inside the WeCom app (its browser says ``wxwork`` in its user agent), else ``qr``."""
    return "app" if "wxwork" in (user_agent or "").lower() else "qr"


def connection_of(org) -> WeComConnection | None:
    """The organization's active WeCom connection, if any: sign-in with WeCom needs its corp and app ids."""
    return WeComConnection.objects.for_org(org).filter(is_active=True).first()


def signin_org(slug: str | None) -> Organization | None:
    """The organization a sign-in with WeCom is for: the one named by ``slug``, or, without a slug, the install's
    only organization (most installs host one brand); None when that leaves no connected organization."""
    orgs = Organization.objects.filter(is_active=True)
    if slug:
        org = orgs.filter(slug=slug).first()
    else:
        found = list(orgs[:2])
        org = found[0] if len(found) == 1 else None
    return org if org is not None and connection_of(org) is not None else None


def login_choice(slug: str | None) -> dict | None:
    """What the password sign-in page offers for WeCom: ``{"org": slug}`` for a known connected brand (the only
    one, or the one its ``?org=`` names), ``{"org": ""}`` to ask for the brand on a multi-brand install where some
    brand can (listing them would tell anyone which brands it hosts), or None when no brand can."""
    org = signin_org(slug)
    if org is not None:
        return {"org": org.slug}
    if not slug and WeComConnection.objects.signing_in().exists():
        return {"org": ""}
    return None


def callback_url() -> str:
    """Where WeCom sends the visitor back: on Siyu's public address, which is the app's trusted domain."""
    return f"{settings.PUBLIC_URL}{reverse('wecom:oauth_callback')}"


def begin(session, *, org, flow: str, next_url: str) -> str:
    """Remember a sign-in in this browser's session and return the ``state`` that must come back with it."""
    if session.session_key is None:
        session.save()  # the state is bound to the session key, so the session needs one now
    nonce = secrets.token_hex(16)
    session[_SESSION_KEY] = {"nonce": nonce, "org": org.pk, "flow": flow, "next": next_url, "at": time.time()}
    return nonce + _mac(nonce, session.session_key)


def finish(session, state: str) -> Pending | None:
    """The sign-in ``state`` belongs to, once; None for a state this browser did not start, or started too long ago."""
    started = session.pop(_SESSION_KEY, None)
    if not started or not session.session_key or time.time() - started["at"] > STATE_SECONDS:
        return None
    if not constant_time_compare(state or "", started["nonce"] + _mac(started["nonce"], session.session_key)):
        return None
    return Pending(org_id=started["org"], flow=started["flow"], next_url=started["next"])


def _mac(nonce: str, session_key: str) -> str:
    return salted_hmac(_SALT, f"{nonce}:{session_key}", algorithm="sha256").hexdigest()[:32]


def page_origins() -> list[str]:
    """Origins of WeCom's sign-in pages: a form on Siyu's sign-in page that leads there must be allowed to
    (the Content-Security-Policy's ``form-action`` also applies to where the form's answer redirects)."""
    base = (getattr(settings, "WECOM_LOGIN_BASE", "") or "").rstrip("/")
    return [base] if base else [AUTHORIZE_BASE, WEB_LOGIN_BASE]


def authorize_url(connection: WeComConnection, *, flow: str, state: str) -> str:
    """The WeCom page that identifies the visitor and sends them back to :func:`callback_url`."""
    base = (getattr(settings, "WECOM_LOGIN_BASE", "") or "").rstrip("/")
    if flow == "app":
        query = urlencode({"appid": connection.corp_id, "redirect_uri": callback_url(), "response_type": "code",
                           "scope": "snsapi_base", "state": state, "agentid": connection.agent_id})
        # WeCom's documented link ends with #wechat_redirect; the fragment never reaches a server.
        return f"{base or AUTHORIZE_BASE}/connect/oauth2/authorize?{query}#wechat_redirect"
    query = urlencode({"login_type": "CorpApp", "appid": connection.corp_id, "agentid": connection.agent_id,
                       "redirect_uri": callback_url(), "state": state})
    return f"{base or WEB_LOGIN_BASE}/wwlogin/sso/login?{query}"


def visitor_userid(org, code: str) -> str | None:
    """The member ``code`` identifies (``auth/getuserinfo``), or None for a WeChat user outside the corp.

    Raises :class:`~siyu.wecom.errors.WeComError` as WeCom answers (``BAD_CODE_ERRCODES`` for a code that cannot
    be traded). A WeCom call: never inside a database transaction.
    """
    with WeComClient.for_org(org) as client:
        answer = client.get("auth/getuserinfo", code=code)
    return answer.get("userid") or None  # a WeChat user outside the corp gets "openid" instead
