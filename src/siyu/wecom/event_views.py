"""Console pages for what arrives from and is pulled from WeCom: the callback event log (with re-drive of
failed events) and the full sync (start one, watch the last runs)."""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from siyu.console import forms as console_forms
from siyu.console.access import requires
from siyu.console.paging import paginate
from siyu.core import durable
from siyu.core.durable import DurableRow
from siyu.orgs import audit
from siyu.orgs.models import Membership
from siyu.wecom import gaps
from siyu.wecom import sync as sync_services
from siyu.wecom.models import CallbackEvent, WeComConnection

# The statuses an administrator filters by; cancelled events do not occur in the callback log.
EVENT_STATUSES = [s for s in DurableRow.Status.choices if s[0] != DurableRow.Status.CANCELLED]


class EventFilterForm(console_forms.Form):
    status = forms.ChoiceField(label=gettext_lazy("状态"), required=False)
    event = forms.ChoiceField(label=gettext_lazy("事件类型"), required=False)

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", gettext_lazy("全部"))] + EVENT_STATUSES
        kinds = CallbackEvent.objects.visible_to(viewer).order_by("event").values_list("event", flat=True).distinct()
        self.fields["event"].choices = [("", gettext_lazy("全部"))] + [(k, k) for k in kinds]


# -- service --------------------------------------------------------------------------------------------------
@transaction.atomic
def redrive_event(event: CallbackEvent, *, by: Membership) -> CallbackEvent:
    """Queue a failed callback event again: pending, due now, attempts from zero; audited.

    Raises :class:`ValidationError` for an event that has not failed (it is still queued, running or done).
    """
    previous = {"attempts": event.attempts, "last_error": event.last_error[:500]}
    if not durable.requeue_failed(event):
        raise ValidationError(_("只有处理失败的事件可以重新处理。"))
    audit.record("wecom.event_redriven", org=event.org_id, actor=by.user, obj=event,
                 details={"event": event.event, "change_type": event.change_type, **previous})
    event.refresh_from_db()
    return event


# -- callback events --------------------------------------------------------------------------------------------
@requires("org.settings")
def events(request):
    """The latest callback events, filterable by status and event type."""
    filters = EventFilterForm(request.GET or None, viewer=request.membership)
    rows = CallbackEvent.objects.visible_to(request.membership).order_by("-received_at", "-id").defer("xml")
    if filters.is_valid():
        if filters.cleaned_data["status"]:
            rows = rows.filter(status=filters.cleaned_data["status"])
        if filters.cleaned_data["event"]:
            rows = rows.filter(event=filters.cleaned_data["event"])
    quiet = gaps.silence(request.membership.org)
    return render(request, "wecom/events.html", {
        "filters": filters, "page": paginate(request, rows, per_page=50),
        "silence": quiet, "silence_hours": quiet and int(quiet.total_seconds() // 3600),
    })


@requires("org.settings")
def event_detail(request, pk: int):
    """One event: its fields as decrypted and parsed. The XML is not shown, only the parsed payload."""
    event = get_object_or_404(CallbackEvent.objects.visible_to(request.membership).defer("xml"), pk=pk)
    payload = json.dumps(event.payload, ensure_ascii=False, indent=2, sort_keys=True)
    return render(request, "wecom/events_detail.html", {"event": event, "payload": payload})


@require_POST
@requires("org.settings")
def event_redrive(request, pk: int):
    event = get_object_or_404(CallbackEvent.objects.visible_to(request.membership).defer("xml"), pk=pk)
    try:
        redrive_event(event, by=request.membership)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("事件已重新排队，稍后会被处理。"))
    return redirect("wecom:event_detail", pk=event.pk)


# -- full sync ---------------------------------------------------------------------------------------------------
@requires("org.settings")
def sync(request):
    """Start a full sync and watch the last runs (each with the live progress component)."""
    org = request.membership.org
    conn = WeComConnection.objects.visible_to(request.membership).filter(is_active=True).first()
    return render(request, "wecom/sync.html", {
        "conn": conn, "jobs": sync_services.last_syncs(org), "running": sync_services.running_sync(org),
    })


@require_POST
@requires("org.settings")
def sync_start(request):
    try:
        sync_services.start_full_sync(request.membership.org, request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("全量同步已开始，进度会在下方更新。"))
    return redirect("wecom:sync")
