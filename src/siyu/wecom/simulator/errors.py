"""WeCom error codes and the simulator's own control errors.

WeCom answers every failure with HTTP 200 and ``{"errcode": N, "errmsg": …}``,
where ``errmsg`` reads ``"<text>, hint: [<request id>], from ip: <ip>, more
info at https://open.work.weixin.qq.com/devtool/query?e=<N>"``. Siyu must
branch on ``errcode`` only, so the simulator reproduces the shape (to catch
code that parses errmsg) and puts the precise reason for a 40058 in the text.
"""

from __future__ import annotations

from typing import Any

from . import ids

# errcode -> errmsg text as WeCom words it (reference §3.14 and the global code page, DOC 90455).
ERRMSG: dict[int, str] = {
    -1: "system busy",
    40001: "invalid credential",
    40003: "invalid userid",
    40007: "invalid media_id",
    40013: "invalid corpid",
    40014: "invalid access_token",
    40008: "invalid message type",
    40029: "invalid code",
    40056: "invalid agentid",
    40058: "invalid parameter",
    40068: "invalid tagid",
    40071: "tag name already exists",
    40096: "invalid external userid",
    40097: "handover user has not resigned",
    40126: "corp tag count exceeds the limit of 3000",
    40130: "handover_userid is the same as takeover_userid",
    40131: "handover_userid is not the follow user of the external contact",
    40128: "external contact transferred too frequently",
    40129: "external contact is being transferred",
    41001: "access_token missing",
    41002: "corpid missing",
    41004: "corpsecret missing",
    41008: "missing oauth code",
    41035: "missing external userid",
    41037: "missing contact way type",
    41038: "missing contact way scene",
    41039: "invalid contact way type",
    41040: "invalid contact way scene",
    41041: "contact way user count exceeds the limit",
    41044: "invalid contact way config_id",
    41049: "missing welcome code",
    41050: "invalid welcome code",
    41054: "user not activated",
    41055: "group welcome template count exceeds the limit",
    41091: "join way chat_id_list exceeds the limit",
    41051: "externaluser has started chatting",
    41096: "welcome msg is being distributed",
    42001: "access_token expired",
    43001: "require GET method",
    43002: "require POST method",
    45009: "api freq out of limit",
    45029: "response size exceeds the limit",
    45033: "api concurrent out of limit",
    47001: "data format error",
    48001: "api unauthorized",
    48002: "api forbidden",
    49008: "chat has been dismissed",
    50001: "redirect_uri not in the app's trusted domain",
    60011: "no privilege to access/modify contact/party/agent",
    60020: "not allow to access from your ip",
    60111: "userid not found",
    60123: "invalid party id",
    81011: "no privilege to operate the tag",
    81013: "user & party & tag all invalid",
    81017: "request count exceeds the limit, owner_filter required",
    84061: "not external contact",
    84074: "no external contact privilege",
    90500: "the owner of this chat is not resigned",
    90501: "chat is not external group chat",
    90502: "the owner of this chat has resigned",
}

MORE_INFO = "https://open.work.weixin.qq.com/devtool/query?e="


def format_errmsg(errcode: int, detail: str | None, now: float, ip: str, text: str | None = None) -> str:
    """Render an errmsg the way WeCom does, with ``detail`` after the standard (or given) text."""
    text = text or ERRMSG.get(errcode, "unknown error")
    if detail:
        text = f"{text}: {detail}"
    return f"{text}, hint: [{ids.hint(now)}], from ip: {ip}, more info at {MORE_INFO}{errcode}"


class ApiError(Exception):
    """A WeCom API failure: becomes ``{"errcode", "errmsg", **extra}`` with HTTP 200.

    ``extra`` carries the empty list fields real WeCom still returns on error
    (e.g. ``"follow_user": []``), so clients that read them don't crash.
    """

    def __init__(self, errcode: int, detail: str | None = None, *, text: str | None = None, **extra: Any) -> None:
        super().__init__(f"{errcode} {text or ERRMSG.get(errcode, '')}: {detail or ''}".strip())
        self.errcode = errcode
        self.detail = detail
        self.text = text
        self.extra = extra


class SimulatorError(ValueError):
    """A control-API request that cannot happen (e.g. scanning a deleted code): HTTP 400."""

    status = 400


class NotFound(SimulatorError):
    """A control-API request names something the simulator does not have: HTTP 404."""

    status = 404
