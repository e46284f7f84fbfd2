"""Every change to a moment: composing and editing a draft, scheduling it past the checks, cancelling it, and the
brand's moment settings. Bad input is a field-level ValidationError and nothing is written."""

from __future__ import annotations

import io
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from siyu.core import clock, durable
from siyu.customers.models import Tag
from siyu.moments import checks
from siyu.moments.models import Moment, MomentMedia, MomentPublish, MomentSettings
from siyu.orgs import audit
from siyu.orgs.models import Staff
from siyu.wecom import attachments as wecom_attachments

Kind = Moment.Kind
Status = Moment.Status
# WeCom's rules for add_moment_task (reference §3.10) and upload_attachment (DOC 95098: images jpg/png and videos
# mp4, each at most 10 MB).
TEXT_MAX_CHARS = 2000
MAX_IMAGES = 9
MAX_FILE_BYTES = 10 * 1024 * 1024
IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}


@dataclass(frozen=True)
class Upload:
    """A file the operator chose: its name, and its bytes."""

    filename: str
    data: bytes


def _image_type(upload: Upload) -> str | None:
    try:
        with Image.open(io.BytesIO(upload.data)) as image:
            return IMAGE_FORMATS.get(image.format or "")
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def _is_mp4(upload: Upload) -> bool:
    # An MP4 (ISO base media) file opens with a box whose type, bytes 4 to 8, is "ftyp".
    return upload.data[4:8] == b"ftyp" and upload.filename.lower().endswith(".mp4")


def _clean_files(kind: str, files: list[Upload], errors: dict) -> list[tuple[str, str, Upload]]:
    """``files`` as ``(media kind, content type, upload)``, or errors under ``files``."""
    too_big = [f.filename for f in files if len(f.data) > MAX_FILE_BYTES]
    if too_big:
        errors["files"] = _("文件超过 10MB：%(names)s") % {"names": "、".join(too_big)}
        return []
    if kind == Kind.VIDEO:
        if len(files) != 1 or not _is_mp4(files[0]):
            errors["files"] = _("视频朋友圈需要上传一个 MP4 视频。")
            return []
        return [(MomentMedia.Kind.VIDEO, "video/mp4", files[0])]
    cleaned = []
    for upload in files:
        content_type = _image_type(upload)
        if content_type is None:
            errors["files"] = _("“%(name)s”不是 JPG 或 PNG 图片。") % {"name": upload.filename}
            return []
        cleaned.append((MomentMedia.Kind.IMAGE, content_type, upload))
    if kind == Kind.IMAGES and not 1 <= len(cleaned) <= MAX_IMAGES:
        errors["files"] = _("图片朋友圈需要 1 到 9 张图片。")
    elif kind == Kind.LINK and len(cleaned) != 1:
        errors["files"] = _("链接朋友圈需要一张封面图片。")
    elif kind == Kind.TEXT and cleaned:
        errors["files"] = _("纯文字朋友圈不能带附件，请选择图片、视频或链接。")
    return cleaned


def _clean_ids(org_id: int, tag_ids, staff_ids, errors: dict) -> tuple[list[int], list[int]]:
    try:
        tags = sorted({int(t) for t in tag_ids or []})
        staff = sorted({int(s) for s in staff_ids or []})
    except (TypeError, ValueError):
        errors["tags"] = _("标签或员工格式不正确。")
        return [], []
    known_tags = Tag.objects.for_org(org_id).filter(pk__in=tags, kind=Tag.Kind.CORP, deleted=False).exclude(wecom_id="")
    if known_tags.count() != len(tags):
        errors["tags"] = _("请选择企业微信中存在的企业标签。")
    known_staff = Staff.objects.for_org(org_id).filter(pk__in=staff, status=Staff.Status.ACTIVE)
    if known_staff.count() != len(staff):
        errors["staff"] = _("请选择在职员工。")
    return tags, staff


def _clean(org_id: int, *, text, kind, files, link_title, link_url, tag_ids, staff_ids, scheduled_at,
           keep_media: list[MomentMedia] | None) -> tuple[dict, list | None]:
    errors: dict[str, str] = {}
    text = (text or "").strip()
    if kind not in Kind.values:
        errors["kind"] = _("请选择附件类型。")
        kind = Kind.TEXT
    if len(text) > TEXT_MAX_CHARS:
        errors["text"] = _("内容最多 %(n)s 个字。") % {"n": TEXT_MAX_CHARS}
    media = None
    if files is not None:
        media = _clean_files(kind, list(files), errors)
    elif keep_media is not None and kind != Kind.TEXT:
        # Editing without new files keeps the old ones: they must still fit the chosen kind.
        kinds = {m.kind for m in keep_media}
        fits = {Kind.IMAGES: kinds == {MomentMedia.Kind.IMAGE}, Kind.LINK: kinds == {MomentMedia.Kind.IMAGE} and len(keep_media) == 1,
                Kind.VIDEO: kinds == {MomentMedia.Kind.VIDEO}}[kind]
        if not fits:
            errors["files"] = _("请重新上传符合类型的文件。")
    link_title = (link_title or "").strip()
    link_url = (link_url or "").strip()
    if kind == Kind.LINK:
        if not link_title:
            errors["link_title"] = _("请填写链接标题。")
        elif wecom_attachments.byte_length(link_title) > wecom_attachments.LINK_TITLE_MAX_BYTES:
            errors["link_title"] = _("链接标题过长。")
        if not wecom_attachments.is_url(link_url):
            errors["link_url"] = _("请填写以 http:// 或 https:// 开头的链接地址。")
    else:
        link_title = link_url = ""
    if kind == Kind.TEXT and not text:
        errors["text"] = _("内容和附件不能都为空。")
    if scheduled_at is not None and scheduled_at < clock.now():
        errors["scheduled_at"] = _("发布时间不能早于现在。")
    tags, staff = _clean_ids(org_id, tag_ids, staff_ids, errors)
    fields = {"text": text, "kind": kind, "link_title": link_title, "link_url": link_url, "tag_ids": tags,
              "staff_ids": staff, "scheduled_at": scheduled_at}
    if errors:
        raise ValidationError(errors)
    return fields, media


def _store_media(moment: Moment, media) -> None:
    MomentMedia.objects.for_org(moment.org_id).filter(moment=moment).delete()
    MomentMedia.objects.bulk_create([
        MomentMedia(org_id=moment.org_id, moment=moment, position=n, kind=kind, content_type=content_type,
                    filename=upload.filename[:200], data=upload.data)
        for n, (kind, content_type, upload) in enumerate(media)])


def create_moment(org, *, by, text: str = "", kind: str = Kind.TEXT, files=(), link_title: str = "",
                  link_url: str = "", tag_ids=(), staff_ids=(), promotional: bool = False, scheduled_at=None) -> Moment:
    """A draft moment; ``files`` are :class:`Upload` s (images, one video, or a link's cover)."""
    if by is not None:
        by.require("moments.manage")
    org_id = getattr(org, "pk", org)
    fields, media = _clean(org_id, text=text, kind=kind, files=files, link_title=link_title, link_url=link_url,
                           tag_ids=tag_ids, staff_ids=staff_ids, scheduled_at=scheduled_at, keep_media=None)
    with transaction.atomic():
        moment = Moment.objects.create(org_id=org_id, promotional=bool(promotional),
                                       created_by=getattr(by, "user", None), **fields)
        _store_media(moment, media)
        audit.record("moments.created", org=org_id, actor=getattr(by, "user", None), obj=moment,
                     details={"moment_kind": moment.kind, "promotional": moment.promotional})
    return moment


def update_moment(moment: Moment, *, by, text: str = "", kind: str = Kind.TEXT, files=None, link_title: str = "",
                  link_url: str = "", tag_ids=(), staff_ids=(), promotional: bool = False, scheduled_at=None) -> Moment:
    """Edit a draft; ``files`` None keeps its media."""
    if by is not None:
        by.require("moments.manage")
    keep = list(MomentMedia.objects.for_org(moment.org_id).filter(moment=moment)) if files is None else None
    fields, media = _clean(moment.org_id, text=text, kind=kind, files=files, link_title=link_title,
                           link_url=link_url, tag_ids=tag_ids, staff_ids=staff_ids, scheduled_at=scheduled_at,
                           keep_media=keep)
    with transaction.atomic():
        locked = Moment.objects.for_org(moment.org_id).select_for_update().get(pk=moment.pk)
        if not locked.editable:
            raise ValidationError({"status": _("只有草稿可以修改。")})
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.promotional = bool(promotional)
        locked.save()
        if media is not None:
            _store_media(locked, media)
        elif locked.kind == Kind.TEXT:
            MomentMedia.objects.for_org(locked.org_id).filter(moment=locked).delete()
        audit.record("moments.updated", org=locked.org_id, actor=getattr(by, "user", None), obj=locked,
                     details={"moment_kind": locked.kind, "promotional": locked.promotional})
    return locked


def schedule_moment(moment: Moment, *, by) -> Moment:
    """Queue the draft for its time (now when none). Refused, with nothing changed, when the content has blocked
    words (named) or when a promotional post would exceed the brand's promotional posts that day."""
    if by is not None:
        by.require("moments.manage")
    with transaction.atomic():
        # The brand's settings row serializes schedulers, so two posts cannot both take the day's last place.
        MomentSettings.objects.for_org(moment.org_id).get_or_create(org_id=moment.org_id)
        MomentSettings.objects.for_org(moment.org_id).select_for_update().get()
        locked = Moment.objects.for_org(moment.org_id).select_for_update().get(pk=moment.pk)
        if locked.status != Status.DRAFT:
            raise ValidationError({"status": _("只有草稿可以发布。")})
        dry = checks.dry_run(locked)
        errors = {}
        if locked.scheduled_at is not None and locked.scheduled_at < clock.now():
            errors["scheduled_at"] = _("发布时间已过，请修改后再发布。")
        if dry.content_blocked:
            words = "、".join(dict.fromkeys(f.term for f in dry.findings if f.blocks))
            errors["text"] = _("内容含禁用词：%(words)s") % {"words": words}
        if dry.over_cap:
            errors["promotional"] = _("当天已有 %(n)s 条营销朋友圈，达到每天 %(limit)s 条的上限。") % {
                "n": len(dry.promotional_today), "limit": dry.promotional_limit}
        if errors:
            raise ValidationError(errors)
        locked.status, locked.publish_at = Status.SCHEDULED, dry.at
        locked.save(update_fields=["status", "publish_at"])
        MomentPublish.objects.create(org_id=locked.org_id, moment=locked, due_at=dry.at,
                                     idempotency_key=f"moment:{locked.pk}")
        audit.record("moments.scheduled", org=locked.org_id, actor=getattr(by, "user", None), obj=locked,
                     details={"promotional": locked.promotional})
    return locked


def can_cancel(moment: Moment) -> bool:
    """Until every member published it: WeCom's cancel stops the members who have not."""
    return moment.status in (Status.DRAFT, Status.SCHEDULED, Status.PUBLISHING)


def cancel_moment(moment: Moment, *, by) -> Moment:
    """Stop the moment: a schedule never runs, and a WeCom task members have not all published is cancelled
    (``cancel_moment_task``); copies already published stay."""
    from siyu.moments import publish

    if by is not None:
        by.require("moments.manage")
    with transaction.atomic():
        locked = Moment.objects.for_org(moment.org_id).select_for_update().get(pk=moment.pk)
        if not can_cancel(locked):
            raise ValidationError({"status": _("已发布、已失败或已取消的朋友圈不能取消。")})
        locked.status = Status.CANCELLED
        locked.save(update_fields=["status"])
        if locked.call_state == Moment.CallState.NEW:
            # Once the call may have been made, the publishing row carries on: it learns the moment id and stops
            # the WeCom task (publish._published_or_cancelled).
            for row in MomentPublish.objects.for_org(locked.org_id).filter(moment=locked):
                durable.cancel(row)
        audit.record("moments.cancelled", org=locked.org_id, actor=getattr(by, "user", None), obj=locked,
                     details={"moment_kind": locked.kind})
    if locked.moment_id:
        publish.cancel_in_wecom(locked)
    return locked


def save_settings(org, *, by, promotional_per_day) -> MomentSettings:
    """The brand's moment settings (HQ)."""
    if by is not None:
        by.require("moments.settings")
    org_id = getattr(org, "pk", org)
    try:
        value = int(promotional_per_day)
    except (TypeError, ValueError):
        value = -1
    if not 1 <= value <= 20:
        raise ValidationError({"promotional_per_day": _("请填写 1 到 20 之间的整数。")})
    with transaction.atomic():
        row, _created = MomentSettings.objects.for_org(org_id).get_or_create(org_id=org_id)
        row.promotional_per_day = value
        row.save(update_fields=["promotional_per_day", "updated_at"])
        audit.record("moments.settings_saved", org=org_id, actor=getattr(by, "user", None), obj=row,
                     details={"promotional_per_day": value})
    return row
