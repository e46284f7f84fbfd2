"""Every change to segments: create, update, delete, refresh (membership history), export to Excel and sync to a
WeCom corp tag (both as jobs)."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from siyu.cdp.models import Person
from siyu.core import events, spreadsheets
from siyu.core.jobs import Progress, job_handler, register_job_result, start_job
from siyu.core.models import Job
from siyu.customers import tags as tag_services
from siyu.customers.bulk import export_dir
from siyu.customers.models import Relation, RelationTag, Tag, TagGroup
from siyu.customers.tagging import tag_relation, untag_relation
from siyu.orgs import audit
from siyu.orgs.models import Membership
from siyu.privacy import sealed
from siyu.privacy.masking import mask_name
from siyu.segments import rules
from siyu.segments.compiler import persons
from siyu.segments.models import Segment, SegmentMembership
from siyu.wecom.client import WeComClient
from siyu.wecom.errors import WeComError

log = logging.getLogger(__name__)

EXPORT = "segments.export"
EXPORT_CONTEXT = b"siyu.segments.export"
SYNC = "segments.sync_tag"
TAG_GROUP = "人群"  # the corp tag group segment tags are created in
CHUNK = 2000

REFRESHED = events.define_kind("segment.refreshed", gettext_lazy("人群已更新"))


def _require(by: Membership | None) -> None:
    if by is not None:
        by.require("segments.manage")


def check_rule(org, rule, *, segment: Segment | None = None) -> dict:
    """The rule normalized against the organization's tags, stages, staff, stores, groups, products and segments;
    ValidationError keyed ``rule.<path>`` otherwise."""
    try:
        return rules.validate(rule, vocabulary=rules.Vocabulary(org, exclude_segment=segment))
    except ValidationError as error:
        raise ValidationError({f"rule.{path}": messages for path, messages in error.message_dict.items()}) from None


def count_members(org, checked_rule: dict, *, now=None) -> int:
    """How many persons of the organization a rule that passed :func:`check_rule` selects right now (the builder's
    live count)."""
    return persons(org, checked_rule, now=now or timezone.now()).count()


def _clean_fields(org, *, name: str, description: str, refresh: str, segment: Segment | None) -> dict:
    name, description = (name or "").strip(), (description or "").strip()
    if not name:
        raise ValidationError({"name": _("请填写人群名称。")})
    if len(name) > 30:
        raise ValidationError({"name": _("人群名称最多 30 个字（企业微信标签名的上限）。")})
    if len(description) > 200:
        raise ValidationError({"description": _("说明最多 200 个字。")})
    if refresh not in Segment.Refresh.values:
        raise ValidationError({"refresh": _("请选择更新频率。")})
    same = Segment.objects.for_org(org).filter(name=name)
    if segment is not None:
        same = same.exclude(pk=segment.pk)
    if same.exists():
        raise ValidationError({"name": _("已有同名的人群。")})
    return {"name": name, "description": description, "refresh": refresh}


def create_segment(org, *, name: str, rule, description: str = "", refresh: str = Segment.Refresh.DAILY,
                   by: Membership | None) -> Segment:
    """Save a new segment and compute its members."""
    _require(by)
    fields = _clean_fields(org, name=name, description=description, refresh=refresh, segment=None)
    normalized = check_rule(org, rule)
    try:
        with transaction.atomic():
            segment = Segment.objects.create(org=org, rule=normalized, created_by=by.user if by else None, **fields)
            audit.record("segments.created", org=org, actor=by.user if by else None, obj=segment,
                         details={"name": segment.name, "conditions": rules.condition_count(normalized)})
    except IntegrityError:  # a concurrent save of the same name
        raise ValidationError({"name": _("已有同名的人群。")}) from None
    refresh_segment(segment)
    return segment


def update_segment(segment: Segment, *, name: str, rule, description: str = "", refresh: str, by: Membership | None) -> Segment:
    """Change a segment's name, rule or schedule; a changed rule recomputes the members at once."""
    _require(by)
    fields = _clean_fields(segment.org_id, name=name, description=description, refresh=refresh, segment=segment)
    normalized = check_rule(segment.org_id, rule, segment=segment)
    if segment.pk in rules.segment_ids(normalized):
        raise ValidationError({"rule": _("人群不能引用自己。")})
    changed_rule = normalized != segment.rule
    for key, value in fields.items():
        setattr(segment, key, value)
    segment.rule = normalized
    with transaction.atomic():
        segment.save()
        audit.record("segments.updated", org=segment.org_id, actor=by.user if by else None, obj=segment,
                     details={"conditions": rules.condition_count(normalized)} if changed_rule else {})
    if changed_rule:
        refresh_segment(segment)
    return segment


def referring_segments(segment: Segment) -> list[Segment]:
    return [other for other in Segment.objects.for_org(segment.org_id).exclude(pk=segment.pk)
            if segment.pk in rules.segment_ids(other.rule)]


def delete_segment(segment: Segment, *, by: Membership | None) -> None:
    """Delete a segment and its history; refused while another segment's rule refers to it."""
    _require(by)
    referring = referring_segments(segment)
    if referring:
        raise ValidationError(_("人群“%(names)s”引用了它，请先修改这些人群。") % {"names": "、".join(s.name for s in referring)})
    with transaction.atomic():
        audit.record("segments.deleted", org=segment.org_id, actor=by.user if by else None, obj=segment,
                     details={"members": segment.member_count})
        segment.delete()


# -- membership ---------------------------------------------------------------------------------------------
def refresh_segment(segment: Segment, *, now=None) -> dict:
    """Recompute the members: those newly selected enter (a new span), those no longer selected leave (their span
    closes). Returns ``{"entered", "left", "members"}``."""
    now = now or timezone.now()
    with transaction.atomic():
        # One refresh of a segment at a time: the lock orders concurrent refreshes (SQLite serializes writers).
        segment = Segment.objects.for_org(segment.org_id).select_for_update().get(pk=segment.pk)
        current = set(persons(segment.org_id, segment.rule, now=now).values_list("pk", flat=True))
        open_rows = dict(SegmentMembership.objects.for_org(segment.org_id).filter(segment=segment, left_at__isnull=True)
                         .values_list("person_id", "pk"))
        left = [pk for person_id, pk in open_rows.items() if person_id not in current]
        entered = sorted(current - open_rows.keys())
        for start in range(0, len(left), CHUNK):
            SegmentMembership.objects.for_org(segment.org_id).filter(pk__in=left[start:start + CHUNK]).update(left_at=now)
        SegmentMembership.objects.bulk_create(
            [SegmentMembership(org_id=segment.org_id, segment=segment, person_id=pk, entered_at=now) for pk in entered],
            batch_size=CHUNK)
        Segment.objects.for_org(segment.org_id).filter(pk=segment.pk).update(member_count=len(current), refreshed_at=now)
        result = {"entered": len(entered), "left": len(left), "members": len(current)}
        if entered or left:
            events.emit(segment.org_id, REFRESHED, segment, result)
    return result


def refresh_due(*, now=None) -> int:
    """Refresh every segment whose schedule says it is due: hourly ones every hour, daily ones once a day."""
    now = now or timezone.now()
    due = 0
    for segment in Segment.objects.exclude(refresh=Segment.Refresh.MANUAL).order_by("pk"):
        gap = timedelta(minutes=55) if segment.refresh == Segment.Refresh.HOURLY else timedelta(hours=23, minutes=55)
        if segment.refreshed_at is None or now - segment.refreshed_at >= gap:
            refresh_segment(segment, now=now)
            due += 1
    return due


def start_refresh(segment: Segment, *, by: Membership) -> dict:
    """Refresh now, on demand."""
    _require(by)
    result = refresh_segment(segment)
    audit.record("segments.refreshed", org=segment.org_id, actor=by.user, obj=segment, details=result)
    return result


def current_members(segment: Segment):
    """The persons in the segment now (whole brand: for jobs; views narrow with ``Person.visible_to``)."""
    return Person.objects.for_org(segment.org_id).filter(
        pk__in=SegmentMembership.objects.for_org(segment.org_id).filter(segment=segment, left_at__isnull=True)
        .values("person_id"))


# -- export ---------------------------------------------------------------------------------------------------
def export_path(job: Job) -> Path | None:
    name = (job.result or {}).get("file")
    if job.kind != EXPORT or not name or "/" in name or "\\" in name:
        return None
    path = export_dir(job.org_id) / name
    return path if path.exists() else None


def _job_segment(job: Job) -> tuple[Segment, Membership]:
    viewer = Membership.objects.for_org(job.org_id).select_related("user").filter(pk=job.params.get("viewer")).first()
    if viewer is None or not viewer.can("segments.manage"):
        raise PermissionDenied(_("发起人已无管理人群的权限。"))
    segment = Segment.objects.for_org(job.org_id).filter(pk=job.params.get("segment")).first()
    if segment is None:
        raise ValidationError(_("人群已被删除。"))
    return segment, viewer


def _start(segment: Segment, kind: str, title: str, action: str, by: Membership) -> Job:
    _require(by)
    job = start_job(org=segment.org, kind=kind, title=title, params={"segment": segment.pk, "viewer": by.pk}, by=by.user)
    audit.record(action, org=segment.org_id, actor=by.user, obj=job, details={"segment": segment.pk})
    return job


def start_export(segment: Segment, *, by: Membership) -> Job:
    """Queue an Excel export of the segment's current members."""
    return _start(segment, EXPORT, _("导出人群：%(name)s") % {"name": segment.name}, "segments.export_requested", by)


def export_header() -> list[str]:
    return [_("用户ID"), _("姓名"), _("客户昵称"), _("订单数"), _("累计消费"), _("最近下单"), _("R 分"), _("F 分"),
            _("M 分"), _("进入人群时间")]


def _export_rows(segment: Segment, *, show_names: bool, progress: Progress):
    spans = SegmentMembership.objects.for_org(segment.org_id).filter(segment=segment, left_at__isnull=True)
    last = 0
    while True:
        chunk = list(spans.filter(person_id__gt=last).order_by("person_id")
                     .select_related("person", "person__customer")[:CHUNK])
        if not chunk:
            return
        for span in chunk:
            person = span.person
            yield [person.pk, person.name if show_names else mask_name(person.name),
                   person.customer.name if person.customer_id else "", person.orders_count, person.total_spend,
                   person.last_order_at, person.r_score, person.f_score, person.m_score, span.entered_at]
        progress.advance(len(chunk))
        last = chunk[-1].person_id


@job_handler(EXPORT)
def run_export(job: Job, progress: Progress) -> dict:
    """Write the segment's members to an Excel file kept for whoever asked; names masked without ``pii.view``."""
    segment, viewer = _job_segment(job)
    show_names = viewer.can("pii.view")
    progress.set_total(segment.member_count)
    name = f"segment-{segment.pk}-{job.pk}-{secrets.token_hex(8)}.xlsx.enc"
    rows = list(_export_rows(segment, show_names=show_names, progress=progress))
    header = export_header()
    sealed.write_xlsx(export_dir(job.org_id) / name, header, rows, sheet=_("人群"),
                      widths=spreadsheets.measure(header, rows[:CHUNK]), context=EXPORT_CONTEXT)
    result = {"file": name, "rows": len(rows), "names_masked": not show_names}
    audit.record("segments.exported", org=job.org_id, actor=viewer.user, obj=job, details={**result, "segment": segment.pk})
    progress.job.message = _("已导出 %(n)d 人。") % {"n": len(rows)}
    return result


register_job_result(EXPORT, lambda job: reverse("segments:export_download", args=[job.pk]))


# -- sync to a WeCom corp tag ---------------------------------------------------------------------------------
def start_sync(segment: Segment, *, by: Membership) -> Job:
    """Queue the sync of the segment to its WeCom corp tag (created on first sync)."""
    return _start(segment, SYNC, _("同步人群到企业微信标签：%(name)s") % {"name": segment.name}, "segments.sync_requested", by)


def _segment_tag(segment: Segment, by, client) -> Tag:
    """The segment's corp tag: the one it has, an existing tag of its name in the 人群 group, or a new one (WeCom
    first, outside any transaction, through the tag services)."""
    tag = segment.wecom_tag
    if tag is not None and not tag.deleted and tag.wecom_id:
        return tag
    group = TagGroup.objects.for_org(segment.org_id).filter(name=TAG_GROUP, deleted=False).exclude(wecom_id="").first()
    tag = None
    if group is not None:
        tag = Tag.objects.for_org(segment.org_id).filter(group=group, name=segment.name, deleted=False).exclude(wecom_id="").first()
        if tag is None:
            tag = tag_services.add_tags(group, [segment.name], by=by, client=client)[0]
    else:
        group = tag_services.create_tag_group(segment.org, name=TAG_GROUP, tags=[segment.name], by=by, client=client)
        tag = Tag.objects.for_org(segment.org_id).get(group=group, name=segment.name, deleted=False)
    Segment.objects.for_org(segment.org_id).filter(pk=segment.pk).update(wecom_tag=tag)
    segment.wecom_tag = tag
    return tag


@job_handler(SYNC)
def run_sync(job: Job, progress: Progress) -> dict:
    """Members' active relations get the tag (``mark_tag`` per relation, as WeCom marks tags per staff member);
    relations of people who are no longer members lose it. Each WeCom call is made outside any transaction; a
    relation WeCom refuses is counted and reported, the others go on."""
    segment, viewer = _job_segment(job)
    org_id = segment.org_id
    members = current_members(segment).filter(customer__isnull=False).values("customer_id")
    with WeComClient.for_org(org_id) as client:
        tag = _segment_tag(segment, viewer.user, client)
        holders = RelationTag.objects.for_org(org_id).filter(tag=tag)
        joining = list(Relation.objects.for_org(org_id).filter(status=Relation.Status.ACTIVE, customer_id__in=members)
                       .exclude(pk__in=holders.values("relation_id")).select_related("staff", "customer", "org"))
        leaving = list(Relation.objects.for_org(org_id).filter(pk__in=holders.values("relation_id"))
                       .exclude(customer_id__in=members).select_related("staff", "customer", "org"))
        progress.set_total(len(joining) + len(leaving))
        done = {"tag": 0, "untag": 0}
        failed = 0
        source_ref = f"segment:{segment.pk}"
        for relations, change in ((joining, "tag"), (leaving, "untag")):
            for relation in relations:
                try:
                    if change == "tag":
                        tag_relation(relation, [tag], source=RelationTag.Source.SEGMENT, source_ref=source_ref,
                                     actor=viewer.user, client=client)
                    else:
                        untag_relation(relation, [tag], source=RelationTag.Source.SEGMENT, actor=viewer.user,
                                       client=client)
                    done[change] += 1
                except (WeComError, ValidationError) as error:
                    failed += 1
                    log.warning("segment %s: %s of relation %s refused: %s", segment.pk, change, relation.pk, error)
                progress.advance()
    Segment.objects.for_org(org_id).filter(pk=segment.pk).update(synced_at=timezone.now())
    result = {"tag": tag.name, "tagged": done["tag"], "untagged": done["untag"], "failed": failed}
    audit.record("segments.synced", org=org_id, actor=viewer.user, obj=segment, details=result)
    progress.job.message = _("已打标签 %(tagged)d 个好友关系，移除 %(untagged)d 个，失败 %(failed)d 个。") % result
    return result
