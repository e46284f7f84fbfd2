from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from siyu.console.access import requires
from siyu.console.forms import attach_service_errors
from siyu.console.paging import paginate
from siyu.orgs import services
from siyu.orgs.forms import (
    WEEKDAY_LABELS, AuditFilterForm, InvitationForm, MemberFilterForm, MemberForm, RoleForm, StoreEditForm,
    StoreFilterForm, StoreForm,
)
from siyu.orgs.models import AuditEntry, Membership, Store


@requires("stores.view")
def stores(request):
    viewer = request.membership
    filters = StoreFilterForm(request.GET or None)
    rows = Store.objects.visible_to(viewer).select_related("parent")
    if filters.is_valid():
        data = filters.cleaned_data
        if data["q"]:
            rows = rows.filter(Q(name__icontains=data["q"]) | Q(code__icontains=data["q"]))
        if data["kind"]:
            rows = rows.filter(kind=data["kind"])
        if data["city"]:
            rows = rows.filter(city__icontains=data["city"])
    return render(request, "orgs/stores.html", {"filters": filters, "page": paginate(request, rows.order_by("code"))})


@requires("stores.manage")
def store_new(request):
    viewer = request.membership
    form = StoreForm(request.POST or None, viewer=viewer)
    if request.method == "POST" and form.is_valid():
        try:
            store = services.create_store(org=viewer.org, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            messages.success(request, _("已创建 %(name)s。") % {"name": store.name})
            return redirect("orgs:stores")
    return render(request, "orgs/store_form.html", {"form": form}, status=400 if form.errors else 200)


@requires("stores.view")
def store_detail(request, pk: int):
    """A store's details, location and hours; members who manage stores edit them here."""
    viewer = request.membership
    store = get_object_or_404(Store.objects.visible_to(viewer).select_related("parent"), pk=pk)
    can_manage = viewer.can("stores.manage")
    form = StoreEditForm(request.POST if request.method == "POST" and can_manage else None, store=store)
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.update_store(store, by=viewer, name=data["name"], city=data["city"], address=data["address"],
                                      latitude=data["latitude"], longitude=data["longitude"],
                                      opening_hours=data["opening_hours"])
            except ValidationError as error:
                store.refresh_from_db()
                attach_service_errors(form, error)
            else:
                messages.success(request, _("已保存 %(name)s。") % {"name": store.name})
                return redirect("orgs:store", pk=store.pk)
    context = {"store": store, "form": form, "can_manage": can_manage, "hours": _hours_by_day(store)}
    return render(request, "orgs/store_detail.html", context, status=400 if form.errors else 200)


def _hours_by_day(store: Store) -> list[tuple[str, str]]:
    """(weekday, hours) in weekday order, for reading; empty when the hours are unknown."""
    hours = store.opening_hours or {}
    if not hours:
        return []
    return [(label, "、".join(f"{a}–{b}" for a, b in hours.get(day) or []) or _("休息"))
            for day, label in WEEKDAY_LABELS.items()]


@require_POST
@requires("stores.manage")
def store_set_active(request, pk: int):
    store = get_object_or_404(Store.objects.visible_to(request.membership), pk=pk)
    active = request.POST.get("active") == "1"
    services.set_store_active(store, active=active, by=request.membership)
    messages.success(request, (_("%(name)s 已恢复营业。") if active else _("%(name)s 已停业。")) % {"name": store.name})
    return redirect("orgs:store", pk=store.pk)


@requires("members.view")
def members(request):
    viewer = request.membership
    filters = MemberFilterForm(request.GET or None, viewer=viewer)
    rows = Membership.objects.visible_to(viewer).filter(api_key__isnull=True).select_related("user", "store")
    if filters.is_valid():
        data = filters.cleaned_data
        if data["q"]:
            rows = rows.filter(Q(user__username__icontains=data["q"]) | Q(user__display_name__icontains=data["q"]))
        if data["role"]:
            rows = rows.filter(role=data["role"])
        if data["store"]:
            rows = rows.filter(store=data["store"])
    return render(
        request, "orgs/members.html",
        {"filters": filters, "page": paginate(request, rows.order_by("role", "user__username")), "now": timezone.now()},
    )


@requires("members.manage")
def member_new(request):
    viewer = request.membership
    form = MemberForm(request.POST or None, viewer=viewer)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            membership = services.add_member(
                org=viewer.org, username=data["username"], role=data["role"], store=data["store"],
                password=data["password"] or None, display_name=data["display_name"], phone=data["phone"], by=request.user,
            )
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            messages.success(request, _("已添加成员 %(name)s。") % {"name": membership.user.name})
            return redirect("orgs:members")
    return render(request, "orgs/member_form.html", {"form": form}, status=400 if form.errors else 200)


@requires("members.view")
def member_detail(request, pk: int):
    viewer = request.membership
    member = get_object_or_404(Membership.objects.visible_to(viewer).select_related("user", "store"), pk=pk)
    form = None
    if viewer.can("members.manage"):
        form = RoleForm(request.POST or None, viewer=viewer, initial={"role": member.role, "store": member.store_id})
        if request.method == "POST" and form.is_valid():
            try:
                services.change_member_role(member, role=form.cleaned_data["role"], store=form.cleaned_data["store"], by=viewer)
            except ValidationError as error:
                attach_service_errors(form, error)
            else:
                messages.success(request, _("角色已更新。"))
                return redirect("orgs:member", pk=member.pk)
    elif request.method == "POST":
        viewer.require("members.manage")
    return render(
        request, "orgs/member_detail.html",
        {"member": member, "form": form, "show_phone": viewer.can("pii.view"), "now": timezone.now()},
        status=400 if form is not None and form.errors else 200,
    )


@require_POST
@requires("members.manage")
def member_set_active(request, pk: int):
    viewer = request.membership
    member = get_object_or_404(Membership.objects.visible_to(viewer), pk=pk)
    try:
        services.set_member_active(member, active=request.POST.get("active") == "1", by=viewer)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("已启用。") if member.is_active else _("已停用。"))
    return redirect("orgs:member", pk=member.pk)


@require_POST
@requires("members.view")
def member_unlock(request, pk: int):
    """A platform administrator clears a sign-in lock (brands cannot: the lock guards every brand's access)."""
    member = get_object_or_404(Membership.objects.visible_to(request.membership).select_related("user"), pk=pk)
    services.unlock_account(member.user, by=request.user)
    messages.success(request, _("账户已解锁。"))
    return redirect("orgs:member", pk=member.pk)


@requires("members.manage")
def member_invite(request):
    """Make a one-time link that lets a person with an existing account join this brand."""
    viewer = request.membership
    form = InvitationForm(request.POST or None, viewer=viewer)
    link = None
    if request.method == "POST" and form.is_valid():
        try:
            _invitation, token = services.invite_member(
                org=viewer.org, role=form.cleaned_data["role"], store=form.cleaned_data["store"], by=viewer
            )
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            link = request.build_absolute_uri(reverse("orgs:invitation", args=[token]))
    return render(request, "orgs/member_invite.html", {"form": form, "link": link}, status=400 if form.errors else 200)


@login_required
def invitation(request, token: str):
    """The invited person, signed in, sees which brand and role they are invited to and accepts."""
    invitation = services.pending_invitation(token)
    if invitation is None:
        return render(request, "console/error.html", {
            "title": _("邀请无效"), "message": _("邀请链接无效、已使用或已过期。")}, status=404)
    if request.method == "POST":
        try:
            membership = services.accept_invitation(token, user=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            request.session["org_id"] = membership.org_id
            messages.success(request, _("已加入 %(name)s。") % {"name": membership.org.name})
            return redirect("console:dashboard")
    return render(request, "orgs/invitation.html", {"invitation": invitation})


@requires("audit.view")
def audit_log(request):
    viewer = request.membership
    filters = AuditFilterForm(request.GET or None)
    rows = AuditEntry.objects.visible_to(viewer)
    if filters.is_valid():
        data = filters.cleaned_data
        if data["action"]:
            rows = rows.filter(action__startswith=data["action"])
        if data["actor"]:
            rows = rows.filter(actor_name__icontains=data["actor"])
        if data["object_type"]:
            rows = rows.filter(object_type__icontains=data["object_type"])
        if data["start"]:
            rows = rows.filter(created_at__date__gte=data["start"])
        if data["end"]:
            rows = rows.filter(created_at__date__lte=data["end"])
    return render(request, "orgs/audit.html", {"filters": filters, "page": paginate(request, rows, per_page=50)})
