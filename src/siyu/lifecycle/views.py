"""Console pages: the stage board, to-dos, loss alerts, auto-tagging rules, reports and settings."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from siyu.console.access import requires
from siyu.console.forms import attach_service_errors
from siyu.console.paging import paginate
from siyu.core.durable import DurableRow
from siyu.customers.models import Customer
from siyu.lifecycle import loss, reminders, rules, stages
from siyu.lifecycle.forms import (
    RULE_FORMS, BoardFilterForm, CustomerStageForm, LossHandleForm, MoveForm, PeriodForm, PolicyForm, RenameStageForm, StageForm,
)
from siyu.lifecycle.models import Reminder, Rule, Stage, StageChange


def profile_url(customer_id: int) -> str | None:
    """The customer profile page, where the customers app serves one."""
    try:
        return reverse("customers:detail", args=[customer_id])
    except NoReverseMatch:
        return None


# -- the board ---------------------------------------------------------------------------------------------
@requires("lifecycle.board")
def board(request):
    viewer = request.membership
    form = BoardFilterForm(request.GET or None, viewer=viewer)
    if form.is_bound and not form.is_valid():
        return render(request, "lifecycle/board.html", {"form": form, "columns": [], "stages": []}, status=400)
    data = form.cleaned_data if form.is_bound else {}
    pages = {}
    for key, value in request.GET.items():
        if key.startswith("p") and key[1:].isdigit() and value.isdigit():
            pages[int(key[1:])] = int(value)
    columns = stages.board(viewer, q=(data.get("q") or "").strip(), staff=data.get("staff"), store=data.get("store"),
                           pages=pages)
    stage_list = [c.stage for c in columns]
    for column in columns:
        for customer in column.customers:
            customer.profile_url = profile_url(customer.pk)
        column.prev_query = _page_query(request, column, column.page - 1) if column.page > 1 else ""
        column.next_query = _page_query(request, column, column.page + 1) if column.page < column.pages else ""
    return render(request, "lifecycle/board.html", {"form": form, "columns": columns, "stages": stage_list})


def _page_query(request, column, page: int) -> str:
    """The board's query string with one column on another page (the other columns and filters kept)."""
    params = request.GET.copy()
    params[f"p{column.stage.pk}"] = str(page)
    return params.urlencode()


@require_POST
@requires("lifecycle.board")
def board_move(request):
    """Move one customer to a stage: the drag on the board (HTMX: answers the card) or the card's form."""
    viewer = request.membership
    form = MoveForm(request.POST, viewer=viewer)
    if not form.is_valid():
        message = "; ".join(e for errors in form.errors.values() for e in errors)
        if request.htmx:
            return HttpResponse(message, status=400)
        messages.error(request, message)
        return redirect("lifecycle:board")
    customer = get_object_or_404(Customer.objects.visible_to(viewer), pk=form.cleaned_data["customer"])
    stage = form.cleaned_data["stage"]
    staff = getattr(viewer, "staff", None) if viewer.is_guide else None
    try:
        stages.move_customer(customer, stage, source=StageChange.Source.BOARD, by=viewer, staff=staff)
    except ValidationError as error:
        if request.htmx:
            return HttpResponse("; ".join(error.messages), status=400)
        messages.error(request, "; ".join(error.messages))
        return redirect("lifecycle:board")
    if request.htmx:
        customer.stage_since = stages.lifecycle_of(customer).stage_since
        customer.stage_id = stage.pk
        customer.profile_url = profile_url(customer.pk)
        stages.card_details(viewer.org_id, [customer])
        return render(request, "lifecycle/_card.html", {"customer": customer, "stages": stages.stages_of(viewer.org)})
    messages.success(request, _("已把 %(customer)s 移到“%(stage)s”。") % {"customer": customer, "stage": stage})
    return redirect("lifecycle:board")


@require_POST
@requires("lifecycle.board")
def customer_stage(request, pk: int):
    """The profile section's form: the customer's stage and birthday."""
    viewer = request.membership
    customer = get_object_or_404(Customer.objects.visible_to(viewer), pk=pk)
    form = CustomerStageForm(request.POST, viewer=viewer)
    back = profile_url(customer.pk) or reverse("lifecycle:board")
    if not form.is_valid():
        messages.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
        return redirect(back)
    stages.move_customer(customer, form.cleaned_data["stage"], source=StageChange.Source.MANUAL, by=viewer)
    if form.cleaned_data["birthday"] != stages.lifecycle_of(customer).birthday:
        stages.set_birthday(customer, form.cleaned_data["birthday"], by=viewer)
    messages.success(request, _("已保存。"))
    return redirect(back)


# -- to-dos ------------------------------------------------------------------------------------------------
@requires("lifecycle.todos")
def todos(request):
    viewer = request.membership
    rows = reminders.todos(viewer)
    now = timezone.now()
    open_rows = rows.filter(completed_at=None)
    due = open_rows.filter(status__in=[DurableRow.Status.DONE, DurableRow.Status.RUNNING, DurableRow.Status.FAILED]) \
        .exclude(outcome=Reminder.Outcome.SKIPPED).order_by("-due_at", "-pk")
    upcoming = open_rows.filter(status=DurableRow.Status.PENDING).order_by("due_at", "pk")
    recent = rows.exclude(completed_at=None).order_by("-completed_at")[:20]
    return render(request, "lifecycle/todos.html", {
        "due": paginate(request, due, per_page=50), "upcoming": upcoming[:50], "upcoming_count": upcoming.count(),
        "soon": upcoming.filter(due_at__lte=now + timedelta(days=7)).count(), "recent": recent,
    })


@require_POST
@requires("lifecycle.todos")
def todo_done(request, pk: int):
    reminder = get_object_or_404(reminders.todos(request.membership), pk=pk)
    reminders.complete_reminder(reminder, by=request.membership)
    messages.success(request, _("已完成：%(title)s") % {"title": reminder.title})
    return redirect("lifecycle:todos")


@require_POST
@requires("lifecycle.todos")
def todo_cancel(request, pk: int):
    reminder = get_object_or_404(reminders.todos(request.membership), pk=pk)
    if reminders.cancel_reminder(reminder, by=request.membership):
        messages.success(request, _("已取消提醒：%(title)s") % {"title": reminder.title})
    else:
        messages.error(request, _("该提醒已发送或已结束，不能取消。"))
    return redirect("lifecycle:todos")


# -- loss alerts -------------------------------------------------------------------------------------------
@requires("lifecycle.alerts")
def alerts(request):
    rows = loss.alerts(request.membership)
    if request.GET.get("open"):
        rows = rows.filter(handled_at=None)
    return render(request, "lifecycle/alerts.html", {"page": paginate(request, rows), "open_only": bool(request.GET.get("open"))})


@requires("lifecycle.alerts")
def loss_detail(request, pk: int):
    viewer = request.membership
    alert = get_object_or_404(loss.alerts(viewer), pk=pk)
    form = LossHandleForm(request.POST or None, initial={"cause": alert.cause, "note": alert.note})
    if request.method == "POST":
        if form.is_valid():
            try:
                loss.handle_alert(alert, cause=form.cleaned_data["cause"], note=form.cleaned_data["note"], by=viewer)
            except ValidationError as error:
                attach_service_errors(form, error)
            else:
                messages.success(request, _("已记录流失原因。"))
                return redirect("lifecycle:loss_detail", pk=alert.pk)
    return render(request, "lifecycle/loss_detail.html",
                  {"alert": alert, "form": form, "profile_url": profile_url(alert.customer_id)},
                  status=400 if form.errors else 200)


# -- rules -------------------------------------------------------------------------------------------------
@requires("lifecycle.rules")
def rule_list(request):
    rows = Rule.objects.visible_to(request.membership).select_related("stage").prefetch_related("tags")
    return render(request, "lifecycle/rules.html", {"rules": rows, "kinds": Rule.Kind.choices})


def _rule_form_page(request, *, kind: str, rule: Rule | None):
    viewer = request.membership
    form_class = RULE_FORMS.get(kind)
    if form_class is None:
        raise Http404
    initial = form_class.initial_from(rule) if rule else None
    form = form_class(request.POST or None, viewer=viewer, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            saved = rules.save_rule(viewer.org, rule=rule, name=d["name"], kind=kind, config=form.config(),
                                    tags=list(d["tags"]), stage=d["stage"], is_active=d["is_active"], by=viewer)
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            messages.success(request, _("规则“%(name)s”已保存，新事件会立即按它处理。") % {"name": saved.name})
            return redirect("lifecycle:rules")
    return render(request, "lifecycle/rule_form.html",
                  {"form": form, "rule": rule, "kind": kind, "kind_label": Rule.Kind(kind).label},
                  status=400 if form.errors else 200)


@requires("lifecycle.rules")
def rule_new(request, kind: str):
    return _rule_form_page(request, kind=kind, rule=None)


@requires("lifecycle.rules")
def rule_edit(request, pk: int):
    rule = get_object_or_404(Rule.objects.visible_to(request.membership), pk=pk)
    return _rule_form_page(request, kind=rule.kind, rule=rule)


@require_POST
@requires("lifecycle.rules")
def rule_active(request, pk: int):
    rule = get_object_or_404(Rule.objects.visible_to(request.membership), pk=pk)
    rules.set_rule_active(rule, request.POST.get("active") == "1", by=request.membership)
    return redirect("lifecycle:rules")


@require_POST
@requires("lifecycle.rules")
def rule_delete(request, pk: int):
    rule = get_object_or_404(Rule.objects.visible_to(request.membership), pk=pk)
    rules.delete_rule(rule, by=request.membership)
    messages.success(request, _("已删除规则“%(name)s”；它打过的标签仍保留在客户身上。") % {"name": rule.name})
    return redirect("lifecycle:rules")


@require_POST
@requires("lifecycle.rules")
def rule_backfill(request, pk: int):
    rule = get_object_or_404(Rule.objects.visible_to(request.membership), pk=pk)
    try:
        job = rules.start_backfill(rule, by=request.membership)
    except ValidationError as error:
        messages.error(request, "; ".join(error.messages))
        return redirect("lifecycle:rules")
    messages.success(request, _("已开始回溯（任务 #%(job)d），可在“后台任务”查看进度。") % {"job": job.pk})
    return redirect("core:jobs")


# -- reports -----------------------------------------------------------------------------------------------
def _period(form: PeriodForm) -> tuple[datetime | None, datetime | None]:
    if not form.is_valid():
        return None, None
    since, until = form.cleaned_data.get("since"), form.cleaned_data.get("until")
    tz = timezone.get_current_timezone()
    return (datetime.combine(since, time.min, tz) if since else None,
            datetime.combine(until + timedelta(days=1), time.min, tz) if until else None)


@requires("lifecycle.reports")
def reports(request):
    viewer = request.membership
    form = PeriodForm(request.GET or None)
    since, until = _period(form)
    return render(request, "lifecycle/reports.html", {
        "form": form, "stage_rows": stages.report(viewer, since=since, until=until),
        "loss": loss.report(viewer, since=since, until=until),
    }, status=400 if form.errors else 200)


# -- settings: the pipeline and reminder policy ------------------------------------------------------------
@requires("lifecycle.stages")
def settings_page(request):
    viewer = request.membership
    org = viewer.org
    stage_form = StageForm(request.POST if request.POST.get("form") == "stage" else None)
    policy = reminders.policy_for(org)
    policy_form = PolicyForm(request.POST if request.POST.get("form") == "policy" else None,
                             initial={f: getattr(policy, f) for f in PolicyForm.FIELDS})
    if request.method == "POST":
        if request.POST.get("form") == "stage" and stage_form.is_valid():
            try:
                stage = stages.create_stage(org, name=stage_form.cleaned_data["name"],
                                            is_lost=stage_form.cleaned_data["is_lost"], by=viewer)
            except ValidationError as error:
                attach_service_errors(stage_form, error)
            else:
                messages.success(request, _("已添加阶段“%(name)s”。") % {"name": stage.name})
                return redirect("lifecycle:settings")
        elif request.POST.get("form") == "policy" and policy_form.is_valid():
            try:
                reminders.update_policy(org, by=viewer, **{f: policy_form.cleaned_data[f] for f in PolicyForm.FIELDS})
            except ValidationError as error:
                attach_service_errors(policy_form, error)
            else:
                messages.success(request, _("提醒设置已保存。"))
                return redirect("lifecycle:settings")
    bad = stage_form.errors or policy_form.errors
    return render(request, "lifecycle/settings.html", {
        "stages": stages.stages_of(org), "stage_form": stage_form, "policy_form": policy_form,
    }, status=400 if bad else 200)


@require_POST
@requires("lifecycle.stages")
def stage_action(request, pk: int):
    viewer = request.membership
    stage = get_object_or_404(Stage.objects.visible_to(viewer), pk=pk)
    action = request.POST.get("action")
    try:
        if action == "rename":
            form = RenameStageForm(request.POST)
            if not form.is_valid():
                raise ValidationError(form.errors["name"])
            stages.rename_stage(stage, name=form.cleaned_data["name"], by=viewer)
        elif action in ("up", "down"):
            stages.move_stage(stage, direction=-1 if action == "up" else 1, by=viewer)
        elif action == "delete":
            stages.delete_stage(stage, by=viewer)
        else:
            raise ValidationError(_("未知操作。"))
    except ValidationError as error:
        messages.error(request, "; ".join(error.messages))
    return redirect("lifecycle:settings")
