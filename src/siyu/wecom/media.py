"""Files Siyu must upload to WeCom before a message may carry them, uploaded once and remembered.

WeCom takes an image in a message only by a ``pic_url`` that ``media/uploadimg`` returned (doc 92137) or by
a ``media_id`` from ``media/upload``, and such a media id lives three days (doc 90313, 40007 afterwards).
Moments are the exception: their files live in Siyu and go up with ``media/upload_attachment``
(:func:`attachment_media_id`), remembered by content for the same three days. Other attachments in Siyu name
their files by source URL: an image's ``pic_url``, or an http(s) URL where a file,
video or mini-program cover takes a ``media_id``. :func:`post_with_media` swaps each source for WeCom's own
reference just before the call: ``uploadimg`` URLs are kept for good, media ids until shortly before their
three days end. When WeCom still answers 40007 (its clock ran ahead of ours) the media ids are uploaded
again and the call is made once more; WeCom refuses such a call before using it up, so a welcome code
survives the retry.
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.cache import cache

from siyu.wecom.client import WeComClient
from siyu.wecom.errors import WeComError

MEDIA_EXPIRED = 40007  # 不合法的media_id: "上传临时素材生成的media_id，有效期是3天" (doc 90313)
# Kept a little less than WeCom's three days so a send never races the expiry.
TEMPORARY_FOR = timedelta(days=3) - timedelta(hours=1)
MAX_BYTES = 20 * 1024 * 1024  # the largest file media/upload takes (doc 90253)
MAX_REDIRECTS = 3
# WeCom's own image hosts: a pic_url there already came from uploadimg.
WECOM_IMAGE_HOSTS = ("p.qpic.cn", "wework.qpic.cn")
# attachment kind -> (field holding the source, media/upload type)
TEMPORARY_FIELDS = {"file": ("media_id", "file"), "video": ("media_id", "video"), "miniprogram": ("pic_media_id", "image")}


def post_with_media(client: WeComClient, org_id: int, path: str, payload: dict) -> dict:
    """POST ``payload`` to ``path`` with every attachment's source replaced by WeCom's upload of it."""
    try:
        return client.post(path, wire_payload(client, org_id, payload))
    except WeComError as error:
        if error.errcode != MEDIA_EXPIRED:
            raise
    forget_temporary(org_id, payload)
    return client.post(path, wire_payload(client, org_id, payload))


def wire_payload(client: WeComClient, org_id: int, payload: dict) -> dict:
    attachments = payload.get("attachments")
    if not attachments:
        return payload
    return {**payload, "attachments": [_wire(client, org_id, attachment) for attachment in attachments]}


def wire_template(client: WeComClient, org_id: int, body: dict) -> dict:
    """A group welcome template (``group_welcome_template/add|edit``: the attachment under its kind's key, not in
    an ``attachments`` list) with its attachment's source replaced by WeCom's upload of it."""
    wired = dict(body)
    for kind in ("image", "link", "miniprogram", "file", "video"):
        if isinstance(body.get(kind), dict):
            wired[kind] = _wire(client, org_id, {"msgtype": kind, kind: body[kind]})[kind]
    return wired


def forget_temporary(org_id: int, payload: dict) -> None:
    """Drop the remembered media ids of ``payload``'s sources so the next send uploads them again."""
    for attachment in payload.get("attachments") or []:
        kind = attachment.get("msgtype", "")
        if kind in TEMPORARY_FIELDS:
            source = (attachment.get(kind) or {}).get(TEMPORARY_FIELDS[kind][0], "")
            if _is_source(source):
                cache.delete(_key(org_id, "temporary", source))


def _wire(client: WeComClient, org_id: int, attachment: dict) -> dict:
    kind = attachment.get("msgtype", "")
    body = dict(attachment.get(kind) or {})
    if kind == "image" and _is_source(body.get("pic_url", "")) and not _from_wecom(body["pic_url"]):
        body["pic_url"] = _uploaded(client, org_id, "image", body["pic_url"], None)
    elif kind in TEMPORARY_FIELDS:
        field, media_type = TEMPORARY_FIELDS[kind]
        if _is_source(body.get(field, "")):
            body[field] = _uploaded(client, org_id, "temporary", body[field], media_type)
    return {**attachment, kind: body}


def _uploaded(client: WeComClient, org_id: int, store: str, source: str, media_type: str | None) -> str:
    """WeCom's reference for ``source``: remembered, or uploaded now (``media_type`` None = uploadimg)."""
    key = _key(org_id, store, source)
    known = cache.get(key)
    if known:
        return known
    filename, data = _fetch(source)
    if media_type is None:
        value = client.upload("media/uploadimg", filename, data)["url"]
        cache.set(key, value, timeout=None)  # uploadimg URLs do not expire
    else:
        value = client.upload("media/upload", filename, data, type=media_type)["media_id"]
        cache.set(key, value, timeout=int(TEMPORARY_FOR.total_seconds()))
    return value


def temporary_media_id(client: WeComClient, org_id: int, source: str, media_type: str, *, renew: bool = False) -> str:
    """A ``media/upload`` id of ``media_type`` for the file at ``source`` (the chat sidebar's ``sendChatMessage``
    takes only such ids): remembered for a little less than its three days, or uploaded now; ``renew`` uploads
    again when WeCom has already refused the remembered one."""
    if renew:
        cache.delete(_key(org_id, f"temporary:{media_type}", source))
    return _uploaded(client, org_id, f"temporary:{media_type}", source, media_type)


def attachment_media_id(client: WeComClient, org_id: int, *, media_type: str, filename: str, data: bytes) -> str:
    """A ``media/upload_attachment`` id (attachment_type 1, for moments) for the file ``data``: remembered by its
    content for a little less than its three days, or uploaded now. Moments take no other media ids."""
    from siyu.wecom.messaging_endpoints import upload_attachment

    key = _key(org_id, "attachment", _digest(data))
    known = cache.get(key)
    if known:
        return known
    value = upload_attachment(client, media_type=media_type, filename=filename, data=data).media_id
    cache.set(key, value, timeout=int(TEMPORARY_FOR.total_seconds()))
    return value


def forget_attachments(org_id: int, files) -> None:
    """Drop the remembered ``upload_attachment`` ids of ``files`` (bytes) so the next call uploads them again."""
    for data in files:
        cache.delete(_key(org_id, "attachment", _digest(data)))


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fetch(source: str) -> tuple[str, bytes]:
    """The file at ``source``; a failure is WeCom-shaped so senders treat it like WeCom refusing the file."""
    url = source
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            _refuse_internal(url)  # every hop: a public URL must not redirect Siyu into the internal network
            response = httpx.get(url, timeout=10.0, follow_redirects=False)
            if not response.is_redirect:
                break
            url = str(response.next_request.url)
        else:
            raise httpx.TooManyRedirects(f"more than {MAX_REDIRECTS} redirects", request=response.request)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise WeComError(None, f"cannot fetch {source}: {exc}", "media/upload",
                         hint=f"附件文件无法下载（{source}），请检查地址是否可以访问。") from None
    if len(response.content) > MAX_BYTES:
        raise WeComError(None, f"{source} is larger than {MAX_BYTES} bytes", "media/upload",
                         hint="附件文件超过企业微信 20MB 的上限。")
    return urlsplit(source).path.rsplit("/", 1)[-1] or "file", response.content


def _refuse_internal(url: str) -> None:
    """Refuse a URL whose host is not a public internet address (loopback, private, link-local such as a cloud
    metadata service), unless it is Siyu's own public URL or the deployment allows internal hosts.

    An operator types these URLs; without this, Siyu would fetch whatever an internal address answers and hand it
    to WeCom, where the operator can read it.
    """
    if url.startswith(settings.PUBLIC_URL.rstrip("/") + "/") or settings.MEDIA_FETCH_INTERNAL:
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise httpx.UnsupportedProtocol(f"not an http(s) URL: {url}")
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443)}
    except (socket.gaierror, UnicodeError) as exc:
        raise httpx.ConnectError(f"cannot resolve {parts.hostname}: {exc}") from None
    for address in addresses:
        if not ipaddress.ip_address(address.split("%")[0]).is_global:
            raise WeComError(None, f"{parts.hostname} resolves to the internal address {address}", "media/upload",
                             hint="附件地址指向内网地址，出于安全考虑不会下载。请使用公网可访问的地址。")


def _is_source(value: str) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


def _from_wecom(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return any(host == h or host.endswith("." + h) for h in WECOM_IMAGE_HOSTS)


def _key(org_id: int, store: str, source: str) -> str:
    return f"wecom-media:{org_id}:{store}:{hashlib.sha256(source.encode()).hexdigest()}"
