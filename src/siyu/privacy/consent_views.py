"""Consent pages: the privacy notice and consent import in the console, and the customer's own consent page (H5)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from siyu.console.access import requires
from siyu.console.forms import attach_service_errors
from siyu.core.models import Job
from siyu.core.tenancy import system_read
from siyu.privacy import consent
from siyu.privacy import consent_import as consent_import_job
from siyu.privacy.forms import ConsentImportForm, NoticeForm
from siyu.privacy.masking import mask_text
from siyu.privacy.models import ConsentRecord, PrivacyNotice, Purpose


@requires("privacy.notices")
@require_http_methods(["GET", "POST"])
def notices(request):
    """The privacy notice's versions, newest first, and the form publishing the next one."""
    viewer = request.membership
    versions = PrivacyNotice.objects.visible_to(viewer).select_related("published_by")
    latest = versions.first()
    form = NoticeForm(request.POST or None, initial={"title": latest.title, "body": latest.body} if latest else None)
    if request.method == "POST" and form.is_valid():
        try:
            notice = consent.publish_notice(viewer.org, title=form.cleaned_data["title"], body=form.cleaned_data["body"],
                                            by=viewer)
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            messages.success(request, _("已发布第 %(version)d 版隐私政策。") % {"version": notice.version})
            return redirect("privacy:notices")
    status = 400 if form.errors else 200
    return render(request, "privacy/notices.html", {"form": form, "versions": versions,
                                                    "import_form": ConsentImportForm()}, status=status)


@requires("privacy.consents")
@require_http_methods(["POST"])
def consent_import(request):
    """Queue the import of a consent file; its page follows the job and then shows the report."""
    viewer = request.membership
    form = ConsentImportForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            job = consent_import_job.start_import(viewer.org, form.cleaned_data["file"].read(), by=viewer)
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            return redirect("privacy:consent_import_report", pk=job.pk)
    return render(request, "privacy/consent_import.html", {"form": form}, status=400)


@requires("privacy.consents")
def consent_import_report(request, pk: int):
    """The import's progress (HTMX polls the partial) and, once done, what was recorded and every bad row."""
    job = get_object_or_404(Job.objects.visible_to(request.membership).filter(
        kind=consent_import_job.JOB_KIND, created_by=request.user), pk=pk)
    template = "privacy/_consent_import_status.html" if request.htmx else "privacy/consent_import.html"
    return render(request, template, {"job": job, "report": job.result if job.status == Job.Status.SUCCEEDED else None})


def _client_evidence(request) -> dict:
    """What the consent page keeps as evidence of who pressed the button: the address masked, the browser."""
    ip = request.META.get("REMOTE_ADDR") or ""
    if "." in ip:
        ip = ".".join(ip.split(".")[:2] + ["*", "*"])
    elif ip:
        ip = mask_text(ip, keep_start=9)
    return {"ip": ip, "user_agent": (request.META.get("HTTP_USER_AGENT") or "")[:300]}


@require_http_methods(["GET", "POST"])
@system_read("public H5 page: a customer's own consent link, no signed-in viewer")
def consent_page(request, token: str):
    """The customer's consent page (signed link): the current notice and each purpose with a button to grant or
    withdraw it. A withdrawal is in force for the very next send."""
    try:
        customer = consent.customer_for_token(token)
    except consent.LinkExpired:
        return render(request, "privacy/h5/consent_expired.html", status=410)
    if customer is None:
        raise Http404
    notice = consent.current_notice(customer.org_id)
    if request.method == "POST":
        purpose, action = request.POST.get("purpose"), request.POST.get("action")
        if purpose not in Purpose.values or action not in ("grant", "withdraw") or (action == "grant" and notice is None):
            return render(request, "privacy/h5/consent.html", _page(customer, notice, _("请重新选择。")), status=400)
        change = consent.grant_consent if action == "grant" else consent.withdraw_consent
        change(customer, purpose, by=None, source=ConsentRecord.Source.H5,
               notice_version=notice.version if notice else None, evidence=_client_evidence(request))
        done = _("已同意。") if action == "grant" else _("已撤回，之后不会再因此联系你。")
        messages.success(request, done)
        return redirect("privacy:consent_page", token=token)
    return render(request, "privacy/h5/consent.html", _page(customer, notice))


def _page(customer, notice, problem: str = "") -> dict:
    state = consent.consent_state(customer.org_id, customer.pk)
    purposes = [{"value": value, "label": label, "state": state[value]["state"]} for value, label in Purpose.choices]
    return {"org": customer.org, "notice": notice, "purposes": purposes, "problem": problem}
