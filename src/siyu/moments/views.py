"""The moments console (消息触达 → 客户朋友圈): list, compose and edit a draft, its dry run, schedule, cancel, and
the results page per staff member."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from siyu.console.access import requires
from siyu.console.forms import attach_service_errors
from siyu.console.paging import paginate
from siyu.customers.models import Tag
from siyu.moments import checks, services
from siyu.moments.forms import MomentForm, SettingsForm, initial_of
from siyu.moments.models import Moment, MomentMedia, Reaction, StaffResult
from siyu.orgs.models import Staff


def _moment(request, pk: int) -> Moment:
    return get_object_or_404(Moment.objects.visible_to(request.membership), pk=pk)


@requires("moments.manage")
@require_http_methods(["GET"])
def list_view(request):
    viewer = request.membership
    page = paginate(request, Moment.objects.visible_to(viewer).order_by("-created_at", "-pk"))
    settings_form = None
    if viewer.can("moments.settings"):
        settings_form = SettingsForm(initial={"promotional_per_day": checks.settings_of(viewer.org_id).promotional_per_day})
    return render(request, "moments/list.html", {"page": page, "settings_form": settings_form})


@requires("moments.settings")
@require_http_methods(["POST"])
def settings_view(request):
    viewer = request.membership
    form = SettingsForm(request.POST)
    if form.is_valid():
        try:
            services.save_settings(viewer.org, by=viewer, **form.cleaned_data)
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            messages.success(request, _("朋友圈设置已保存。"))
            return redirect("moments:list")
    page = paginate(request, Moment.objects.visible_to(viewer).order_by("-created_at", "-pk"))
    return render(request, "moments/list.html", {"page": page, "settings_form": form}, status=400)


@requires("moments.manage")
@require_http_methods(["GET", "POST"])
def new_view(request):
    viewer = request.membership
    form = MomentForm(request.POST or None, request.FILES or None, viewer=viewer)
    if form.is_valid():
        try:
            moment = services.create_moment(viewer.org, by=viewer, **form.service_fields(keep_files=False))
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            messages.success(request, _("草稿已保存，请查看试算结果后发布。"))
            return redirect("moments:detail", moment.pk)
    return render(request, "moments/form.html", {"form": form, "moment": None}, status=400 if form.is_bound else 200)


@requires("moments.manage")
@require_http_methods(["GET", "POST"])
def edit_view(request, pk: int):
    viewer = request.membership
    moment = _moment(request, pk)
    if not moment.editable:
        messages.error(request, _("只有草稿可以修改。"))
        return redirect("moments:detail", moment.pk)
    form = MomentForm(request.POST or None, request.FILES or None, viewer=viewer, initial=initial_of(moment))
    if form.is_valid():
        try:
            services.update_moment(moment, by=viewer, **form.service_fields(keep_files=True))
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            messages.success(request, _("草稿已保存，请查看试算结果后发布。"))
            return redirect("moments:detail", moment.pk)
    return render(request, "moments/form.html", {"form": form, "moment": moment}, status=400 if form.is_bound else 200)


def _detail_context(request, moment: Moment, errors=None) -> dict:
    viewer = request.membership
    return {
        "moment": moment,
        "media": MomentMedia.objects.visible_to(viewer).filter(moment=moment).defer("data"),
        "tags": Tag.objects.visible_to(viewer).filter(pk__in=moment.tag_ids).order_by("name"),
        "staff": Staff.objects.visible_to(viewer).filter(pk__in=moment.staff_ids).order_by("name", "userid"),
        "dry": checks.dry_run(moment) if moment.editable else None,
        "can_cancel": services.can_cancel(moment),
        "errors": errors or [],
    }


@requires("moments.manage")
@require_http_methods(["GET"])
def detail_view(request, pk: int):
    return render(request, "moments/detail.html", _detail_context(request, _moment(request, pk)))


@requires("moments.manage")
@require_http_methods(["POST"])
def schedule_view(request, pk: int):
    moment = _moment(request, pk)
    try:
        services.schedule_moment(moment, by=request.membership)
    except ValidationError as error:
        moment.refresh_from_db()
        return render(request, "moments/detail.html", _detail_context(request, moment, error.messages), status=400)
    messages.success(request, _("朋友圈已提交发布。"))
    return redirect("moments:detail", moment.pk)


@requires("moments.manage")
@require_http_methods(["POST"])
def cancel_view(request, pk: int):
    moment = _moment(request, pk)
    try:
        services.cancel_moment(moment, by=request.membership)
    except ValidationError as error:
        return render(request, "moments/detail.html", _detail_context(request, moment, error.messages), status=400)
    messages.success(request, _("朋友圈已取消。"))
    return redirect("moments:detail", moment.pk)


@requires("moments.manage")
@require_http_methods(["GET"])
def results_view(request, pk: int):
    viewer = request.membership
    moment = _moment(request, pk)
    rows = list(StaffResult.objects.visible_to(viewer).filter(moment=moment).select_related("staff"))
    totals = {name: sum(getattr(r, name) for r in rows) for name in ("audience", "visible", "likes", "comments")}
    totals["published"] = sum(r.published for r in rows)
    reactions = Reaction.objects.visible_to(viewer).filter(moment=moment).count()
    return render(request, "moments/results.html", {"moment": moment, "rows": rows, "totals": totals,
                                                    "reactions": reactions})


@requires("moments.manage")
@require_http_methods(["GET"])
def media_view(request, pk: int, media_pk: int):
    item = get_object_or_404(MomentMedia.objects.visible_to(request.membership), pk=media_pk, moment_id=pk)
    response = HttpResponse(bytes(item.data), content_type=item.content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response
