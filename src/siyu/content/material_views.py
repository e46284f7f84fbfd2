"""Pages of the material library: the console's list, editor per kind, review and preview, and the public page
(``/h5/material/<signed id>/``) where a customer reads an approved material."""

from __future__ import annotations

import mimetypes
from pathlib import PurePath

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from siyu.console.access import requires
from siyu.console.forms import attach_service_errors
from siyu.console.paging import paginate
from siyu.content import materials
from siyu.content.folder_views import folder_created
from siyu.content.highlight import highlight
from siyu.content.material_forms import MaterialFolderForm, MaterialForm
from siyu.content.models import Material, Scope
from siyu.content.script_forms import ReviewForm


@requires("content.materials")
@require_http_methods(["GET", "POST"])
def library(request):
    """Folders, the materials with folder / tag / kind / status filters and search, and a form to add a folder."""
    viewer = request.membership
    folder_form = MaterialFolderForm(request.POST or None, viewer=viewer)
    created = folder_created(request, folder_form, materials.create_folder, "content:materials")
    if created is not None:
        return created
    rows = materials.library(viewer).select_related("folder")
    filters = {key: request.GET.get(key, "").strip() for key in ("q", "folder", "tag", "kind", "status")}
    rows = materials.with_tag(materials.search(rows, filters["q"]), filters["tag"])
    if filters["folder"].isdigit():
        rows = rows.filter(folder_id=int(filters["folder"]))
    if filters["kind"] in Material.Kind.values:
        rows = rows.filter(kind=filters["kind"])
    if filters["status"] in Material.Status.values:
        rows = rows.filter(status=filters["status"])
    context = {"page": paginate(request, rows), "filters": filters, "folders": materials.folders(viewer),
               "folder_form": folder_form, "kinds": Material.Kind.choices, "statuses": Material.Status.choices,
               "can_review": viewer.can("content.review"), "can_share": viewer.can("content.materials_shared")}
    return render(request, "content/materials/library.html", context, status=400 if folder_form.is_bound else 200)


def _editable(request, pk: int) -> Material:
    material = get_object_or_404(materials.library(request.membership), pk=pk)
    if material.scope == Scope.PERSONAL and material.owner_id != request.membership.pk:
        raise PermissionDenied
    if material.scope == Scope.HQ and not request.membership.can("content.materials_shared"):
        raise PermissionDenied
    return material


@requires("content.materials")
@require_http_methods(["GET", "POST"])
def edit(request, pk: int | None = None, kind: str = ""):
    """Create a material of ``kind`` or change one (it goes back to draft and is reviewed again)."""
    viewer = request.membership
    material = _editable(request, pk) if pk is not None else None
    kind = material.kind if material else kind
    if kind not in Material.Kind.values:
        raise Http404
    if material:
        initial = {name: getattr(material, name) for name in materials.FIELDS}
        initial.update(folder=material.folder_id or "", tags=" ".join(material.tag_list), qr_left=material.qr_left,
                       qr_top=material.qr_top, qr_size=material.qr_size, qr_name=material.qr_name)
    else:
        initial = {"scope": Scope.HQ if viewer.can("content.materials_shared") else Scope.PERSONAL}
    form = MaterialForm(request.POST or None, request.FILES or None, initial=initial, viewer=viewer, kind=kind,
                        fixed_scope=material.scope if material else None)
    if form.is_bound and form.is_valid():
        try:
            saved = materials.save_material(viewer.org, material=material, kind=kind, by=viewer,
                                            **form.service_arguments())
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            messages.success(request, _("已保存素材“%(title)s”，提交审核通过后才能发送。") % {"title": saved.title})
            return redirect("content:material_preview", saved.pk)
    context = {"form": form, "material": material, "kind_label": Material.Kind(kind).label}
    return render(request, "content/materials/edit.html", context, status=400 if form.is_bound else 200)


@requires("content.materials")
def new(request):
    """Choose the kind of the new material."""
    return render(request, "content/materials/new.html", {"kinds": Material.Kind.choices})


@requires("content.materials")
@require_POST
def submit(request, pk: int):
    material = _editable(request, pk)
    try:
        findings = materials.submit_for_review(material, by=request.membership)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        blocked = sum(f.blocks for f in findings)
        if blocked:
            messages.warning(request, _("已提交审核；检查发现 %(n)d 处禁止使用的词，审核人需要放行理由才能通过。") % {"n": blocked})
        else:
            messages.success(request, _("已提交审核。"))
    return redirect("content:material_preview", material.pk)


@requires("content.materials")
def preview(request, pk: int):
    """The material as a customer will see it, with its state and the checker's findings."""
    material = get_object_or_404(materials.library(request.membership).select_related("folder", "created_by"), pk=pk)
    findings = materials.review_findings(material)
    context = {"material": material, "findings": findings,
               "highlighted": highlight(materials.checked_text(material), findings),
               "can_edit": _may_edit(request.membership, material), "can_review": request.membership.can("content.review"),
               "public_url": materials.public_url(material) if material.status == Material.Status.APPROVED else ""}
    return render(request, "content/materials/preview.html", context)


def _may_edit(viewer, material: Material) -> bool:
    if material.scope == Scope.PERSONAL:
        return material.owner_id == viewer.pk
    return viewer.can("content.materials_shared")


@requires("content.review")
@require_http_methods(["GET", "POST"])
def review(request, pk: int):
    """Approve, reject with a comment, or override blocked findings with an audited reason; or withdraw."""
    viewer = request.membership
    material = get_object_or_404(materials.library(viewer).select_related("folder", "created_by", "reviewed_by"),
                                 pk=pk)
    form = ReviewForm(request.POST or None)
    if request.POST.get("decision") == "withdraw":
        try:
            materials.withdraw_material(material, by=viewer)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("素材“%(title)s”已下架。") % {"title": material.title})
        return redirect("content:material_preview", material.pk)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        try:
            if data["decision"] == "approve":
                materials.approve_material(material, override_reason=data["override_reason"], by=viewer)
                messages.success(request, _("素材“%(title)s”已通过审核。") % {"title": material.title})
            else:
                materials.reject_material(material, comment=data["comment"], by=viewer)
                messages.success(request, _("素材“%(title)s”已驳回。") % {"title": material.title})
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            return redirect("content:materials")
    findings = materials.review_findings(material)
    context = {"material": material, "form": form, "findings": findings,
               "highlighted": highlight(materials.checked_text(material), findings),
               "blocked": any(f.blocks for f in findings)}
    return render(request, "content/materials/review.html", context, status=400 if form.is_bound else 200)


# Public ---------------------------------------------------------------------------------------------------------

@require_GET
def public_page(request, token: str):
    """The H5 page of an approved material; anything else (bad id, draft, rejected, withdrawn) is not found."""
    material = materials.public(token)
    if material is None:
        raise Http404
    return render(request, "content/materials/public.html", {"material": material, "org": material.org,
                                                             "token": token})


@requires("content.materials")
def console_file(request, pk: int, which: str):
    """A material's file or cover for the console's preview, in any state, to those who see the material."""
    return _file(get_object_or_404(materials.library(request.membership), pk=pk), which)


@require_GET
def public_file(request, token: str, which: str, name: str):
    """An approved material's file or cover (what WeCom's upload fetches and the public page shows)."""
    return _file(materials.public(token), which)


def _file(material: Material | None, which: str) -> FileResponse:
    stored = getattr(material, which) if material is not None and which in ("file", "cover") else None
    if not stored:
        raise Http404
    content_type = mimetypes.guess_type(PurePath(stored.name).name)[0] or "application/octet-stream"
    response = FileResponse(stored.open("rb"), content_type=content_type,
                            filename=material.file_name if which == "file" and material.file_name else None,
                            as_attachment=material.kind == Material.Kind.FILE)
    response["X-Content-Type-Options"] = "nosniff"
    return response
