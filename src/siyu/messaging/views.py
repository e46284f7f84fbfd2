"""The messaging settings page (HQ) and its dry run: what the guard would decide for the customers one can see."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from siyu.console.access import requires
from siyu.console.forms import attach_service_errors
from siyu.customers.models import Customer
from siyu.messaging import dryrun, services
from siyu.messaging.forms import POLICY_FIELDS, DryRunForm, PolicyForm
from siyu.messaging.models import FrequencyCap, Policy

PREVIEW = ("messaging.preview", 0)  # a dry run is written nowhere, so any reference will do


def _initial(viewer) -> dict:
    policy = Policy.objects.visible_to(viewer).first() or Policy(org_id=viewer.org_id)
    initial = {f: getattr(policy, f) for f in POLICY_FIELDS}
    initial["protected_tags"] = policy.protected_tag_ids
    for cap in FrequencyCap.objects.visible_to(viewer):
        initial[f"cap_{cap.channel}_max"], initial[f"cap_{cap.channel}_days"] = cap.max_messages, cap.days
    return initial


@requires("messaging.manage")
@require_http_methods(["GET", "POST"])
def settings_view(request):
    viewer = request.membership
    form = PolicyForm(request.POST or None, viewer=viewer, initial=_initial(viewer))
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.save_policy(viewer.org, by=viewer, caps=form.caps(),
                                 protected_tag_ids=[t.pk for t in data["protected_tags"]],
                                 **{f: data[f] for f in POLICY_FIELDS})
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            messages.success(request, _("消息触达设置已保存。"))
            return redirect("messaging:settings")
    status = 400 if form.is_bound else 200
    return render(request, "messaging/settings.html", {"form": form, "dry_form": DryRunForm()}, status=status)


@requires("messaging.manage")
@require_http_methods(["POST"])
def dry_run_view(request):
    """The guard's dry run over every customer the viewer can see, as the HTMX partial."""
    viewer = request.membership
    form = DryRunForm(request.POST)
    summary = None
    if form.is_valid():
        audience = Customer.objects.visible_to(viewer).values_list("pk", flat=True)
        summary = dryrun.dry_run(viewer.org, send=PREVIEW, customer_ids=audience, **form.cleaned_data)
    context = {"dry_form": form, "dry": summary}
    if request.htmx:
        # htmx swaps only 2xx answers: the form's errors come back in the swapped part, as a 200.
        return render(request, "messaging/_dry_run_card.html", context)
    return render(request, "messaging/settings.html",
                  {**context, "form": PolicyForm(viewer=viewer, initial=_initial(viewer))},
                  status=200 if form.is_valid() else 400)
