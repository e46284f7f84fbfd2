"""Console pages for customer groups (客户群): the list with owners, members and the brand's group tags, and the
tags themselves (HQ adds and removes them; anyone who may see a group may tag it)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from siyu.console.access import requires
from siyu.console.forms import attach_service_errors
from siyu.console.paging import paginate
from siyu.groups import tagging
from siyu.groups.forms import GroupFilterForm, GroupTagForm, GroupTagsForm
from siyu.groups.models import CustomerGroup, GroupTag, GroupTagging


def _tags(viewer):
    return list(GroupTag.objects.visible_to(viewer))


@requires("groups.view")
@require_GET
def group_list(request):
    viewer = request.membership
    tags = _tags(viewer)
    form = GroupFilterForm(request.GET or None, tags=tags)
    rows = (CustomerGroup.objects.visible_to(viewer).select_related("owner")
            .prefetch_related(Prefetch("taggings", GroupTagging.objects.visible_to(viewer).select_related("tag")))
            .order_by("status", "-created_in_wecom_at", "-pk"))
    if form.is_valid():
        if form.cleaned_data["q"]:
            rows = rows.filter(name__contains=form.cleaned_data["q"].strip())
        if form.cleaned_data["tag"]:
            rows = rows.filter(taggings__tag_id=form.cleaned_data["tag"])
    context = {"form": form, "page": paginate(request, rows), "tags": tags, "tag_form": GroupTagForm()}
    return render(request, "groups/group_list.html", context, status=200 if not form.is_bound or form.is_valid() else 400)


@requires("groups.tags")
@require_POST
def tag_create(request):
    viewer = request.membership
    form = GroupTagForm(request.POST)
    if form.is_valid():
        try:
            tag = tagging.create_tag(viewer.org, form.cleaned_data["name"], by=viewer)
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            messages.success(request, _("已添加群标签“%(name)s”。") % {"name": tag.name})
            return redirect("groups:list")
    tags = _tags(viewer)
    page = paginate(request, CustomerGroup.objects.visible_to(viewer).select_related("owner").order_by("-pk"))
    return render(request, "groups/group_list.html", {"form": GroupFilterForm(tags=tags), "page": page, "tags": tags,
                                                      "tag_form": form}, status=400)


@requires("groups.tags")
@require_POST
def tag_delete(request, pk: int):
    tag = get_object_or_404(GroupTag.objects.visible_to(request.membership), pk=pk)
    tagging.delete_tag(tag, by=request.membership)
    messages.success(request, _("已删除群标签“%(name)s”。") % {"name": tag.name})
    return redirect("groups:list")


@requires("groups.tag_groups")
@require_http_methods(["GET", "POST"])
def group_tags(request, pk: int):
    viewer = request.membership
    group = get_object_or_404(CustomerGroup.objects.visible_to(viewer).select_related("owner"), pk=pk)
    tags = _tags(viewer)
    current = list(GroupTagging.objects.visible_to(viewer).filter(group=group).values_list("tag_id", flat=True))
    form = GroupTagsForm(request.POST or None, tags=tags, initial={"tags": current})
    if request.method == "POST" and form.is_valid():
        try:
            tagging.set_group_tags(group, form.cleaned_data["tags"], by=viewer)
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            messages.success(request, _("已更新“%(name)s”的群标签。") % {"name": group})
            return redirect("groups:list")
    return render(request, "groups/group_tags.html", {"form": form, "group": group, "tags": tags},
                  status=400 if form.is_bound else 200)
