"""The console page of domain-event deliveries (事件投递): each subscriber's copy of each event, with its status,
attempts and last error, and re-drive for the failed ones."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from siyu.console.access import requires
from siyu.console.paging import paginate
from siyu.core import events
from siyu.core.durable import DurableRow
from siyu.core.events import EventDelivery

# Deliveries are never cancelled or expired: only the statuses they can have.
STATUSES = [s for s in DurableRow.Status.choices if s[0] not in {DurableRow.Status.CANCELLED, DurableRow.Status.EXPIRED}]


class DeliveryFilterForm(forms.Form):
    status = forms.ChoiceField(label=gettext_lazy("状态"), required=False)
    kind = forms.ChoiceField(label=gettext_lazy("事件类型"), required=False)
    subscriber = forms.ChoiceField(label=gettext_lazy("订阅方"), required=False)

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        everything = [("", gettext_lazy("全部"))]
        self.fields["status"].choices = everything + STATUSES
        kinds = events.DomainEvent.objects.visible_to(viewer).order_by("kind").values_list("kind", flat=True).distinct()
        self.fields["kind"].choices = everything + [(k, events.kind_label(k)) for k in kinds]
        names = EventDelivery.objects.visible_to(viewer).order_by("subscriber").values_list("subscriber", flat=True).distinct()
        self.fields["subscriber"].choices = everything + [(n, n) for n in names]


@requires("org.settings")
def deliveries(request):
    """The latest deliveries, newest first, filterable by status, event kind and subscriber."""
    viewer = request.membership
    filters = DeliveryFilterForm(request.GET or None, viewer=viewer)
    rows = EventDelivery.objects.visible_to(viewer).select_related("event").order_by("-created_at", "-id")
    if filters.is_valid():
        chosen = filters.cleaned_data
        if chosen["status"]:
            rows = rows.filter(status=chosen["status"])
        if chosen["kind"]:
            rows = rows.filter(event__kind=chosen["kind"])
        if chosen["subscriber"]:
            rows = rows.filter(subscriber=chosen["subscriber"])
    return render(request, "core/event_deliveries.html", {"filters": filters, "page": paginate(request, rows, per_page=50)})


@require_POST
@requires("org.settings")
def delivery_redrive(request, pk: int):
    delivery = get_object_or_404(EventDelivery.objects.visible_to(request.membership).select_related("event"), pk=pk)
    try:
        events.redrive(delivery, by=request.membership)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("已重新投递，稍后会被处理。"))
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        back = ""
    return redirect(back or "core:event_deliveries")
