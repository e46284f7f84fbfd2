"""The data-subject request page: find a person by one identifier, export their data or erase it."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.console.access import requires
from siyu.console.forms import attach_service_errors
from siyu.orgs import audit
from siyu.privacy import requests
from siyu.privacy.forms import SubjectRequestForm
from siyu.privacy.models import SubjectRequest



@requires("privacy.requests")
def subject_requests(request):
    """Export or erase everything about one person (their whole identity cluster); every request is listed."""
    viewer = request.membership
    form = SubjectRequestForm(request.POST or None)
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        if form.is_valid() and action in ("export", "erase"):
            data = form.cleaned_data
            try:
                try:
                    ident = requests.parse_identifier(f"{data['kind']}:{data['value']}")
                except ValidationError as error:
                    raise ValidationError({"value": error.message_dict["identifier"]}) from None
                # The confirmation word as the form asks for it, in either language of the console.
                if action == "erase" and data["confirm"].strip() not in {"删除", _("删除")}:
                    raise ValidationError({"confirm": _("请输入“删除”二字确认。")})
                if action == "export":
                    done = requests.export_subject(viewer.org, ident, by=viewer)
                    messages.success(request, _("已导出 %(who)s 的个人信息，请在下方下载。") % {"who": done.identifier})
                else:
                    done = requests.erase_subject(viewer.org, ident, by=viewer)
                    messages.success(request, _("已删除 %(who)s 的个人信息，并屏蔽其标识。") % {"who": done.identifier})
                return redirect("privacy:subject_requests")
            except ValidationError as error:
                if "identifier" in getattr(error, "error_dict", {}):
                    error = ValidationError({"value": error.message_dict["identifier"]})
                attach_service_errors(form, error)
        status = 400
    history = SubjectRequest.objects.visible_to(viewer).select_related("requested_by")[:100]
    return render(request, "privacy/subject_requests.html", {"form": form, "history": history}, status=status)


@requires("privacy.requests")
def subject_export_download(request, pk: int):
    """The export bundle (a ZIP of person.json and person.xlsx), decrypted for this download; audited."""
    done = get_object_or_404(SubjectRequest.objects.visible_to(request.membership).filter(kind=SubjectRequest.Kind.EXPORT), pk=pk)
    content = requests.read_bundle(done.org_id, done.file)
    if content is None:
        raise Http404("export file is gone")
    audit.record("privacy.subject_export_downloaded", org=done.org_id, actor=request.user, obj=done,
                 details={"identifier": done.identifier})
    response = HttpResponse(content, content_type="application/zip")
    stamp = timezone.localtime(done.created_at).strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="subject-{stamp}.zip"'
    return response
