"""Console pages: the customer list with bulk actions, the customer profile (360), corp and personal tags, and
the protected labels. Thin shells: every change goes through ``tags``, ``notes``, ``bulk`` or ``tagging``."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from siyu.console.access import requires
from siyu.console.forms import attach_service_errors
from siyu.core import spreadsheets
from siyu.core.models import Job
from siyu.customers import bulk, notes, tags as tag_services
from siyu.customers import columns as list_columns
from siyu.customers.forms import (
    BulkForm, CustomerFilterForm, CustomerTagForm, FollowUpCloseForm, FollowUpForm, NoteForm, PersonalTagForm,
    ProtectedLabelForm, RenameForm, TagAddForm, TagGroupForm,
)
from siyu.customers.models import Customer, FollowUp, ProtectedLabel, Tag, TagGroup
from siyu.customers.profile import profile_sections, register_profile_section, timeline_entries
from siyu.customers.queries import (
    decorate, filter_customers, follow_ups_of, list_page, notes_of, relations_of, tags_of, timeline_page,
)
from siyu.groups.models import GroupMember
from siyu.orgs import audit
from siyu.privacy import sealed
from siyu.privacy.masking import mask_phone

JOB_KINDS = (bulk.BULK_TAG, bulk.EXPORT, bulk.REINDEX_PHONES)


# -- the list ------------------------------------------------------------------------------------------------
def _list_query(request) -> str:
    """The current filter as a query string (no paging), for links that keep it."""
    params = [(k, v) for k in request.GET for v in request.GET.getlist(k) if k not in {"after", "before"}]
    return urlencode(params)


def _my_jobs(request):
    return Job.objects.visible_to(request.membership).filter(created_by=request.user, kind__in=JOB_KINDS)


@requires("customers.view")
def customer_list(request):
    """Every customer the viewer may see, filtered, one keyset page at a time, with bulk actions."""
    viewer = request.membership
    form = CustomerFilterForm(request.GET or None, viewer=viewer)
    status = 200
    if form.is_bound and not form.is_valid():
        rows, sort, status = Customer.objects.visible_to(viewer).none(), "-added", 400
    else:
        data = form.cleaned_data if form.is_bound else {"tag_mode": "any", "sort": "-added"}
        rows, sort = filter_customers(viewer, data), data["sort"]
    size = list_columns.page_size(request.GET)
    page = list_page(rows, viewer.org_id, sort, after=request.GET.get("after"), before=request.GET.get("before"),
                     size=size)
    count, exact = page.extra["count"], page.extra["exact"]
    can_bulk = viewer.can("customers.bulk")
    shown = list_columns.columns(request.GET)
    decorated = decorate(viewer.org_id, page.rows)
    list_columns.fill(viewer.org_id, decorated, shown)
    context = {
        "form": form, "page": page, "rows": decorated, "count": count, "count_exact": exact,
        "columns": shown, "page_size": size, "page_sizes": list_columns.PAGE_SIZES,
        "query": _list_query(request), "can_bulk": can_bulk,
        "bulk_form": BulkForm(viewer=viewer) if can_bulk else None,
        "jobs": _my_jobs(request)[:5] if can_bulk else [],
        "filtered": form.is_filtered,
    }
    return render(request, "customers/list.html", context, status=status)


@require_POST
@requires("customers.bulk")
def customer_bulk(request):
    """Start a bulk action on the ticked customers or on the whole current filter (the query string)."""
    viewer = request.membership
    form = BulkForm(request.POST, viewer=viewer)
    target = f"{reverse('customers:list')}?{_list_query(request)}"
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return HttpResponseRedirect(target)
    data = form.cleaned_data
    if data["scope"] == "filter":
        check = CustomerFilterForm(request.GET, viewer=viewer)
        if not check.is_valid():
            messages.error(request, _("筛选条件有误，请先修正筛选条件。"))
            return HttpResponseRedirect(target)
    try:
        job = bulk.start_bulk(viewer, action=data["action"], scope=data["scope"], ids=data.get("ids"),
                              filters=bulk.filter_params(request.GET), tags=list(data.get("bulk_tags") or []))
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return HttpResponseRedirect(target)
    messages.success(request, _("已开始：%(title)s。进度见页面上方。") % {"title": job.title})
    return HttpResponseRedirect(target)


@requires("customers.view")
def job_progress(request, pk: int):
    """Progress of one of the viewer's own customer jobs (HTMX polls it until the job has finished)."""
    job = get_object_or_404(_my_jobs(request), pk=pk)
    return render(request, "customers/_job.html", {"job": job})


@requires("customers.bulk")
def export_download(request, pk: int):
    """The Excel file of a finished export, to the member who asked for it; every download is audited."""
    job = get_object_or_404(_my_jobs(request).filter(kind=bulk.EXPORT, status=Job.Status.SUCCEEDED), pk=pk)
    path = bulk.export_path(job)
    if path is None:
        raise Http404("export file is gone")
    audit.record("customers.export_downloaded", org=job.org_id, actor=request.user, obj=job,
                 details={"rows": job.result.get("rows"), "phones_masked": job.result.get("phones_masked")})
    stamp = timezone.localtime(job.created_at).strftime("%Y%m%d-%H%M")
    return sealed.download(path, context=bulk.EXPORT_CONTEXT, filename=f"customers-{stamp}.xlsx",
                           content_type=spreadsheets.CONTENT_TYPE)


# -- the profile ---------------------------------------------------------------------------------------------
def _groups_section(customer, viewer):
    memberships = (GroupMember.objects.visible_to(viewer).filter(customer=customer)
                   .select_related("group", "group__owner").order_by("-is_active", "-join_time"))
    return {"memberships": memberships}


register_profile_section("customers/_section_groups.html", _groups_section, order=50, key="groups", title=gettext_lazy("客户群"))


def _phones(relation, show: bool) -> list[str]:
    try:
        numbers = [str(n) for n in json.loads(relation.remark_mobiles or "[]") if n]
    except ValueError:
        numbers = []
    return numbers if show else [mask_phone(n) for n in numbers]


def _sections(request, customer) -> list[dict]:
    shown = []
    for section in profile_sections():
        context = section.context_func(customer, request.membership)
        if context is not None:
            html = render_to_string(section.template_name, {**context, "customer": customer, "viewer": request.membership},
                                    request=request)
            shown.append({"section": section, "html": html})
    return shown


def _profile(request, pk: int, *, forms: dict | None = None, status: int = 200):
    viewer = request.membership
    customer = get_object_or_404(Customer.objects.visible_to(viewer), pk=pk)
    show_phones = viewer.can("pii.view")
    relations = list(relations_of(customer))
    for relation in relations:
        relation.display_phones = _phones(relation, show_phones)
    timeline = timeline_page(customer)
    can_edit = viewer.can("customers.edit")
    forms = forms or {}
    context = {
        "customer": customer, "relations": relations, "tags": tags_of(customer), "notes": notes_of(customer),
        "follow_ups": follow_ups_of(customer), "timeline": timeline_entries(timeline.rows), "timeline_next": timeline.next_cursor,
        "sections": _sections(request, customer), "can_edit": can_edit, "show_phones": show_phones,
        "note_form": forms.get("note") or NoteForm(),
        "follow_up_form": forms.get("follow_up") or FollowUpForm(viewer=viewer, customer=customer),
        "tag_form": forms.get("tag") or CustomerTagForm(viewer=viewer),
        "open_follow_ups": FollowUp.Status.OPEN,
    }
    return render(request, "customers/detail.html", context, status=status)


@requires("customers.view")
def customer_detail(request, pk: int):
    return _profile(request, pk)


def _customer_for_edit(request, pk: int) -> Customer:
    return get_object_or_404(Customer.objects.visible_to(request.membership), pk=pk)


def _back(customer, anchor: str = ""):
    return redirect(reverse("customers:detail", args=[customer.pk]) + (f"#{anchor}" if anchor else ""))


@require_POST
@requires("customers.edit")
def note_add(request, pk: int):
    customer = _customer_for_edit(request, pk)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            notes.add_note(customer, form.cleaned_data["text"], by=request.membership)
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            messages.success(request, _("已添加小记。"))
            return _back(customer, "timeline")
    return _profile(request, pk, forms={"note": form}, status=400)


@require_POST
@requires("customers.edit")
def follow_up_add(request, pk: int):
    viewer = request.membership
    customer = _customer_for_edit(request, pk)
    form = FollowUpForm(request.POST, viewer=viewer, customer=customer)
    if form.is_valid():
        data = form.cleaned_data
        try:
            notes.add_follow_up(customer, data["text"], due_at=data["due_at"], assignee=data["assignee"], by=viewer)
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            messages.success(request, _("已安排跟进。"))
            return _back(customer, "follow-ups")
    return _profile(request, pk, forms={"follow_up": form}, status=400)


@require_POST
@requires("customers.edit")
def follow_up_close(request, pk: int, follow_up_pk: int):
    viewer = request.membership
    customer = _customer_for_edit(request, pk)
    follow_up = get_object_or_404(FollowUp.objects.visible_to(viewer).filter(customer=customer), pk=follow_up_pk)
    form = FollowUpCloseForm(request.POST)
    if form.is_valid():
        notes.close_follow_up(follow_up, form.cleaned_data["status"], by=viewer)
        messages.success(request, _("跟进计划已更新。"))
    return _back(customer, "follow-ups")


@require_POST
@requires("customers.edit")
def tag_add(request, pk: int):
    viewer = request.membership
    customer = _customer_for_edit(request, pk)
    form = CustomerTagForm(request.POST, viewer=viewer)
    if form.is_valid():
        try:
            added = tag_services.tag_customer_as(viewer, customer, list(form.cleaned_data["tags"]))
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            messages.success(request, _("已添加标签。") if added else _("客户已有这些标签。"))
            return _back(customer, "tags")
    return _profile(request, pk, forms={"tag": form}, status=400)


@require_POST
@requires("customers.edit")
def tag_remove(request, pk: int, tag_pk: int):
    viewer = request.membership
    customer = _customer_for_edit(request, pk)
    tag = get_object_or_404(Tag.objects.visible_to(viewer), pk=tag_pk)
    try:
        removed = tag_services.untag_customer_as(viewer, customer, [tag])
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        if removed:
            messages.success(request, _("已移除标签“%(name)s”。") % {"name": tag.name})
        else:
            messages.error(request, _("该标签不是通过你可管理的好友关系打上的，无法移除。"))
    return _back(customer, "tags")


@requires("customers.view")
def timeline_more(request, pk: int):
    """The next page of the timeline (HTMX appends it under the previous one)."""
    customer = get_object_or_404(Customer.objects.visible_to(request.membership), pk=pk)
    page = timeline_page(customer, after=request.GET.get("after"))
    return render(request, "customers/_timeline_page.html",
                  {"customer": customer, "timeline": timeline_entries(page.rows), "timeline_next": page.next_cursor})


# -- corp tags -----------------------------------------------------------------------------------------------
def _tag_page(request, *, errors: dict | None = None, status: int = 200, group_form=None):
    viewer = request.membership
    groups = list(TagGroup.objects.visible_to(viewer).filter(deleted=False).order_by("-order", "id"))
    by_group: dict[int, list[Tag]] = {g.pk: [] for g in groups}
    errors = errors or {}
    for tag in Tag.objects.visible_to(viewer).filter(kind=Tag.Kind.CORP, deleted=False, group__in=groups).order_by("-order", "id"):
        tag.errors = errors.get(f"tag-{tag.pk}")
        tag.read_only = tag_services.read_only_reason(tag)
        by_group[tag.group_id].append(tag)
    for group in groups:
        group.live_tags = by_group[group.pk]
        group.errors = errors.get(f"group-{group.pk}")
        group.read_only = tag_services.read_only_reason(group)
    context = {
        "groups": groups, "total": tag_services.corp_tag_count(viewer.org), "limit": tag_services.MAX_CORP_TAGS,
        "max_name": tag_services.MAX_NAME, "group_form": group_form or TagGroupForm(), "errors": errors,
        "pending": any(not g.wecom_id for g in groups) or any(not t.wecom_id for g in groups for t in g.live_tags),
    }
    return render(request, "customers/tags.html", context, status=status)


@requires("tags.manage")
def tags_page(request):
    return _tag_page(request)


@require_POST
@requires("tags.manage")
def tag_group_create(request):
    viewer = request.membership
    form = TagGroupForm(request.POST)
    if form.is_valid():
        try:
            group = tag_services.create_tag_group(viewer.org, name=form.cleaned_data["name"], tags=form.cleaned_data["tags"],
                                                  by=request.user)
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            messages.success(request, _("已创建标签组“%(name)s”，并已同步到企业微信。") % {"name": group.name})
            return redirect("customers:tags")
    return _tag_page(request, group_form=form, status=400)


def _errors_of(error: ValidationError) -> list[str]:
    return [m for ms in error.message_dict.values() for m in ms] if hasattr(error, "error_dict") else error.messages


@require_POST
@requires("tags.manage")
def tag_group_action(request, pk: int):
    viewer = request.membership
    group = get_object_or_404(TagGroup.objects.visible_to(viewer).filter(deleted=False), pk=pk)
    op = request.POST.get("op", "")
    try:
        if op == "add":
            form = TagAddForm(request.POST)
            if not form.is_valid():
                raise ValidationError(form.errors["name"])
            created = tag_services.add_tags(group, form.cleaned_data["name"], by=request.user)
            messages.success(request, _("已添加 %(n)d 个标签。") % {"n": len(created)})
        elif op == "rename":
            form = RenameForm(request.POST)
            if not form.is_valid():
                raise ValidationError(form.errors["name"])
            tag_services.rename_tag_group(group, form.cleaned_data["name"], by=request.user)
            messages.success(request, _("已重命名标签组。"))
        elif op == "delete":
            affected = tag_services.delete_tag_group(group, by=request.user)
            messages.success(request, _("已删除标签组“%(name)s”，%(n)d 位客户的相关标签已移除。") % {"name": group.name, "n": affected})
        elif op in {"up", "down"}:
            tag_services.move_tag_group(group, op, by=request.user)
        else:
            raise ValidationError(_("未知的操作。"))
    except ValidationError as error:
        return _tag_page(request, errors={f"group-{group.pk}": _errors_of(error)}, status=400)
    return redirect(reverse("customers:tags") + f"#group-{group.pk}")


@require_POST
@requires("tags.manage")
def tag_action(request, pk: int):
    viewer = request.membership
    tag = get_object_or_404(Tag.objects.visible_to(viewer).filter(kind=Tag.Kind.CORP, deleted=False), pk=pk)
    op = request.POST.get("op", "")
    try:
        if op == "rename":
            form = RenameForm(request.POST)
            if not form.is_valid():
                raise ValidationError(form.errors["name"])
            tag_services.rename_tag(tag, form.cleaned_data["name"], by=request.user)
            messages.success(request, _("已重命名标签。"))
        elif op == "delete":
            affected = tag_services.delete_tag(tag, by=request.user)
            messages.success(request, _("已删除标签“%(name)s”，已从 %(n)d 位客户移除。") % {"name": tag.name, "n": affected})
        elif op in {"up", "down"}:
            tag_services.move_tag(tag, op, by=request.user)
        else:
            raise ValidationError(_("未知的操作。"))
    except ValidationError as error:
        return _tag_page(request, errors={f"tag-{tag.pk}": _errors_of(error)}, status=400)
    return redirect(reverse("customers:tags") + f"#group-{tag.group_id}")


@require_POST
@requires("tags.manage")
def tags_sync(request):
    try:
        result = tag_services.pull_corp_tags(request.membership.org, by=request.user)
    except ValidationError as error:
        return _tag_page(request, errors={"sync": _errors_of(error)}, status=400)
    messages.success(request, _("已与企业微信同步：%(groups)d 个标签组、%(tags)d 个标签。") % result)
    return redirect("customers:tags")


# -- personal tags -------------------------------------------------------------------------------------------
@requires("customers.edit")
def personal_tags(request):
    """A staff member's own tags (个人标签): only they see and use them, on their own customers."""
    viewer = request.membership
    staff = tag_services.staff_of(viewer)
    form = PersonalTagForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if staff is None:
            raise Http404("no staff member for this account")
        op = request.POST.get("op", "create")
        try:
            if op == "create":
                if form.is_valid():
                    tag_services.create_personal_tag(staff, form.cleaned_data["name"], by=request.user)
                    messages.success(request, _("已添加个人标签。"))
                    return redirect("customers:personal_tags")
            else:
                tag = get_object_or_404(tag_services.personal_tags(staff), pk=request.POST.get("tag") or 0)
                if op == "delete":
                    tag_services.delete_tag(tag, by=request.user)
                    messages.success(request, _("已删除个人标签“%(name)s”。") % {"name": tag.name})
                    return redirect("customers:personal_tags")
                rename = RenameForm(request.POST)
                if rename.is_valid():
                    tag_services.rename_tag(tag, rename.cleaned_data["name"], by=request.user)
                    messages.success(request, _("已重命名。"))
                    return redirect("customers:personal_tags")
                form.add_error(None, _("请输入新名称。"))
        except ValidationError as error:
            attach_service_errors(form, error)
        status = 400
    tags = list(tag_services.personal_tags(staff)) if staff is not None else []
    return render(request, "customers/personal_tags.html", {"staff": staff, "tags": tags, "form": form}, status=status)


# -- protected labels ----------------------------------------------------------------------------------------
@requires("tags.manage")
def protected_labels(request):
    """HQ's list of words no tag may contain (seed 000), with the tags that contain one today."""
    viewer = request.membership
    org = viewer.org
    form = ProtectedLabelForm(request.POST or None)
    status = 200
    if request.method == "POST":
        op = request.POST.get("op", "add")
        if op == "remove":
            label = get_object_or_404(ProtectedLabel.objects.visible_to(viewer), pk=request.POST.get("label") or 0)
            tag_services.remove_protected_label(label, by=request.user)
            messages.success(request, _("已移除受保护词“%(word)s”。") % {"word": label.word})
            return redirect("customers:protected_labels")
        if op == "restore":
            added = tag_services.restore_default_labels(org, by=request.user)
            messages.success(request, _("已恢复 %(n)d 个默认受保护词。") % {"n": added})
            return redirect("customers:protected_labels")
        if form.is_valid():
            try:
                tag_services.add_protected_label(org, form.cleaned_data["word"], reason=form.cleaned_data["reason"], by=request.user)
            except ValidationError as error:
                attach_service_errors(form, error)
            else:
                messages.success(request, _("已添加受保护词。"))
                return redirect("customers:protected_labels")
        status = 400
    context = {"labels": tag_services.protected_labels(org), "form": form, "conflicts": tag_services.conflicting_tags(org),
               "explanation": tag_services.PROTECTION_EXPLANATION}
    return render(request, "customers/protected_labels.html", context, status=status)
