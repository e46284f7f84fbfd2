"""The mass-message console (客户群发): the list, composing and editing a draft beside its dry run, scheduling,
and the results page with its polled progress, reminders and cancelling."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from siyu.channels.forms import attachment_formset
from siyu.console.access import requires
from siyu.console.forms import attach_service_errors
from siyu.console.paging import paginate
from siyu.groups.models import CustomerGroup
from siyu.messaging import guard, mass, reasons, uploads
from siyu.messaging.mass_forms import MassMessageForm, ScheduleForm, image_attachment
from siyu.messaging.models import MassMessage
from siyu.wecom import attachments as wecom_attachments
from siyu.wecom.errors import WeComError

Status = MassMessage.Status
PROTECTED = {reasons.PROTECTED_TAG, reasons.MINOR, reasons.SENIOR}


def _message(request, pk: int) -> MassMessage:
    return get_object_or_404(MassMessage.objects.visible_to(request.membership), pk=pk)


@requires("messaging.mass")
@require_GET
def mass_list(request):
    rows = MassMessage.objects.visible_to(request.membership).select_related("created_by")
    return render(request, "messaging/mass/list.html", {"page": paginate(request, rows)})


def _initial(message: MassMessage, zone) -> dict:
    audience = message.audience or {}
    group = message.chat_type == MassMessage.ChatType.GROUP  # tag_ids are group tags then, not customer tags
    initial = {"title": message.title, "text": message.text, "purpose": message.purpose,
               "target": "groups" if group else "customers",
               "audience": "segment" if audience.get("segment") else "filters", "segment": audience.get("segment"),
               "tags": [] if group else audience.get("tag_ids", []), "staff": audience.get("staff_ids", []),
               "stores": audience.get("store_ids", []), "stages": audience.get("stage_ids", []),
               "group_owners": audience.get("owner_ids", []), "group_tags": audience.get("tag_ids", []) if group else [],
               "group_name": audience.get("name", ""),
               "when": "later" if message.scheduled_at else "now"}
    if message.scheduled_at:
        initial["scheduled_at"] = message.scheduled_at.astimezone(zone).replace(tzinfo=None)
    return initial


def _save(request, form, formset, message: MassMessage | None) -> MassMessage | None:
    """Store the uploaded images and create or update the draft; on any error the stored files are removed
    again and the form carries the field errors."""
    stored = []
    try:
        for upload in form.cleaned_data["images"]:
            stored.append(uploads.store_image(upload))
        fields = {"title": form.cleaned_data["title"], "text": form.cleaned_data["text"],
                  "attachments": formset.attachments() + [image_attachment(url) for url in stored],
                  "audience": form.service_audience(), "purpose": form.cleaned_data["purpose"],
                  "scheduled_at": form.scheduled(),
                  "chat_type": (MassMessage.ChatType.GROUP if form.cleaned_data["target"] == "groups"
                                else MassMessage.ChatType.SINGLE)}
        if message is None:
            return mass.create_message(request.membership.org, by=request.membership, **fields)
        return mass.update_message(message, by=request.membership, **fields)
    except ValidationError as error:
        for url in stored:
            path = uploads.path_of(url.rsplit("/", 1)[-1])
            if path is not None:
                path.unlink()
        errors = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
        if "attachments" in errors:
            form.add_error("images", errors.pop("attachments"))
        if "audience" in errors:
            form.add_error(None, errors.pop("audience"))
        attach_service_errors(form, ValidationError(errors))
        return None


def _compose(request, message: MassMessage | None):
    viewer = request.membership
    zone = guard.policy_of(viewer.org_id).timezone
    if request.method == "POST":
        form = MassMessageForm(request.POST, request.FILES, viewer=viewer, zone=zone)
        formset = attachment_formset(request.POST)
        if form.is_valid() & formset.is_valid():
            saved = _save(request, form, formset, message)
            if saved is not None:
                messages.success(request, _("草稿已保存，请查看试算结果后发送。"))
                return redirect("messaging:mass_detail", saved.pk)
    else:
        initial = _initial(message, ZoneInfo(zone)) if message else None
        form = MassMessageForm(initial=initial, viewer=viewer, zone=zone)
        formset = attachment_formset(attachments=message.attachments if message else ())
    context = {"form": form, "attachments": formset, "message": message}
    if message is not None:
        context.update(_dry_context(message))
    return render(request, "messaging/mass/compose.html", context, status=400 if form.is_bound else 200)


def _dry_context(message: MassMessage) -> dict:
    dry = mass.preview(message)
    protected = sum(row.count for row in dry.reasons if row.code in PROTECTED)
    images = [wecom_attachments.flatten(a)["pic_url"] for a in message.attachments if a.get("msgtype") == "image"]
    return {"dry": dry, "protected": protected, "schedule_form": ScheduleForm(), "images": [u for u in images if u],
            "attachment_lines": [wecom_attachments.summary(a) for a in message.attachments]}


@requires("messaging.mass")
@require_http_methods(["GET", "POST"])
def mass_new(request):
    return _compose(request, None)


@requires("messaging.mass")
@require_http_methods(["GET", "POST"])
def mass_detail(request, pk: int):
    message = _message(request, pk)
    if message.status != Status.DRAFT:
        return redirect("messaging:mass_results", message.pk)
    return _compose(request, message)


@requires("messaging.mass")
@require_POST
def mass_schedule(request, pk: int):
    viewer = request.membership
    message = _message(request, pk)
    form = ScheduleForm(request.POST)
    if form.is_valid():
        approve = form.cleaned_data["approve_protected"]
        if approve and not viewer.can("messaging.manage"):
            form.add_error("approve_protected", _("只有管理员可以批准向受保护人群发送。"))
        else:
            try:
                mass.schedule(message, by=viewer, approved_by=viewer if approve else None)
            except ValidationError as error:
                attach_service_errors(form, error)
            else:
                messages.success(request, _("群发已提交。"))
                return redirect("messaging:mass_results", message.pk)
    zone = guard.policy_of(viewer.org_id).timezone
    context = {"form": MassMessageForm(initial=_initial(message, ZoneInfo(zone)), viewer=viewer, zone=zone),
               "attachments": attachment_formset(attachments=message.attachments), "message": message,
               **_dry_context(message), "schedule_form": form}
    return render(request, "messaging/mass/compose.html", context, status=400)


def _results_context(viewer, message: MassMessage) -> dict:
    report = mass.report(message)
    names = {}
    if report.by_group:
        names = dict(CustomerGroup.objects.visible_to(viewer).filter(chat_id__in=list(report.by_group))
                     .values_list("chat_id", "name"))
    excluded = [(reasons.label(code), n) for code, n in sorted(report.excluded.items(), key=lambda i: -i[1])]
    groups = [(names.get(chat) or "—", owner, status) for chat, (owner, status) in sorted(report.by_group.items())]
    busy = message.status == Status.SCHEDULED or (message.status == Status.SENDING and report.progress < 1)
    return {"message": message, "report": report, "excluded": excluded, "groups": groups, "busy": busy,
            "percent": int(report.progress * 100),
            "can_cancel": message.status in (Status.SCHEDULED, Status.SENDING) and report.total.confirmed == 0,
            "can_remind": message.status == Status.SENDING and report.staff_waiting > 0}


@requires("messaging.mass")
@require_GET
def mass_results(request, pk: int):
    message = _message(request, pk)
    if message.status == Status.DRAFT:
        return redirect("messaging:mass_detail", message.pk)
    return render(request, "messaging/mass/results.html", _results_context(request.membership, message))


@requires("messaging.mass")
@require_GET
def mass_progress(request, pk: int):
    """The progress card, polled by the results page while the send is being planned and its tasks made."""
    return render(request, "messaging/mass/_progress.html", _results_context(request.membership, _message(request, pk)))


def _action(request, pk: int, act, done: str):
    message = _message(request, pk)
    try:
        act(message)
    except ValidationError as error:
        for text in error.messages:
            messages.error(request, text)
    except WeComError as error:
        messages.error(request, error.hint or str(error))
    else:
        messages.success(request, done)
    return redirect("messaging:mass_results", message.pk)


@requires("messaging.mass")
@require_POST
def mass_remind(request, pk: int):
    return _action(request, pk, lambda m: mass.remind(m, by=request.membership), _("已提醒未确认的员工。"))


@requires("messaging.mass")
@require_POST
def mass_cancel(request, pk: int):
    return _action(request, pk, lambda m: mass.cancel(m, by=request.membership), _("群发已取消。"))


@requires("messaging.mass")
@require_POST
def mass_refresh(request, pk: int):
    return _action(request, pk, mass.fetch_results, _("已从企业微信读取最新结果。"))


@require_GET
def mass_image(request, name: str):
    """An uploaded image, public by its unguessable name: WeCom's upload (through media.py) fetches it without a
    session. Only re-encoded pixels are stored, served as an image that is never sniffed into anything else."""
    path = uploads.path_of(name)
    if path is None:
        raise Http404
    response = FileResponse(path.open("rb"), content_type="image/png" if name.endswith(".png") else "image/jpeg")
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=86400"
    return response
