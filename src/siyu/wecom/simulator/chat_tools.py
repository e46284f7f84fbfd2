"""What the WeCom client does for a page in the chat toolbar (聊天工具栏) when it calls ``sendChatMessage``
(DOC 96935 "分享消息到当前会话"): the message goes into the chat the member has open, as sent by them.

The client has no server API for this; the simulator records each message sent this way so the sidebar harness
(which plays the client) and the tests can see what reached the chat. WeCom checks, and so does this:

* the chat is open between the member and the customer (a friend, not deleted by either side) or is a customer
  group the member is in ("…:fail without context of external contact" otherwise, DOC 96918 / 98531);
* ``msgtype`` is one of text, image, video, file, news, miniprogram, with the fields DOC 96935 lists
  (``text.content``; ``image|video|file.mediaid``; ``news.link/title/desc/imgUrl``;
  ``miniprogram.appid/title/imgUrl/page``);
* a media id comes from ``media/upload`` of the same app, of the matching type, and is less than three days old
  (temporary media, DOC 90253: "media_id在同一企业内应用之间可以共享…有效期只有3天"); a miniprogram ``page``
  ends with ``.html`` (DOC 96935: "page路径必须以.html作为后缀").
"""

from __future__ import annotations

from typing import Any

from .errors import SimulatorError
from .state import ACTIVE

MSGTYPES = ("text", "image", "video", "file", "news", "miniprogram")
MEDIA_TYPES = ("image", "video", "file")
NEWS_FIELDS = ("link", "title", "desc", "imgUrl")
MINIPROGRAM_FIELDS = ("appid", "title", "imgUrl", "page")


def _fail(reason: str) -> SimulatorError:
    return SimulatorError(f"sendChatMessage:fail {reason}")


def check_message(sim, message: dict) -> dict[str, Any]:
    """The message part of a ``sendChatMessage`` call, as WeCom would take it; raise what it refuses."""
    msgtype = message.get("msgtype")
    if msgtype not in MSGTYPES:
        raise _fail(f"invalid msgtype {msgtype!r}")
    body = message.get(msgtype)
    if not isinstance(body, dict):
        raise _fail(f"{msgtype} must be an object")
    if msgtype == "text":
        if not isinstance(body.get("content"), str) or not body["content"].strip():
            raise _fail("text.content is empty")
        return {"msgtype": "text", "text": {"content": body["content"]}}
    if msgtype in MEDIA_TYPES:
        media = sim.state.media.get(str(body.get("mediaid") or ""))
        if (media is None or media.attachment_type or media.type != msgtype
                or sim.now() - media.created_at >= sim.limits.media_ttl):
            raise _fail(f"invalid mediaid (a {msgtype} from media/upload, less than 3 days old)")
        return {"msgtype": msgtype, msgtype: {"mediaid": media.media_id}}
    fields = NEWS_FIELDS if msgtype == "news" else MINIPROGRAM_FIELDS
    kept = {name: str(body.get(name) or "") for name in fields}
    if msgtype == "news" and not kept["link"].startswith(("http://", "https://")):
        raise _fail("news.link must be an http(s) URL")
    if msgtype == "miniprogram" and (not kept["appid"] or not kept["page"].split("?", 1)[0].endswith(".html")):
        raise _fail("miniprogram needs appid and a page ending in .html")
    return {"msgtype": msgtype, msgtype: kept}


def check_chat(sim, userid: str, external_userid: str | None, chat_id: str | None) -> None:
    """The member has this chat open: a live friendship with the customer, or membership of the group."""
    if sim.state.active_staff(userid) is None:
        raise _fail(f"no active member {userid!r}")
    if bool(external_userid) == bool(chat_id):
        raise _fail("without context of external contact (name one customer or one group)")
    if chat_id:
        group = sim.state.groups.get(chat_id)
        if group is None or userid not in group.member_ids():
            raise _fail(f"without context of external contact ({userid!r} is not in group {chat_id!r})")
        return
    live = [r for r in sim.state.relations_of_customer(external_userid) if r.userid == userid and r.status == ACTIVE]
    if not live:
        raise _fail(f"without context of external contact ({external_userid!r} is not a customer of {userid!r})")
