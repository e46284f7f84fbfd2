"""Welcome messages (欢迎语): validating them against WeCom's limits, choosing one, and sending it in time.

Choosing: for an add by staff member S through code C, the first scope that has a message wins, in the order
code+staff → code → staff → default. Within a scope a time-slot variant whose window covers the add beats the
plain message. ``{customer_nickname}``, ``{staff_name}`` and ``{channel}`` in the text are filled in.

Sending: WeCom hands a ``WelcomeCode`` with the add event; it works once, within 20 seconds. A
:class:`~siyu.channels.models.WelcomeSend` row per relation (idempotency key = the welcome code) sends it:
41051 (already sent, or the customer already chats) ends it without a retry; 41050 (the code is no longer valid)
ends it as expired; 41096 (another app is sending) retries shortly while the window lasts; when the window has
passed the row fails with that reason.

Media: an image's ``pic_url`` and an http(s) URL given for a file, video or mini-program cover are sources
that :mod:`siyu.wecom.media` uploads to WeCom before the send (``uploadimg`` once; temporary media again
after its three days); a plain ``media_id`` goes out as given.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.channels.models import ATTACHMENTS_MAX, ChannelCode, WelcomeMessage, WelcomeSend
from siyu.core.durable import PermanentFailure, RetryLater
from siyu.customers import timeline
from siyu.wecom import media
from siyu.wecom.client import WeComClient
from siyu.wecom.errors import (
    NotConnected,
    RateLimited,
    SystemBusy,
    TokenInvalid,
    WelcomeAlreadySent,
    WelcomeBeingSent,
    WeComError,
    WeComNetworkError,
)

log = logging.getLogger(__name__)

WINDOW = timedelta(seconds=20)  # WeCom: a welcome code is valid for 20 s after the add event
# Past the window by more than this, a send is not even tried (beyond any clock difference with WeCom).
GRACE = timedelta(seconds=60)
BEING_SENT_RETRY = 2.0
TEXT_MAX_BYTES = 4000
VARIABLES = ("customer_nickname", "staff_name", "channel")
KINDS = ("image", "link", "miniprogram", "file", "video")
APPID = re.compile(r"^wx[0-9A-Za-z]{16}$")
MEDIA_ID_MAX = 128
URL_MAX = 2048
_VARIABLE = re.compile(r"\{([^{}]*)\}")


# -- validation -----------------------------------------------------------------------------------------------
def _bytes(value: str) -> int:
    return len(value.encode("utf-8"))


def _is_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and len(value) <= URL_MAX


def unknown_variables(text: str, allowed=VARIABLES) -> list[str]:
    return sorted({name for name in _VARIABLE.findall(text or "") if name not in allowed})


def flatten(attachment: dict) -> dict:
    """WeCom's attachment object as the console's flat fields: kind, title, url, desc, pic_url, appid, page, media_id."""
    kind = attachment.get("msgtype", "") if isinstance(attachment, dict) else ""
    body = attachment.get(kind) if isinstance(attachment, dict) else None
    body = body if isinstance(body, dict) else {}
    flat = {"kind": kind, "title": "", "url": "", "desc": "", "pic_url": "", "appid": "", "page": "", "media_id": ""}
    if kind == "image":
        flat.update(pic_url=body.get("pic_url", ""), media_id=body.get("media_id", ""))
    elif kind == "link":
        flat.update(title=body.get("title", ""), url=body.get("url", ""), desc=body.get("desc", ""), pic_url=body.get("picurl", ""))
    elif kind == "miniprogram":
        flat.update(title=body.get("title", ""), appid=body.get("appid", ""), page=body.get("page", ""),
                    media_id=body.get("pic_media_id", ""))
    elif kind in ("file", "video"):
        flat.update(media_id=body.get("media_id", ""))
    return {k: str(v or "").strip() if not isinstance(v, str) else v.strip() for k, v in flat.items()}


def unflatten(flat: dict) -> dict:
    """The console's flat fields as WeCom's attachment object (only the fields WeCom takes for that kind)."""
    kind = flat["kind"]
    if kind == "image":
        body = {"pic_url": flat["pic_url"]} if flat.get("pic_url") else {"media_id": flat["media_id"]}
    elif kind == "link":
        body = {"title": flat["title"], "url": flat["url"]}
        if flat.get("pic_url"):
            body["picurl"] = flat["pic_url"]
        if flat.get("desc"):
            body["desc"] = flat["desc"]
    elif kind == "miniprogram":
        body = {"title": flat["title"], "pic_media_id": flat["media_id"], "appid": flat["appid"], "page": flat["page"]}
    else:
        body = {"media_id": flat["media_id"]}
    return {"msgtype": kind, kind: body}


def attachment_errors(flat: dict) -> dict[str, str]:
    """Field → message for one attachment in flat form, by WeCom's limits (reference §3.5). Empty when valid."""
    errors: dict[str, str] = {}
    kind = flat.get("kind", "")
    title, url, desc = flat.get("title", ""), flat.get("url", ""), flat.get("desc", "")
    pic_url, appid, page, media_id = flat.get("pic_url", ""), flat.get("appid", ""), flat.get("page", ""), flat.get("media_id", "")
    if kind not in KINDS:
        return {"kind": _("请选择附件类型：图片、链接、小程序、文件或视频。")}
    if media_id and len(media_id) > MEDIA_ID_MAX:
        errors["media_id"] = _("素材 media_id 太长。")
    if kind == "image":
        if not pic_url and not media_id:
            errors["pic_url"] = _("图片需要图片地址（pic_url）或素材 media_id。")
        elif pic_url and not _is_url(pic_url):
            errors["pic_url"] = _("图片地址必须是 http(s) 链接。")
    elif kind == "link":
        if not title:
            errors["title"] = _("链接需要标题。")
        elif _bytes(title) > 128:
            errors["title"] = _("链接标题最多 128 字节（约 42 个汉字）。")
        if not url:
            errors["url"] = _("链接需要跳转地址。")
        elif not _is_url(url):
            errors["url"] = _("跳转地址必须是 http(s) 链接。")
        if _bytes(desc) > 512:
            errors["desc"] = _("链接描述最多 512 字节（约 170 个汉字）。")
        if pic_url and not _is_url(pic_url):
            errors["pic_url"] = _("封面地址必须是 http(s) 链接。")
    elif kind == "miniprogram":
        if not title:
            errors["title"] = _("小程序需要标题。")
        elif _bytes(title) > 64:
            errors["title"] = _("小程序标题最多 64 字节（约 21 个汉字）。")
        if not APPID.match(appid):
            errors["appid"] = _("小程序 AppID 格式不正确（wx 开头，共 18 位）。")
        if not page:
            errors["page"] = _("请填写小程序页面路径。")
        elif not page.split("?", 1)[0].endswith(".html"):
            errors["page"] = _("小程序页面路径必须以 .html 结尾，例如 pages/index/index.html。")
        elif len(page) > 512:
            errors["page"] = _("小程序页面路径太长。")
        if not media_id:
            errors["media_id"] = _("小程序需要封面图的素材 media_id。")
    elif not media_id:
        errors["media_id"] = _("文件和视频需要素材 media_id。")
    return errors


def summary(attachment: dict) -> str:
    """One line naming an attachment, for lists: its title, page, URL or media id."""
    flat = flatten(attachment)
    if flat["kind"] == "miniprogram":
        return f"{flat['title']} · {flat['page']}"
    return flat["title"] or flat["pic_url"] or flat["url"] or flat["media_id"]


def clean_welcome(text: str, attachments: list) -> tuple[str, list[dict]]:
    """Validate a welcome message; returns (text, attachments in WeCom's shape) or raises a field-keyed error."""
    errors: dict[str, list[str]] = {}
    text = (text or "").strip()
    if _bytes(text) > TEXT_MAX_BYTES:
        errors.setdefault("text", []).append(_("欢迎语最多 4000 字节（约 1300 个汉字）。"))
    unknown = unknown_variables(text)
    if unknown:
        errors.setdefault("text", []).append(
            _("未知的变量：%(names)s。可用变量：{customer_nickname}、{staff_name}、{channel}。") % {"names": "、".join("{%s}" % n for n in unknown)}
        )
    if not isinstance(attachments, list):
        attachments = []
        errors.setdefault("attachments", []).append(_("附件格式不正确。"))
    if len(attachments) > ATTACHMENTS_MAX:
        errors.setdefault("attachments", []).append(
            _("最多 %(max)d 个附件，当前 %(n)d 个。") % {"max": ATTACHMENTS_MAX, "n": len(attachments)}
        )
    cleaned = []
    for index, attachment in enumerate(attachments[:ATTACHMENTS_MAX], 1):
        flat = flatten(attachment)
        problems = attachment_errors(flat)
        for message in problems.values():
            errors.setdefault("attachments", []).append(_("第 %(n)d 个附件：%(message)s") % {"n": index, "message": message})
        if not problems:
            cleaned.append(unflatten(flat))
    if not text and not attachments:
        errors.setdefault("text", []).append(_("欢迎语的文字和附件不能都为空。"))
    if errors:
        raise ValidationError(errors)
    return text, cleaned


# -- choosing --------------------------------------------------------------------------------------------------
def _window_covers(message: WelcomeMessage, moment: datetime) -> bool:
    local = timezone.localtime(moment)
    if local.weekday() not in message.window_days:
        return False
    now = local.time().replace(tzinfo=None)
    start = message.window_start
    end = message.window_end
    return (start is None or now >= start) and (end is None or now < end)


def resolve(org, *, code: ChannelCode | None, staff, at: datetime | None = None) -> WelcomeMessage | None:
    """The welcome message for an add by ``staff`` through ``code`` (None: not through a code) at ``at``."""
    at = at or timezone.now()
    wanted = Q(code=None, staff=staff) | Q(code=None, staff=None)
    if code is not None:
        wanted |= Q(code=code, staff=staff) | Q(code=code, staff=None)
    messages = list(WelcomeMessage.objects.for_org(org).filter(wanted).order_by("id"))
    scopes = [(None, staff.pk), (None, None)]
    if code is not None:
        scopes = [(code.pk, staff.pk), (code.pk, None), *scopes]
    for code_id, staff_id in scopes:
        candidates = [m for m in messages if m.code_id == code_id and m.staff_id == staff_id]
        variant = next((m for m in candidates if m.is_variant and _window_covers(m, at)), None)
        if variant is not None:
            return variant
        plain = next((m for m in candidates if not m.is_variant), None)
        if plain is not None:
            return plain
    return None


def render(text: str, *, customer, staff, code: ChannelCode | None) -> str:
    values = {
        "customer_nickname": (customer.name or "") if customer else "",
        "staff_name": (staff.name or staff.userid) if staff else "",
        "channel": code.name if code else "",
    }
    rendered = _VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), text or "")
    encoded = rendered.encode("utf-8")
    if len(encoded) > TEXT_MAX_BYTES:  # a very long nickname must not make WeCom refuse the whole message
        rendered = encoded[:TEXT_MAX_BYTES].decode("utf-8", "ignore")
    return rendered


def payload_for(message: WelcomeMessage, relation, code: ChannelCode | None, welcome_code: str) -> dict:
    payload: dict = {"welcome_code": welcome_code}
    text = render(message.text, customer=relation.customer, staff=relation.staff, code=code)
    if text:
        payload["text"] = {"content": text}
    if message.attachments:
        payload["attachments"] = list(message.attachments)
    return payload


# -- sending --------------------------------------------------------------------------------------------------
def queue_welcome(relation, *, code: ChannelCode | None, welcome_code: str, event_at: datetime | None) -> WelcomeSend | None:
    """Create the send for a new relation's welcome code, if a message applies. Idempotent per code and relation."""
    if not welcome_code:
        return None
    if code is not None and not code.welcome_enabled:
        return None
    event_at = event_at or timezone.now()
    message = resolve(relation.org_id, code=code, staff=relation.staff, at=event_at)
    if message is None:
        return None
    key = f"welcome:{welcome_code}"[:128]
    existing = WelcomeSend.objects.for_org(relation.org_id).filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return WelcomeSend.objects.create(
                org_id=relation.org_id, idempotency_key=key, relation=relation, code=code, welcome=message,
                welcome_code=welcome_code[:128], event_at=event_at, deadline=event_at + WINDOW,
                payload=payload_for(message, relation, code, welcome_code),
            )
    except IntegrityError:
        return None  # this relation was welcomed (or is being welcomed) already: never twice


WELCOME_CODE_EXPIRED = 41050  # 无效的欢迎语code: "须在添加好友后20秒内使用" (doc 90313)


def _settle(row: WelcomeSend, outcome: str, errcode: int | None = None) -> None:
    changes = {"outcome": outcome, "errcode": errcode}
    if outcome == WelcomeSend.Outcome.SENT:
        changes["sent_at"] = timezone.now()
    WelcomeSend.objects.for_org(row.org_id).filter(pk=row.pk).update(**changes)


def _expired(row: WelcomeSend, why: str, errcode: int | None = None):
    _settle(row, WelcomeSend.Outcome.EXPIRED, errcode)
    return PermanentFailure(why)


def perform_send(row: WelcomeSend) -> None:
    """Send one welcome message (WelcomeSend.perform). Raises RetryLater / PermanentFailure as described above."""
    if row.outcome:
        return  # settled by an earlier attempt whose completion was lost
    now = timezone.now()
    if now > row.deadline + GRACE:
        raise _expired(row, _("欢迎语未能在添加后 20 秒内发出（%(late)d 秒后才轮到发送），企业微信已不再接受。") % {
            "late": int((now - row.event_at).total_seconds())})
    try:
        with WeComClient.for_org(row.org_id) as client:
            media.post_with_media(client, row.org_id, "externalcontact/send_welcome_msg", row.payload)  # uploads first
    except WelcomeAlreadySent as error:
        if timezone.now() > row.deadline:
            raise _expired(row, _("企业微信回复 41051：欢迎语的 20 秒有效期已过。"), error.errcode) from error
        _settle(row, WelcomeSend.Outcome.ALREADY, error.errcode)  # already delivered: done, never retried
        return
    except WelcomeBeingSent as error:
        if timezone.now() + timedelta(seconds=BEING_SENT_RETRY) > row.deadline:
            raise _expired(row, _("其他应用正在发送欢迎语，20 秒有效期内未能发出。"), error.errcode) from error
        raise RetryLater(BEING_SENT_RETRY, str(error)) from error
    except (RateLimited, SystemBusy, TokenInvalid, WeComNetworkError) as error:
        delay = getattr(error, "retry_after", 1.0) if isinstance(error, RateLimited) else 1.0
        if timezone.now() + timedelta(seconds=delay) > row.deadline:
            raise _expired(row, _("企业微信暂时不可用，20 秒有效期内未能发出：%(error)s") % {"error": error}, error.errcode) from error
        raise RetryLater(delay, str(error)) from error
    except NotConnected as error:
        _settle(row, WelcomeSend.Outcome.REFUSED)
        raise PermanentFailure(str(error.hint)) from error
    except WeComError as error:
        if error.errcode == WELCOME_CODE_EXPIRED:
            raise _expired(row, _("企业微信回复 41050：欢迎语 code 已过 20 秒有效期。"), error.errcode) from error
        _settle(row, WelcomeSend.Outcome.REFUSED, error.errcode)
        raise PermanentFailure(f"{error} ({error.hint})") from error
    _settle(row, WelcomeSend.Outcome.SENT, 0)
    relation = row.relation
    timeline.record(relation.customer, "welcomed", staff=relation.staff, code_id=row.code_id,
                    welcome_id=row.welcome_id, attachments=len(row.payload.get("attachments", [])))
