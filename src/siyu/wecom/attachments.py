"""Message content for WeCom: text plus attachments, validated once and turned into WeCom's wire form in one place.

Every capability that sends content through WeCom uses this module: welcome messages (``send_welcome_msg``),
group welcome templates (``group_welcome_template/add``), and mass messages, SOPs and moments next
(``add_msg_template``, ``add_moment_task`` take the same attachment objects).

An attachment is stored as WeCom's own object, ``{"msgtype": kind, kind: {...}}`` (reference §3.5):

* ``image``: ``pic_url`` (an image URL, e.g. from ``media/uploadimg``) or ``media_id``
* ``link``: ``title`` (≤ 128 bytes), ``url``, optional ``picurl`` and ``desc`` (≤ 512 bytes)
* ``miniprogram``: ``title`` (≤ 64 bytes), ``pic_media_id``, ``appid`` (wx + 16), ``page`` (ending in ``.html``)
* ``file`` / ``video``: ``media_id``

At most :data:`MAX` (9) attachments per message, text at most :data:`TEXT_MAX_BYTES`. Consoles edit attachments
as flat fields (:func:`flatten` / :func:`unflatten`). :func:`wire` is the single place where a stored attachment
becomes what the API takes: that is where media that must be uploaded first (temporary media expire after three
days) gets its fresh ``media_id``.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.utils.translation import gettext as _

KINDS = ("image", "link", "miniprogram", "file", "video")
MAX = 9  # send_welcome_msg, add_msg_template and add_moment_task take at most 9 attachments
TEXT_MAX_BYTES = 4000
LINK_TITLE_MAX_BYTES = 128
LINK_DESC_MAX_BYTES = 512
MINIPROGRAM_TITLE_MAX_BYTES = 64
MEDIA_ID_MAX = 128
URL_MAX = 2048
PAGE_MAX = 512
APPID = re.compile(r"^wx[0-9A-Za-z]{16}$")
FLAT_FIELDS = ("kind", "title", "url", "desc", "pic_url", "appid", "page", "media_id")


def byte_length(value: str) -> int:
    """WeCom counts lengths in UTF-8 bytes (a Chinese character is 3)."""
    return len(value.encode("utf-8"))


def is_url(value: str) -> bool:
    parts = urlsplit(value or "")
    return parts.scheme in ("http", "https") and bool(parts.netloc) and len(value) <= URL_MAX


def flatten(attachment) -> dict:
    """WeCom's attachment object as flat fields: kind, title, url, desc, pic_url, appid, page, media_id."""
    kind = attachment.get("msgtype", "") if isinstance(attachment, dict) else ""
    body = attachment.get(kind) if isinstance(attachment, dict) else None
    body = body if isinstance(body, dict) else {}
    flat = dict.fromkeys(FLAT_FIELDS, "")
    flat["kind"] = kind
    if kind == "image":
        flat.update(pic_url=body.get("pic_url", ""), media_id=body.get("media_id", ""))
    elif kind == "link":
        flat.update(title=body.get("title", ""), url=body.get("url", ""), desc=body.get("desc", ""),
                    pic_url=body.get("picurl", "") or body.get("pic_url", ""))
    elif kind == "miniprogram":
        flat.update(title=body.get("title", ""), appid=body.get("appid", ""), page=body.get("page", ""),
                    media_id=body.get("pic_media_id", "") or body.get("media_id", ""))
    elif kind in ("file", "video"):
        flat.update(media_id=body.get("media_id", ""))
    return {k: v.strip() if isinstance(v, str) else str(v or "").strip() for k, v in flat.items()}


def unflatten(flat: dict) -> dict:
    """Flat fields as WeCom's attachment object, with only the fields WeCom takes for that kind."""
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


def errors(flat: dict) -> dict[str, str]:
    """Field → message for one attachment in flat form, by WeCom's limits (reference §3.5). Empty when valid."""
    problems: dict[str, str] = {}
    kind = flat.get("kind", "")
    title, url, desc = flat.get("title", ""), flat.get("url", ""), flat.get("desc", "")
    pic_url, appid, page, media_id = flat.get("pic_url", ""), flat.get("appid", ""), flat.get("page", ""), flat.get("media_id", "")
    if kind not in KINDS:
        return {"kind": _("请选择附件类型：图片、链接、小程序、文件或视频。")}
    if media_id and len(media_id) > MEDIA_ID_MAX:
        problems["media_id"] = _("素材 media_id 太长。")
    if kind == "image":
        if not pic_url and not media_id:
            problems["pic_url"] = _("图片需要图片地址（pic_url）或素材 media_id。")
        elif pic_url and not is_url(pic_url):
            problems["pic_url"] = _("图片地址必须是 http(s) 链接。")
    elif kind == "link":
        if not title:
            problems["title"] = _("链接需要标题。")
        elif byte_length(title) > LINK_TITLE_MAX_BYTES:
            problems["title"] = _("链接标题最多 128 字节（约 42 个汉字）。")
        if not url:
            problems["url"] = _("链接需要跳转地址。")
        elif not is_url(url):
            problems["url"] = _("跳转地址必须是 http(s) 链接。")
        if byte_length(desc) > LINK_DESC_MAX_BYTES:
            problems["desc"] = _("链接描述最多 512 字节（约 170 个汉字）。")
        if pic_url and not is_url(pic_url):
            problems["pic_url"] = _("封面地址必须是 http(s) 链接。")
    elif kind == "miniprogram":
        if not title:
            problems["title"] = _("小程序需要标题。")
        elif byte_length(title) > MINIPROGRAM_TITLE_MAX_BYTES:
            problems["title"] = _("小程序标题最多 64 字节（约 21 个汉字）。")
        if not APPID.match(appid):
            problems["appid"] = _("小程序 AppID 格式不正确（wx 开头，共 18 位）。")
        if not page:
            problems["page"] = _("请填写小程序页面路径。")
        elif not page.split("?", 1)[0].endswith(".html"):
            problems["page"] = _("小程序页面路径必须以 .html 结尾，例如 pages/index/index.html。")
        elif len(page) > PAGE_MAX:
            problems["page"] = _("小程序页面路径太长。")
        if not media_id:
            problems["media_id"] = _("小程序需要封面图的素材 media_id。")
    elif not media_id:
        problems["media_id"] = _("文件和视频需要素材 media_id。")
    return problems


def clean(raw) -> tuple[dict | None, list[str]]:
    """One attachment in WeCom's shape (only the fields it takes) and what is wrong with it; (None, []) for none."""
    if not raw:
        return None, []
    flat = flatten(raw)
    problems = list(errors(flat).values())
    return (None if problems else unflatten(flat)), problems


def clean_list(raws, *, limit: int = MAX) -> tuple[list[dict], list[str]]:
    """A message's attachments in WeCom's shape and the messages for what is wrong (numbered per attachment)."""
    if not isinstance(raws, list):
        return [], [_("附件格式不正确。")]
    problems = []
    if len(raws) > limit:
        problems.append(_("最多 %(max)d 个附件，当前 %(n)d 个。") % {"max": limit, "n": len(raws)})
    cleaned = []
    for index, raw in enumerate(raws[:limit], 1):
        attachment, wrong = clean(raw)
        problems += [_("第 %(n)d 个附件：%(message)s") % {"n": index, "message": message} for message in wrong]
        if attachment is not None:
            cleaned.append(attachment)
    return cleaned, problems


def summary(attachment) -> str:
    """One line naming an attachment, for lists: its title, page, URL or media id."""
    flat = flatten(attachment)
    if flat["kind"] == "miniprogram":
        return f"{flat['title']} · {flat['page']}"
    return flat["title"] or flat["pic_url"] or flat["url"] or flat["media_id"]


def wire(attachment: dict) -> dict:
    """The attachment as the API takes it now: the one place where stored content becomes WeCom's request."""
    kind = attachment["msgtype"]
    return {"msgtype": kind, kind: dict(attachment[kind])}


def content(text: str, attachments: list[dict]) -> dict:
    """The ``text`` and ``attachments`` of a message body (``send_welcome_msg``, ``add_msg_template``)."""
    body: dict = {}
    if text:
        body["text"] = {"content": text}
    if attachments:
        body["attachments"] = [wire(a) for a in attachments]
    return body


def template_content(text: str, attachment: dict | None) -> dict:
    """A group welcome template's body: ``text`` and at most one attachment keyed by its kind (DOC 92366)."""
    body: dict = {}
    if text:
        body["text"] = {"content": text}
    if attachment:
        wired = wire(attachment)
        body[wired["msgtype"]] = wired[wired["msgtype"]]
    return body
