"""The two sign-in pages WeCom shows a visitor, as the simulator's stand-ins: each hands a code to the app.

* ``/connect/oauth2/authorize`` — OAuth2 web authorization inside the WeCom app (构造网页授权链接, DOC 91022;
  real host ``open.weixin.qq.com``). Inside the app WeCom knows who is looking and redirects at once; here the
  page asks which member (or a WeChat user outside the corp) is looking.
* ``/wwlogin/sso/login`` — web login by QR code on a desktop browser (企业微信网页登录, DOC 98152; real host
  ``login.work.weixin.qq.com``). There a member scans the QR code with the app and confirms; here they pick
  their name ("scan as …").

Both answer a chosen visitor with a redirect to ``redirect_uri`` carrying ``code`` and ``state``; the app trades
the code for the visitor's identity with ``auth/getuserinfo`` (DOC 91023 / 98176). What WeCom refuses, these
pages refuse with its errcode on an error page: a corp id that is not this corp's (40013), an agent id that is
not this app's (40056), a ``redirect_uri`` outside the app's trusted domains (50001, "redirect_url未登记可信域名"),
and a ``state`` that is not ``a-zA-Z0-9`` of at most 128 bytes (DOC 91022: "企业可以填写a-zA-Z0-9的参数值，
长度不可超过128个字节"; 40058 here, as no errcode is documented).
"""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from .errors import ERRMSG, ApiError, SimulatorError

AUTHORIZE, WEB_LOGIN = "/connect/oauth2/authorize", "/wwlogin/sso/login"
PAGES = (AUTHORIZE, WEB_LOGIN)
STATE = re.compile(r"^[A-Za-z0-9]{0,128}$")
SCOPES = ("snsapi_base", "snsapi_privateinfo")


def handle(sim, method: str, path: str, query: dict[str, str], body: bytes) -> tuple[int, list, bytes]:
    """Serve one of :data:`PAGES`: ``(status, headers, body)``."""
    web_login = path == WEB_LOGIN
    try:
        redirect_uri, scope = _validate(sim, query, web_login=web_login)
    except ApiError as error:
        return _page(400, "出错了", f"<p class=error>错误码 {error.errcode}：{html.escape(_reason(error))}</p>")
    if method == "GET":
        return _chooser(sim, web_login=web_login)
    if method != "POST":
        return _page(405, "出错了", "<p class=error>method not allowed</p>")
    form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    userid = form.get("userid") or None
    if userid is None and (web_login or not form.get("outsider")):
        return _page(400, "出错了", "<p class=error>choose a member</p>")
    try:
        code = sim.issue_oauth_code(userid, scope)
    except SimulatorError as error:
        return _page(400, "出错了", f"<p class=error>{html.escape(str(error))}</p>")
    return 302, [("Location", _with_query(redirect_uri, code=code, state=query.get("state", "")))], b""


def _validate(sim, query: dict[str, str], *, web_login: bool) -> tuple[str, str]:
    if query.get("appid") != sim.corp_id:
        raise ApiError(40013, "appid must be the corp id")
    if web_login:
        if query.get("login_type", "CorpApp") != "CorpApp":
            raise ApiError(40058, "login_type must be CorpApp for a self-built app")
        if query.get("agentid") != str(sim.agent_id):
            raise ApiError(40056)
        scope = "snsapi_base"
    else:
        if query.get("response_type") != "code":
            raise ApiError(40058, "response_type must be code")
        scope = query.get("scope", "")
        if scope not in SCOPES:
            raise ApiError(40058, f"scope must be one of {', '.join(SCOPES)}")
        agentid = query.get("agentid")
        if (agentid or scope == "snsapi_privateinfo") and agentid != str(sim.agent_id):
            raise ApiError(40056)
    if not STATE.match(query.get("state", "")):
        raise ApiError(40058, "state must be a-zA-Z0-9, at most 128 bytes")
    redirect_uri = query.get("redirect_uri", "")
    parts = urlsplit(redirect_uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiError(40058, "redirect_uri must be an absolute http(s) URL")
    host = (parts.hostname or "").lower()
    if not {host, parts.netloc.lower()}.intersection(sim.state.trusted_domains):
        raise ApiError(50001)
    return redirect_uri, scope


def _reason(error: ApiError) -> str:
    text = ERRMSG.get(error.errcode, "error")
    return f"{text}: {error.detail}" if error.detail else text


def _chooser(sim, *, web_login: bool) -> tuple[int, list, bytes]:
    members = [(s["userid"], s["name"]) for s in sim.list_staff() if s["left_at"] is None]
    verb = "扫码登录" if web_login else "以此身份访问"
    items = "".join(
        f'<form method="post"><input type="hidden" name="userid" value="{html.escape(userid)}">'
        f'<button type="submit">{verb}：{html.escape(name)}（{html.escape(userid)}）</button></form>'
        for userid, name in members
    )
    if not web_login:
        items += ('<form method="post"><input type="hidden" name="outsider" value="1">'
                  '<button type="submit">以微信用户身份访问（非企业成员）</button></form>')
    title = "企业微信扫码登录（模拟）" if web_login else "企业微信网页授权（模拟）"
    hint = ("在手机上用企业微信扫码并确认登录：选择扫码的成员。" if web_login
            else "在企业微信内打开应用页面：选择正在访问的人。")
    return _page(200, title, f"<p>{hint}</p>{items}")


def _page(status: int, title: str, content: str) -> tuple[int, list, bytes]:
    body = (f"<!doctype html><html lang=zh-CN><meta charset=utf-8><title>{title}</title>"
            "<meta name=viewport content='width=device-width,initial-scale=1'>"
            "<style>body{font:16px sans-serif;max-width:30em;margin:2em auto;padding:0 1em}"
            "button{display:block;width:100%;margin:.4em 0;padding:.7em;font-size:1em}.error{color:#b00}</style>"
            f"<h1>{title}</h1>{content}</html>").encode()
    return status, [("Content-Type", "text/html; charset=utf-8")], body


def _with_query(url: str, **params: str) -> str:
    """``url`` with ``params`` appended to its query (WeCom appends ``code`` and ``state`` the same way)."""
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
