"""Console pages of the order import: upload an export, watch its progress, read its report; custom mappings."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from siyu.cdp import order_import
from siyu.cdp.import_forms import MappingForm, UploadForm
from siyu.cdp.models import ImportMapping, OrderImport
from siyu.cdp.order_presets import FIELDS, PRESETS
from siyu.console.access import requires
from siyu.console.paging import paginate


def _form_errors(form, error: ValidationError) -> None:
    for field, messages_ in error.message_dict.items():
        for message in messages_:
            form.add_error(None if field == "__all__" or field not in form.fields else field, message)


@requires("orders.import")
@require_http_methods(["GET", "POST"])
def imports(request):
    """Upload an export (the preset or a saved mapping, all-or-nothing or good rows only) and the past imports."""
    viewer = request.membership
    mappings = ImportMapping.objects.visible_to(viewer)
    form = UploadForm(request.POST or None, request.FILES or None, mappings=mappings)
    if request.method == "POST" and form.is_valid():
        preset, mapping = form.chosen()
        upload = form.cleaned_data["file"]
        try:
            batch = order_import.start_import(viewer.org, upload.read(), filename=upload.name,
                                              mode=form.cleaned_data["mode"], preset=preset, mapping=mapping,
                                              by=request.user)
        except ValidationError as error:
            _form_errors(form, error)
        else:
            return redirect("imports:detail", pk=batch.pk)
    page = paginate(request, OrderImport.objects.visible_to(viewer).select_related("job", "created_by"))
    presets = [(preset.label, [title for titles in preset.columns.values() for title in titles[:1]])
               for preset in PRESETS.values()]
    return render(request, "cdp/imports/list.html", {"form": form, "page": page, "mappings": mappings,
                                                     "presets": presets})


def _batch(request, pk: int) -> OrderImport:
    return get_object_or_404(OrderImport.objects.visible_to(request.membership).select_related("job"), pk=pk)


@requires("orders.import")
def detail(request, pk: int):
    """One import: its progress while it runs, then its report (orders stored, skipped, every bad row)."""
    return render(request, "cdp/imports/detail.html", {"batch": _batch(request, pk)})


@requires("orders.import")
def status(request, pk: int):
    """The progress and report component, re-fetched every second until the import has finished."""
    return render(request, "cdp/imports/_status.html", {"batch": _batch(request, pk)})


@requires("orders.import")
@require_http_methods(["GET", "POST"])
def mapping_new(request):
    """Save a custom column mapping: which header holds each field in the brand's own export."""
    form = MappingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            order_import.save_mapping(request.membership.org, name=form.cleaned_data["name"],
                                      source=form.cleaned_data["source"], columns=form.columns(), by=request.user)
        except ValidationError as error:
            _form_errors(form, error)
        else:
            messages.success(request, _("映射已保存。"))
            return redirect("imports:list")
    return render(request, "cdp/imports/mapping_form.html", {"form": form, "fields": FIELDS})
