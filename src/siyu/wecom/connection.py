"""Connecting an organization to its WeCom corp: saving the credentials and checking they work end to end."""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import time
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.orgs import audit
from siyu.orgs.models import Organization, User
from siyu.wecom import endpoints
from siyu.wecom.client import WeComClient
from siyu.wecom.crypto import WXBizMsgCrypt
from siyu.wecom.errors import NotConnected, WeComError, WeComNetworkError
from siyu.wecom.models import DEFAULT_API_BASE, WeComConnection

CORP_ID = re.compile(r"^w[wx][A-Za-z0-9]{4,62}$")
AGENT_ID = re.compile(r"^[0-9]{1,32}$")
CALLBACK_TOKEN = re.compile(r"^[A-Za-z0-9]{3,32}$")
AES_KEY = re.compile(r"^[A-Za-z0-9+/]{43}$")
CALLBACK_TIMEOUT = 5.0
CALLBACK_DEADLINE = 1.0  # WeCom gives the echostr check one second


def default_api_base() -> str:
    return getattr(settings, "WECOM_API_BASE", "") or DEFAULT_API_BASE


def callback_url(org: Organization) -> str:
    """The URL to paste into WeCom's 「接收消息 → 设置API接收」 for this organization."""
    return f"{settings.PUBLIC_URL}/wecom/callback/{org.slug}/"


def normalize_api_base(value: str) -> str:
    """An http(s) URL ending in ``/``; a bare host (``http://127.0.0.1:9000``) gets WeCom's ``/cgi-bin/``."""
    value = (value or "").strip()
    parts = urlsplit(value)
    # Not URLValidator: it refuses single-label hosts such as a docker service name (http://wecom-sim:9000).
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
        raise ValidationError("not an http(s) URL")
    path = parts.path if parts.path not in ("", "/") else "/cgi-bin/"
    if not path.endswith("/"):
        path += "/"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _check_aes_key(value: str) -> str | None:
    if len(value) != 43:
        return _("EncodingAESKey 必须正好是 43 个字符（当前 %(n)d 个）。") % {"n": len(value)}
    if not AES_KEY.match(value):
        return _("EncodingAESKey 只能包含字母、数字、+ 和 /。")
    try:
        key = base64.b64decode(value + "=", validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        return _("EncodingAESKey 无法解码为 32 字节的密钥，请重新生成。")
    return None


@transaction.atomic
def save_connection(
    org: Organization,
    *,
    corp_id: str,
    agent_id: str | int,
    secret: str,
    callback_token: str,
    encoding_aes_key: str,
    api_base: str = "",
    by: User | None,
) -> WeComConnection:
    """Create or update the organization's WeCom connection.

    A blank ``secret`` keeps the stored one (the console never shows it back). Every problem is reported at
    once as a field-level ValidationError and nothing is written. The audit entry names the fields that
    changed, never their secret values.
    """
    existing = WeComConnection.objects.for_org(org).select_for_update().first()
    corp_id = (corp_id or "").strip()
    agent_id = str(agent_id if agent_id is not None else "").strip()
    secret = (secret or "").strip()
    callback_token = (callback_token or "").strip()
    encoding_aes_key = (encoding_aes_key or "").strip()
    errors: dict[str, str] = {}
    if not CORP_ID.match(corp_id):
        errors["corp_id"] = _("企业ID以 ww 或 wx 开头，后跟字母和数字，可在“我的企业 → 企业信息”页底部找到。")
    if not AGENT_ID.match(agent_id):
        errors["agent_id"] = _("AgentId 是一串数字，可在“应用管理 → 自建应用”的应用详情中找到。")
    if not secret:
        if existing is not None and existing.secret:
            secret = existing.secret
        else:
            errors["secret"] = _("请填写应用 Secret。")
    if not CALLBACK_TOKEN.match(callback_token):
        errors["callback_token"] = _("Token 由 3 到 32 位英文字母或数字组成。")
    aes_error = _check_aes_key(encoding_aes_key)
    if aes_error:
        errors["encoding_aes_key"] = aes_error
    try:
        api_base = normalize_api_base(api_base or default_api_base())
    except ValidationError:
        errors["api_base"] = _("接口地址必须是 http:// 或 https:// 开头的网址。")
    if errors:
        raise ValidationError(errors)

    conn = existing or WeComConnection(org=org)
    values = {
        "corp_id": corp_id,
        "agent_id": agent_id,
        "secret": secret,
        "callback_token": callback_token,
        "encoding_aes_key": encoding_aes_key,
        "api_base": api_base,
    }
    changed = [name for name, value in values.items() if existing is None or getattr(existing, name) != value]
    for name, value in values.items():
        setattr(conn, name, value)
    conn.is_active = True
    conn.save()
    audit.record(
        "wecom.connected" if existing is None else "wecom.connection_changed",
        org=org,
        actor=by,
        obj=conn,
        details={"corp_id": corp_id, "agent_id": agent_id, "api_base": api_base, "changed": changed},
    )
    transaction.on_commit(lambda: _forget_callback_keys(org.slug))
    return conn


def _forget_callback_keys(slug: str) -> None:
    from siyu.wecom.client import forget_connection
    from siyu.wecom.receiver import forget_cryptor

    forget_cryptor(slug)
    org = Organization.objects.filter(slug=slug).first()
    if org is not None:
        forget_connection(org.pk)


# -- preflight ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckResult:
    """One preflight check: ``name`` is a stable key (token, permission, callback)."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    @property
    def label(self) -> str:
        return check_label(self.name)

    def as_dict(self) -> dict:
        return {**asdict(self), "label": self.label}


def check_label(name: str) -> str:
    return {
        "token": _("获取 access_token"),
        "permission": _("客户联系接口权限"),
        "callback": _("回调地址可达"),
    }.get(name, name)


def _describe(error: WeComError) -> str:
    if error.errcode is None:
        return error.errmsg
    return f"errcode {error.errcode}: {error.errmsg}"


def _check_token(client: WeComClient) -> CheckResult:
    try:
        client.access_token(refresh=True)
    except WeComNetworkError as error:
        return CheckResult("token", False, _describe(error), _(
            "无法连接接口地址 %(base)s：请确认服务器可以访问外网（或代理已配置），且“接口地址”填写正确。"
        ) % {"base": client.connection.api_base})
    except WeComError as error:
        return CheckResult("token", False, _describe(error), error.hint)
    return CheckResult("token", True, _("企业ID和 Secret 正确，已获取 access_token。"))


def _check_permission(client: WeComClient) -> CheckResult:
    try:
        count = len(endpoints.follow_user_list(client))
    except WeComError as error:
        return CheckResult("permission", False, _describe(error), error.hint)
    return CheckResult("permission", True, _("可以调用客户联系接口；已开通客户联系的成员 %(n)d 人。") % {"n": count})


def _check_callback(org: Organization, conn: WeComConnection, transport: httpx.BaseTransport | None) -> CheckResult:
    """Verify the callback URL exactly as WeCom does: a signed, encrypted echostr that must come back in plain."""
    url = callback_url(org)
    try:
        cryptor = WXBizMsgCrypt(conn.callback_token, conn.encoding_aes_key, conn.corp_id)
    except ValueError as error:
        return CheckResult("callback", False, str(error), _("请重新生成 EncodingAESKey 并保存。"))
    echo = secrets.token_hex(8)
    echostr = cryptor.encrypt(echo)
    timestamp, nonce = str(int(time.time())), secrets.token_hex(5)
    params = {
        "msg_signature": cryptor.signature(timestamp, nonce, echostr),
        "timestamp": timestamp,
        "nonce": nonce,
        "echostr": echostr,
    }
    public_fix = _(
        "确认 SIYU_PUBLIC_URL（当前为 %(public)s）是企业微信能访问到的公网地址，"
        "并且反向代理把 /wecom/callback/ 转发到本系统。"
    ) % {"public": settings.PUBLIC_URL}
    started = time.monotonic()
    try:
        with httpx.Client(timeout=CALLBACK_TIMEOUT, transport=transport) as http:
            response = http.get(url, params=params)
    except httpx.HTTPError as error:
        return CheckResult("callback", False, f"{url}: {type(error).__name__}: {error}", public_fix)
    elapsed = time.monotonic() - started
    if response.status_code != 200:
        if response.status_code == 403:
            fix = _("回调签名校验失败：该地址上运行的服务使用的 Token/EncodingAESKey 与刚保存的不一致，"
                    "请确认地址指向本系统，并稍等半分钟后重试。")
        else:
            fix = public_fix
        return CheckResult("callback", False, f"{url}: HTTP {response.status_code}", fix)
    if response.text != echo:
        return CheckResult("callback", False, _("%(url)s 返回的内容不是解密后的 echostr。") % {"url": url}, public_fix)
    if elapsed > CALLBACK_DEADLINE:
        return CheckResult(
            "callback", False, _("响应用时 %(s).1f 秒，企业微信要求 1 秒内返回。") % {"s": elapsed},
            _("请检查服务器负载和网络延迟。"),
        )
    return CheckResult("callback", True, _("%(url)s 正确返回了 echostr（%(ms)d 毫秒）。") % {"url": url, "ms": elapsed * 1000})


def preflight(
    org: Organization,
    *,
    by: User | None = None,
    transport: httpx.BaseTransport | None = None,
    callback_transport: httpx.BaseTransport | None = None,
) -> list[CheckResult]:
    """Check the connection works end to end and store the report on it.

    (a) a fresh access token, (b) the app may call 客户联系 APIs, (c) the callback URL answers WeCom's echostr
    check. Each failed check carries the plain-language fix. ``transport``/``callback_transport`` let tests
    route the calls to the simulator and to the app.
    """
    conn = WeComConnection.objects.for_org(org).first()
    if conn is None:
        raise NotConnected(org)
    results = []
    with WeComClient(conn, transport=transport) as client:
        token = _check_token(client)
        results.append(token)
        if token.ok:
            results.append(_check_permission(client))
        else:
            results.append(CheckResult("permission", False, _("未检查：需要先成功获取 access_token。"), token.fix))
    results.append(_check_callback(org, conn, callback_transport))
    ok = all(r.ok for r in results)
    conn.last_check_at = timezone.now()
    conn.last_check_ok = ok
    conn.last_check_report = [r.as_dict() for r in results]
    conn.save(update_fields=["last_check_at", "last_check_ok", "last_check_report", "updated_at"])
    audit.record(
        "wecom.checked", org=org, actor=by, obj=conn,
        details={"ok": ok, "failed": [r.name for r in results if not r.ok]},
    )
    return results
