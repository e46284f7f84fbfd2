"""Console pages for segments (人群): the list, the builder with its live count, the detail with members and their
history, and the refresh / export / sync actions."""

from __future__ import annotations

import json
from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from siyu.cdp.models import Event, Person, Product
from siyu.console.access import requires
from siyu.console.paging import paginate
from siyu.core import spreadsheets
from siyu.core.models import Job
from siyu.customers.models import Tag
from siyu.groups.models import CustomerGroup
from siyu.lifecycle.models import Stage
from siyu.orgs import audit
from siyu.orgs.models import Staff, Store
from siyu.privacy import sealed
from siyu.privacy.masking import mask_name
from siyu.segments import queries, rules, services
from siyu.segments.forms import SegmentForm
from siyu.segments.models import Segment, SegmentMembership

EXAMPLES = 8


def _segments(request):
    return Segment.objects.visible_to(request.membership)


def _vocabulary(request, segment: Segment | None) -> dict:
    """What the builder's pickers offer, all read as the member may see them."""
    viewer = request.membership
    tags = (Tag.objects.visible_to(viewer).filter(deleted=False, kind=Tag.Kind.CORP).select_related("group")
            .order_by("group__order", "group_id", "-order", "pk"))
    since = timezone.now() - timedelta(days=90)
    names = (Event.objects.visible_to(viewer).filter(type=Event.Type.TRACK, timestamp__gte=since)
             .order_by().values_list("name", flat=True).distinct()[:200])
    keys = set()
    for traits in Person.objects.visible_to(viewer).exclude(traits={}).order_by("-pk").values_list("traits", flat=True)[:500]:
        keys.update(k for k in traits if rules.field_kind(rules.TRAIT_PREFIX + k) == "custom")
    return {
        "tags": [{"id": t.pk, "name": t.name, "group": t.group.name if t.group_id else ""} for t in tags],
        "stages": [{"id": s.pk, "name": s.name} for s in Stage.objects.visible_to(viewer)],
        "staff": [{"id": s.pk, "name": s.name or s.userid} for s in Staff.objects.visible_to(viewer).order_by("name", "pk")],
        "stores": [{"id": s.pk, "name": s.name} for s in Store.objects.visible_to(viewer).order_by("code")],
        "groups": [{"id": g.pk, "name": g.name or g.chat_id} for g in CustomerGroup.objects.visible_to(viewer).order_by("name", "pk")],
        "products": [{"id": p.pk, "name": p.name} for p in Product.objects.visible_to(viewer)],
        "segments": [{"id": s.pk, "name": s.name} for s in _segments(request).exclude(pk=getattr(segment, "pk", None))],
        "events": sorted(set(names)),
        "traits": sorted(keys),
    }


def _examples(request, rule: dict) -> list[dict]:
    people = (queries.matching_visible_to(request.membership, rule).select_related("customer")
              .order_by("-last_seen_at", "-pk")[:EXAMPLES])
    show = request.membership.can("pii.view")
    return [{"id": p.pk, "name": (p.customer.name if p.customer_id else "") or (p.name if show else mask_name(p.name))
             or f"#{p.pk}", "orders": p.orders_count, "spend": str(p.total_spend)} for p in people]


@requires("segments.manage")
@require_POST
def segment_count(request):
    """The builder's live count: ``{"count", "examples"}``, or ``{"count": null, "errors"}`` with the rule's errors by
    field path while the rule is still incomplete (an answer the builder expects, not a failed request: a new
    builder starts with an empty condition); 400 only for a body that is not JSON."""
    try:
        rule = json.loads(request.body or b"{}").get("rule")
    except (ValueError, AttributeError):
        return JsonResponse({"errors": {"rule": [_("条件无法读取。")]}}, status=400)
    try:
        normalized = services.check_rule(request.membership.org, rule)
        count = services.count_members(request.membership.org, normalized)
    except ValidationError as error:
        return JsonResponse({"count": None, "examples": [], "errors": error.message_dict})
    return JsonResponse({"count": count, "examples": _examples(request, normalized)})


@requires("segments.manage")
def segment_list(request):
    page = paginate(request, _segments(request).select_related("wecom_tag"))
    return render(request, "segments/list.html", {"page": page})


def _builder(request, segment: Segment | None):
    form = SegmentForm(request.POST or None, initial={
        "name": segment.name, "description": segment.description, "refresh": segment.refresh,
        "rule": json.dumps(segment.rule, ensure_ascii=False)} if segment else {"rule": ""})
    status = 200
    rule_errors = {}
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                if segment is None:
                    segment = services.create_segment(request.membership.org, name=data["name"], rule=data["rule"],
                                                      description=data["description"], refresh=data["refresh"],
                                                      by=request.membership)
                    messages.success(request, _("已保存人群“%(name)s”。") % {"name": segment.name})
                else:
                    services.update_segment(segment, name=data["name"], rule=data["rule"], description=data["description"],
                                            refresh=data["refresh"], by=request.membership)
                    messages.success(request, _("已更新人群“%(name)s”。") % {"name": segment.name})
                return redirect("segments:detail", segment.pk)
            except ValidationError as error:
                details = error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}
                for key, found in details.items():
                    if key.startswith("rule"):
                        rule_errors[key] = found
                        continue
                    for message in found:
                        form.add_error(key if key in form.fields else None, message)
                if rule_errors:
                    form.add_error(None, _("条件有误，请按提示修改。"))
        status = 400
    return render(request, "segments/builder.html", {
        "form": form, "segment": segment, "vocabulary": _vocabulary(request, segment), "rule_errors": rule_errors,
        "initial_rule": form["rule"].value() or "",
    }, status=status)


@requires("segments.manage")
def segment_new(request):
    return _builder(request, None)


@requires("segments.manage")
def segment_edit(request, pk: int):
    return _builder(request, get_object_or_404(_segments(request), pk=pk))


@requires("segments.manage")
def segment_detail(request, pk: int):
    segment = get_object_or_404(_segments(request).select_related("wecom_tag"), pk=pk)
    inside = SegmentMembership.objects.visible_to(request.membership).filter(segment=segment, left_at__isnull=True)
    members = paginate(request, Person.objects.visible_to(request.membership).filter(pk__in=inside.values("person_id"))
                       .select_related("customer").order_by("-pk"))
    show = request.membership.can("pii.view")
    for person in members:
        person.shown_name = (person.customer.name if person.customer_id else "") or (
            person.name if show else mask_name(person.name)) or f"#{person.pk}"
    history = (SegmentMembership.objects.visible_to(request.membership).filter(segment=segment)
               .filter(person_id__in=Person.objects.visible_to(request.membership).values("pk"))
               .select_related("person", "person__customer").order_by("-entered_at", "-pk")[:30])
    jobs = Job.objects.visible_to(request.membership).filter(
        created_by=request.user, kind__in=[services.EXPORT, services.SYNC]).order_by("-pk")[:5]
    return render(request, "segments/detail.html", {"segment": segment, "members": members, "page": members,
                                                    "history": history, "jobs": jobs})


@requires("segments.manage")
@require_POST
def segment_refresh(request, pk: int):
    segment = get_object_or_404(_segments(request), pk=pk)
    result = services.start_refresh(segment, by=request.membership)
    messages.success(request, _("已更新：%(members)d 人，新进入 %(entered)d 人，离开 %(left)d 人。") % result)
    return redirect("segments:detail", segment.pk)


def _start_job(request, pk: int, start, message: str):
    segment = get_object_or_404(_segments(request), pk=pk)
    start(segment, by=request.membership)
    messages.success(request, message)
    return redirect("segments:detail", segment.pk)


@requires("segments.manage")
@require_POST
def segment_export(request, pk: int):
    return _start_job(request, pk, services.start_export, _("已开始导出，完成后可在本页下载。"))


@requires("segments.manage")
@require_POST
def segment_sync(request, pk: int):
    return _start_job(request, pk, services.start_sync, _("已开始同步到企业微信标签。"))


@requires("segments.manage")
@require_POST
def segment_delete(request, pk: int):
    segment = get_object_or_404(_segments(request), pk=pk)
    try:
        services.delete_segment(segment, by=request.membership)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("segments:detail", segment.pk)
    messages.success(request, _("已删除人群。"))
    return redirect("segments:list")


@requires("segments.manage")
def export_download(request, pk: int):
    """The Excel file of a finished export, to the member who asked for it; every download is audited."""
    job = get_object_or_404(Job.objects.visible_to(request.membership).filter(
        created_by=request.user, kind=services.EXPORT, status=Job.Status.SUCCEEDED), pk=pk)
    path = services.export_path(job)
    if path is None:
        raise Http404("export file is gone")
    audit.record("segments.export_downloaded", org=job.org_id, actor=request.user, obj=job,
                 details={"rows": job.result.get("rows")})
    return sealed.download(path, context=services.EXPORT_CONTEXT, filename=f"segment-{job.pk}.xlsx",
                           content_type=spreadsheets.CONTENT_TYPE)
