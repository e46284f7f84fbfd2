"""The "new folder" form both libraries (scripts and materials) show beside their lists."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from siyu.console.forms import attach_service_errors


def folder_created(request, form, create, list_view: str):
    """Create the folder ``form`` describes with ``create(org, **fields, by=)``: a redirect back to ``list_view``
    when it was made, else None (the form carries the errors and the list is shown again)."""
    if not (form.is_bound and form.is_valid()):
        return None
    viewer = request.membership
    try:
        create(viewer.org, **form.cleaned_data, by=viewer)
    except ValidationError as error:
        attach_service_errors(form, error)
        return None
    messages.success(request, _("已新建分组“%(name)s”。") % {"name": form.cleaned_data["name"]})
    return redirect(list_view)
