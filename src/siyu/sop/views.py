"""The console's SOP pages: the list, the editor, the calendar of what is due, the completion report."""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from siyu.console.access import requires
from siyu.console.forms import attach_service_errors
from siyu.core import clock
from siyu.sop import queries, services
from siyu.sop.forms import SopForm, StepFormSet, approved_materials, approved_scripts, variable_help
from siyu.sop.models import Sop, SopRun, SopStep

CALENDAR_DAYS = {"week": 7, "month": 35}


@requires("sop.manage")
def sop_list(request):
    viewer = request.membership
    sops = (Sop.objects.visible_to(viewer)
            .annotate(step_count=Count("steps", filter=Q(steps__retired=False), distinct=True),
                      active_runs=Count("runs", filter=Q(runs__status=SopRun.Status.ACTIVE), distinct=True))
            .order_by("-is_active", "-created_at"))
    return render(request, "sop/list.html", {"sops": sops})


def _initial(sop: Sop | None, viewer) -> tuple[dict, list[dict]]:
    if sop is None:
        return {}, []
    initial = {"name": sop.name, "trigger": sop.trigger, "trigger_tag": sop.trigger_tag_id,
               "trigger_stage": sop.trigger_stage_id, "trigger_date": sop.trigger_date,
               "condition_tags": sop.condition_tag_ids, "condition_segment": sop.condition_segment_id}
    steps = [{"day_offset": s.day_offset, "time_of_day": s.time_of_day, "script": s.script_id, "text": s.text,
              "material": s.material_id, **_link(s.attachments)} for s in SopStep.objects.visible_to(viewer).filter(sop=sop, retired=False)]
    return initial, steps


def _link(attachments: list[dict]) -> dict:
    link = next((a["link"] for a in attachments if a.get("msgtype") == "link"), None)
    return {"link_title": link["title"], "link_url": link["url"]} if link else {}


@requires("sop.manage")
@require_http_methods(["GET", "POST"])
def sop_edit(request, pk: int | None = None):
    viewer = request.membership
    sop = get_object_or_404(Sop.objects.visible_to(viewer), pk=pk) if pk else None
    initial, step_initial = _initial(sop, viewer)
    data = request.POST if request.method == "POST" else None
    form = SopForm(data, viewer=viewer, initial=initial)
    steps = StepFormSet(data, prefix="steps", initial=step_initial,
                        form_kwargs={"scripts": approved_scripts(viewer), "materials": approved_materials(viewer)})
    if data is not None and form.is_valid() & steps.is_valid():
        cleaned = form.cleaned_data
        try:
            sop = services.save_sop(
                viewer.org, by=viewer, sop=sop, name=cleaned["name"], trigger=cleaned["trigger"],
                trigger_tag=cleaned["trigger_tag"], trigger_stage=cleaned["trigger_stage"],
                trigger_date=cleaned["trigger_date"], condition_tag_ids=[t.pk for t in cleaned["condition_tags"]],
                condition_segment=cleaned["condition_segment"], steps=steps.inputs())
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            messages.success(request, _("SOP 已保存。"))
            return redirect("sop:edit", pk=sop.pk)
    status = 400 if data is not None else 200
    return render(request, "sop/edit.html", {"form": form, "steps": steps, "sop": sop, "variables": variable_help()},
                  status=status)


@requires("sop.manage")
@require_POST
def sop_active(request, pk: int):
    viewer = request.membership
    sop = get_object_or_404(Sop.objects.visible_to(viewer), pk=pk)
    try:
        services.set_active(sop, request.POST.get("active") == "1", by=viewer)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("SOP 已启用。") if sop.is_active else _("SOP 已停用，进行中的任务已停止。"))
    return redirect("sop:list")


def _first_day(request, view: str) -> date:
    try:
        day = date.fromisoformat(request.GET.get("start", ""))
    except ValueError:
        day = timezone.localtime(clock.now()).date()
    if view == "month":
        first = day.replace(day=1)
        return first - timedelta(days=first.weekday())
    return day - timedelta(days=day.weekday())


@requires("sop.calendar")
def calendar(request):
    view = request.GET.get("view") if request.GET.get("view") in CALENDAR_DAYS else "week"
    first = _first_day(request, view)
    days = CALENDAR_DAYS[view]
    grid = queries.calendar(request.membership, first, days)
    step = timedelta(days=7 if view == "week" else 28)
    weeks = [list(grid.items())[i:i + 7] for i in range(0, days, 7)]
    return render(request, "sop/calendar.html", {
        "view": view, "weeks": weeks, "first": first, "last": first + timedelta(days=days - 1),
        "previous": first - step, "next": first + step if view == "week" else first + timedelta(days=days),
        "today": timezone.localtime(clock.now()).date()})


@requires("sop.reports")
def report(request, pk: int):
    viewer = request.membership
    sop = get_object_or_404(Sop.objects.visible_to(viewer), pk=pk)
    return render(request, "sop/report.html", {"sop": sop, "report": queries.report(viewer, sop)})
