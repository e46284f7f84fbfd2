"""The journeys console: the list, the step-list editor, the per-step report and the pause/resume/stop buttons."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from siyu.console.access import requires
from siyu.journeys import editor, queries, services
from siyu.journeys.forms import JourneyForm, choices_for
from siyu.journeys.models import Journey, JourneyVersion

SECRET_KEY = "journeys.new_secret"


@requires("journeys.manage")
def list_view(request):
    journeys = list(Journey.objects.visible_to(request.membership).select_related("version"))
    counts = queries.entry_counts(journeys)
    rows = [(j, counts.get(j.pk, {"entered": 0, "inside": 0})) for j in journeys]
    return render(request, "journeys/list.html", {"rows": rows})


def _editor(request, journey: Journey | None):
    viewer = request.membership
    choices = choices_for(viewer)
    initial = JourneyForm.initial_for(journey) if journey else {"reentry": Journey.Reentry.NEVER}
    form = JourneyForm(request.POST or None, viewer=viewer, choices=choices, initial=initial)
    if request.method == "POST":
        parsed = editor.from_post(request.POST)
        rows, steps_errors = parsed.rows, []
        if form.is_valid() and not parsed.has_errors:
            try:
                if journey is None:
                    journey, secret = services.create_journey(viewer.org, steps=parsed.steps, by=viewer,
                                                              **form.service_values())
                    request.session[SECRET_KEY] = {"journey": journey.pk, "secret": secret}
                    messages.success(request, _("旅程已创建并开始运行。"))
                else:
                    services.update_journey(journey, steps=parsed.steps, by=viewer, **form.service_values())
                    messages.success(request, _("旅程已保存：新进入的客户按新版本走，已在旅程中的客户按原版本走完。"))
                return redirect("journeys:report", journey.pk)
            except ValidationError as error:
                for key, found in error.message_dict.items():
                    if key.startswith("steps.") and parsed.place(key, found):
                        continue
                    if key == "steps":
                        steps_errors.extend(found)
                    else:
                        form.add_error(key if key in form.fields else None, found)
        status = 400
    else:
        # A new journey opens with one empty step to fill in.
        rows = editor.to_rows(journey.version.steps) if journey else [editor.blank_row()]
        steps_errors, status = [], 200
    context = {"form": form, "journey": journey, "rows": rows, "steps_errors": steps_errors, **choices,
               "kinds": editor.KIND_LABELS, "lanes": editor.LANE_LABELS, "conditions": editor.CONDITION_LABELS,
               "blank": editor.blank_row()}
    return render(request, "journeys/editor.html", context, status=status)


@requires("journeys.manage")
@require_http_methods(["GET", "POST"])
def new_view(request):
    return _editor(request, None)


@requires("journeys.manage")
@require_http_methods(["GET", "POST"])
def edit_view(request, pk: int):
    journey = get_object_or_404(Journey.objects.visible_to(request.membership).select_related("version"), pk=pk)
    if journey.status == Journey.Status.STOPPED:
        messages.error(request, _("已停止的旅程不能再修改。"))
        return redirect("journeys:report", journey.pk)
    return _editor(request, journey)


@requires("journeys.manage")
def report_view(request, pk: int):
    viewer = request.membership
    journey = get_object_or_404(Journey.objects.visible_to(viewer).select_related("version"), pk=pk)
    versions = list(JourneyVersion.objects.visible_to(viewer).filter(journey=journey))
    chosen = request.GET.get("version", "")
    version = next((v for v in versions if str(v.number) == chosen), journey.version)
    shown = request.session.get(SECRET_KEY)
    secret = None
    if shown and shown.get("journey") == journey.pk:
        secret = shown["secret"]
        del request.session[SECRET_KEY]  # shown once: the page never shows it again
    choices = choices_for(viewer)
    names = {"tag": {t.pk: t.name for t in choices["tags"]}, "stage": {s.pk: s.name for s in choices["stages"]},
             "segment": {s.pk: s.name for s in choices["segments"]}}
    report = queries.report(journey, version)
    for figures in report.steps:
        figures.summary = editor.describe(figures.step, names)
    return render(request, "journeys/report.html", {
        "journey": journey, "versions": versions, "report": report, "secret": secret,
        "trigger_name": _trigger_name(journey, names)})


def _trigger_name(journey: Journey, names: dict) -> str:
    if journey.trigger == Journey.Trigger.EVENT:
        return journey.trigger_event
    kind = {Journey.Trigger.TAG_ADDED: "tag", Journey.Trigger.STAGE_CHANGED: "stage",
            Journey.Trigger.SEGMENT_ENTERED: "segment"}.get(journey.trigger)
    return names[kind].get(journey.trigger_ref, "") if kind else ""


ACTIONS = {"pause": (services.pause_journey, gettext_lazy("旅程已暂停，客户停在当前步骤等待。")),
           "resume": (services.resume_journey, gettext_lazy("旅程已恢复运行。")),
           "stop": (services.stop_journey, gettext_lazy("旅程已停止，旅程中的客户都已退出。"))}


@requires("journeys.manage")
@require_POST
def status_view(request, pk: int):
    journey = get_object_or_404(Journey.objects.visible_to(request.membership), pk=pk)
    action = ACTIONS.get(request.POST.get("action", ""))
    if action is None:
        messages.error(request, _("未知操作。"))
        return redirect("journeys:report", journey.pk)
    change, done = action
    try:
        change(journey, by=request.membership)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, done)
    return redirect("journeys:report", journey.pk)
