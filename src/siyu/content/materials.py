"""The material library (素材库): folders and materials of eight kinds, their files, review, the signed public
address of each material, and the WeCom attachment a send path puts in a message.

Every material is reviewed before it may be sent, a guide's own ones too: a material is published to customers
as it is, so the checker (:func:`siyu.content.compliance.check`) runs on its texts at submit and at approval, and
a "block" finding stops approval unless the reviewer overrides it with a reason, which is audited. Where its
content comes from is recorded (original, licensed, quoted with its source); licensed and quoted need the source.
"""

from __future__ import annotations

import re
from pathlib import PurePath
from urllib.parse import quote

import nh3
from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from PIL import Image, UnidentifiedImageError

from siyu.content import compliance
from siyu.content import library as common
from siyu.content.models import Material, MaterialFolder, Scope
from siyu.core import events
from siyu.orgs import audit
from siyu.orgs.models import Membership
from siyu.wecom import attachments

Kind, Status, Source = Material.Kind, Material.Status, Material.Source
MAX_TITLE = Material._meta.get_field("title").max_length
MAX_SUMMARY = Material._meta.get_field("summary").max_length
MAX_SOURCE_TEXT = Material._meta.get_field("source_text").max_length
MAX_REASON = Material._meta.get_field("override_reason").max_length
MAX_BODY = 20_000
MAX_TAGS, MAX_TAG = 10, 20
MB = 1024 * 1024
# What WeCom takes (doc 90253 "上传的媒体文件限制", doc 90256 上传图片): images go through uploadimg (jpg/png up to
# 2 MB), videos are mp4 up to 10 MB, files up to 20 MB; every file is larger than 5 bytes.
IMAGE_RULE = ((".jpg", ".jpeg", ".png"), 2 * MB)
FILE_RULES = {Kind.IMAGE: IMAGE_RULE, Kind.POSTER: IMAGE_RULE, Kind.VIDEO: ((".mp4",), 10 * MB),
              Kind.PDF: ((".pdf",), 20 * MB), Kind.FILE: ((), 20 * MB)}
COVERED = (Kind.ARTICLE, Kind.LINK, Kind.MINIPROGRAM)
MIN_BYTES = 6
_TAG_SPLIT = re.compile(r"[,，、\s]+")
_SIGNER = signing.Signer(salt="content.material", sep=".")

# Tags and attributes an article body may keep; everything else (scripts, styles, event handlers) is dropped.
ARTICLE_TAGS = {"p", "br", "h2", "h3", "h4", "strong", "b", "em", "i", "u", "s", "blockquote", "ul", "ol", "li",
                "a", "img", "figure", "figcaption", "hr", "span", "table", "thead", "tbody", "tr", "th", "td"}
ARTICLE_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "width", "height"}, "td": {"colspan", "rowspan"},
                      "th": {"colspan", "rowspan"}}

APPROVED = events.define_kind("material.approved", gettext_lazy("素材审核通过"))


def sanitize(html: str) -> str:
    """An article body with only :data:`ARTICLE_TAGS` left, links and images on http(s) only."""
    return nh3.clean(html or "", tags=ARTICLE_TAGS, attributes=ARTICLE_ATTRIBUTES, url_schemes={"http", "https"},
                     link_rel="noopener noreferrer nofollow").strip()


def _check_scope(scope: str, by: Membership | None) -> None:
    if scope not in Scope.values:
        raise ValidationError({"scope": _("请选择有效的选项。")})
    common.require(by, "content.materials_shared" if scope == Scope.HQ else "content.materials")
    if scope == Scope.PERSONAL and by is None:
        raise ValidationError({"scope": _("个人素材需要指定所属成员。")})


def _own(material: Material, by: Membership | None) -> None:
    if material.scope == Scope.PERSONAL:
        if by is not None and material.owner_id != by.pk:
            raise PermissionDenied("not the owner of this personal material")
    else:
        common.require(by, "content.materials_shared")


def create_folder(org, *, name: str, scope: str, parent: MaterialFolder | None = None,
                  by: Membership | None) -> MaterialFolder:
    _check_scope(scope, by)
    return common.create_folder(MaterialFolder, org, name=name, scope=scope, parent=parent, by=by,
                                action="content.material_folder_created")


# Files ----------------------------------------------------------------------------------------------------------

def file_errors(upload, rule: tuple[tuple[str, ...], int], *, image: bool) -> str:
    """What is wrong with an uploaded file for ``rule`` (extensions, max bytes), or ""."""
    extensions, max_bytes = rule
    name = PurePath(upload.name or "").name
    if extensions and not name.lower().endswith(extensions):
        return _("文件类型不支持，只能上传 %(ext)s。") % {"ext": "、".join(e.lstrip(".") for e in extensions)}
    if upload.size < MIN_BYTES:
        return _("文件是空的。")
    if upload.size > max_bytes:
        return _("文件不能超过 %(mb)d MB（企业微信的上限）。") % {"mb": max_bytes // MB}
    upload.seek(0)
    head = upload.read(8)
    upload.seek(0)
    if image:
        try:
            with Image.open(upload) as picture:
                picture.verify()
                kind = picture.format
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            kind = None
        upload.seek(0)
        if kind not in ("JPEG", "PNG"):
            return _("不是有效的 JPG 或 PNG 图片。")
    elif name.lower().endswith(".pdf") and not head.startswith(b"%PDF-"):
        return _("不是有效的 PDF 文件。")
    elif name.lower().endswith(".mp4") and head[4:8] != b"ftyp":
        return _("不是有效的 MP4 视频。")
    return ""


# Saving ---------------------------------------------------------------------------------------------------------

def parse_tags(raw: str) -> list[str]:
    return list(dict.fromkeys(t for t in _TAG_SPLIT.split(raw or "") if t))


def _clean(org, material: Material, kind: str, data: dict, file, cover, by) -> dict[str, list[str]]:
    """Field → messages for ``data`` (and the uploads) as a ``kind`` material; empty when it may be saved."""
    errors: dict[str, list[str]] = {}
    title, summary = data["title"], data["summary"]

    def error(field, message):
        errors.setdefault(field, []).append(message)

    if not title:
        error("title", _("请填写标题。"))
    elif len(title) > MAX_TITLE:
        error("title", _("标题最多 %(max)d 个字。") % {"max": MAX_TITLE})
    elif kind in (Kind.LINK, Kind.ARTICLE) and attachments.byte_length(title) > attachments.LINK_TITLE_MAX_BYTES:
        error("title", _("链接标题最多 128 字节（约 42 个汉字）。"))
    elif kind == Kind.MINIPROGRAM and attachments.byte_length(title) > attachments.MINIPROGRAM_TITLE_MAX_BYTES:
        error("title", _("小程序标题最多 64 字节（约 21 个汉字）。"))
    if len(summary) > MAX_SUMMARY or attachments.byte_length(summary) > attachments.LINK_DESC_MAX_BYTES:
        error("summary", _("摘要最多 %(max)d 个字。") % {"max": MAX_SUMMARY})
    if kind == Kind.ARTICLE:
        if not strip_tags(data["body"]).strip() and "<img" not in data["body"]:
            error("body", _("请填写正文。"))
        elif len(data["body"]) > MAX_BODY:
            error("body", _("正文最多 %(max)d 个字符。") % {"max": MAX_BODY})
    if kind == Kind.LINK:
        if not data["url"]:
            error("url", _("请填写链接地址。"))
        elif not attachments.is_url(data["url"]):
            error("url", _("链接地址必须是 http(s) 开头的完整地址。"))
    if kind == Kind.MINIPROGRAM:
        if not attachments.APPID.match(data["appid"]):
            error("appid", _("小程序 AppID 格式不正确（wx 开头，共 18 位）。"))
        page = data["page"]
        if not page:
            error("page", _("请填写小程序页面路径。"))
        elif not page.split("?", 1)[0].endswith(".html"):
            error("page", _("小程序页面路径必须以 .html 结尾，例如 pages/index/index.html。"))
        elif len(page) > attachments.PAGE_MAX:
            error("page", _("小程序页面路径太长。"))
        if cover is None and not material.cover:
            error("cover", _("小程序卡片需要封面图。"))
    if kind in FILE_RULES:
        if file is None and not material.file:
            error("file", _("请上传文件。"))
        elif file is not None:
            problem = file_errors(file, FILE_RULES[kind], image=kind in (Kind.IMAGE, Kind.POSTER))
            if problem:
                error("file", problem)
    if cover is not None:
        if kind not in COVERED:
            error("cover", _("这类素材没有封面。"))
        else:
            problem = file_errors(cover, IMAGE_RULE, image=True)
            if problem:
                error("cover", problem)
    if kind == Kind.POSTER:
        left, top, size = data["qr_left"], data["qr_top"], data["qr_size"]
        if not 10 <= size <= 60:
            error("qr_size", _("二维码宽度应在背景宽度的 10%–60% 之间。"))
        elif left + size > 100:
            error("qr_left", _("二维码超出了背景右边缘。"))
        if not 0 <= top <= 95:
            error("qr_top", _("二维码上边距应在 0%–95% 之间。"))
    tags = data["tags"]
    if len(tags) > MAX_TAGS:
        error("tags", _("最多 %(max)d 个标签。") % {"max": MAX_TAGS})
    elif any(len(t) > MAX_TAG for t in tags):
        error("tags", _("每个标签最多 %(max)d 个字。") % {"max": MAX_TAG})
    if data["source"] not in Source.values:
        error("source", _("请选择来源与版权。"))
    elif data["source"] != Source.ORIGINAL and not data["source_text"]:
        error("source_text", _("授权或引用的素材必须写明出处或授权方。"))
    elif len(data["source_text"]) > MAX_SOURCE_TEXT:
        error("source_text", _("出处最多 %(max)d 个字。") % {"max": MAX_SOURCE_TEXT})
    folder = data["folder"]
    if folder is not None and (folder.org_id != getattr(org, "pk", org) or folder.scope != material.scope or (
            material.scope == Scope.PERSONAL and folder.owner_id != getattr(by, "pk", None))):
        error("folder", _("分组必须与素材属于同一范围。"))
    return errors


FIELDS = ("title", "summary", "body", "url", "appid", "page", "source", "source_text")


def save_material(org, *, material: Material | None = None, kind: str = "", scope: str = "", folder=None,
                  by: Membership | None, file=None, cover=None, tags: str = "", qr_left: int = 0, qr_top: int = 0,
                  qr_size: int = 0, qr_name: bool = False, **texts: str) -> Material:
    """Create a material or change one (it goes back to draft and is reviewed again). ``texts`` are the text fields
    of :data:`FIELDS`; ``file`` and ``cover`` are uploads (None keeps the stored one). A poster has its QR area
    (``qr_left``, ``qr_top``, ``qr_size``, in percent) and ``qr_name``: the guide's name printed under their code."""
    if material is not None:
        _own(material, by)
        kind, scope = material.kind, material.scope  # a material keeps its kind and scope
    elif kind not in Kind.values:
        raise ValidationError({"kind": _("请选择素材类型。")})
    _check_scope(scope, by)
    data = {name: (texts.get(name) or "").strip() for name in FIELDS}
    data["source"] = data["source"] or Source.ORIGINAL
    data.update(folder=folder, tags=parse_tags(tags), qr_left=qr_left or 0, qr_top=qr_top or 0, qr_size=qr_size or 0)
    if kind == Kind.ARTICLE:
        data["body"] = sanitize(data["body"])
    row = material or Material(org_id=getattr(org, "pk", org), kind=kind, scope=scope, created_by=common.actor(by),
                               owner=by if scope == Scope.PERSONAL else None)
    errors = _clean(org, row, kind, data, file, cover, by)
    if errors:
        raise ValidationError(errors)
    for name in FIELDS:
        setattr(row, name, data[name] if name in _fields_of(kind) else "")
    row.folder = folder
    row.tags = "," + ",".join(data["tags"]) + "," if data["tags"] else ""
    row.qr_left, row.qr_top, row.qr_size = (data["qr_left"], data["qr_top"], data["qr_size"]) \
        if kind == Kind.POSTER else (0, 0, 0)
    row.qr_name = bool(qr_name) and kind == Kind.POSTER
    row.status, row.review_comment, row.override_reason = Status.DRAFT, "", ""
    row.search_text = common.search_text(row.title, row.summary, " ".join(data["tags"]))
    with transaction.atomic():
        if file is not None:
            row.file_name, row.file_size = PurePath(file.name).name[:200], file.size
            row.file.save(file.name, file, save=False)
        if cover is not None:
            row.cover.save(cover.name, cover, save=False)
        action = "content.material_created" if row.pk is None else "content.material_changed"
        row.save()
        audit.record(action, org=org, actor=common.actor(by), obj=row, details={"title": row.title, "material_kind": kind})
    return row


def _fields_of(kind: str) -> set[str]:
    fields = {"title", "summary", "source", "source_text"}
    if kind == Kind.ARTICLE:
        fields.add("body")
    if kind == Kind.LINK:
        fields.add("url")
    if kind == Kind.MINIPROGRAM:
        fields |= {"appid", "page"}
    return fields


# Review ---------------------------------------------------------------------------------------------------------

def checked_text(material: Material) -> str:
    """The texts a customer reads, as the checker sees them: title, summary, the article's words, the source."""
    parts = [material.title, material.summary]
    if material.kind == Kind.ARTICLE:
        parts.append(strip_tags(material.body))
    return "\n".join(p for p in parts if p)


def review_findings(material: Material) -> list[compliance.Finding]:
    return compliance.check(checked_text(material), org=material.org_id)


def submit_for_review(material: Material, *, by: Membership | None) -> list[compliance.Finding]:
    _own(material, by)
    if material.status not in (Status.DRAFT, Status.REJECTED, Status.WITHDRAWN):
        raise ValidationError(_("只有草稿、被驳回或已下架的素材可以提交审核。"))
    findings = review_findings(material)
    with transaction.atomic():
        _move(material, Status.IN_REVIEW, submitted_at=timezone.now())
        audit.record("content.material_submitted", org=material.org_id, actor=common.actor(by), obj=material,
                     details={"title": material.title, "blocked": sum(f.blocks for f in findings)})
    return findings


def approve_material(material: Material, *, override_reason: str = "", by: Membership | None) -> Material:
    """Approve a material in review; blocked terms need ``override_reason``, audited with the terms it let through."""
    common.require(by, "content.review")
    if material.status != Status.IN_REVIEW:
        raise ValidationError(_("只有审核中的素材可以审核。"))
    override_reason = (override_reason or "").strip()
    if len(override_reason) > MAX_REASON:
        raise ValidationError({"override_reason": _("放行理由最多 %(max)d 个字。") % {"max": MAX_REASON}})
    blocked = [f.term for f in review_findings(material) if f.blocks]
    if blocked and not override_reason:
        raise ValidationError({"override_reason": _("含有禁止使用的词（%(terms)s），请修改后重新提交，或填写放行理由。")
                                                  % {"terms": "、".join(dict.fromkeys(blocked))}})
    with transaction.atomic():
        _move(material, Status.APPROVED, reviewed_by=common.actor(by), reviewed_at=timezone.now(),
              override_reason=override_reason if blocked else "", review_comment="")
        if blocked:
            audit.record("content.material_overridden", org=material.org_id, actor=common.actor(by), obj=material,
                         details={"title": material.title, "terms": "、".join(dict.fromkeys(blocked)),
                                  "reason": override_reason})
        audit.record("content.material_approved", org=material.org_id, actor=common.actor(by), obj=material,
                     details={"title": material.title})
        events.emit(material.org_id, APPROVED, material, {"overridden": bool(blocked)})
    return material


def reject_material(material: Material, *, comment: str, by: Membership | None) -> Material:
    common.require(by, "content.review")
    if material.status != Status.IN_REVIEW:
        raise ValidationError(_("只有审核中的素材可以审核。"))
    comment = (comment or "").strip()
    if not comment:
        raise ValidationError({"comment": _("驳回时请写明原因，作者据此修改。")})
    if len(comment) > Material._meta.get_field("review_comment").max_length:
        raise ValidationError({"comment": _("审核意见最多 500 个字。")})
    with transaction.atomic():
        _move(material, Status.REJECTED, reviewed_by=common.actor(by), reviewed_at=timezone.now(),
              review_comment=comment)
        audit.record("content.material_rejected", org=material.org_id, actor=common.actor(by), obj=material,
                     details={"title": material.title, "comment": comment})
    return material


def withdraw_material(material: Material, *, by: Membership | None) -> Material:
    """Take an approved material out of use: it can no longer be sent and its public page is gone."""
    common.require(by, "content.review")
    if material.status != Status.APPROVED:
        raise ValidationError(_("只有已通过的素材可以下架。"))
    with transaction.atomic():
        _move(material, Status.WITHDRAWN)
        audit.record("content.material_withdrawn", org=material.org_id, actor=common.actor(by), obj=material,
                     details={"title": material.title})
    return material


def _move(material: Material, status: str, **fields) -> None:
    common.move(material, status, _("素材状态已被他人修改，请刷新后重试。"), **fields)


# Reads ----------------------------------------------------------------------------------------------------------

def library(viewer: Membership):
    """Materials ``viewer`` sees in the console: HQ's (every state for those who keep or review them, approved for
    everyone else) and their own personal ones; another member's personal materials never."""
    return Material.objects.visible_to(viewer).filter(Q(scope=Scope.HQ) | Q(owner=viewer))


def sendable_by(viewer: Membership):
    """Materials ``viewer`` may send: approved ones, HQ's and their own."""
    return library(viewer).filter(status=Status.APPROVED)


def folders(viewer: Membership):
    return MaterialFolder.objects.visible_to(viewer).filter(Q(scope=Scope.HQ) | Q(owner=viewer))


def with_tag(rows, tag: str):
    return rows.filter(tags__contains=f",{tag.strip()},") if tag.strip() else rows


search = common.search


# Public address and attachment ----------------------------------------------------------------------------------

def token(material: Material) -> str:
    """The material's stable public id: its organization and pk, signed so nobody reaches a material by counting."""
    return _SIGNER.sign(f"{material.org_id}-{material.pk}")


def public(token_value: str) -> Material | None:
    """The approved material a public address names, or None (bad signature, gone, not approved)."""
    try:
        org_id, pk = (int(part) for part in _SIGNER.unsign(token_value).split("-"))
    except (signing.BadSignature, ValueError):
        return None
    return Material.objects.for_org(org_id).filter(pk=pk, status=Status.APPROVED).select_related("org").first()


def public_url(material: Material) -> str:
    return settings.PUBLIC_URL.rstrip("/") + reverse("content:material_public", args=[token(material)])


def file_url(material: Material, which: str = "file") -> str:
    """The public address of the material's file or cover, ending in its file name so WeCom sees its type."""
    stored = PurePath(getattr(material, which).name)
    base = settings.PUBLIC_URL.rstrip("/") + reverse("content:material_file", args=[token(material), which, "x"])
    url = base[:-1] + quote(PurePath(material.file_name).name if which == "file" and material.file_name else "")
    # WeCom's media_id field holds at most 128 characters: a long (or Chinese, percent-encoded) name gives way.
    return url if url != base[:-1] and len(url) <= attachments.MEDIA_ID_MAX else base[:-1] + which + stored.suffix


def to_attachment(material: Material) -> dict:
    """The WeCom attachment that sends ``material`` (:mod:`siyu.wecom.attachments`' shape). Files are named by
    their public address, which :mod:`siyu.wecom.media` uploads to WeCom once and again when the upload expires.
    Only an approved material can be sent."""
    if material.status != Status.APPROVED:
        raise ValidationError(_("只有审核通过的素材可以发送。"))
    flat = dict.fromkeys(attachments.FLAT_FIELDS, "")
    kind = material.kind
    if kind in (Kind.ARTICLE, Kind.LINK):
        flat.update(kind="link", title=material.title, desc=material.summary,
                    url=public_url(material) if kind == Kind.ARTICLE else material.url,
                    pic_url=file_url(material, "cover") if material.cover else "")
    elif kind == Kind.MINIPROGRAM:
        flat.update(kind="miniprogram", title=material.title, appid=material.appid, page=material.page,
                    media_id=file_url(material, "cover"))
    elif kind in (Kind.IMAGE, Kind.POSTER):
        flat.update(kind="image", pic_url=file_url(material))
    else:  # file, PDF, video
        flat.update(kind="video" if kind == Kind.VIDEO else "file", media_id=file_url(material))
    problems = attachments.errors(flat)
    if problems:
        raise ValidationError(problems)
    return attachments.unflatten(flat)
