"""Password pages: change your own, a brand admin's one-time reset link for a member, and the link's page."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from siyu.console.access import requires
from siyu.console.forms import attach_service_errors
from siyu.orgs import passwords
from siyu.orgs.forms import PasswordChangeForm, PasswordResetForm
from siyu.orgs.models import Membership


@login_required
@never_cache
def change(request):
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            passwords.change_password(request.user, old=form.cleaned_data["old_password"],
                                      new=form.cleaned_data["new_password"])
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            update_session_auth_hash(request, request.user)  # this session stays; every other one is signed out
            messages.success(request, _("密码已修改，其他设备上的登录已退出。"))
            return redirect("console:dashboard")
    return render(request, "orgs/password_change.html", {"form": form}, status=400 if form.errors else 200)


@require_POST
@requires("members.manage")
def member_reset_link(request, pk: int):
    """Make a one-time reset link for a member who forgot their password; it is shown once, here."""
    viewer = request.membership
    member = get_object_or_404(Membership.objects.visible_to(viewer).select_related("user"), pk=pk)
    try:
        link = passwords.issue_reset(member.user, by=viewer)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("orgs:member", pk=member.pk)
    return render(request, "orgs/password_reset_link.html",
                  {"member": member, "link": link, "hours": settings.PASSWORD_RESET_SECONDS // 3600})


@never_cache
def reset(request, token: str):
    """The page a reset link opens: choose a new password, then sign in with it."""
    pending = passwords.pending(token)
    if pending is None:
        return render(request, "console/error.html", {
            "title": _("链接无效"), "message": _("重置密码链接无效、已使用或已过期。")}, status=404)
    form = PasswordResetForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            passwords.reset_password(token, new=form.cleaned_data["new_password"])
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            messages.success(request, _("密码已重置，请用新密码登录。"))
            return redirect("login")
    return render(request, "orgs/password_reset.html", {"form": form, "account": pending.user},
                  status=400 if form.errors else 200)
