"""Console pages of the script library: folders and list with search, the editor, review, usage counts."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from siyu.console.access import requires
from siyu.console.forms import attach_service_errors
from siyu.console.paging import paginate
from siyu.content import scripts
from siyu.content.folder_views import folder_created
from siyu.content.highlight import highlight
from siyu.content.models import Scope, Script
from siyu.content.script_forms import FolderForm, ReviewForm, ScriptForm


def _tree(viewer) -> list[tuple[int, object]]:
    """The viewer's folders depth-first, each with its depth and how many scripts in it the viewer sees."""
    counts = dict(scripts.library(viewer).order_by().values_list("folder_id").annotate(n=Count("id")))
    rows = list(scripts.folders(viewer))
    for folder in rows:
        folder.n = counts.get(folder.pk, 0)
    children: dict[int | None, list] = {}
    for folder in rows:
        children.setdefault(folder.parent_id, []).append(folder)
    out: list[tuple[int, object]] = []

    def walk(parent_id, depth):
        for folder in children.get(parent_id, []):
            out.append((depth, folder))
            walk(folder.pk, depth + 1)

    walk(None, 0)
    return out


@requires("content.scripts")
@require_http_methods(["GET", "POST"])
def library(request):
    """Folder tree, the scripts with search, and a form to add a folder."""
    viewer = request.membership
    folder_form = FolderForm(request.POST or None, viewer=viewer)
    created = folder_created(request, folder_form, scripts.create_folder, "content:scripts")
    if created is not None:
        return created
    rows = scripts.library(viewer).select_related("folder", "owner__user")
    query = request.GET.get("q", "").strip()
    folder = request.GET.get("folder", "")
    status = request.GET.get("status", "")
    rows = scripts.search(rows, query)
    if folder.isdigit():
        rows = rows.filter(folder_id=int(folder))
    if status in Script.Status.values:
        rows = rows.filter(status=status)
    rows = rows.annotate(use_count=Count("uses")).order_by("title", "id")
    context = {"page": paginate(request, rows), "query": query, "folder": folder, "status": status,
               "tree": _tree(viewer), "folder_form": folder_form, "statuses": Script.Status.choices,
               "can_review": viewer.can("content.review"), "can_share": viewer.can("content.scripts_shared"),
               "in_review": scripts.library(viewer).filter(status=Script.Status.IN_REVIEW).count()
               if viewer.can("content.review") else 0}
    return render(request, "content/scripts/library.html", context, status=400 if folder_form.is_bound else 200)


def _editable(request, pk: int) -> Script:
    script = get_object_or_404(scripts.library(request.membership), pk=pk)
    if script.scope == Scope.PERSONAL and script.owner_id != request.membership.pk:
        raise PermissionDenied
    if script.scope == Scope.HQ and not request.membership.can("content.scripts_shared"):
        raise PermissionDenied
    return script


@requires("content.scripts")
@require_http_methods(["GET", "POST"])
def edit(request, pk: int | None = None):
    """Write a new script or change one (an HQ script changed goes back to draft)."""
    viewer = request.membership
    script = _editable(request, pk) if pk is not None else None
    initial = {"title": script.title, "body": script.body, "folder": script.folder_id or ""} if script else {
        "scope": Scope.HQ if viewer.can("content.scripts_shared") else Scope.PERSONAL}
    form = ScriptForm(request.POST or None, initial=initial, viewer=viewer,
                      fixed_scope=script.scope if script else None)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        try:
            saved = scripts.save_script(viewer.org, script=script, folder=data["folder"], title=data["title"],
                                        body=data["body"], scope=data.get("scope", script.scope if script else ""),
                                        by=viewer)
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            messages.success(request, _("已保存话术“%(title)s”。") % {"title": saved.title})
            return redirect("content:scripts")
    return render(request, "content/scripts/edit.html", {"form": form, "script": script},
                  status=400 if form.is_bound else 200)


@requires("content.scripts_shared")
@require_POST
def submit(request, pk: int):
    script = _editable(request, pk)
    try:
        findings = scripts.submit_for_review(script, by=request.membership)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        blocked = sum(f.blocks for f in findings)
        if blocked:
            messages.warning(request, _("已提交审核；检查发现 %(n)d 处禁止使用的词，审核人需要放行理由才能通过。") % {"n": blocked})
        else:
            messages.success(request, _("已提交审核。"))
    return redirect("content:scripts")


@requires("content.review")
@require_http_methods(["GET", "POST"])
def review(request, pk: int):
    """The script with the checker's findings highlighted; approve, reject with a comment, or override."""
    viewer = request.membership
    script = get_object_or_404(scripts.library(viewer).select_related("folder", "created_by", "reviewed_by"), pk=pk)
    form = ReviewForm(request.POST or None)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        try:
            if data["decision"] == "approve":
                scripts.approve_script(script, override_reason=data["override_reason"], by=viewer)
                messages.success(request, _("话术“%(title)s”已通过审核。") % {"title": script.title})
            else:
                scripts.reject_script(script, comment=data["comment"], by=viewer)
                messages.success(request, _("话术“%(title)s”已驳回。") % {"title": script.title})
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            return redirect("content:scripts")
    findings = scripts.review_findings(script)
    text = f"{script.title}\n{script.body}"
    context = {"script": script, "form": form, "findings": findings, "highlighted": highlight(text, findings),
               "blocked": any(f.blocks for f in findings)}
    return render(request, "content/scripts/review.html", context, status=400 if form.is_bound else 200)


@requires("content.scripts")
def usage(request):
    """How often each script was used, and by whom (as far as the viewer sees members)."""
    viewer = request.membership
    context = {"by_script": list(scripts.use_counts_by_script(viewer)[:50]),
               "by_member": list(scripts.use_counts_by_member(viewer)[:50])}
    return render(request, "content/scripts/usage.html", context)
