from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from siyu.console import dashboard
from siyu.console.access import platform_admin, requires
from siyu.console.forms import LoginForm, OrganizationForm, attach_service_errors
from siyu.console.paging import paginate
from siyu.orgs import services, signin
from siyu.orgs.models import Organization
from siyu.orgs.roles import Role
from siyu.wecom import oauth


def safe_next(request, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(candidate, {request.get_host()}, request.is_secure()):
        return candidate
    return "/"


def login_view(request):
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if request.user.is_authenticated and request.method == "GET":
        return redirect(next_url)
    if request.method == "POST" and signin.address_throttled(request):
        return HttpResponse(_("尝试次数过多，请稍后再试。"), status=429, content_type="text/plain; charset=utf-8",
                            headers={"Retry-After": str(settings.LOGIN_THROTTLE_WINDOW)})
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = signin.sign_in(request, form.cleaned_data["username"], form.cleaned_data["password"])
        if user is None:
            # One answer for a wrong password, an unknown name, a locked account and a throttled address.
            form.add_error(None, _("用户名或密码错误，或尝试次数过多，请稍后再试。"))
        else:
            login(request, user)  # rotates the session key
            return redirect(next_url)
    status = 400 if form.errors else 200
    wecom = oauth.login_choice(request.GET.get("org"))
    response = render(request, "console/login.html", {"form": form, "next": next_url, "wecom": wecom}, status=status)
    if wecom is not None:
        response._csp_update = {"form-action": oauth.page_origins()}
    return response


@require_POST
def logout_view(request):
    logout(request)
    return redirect("login")


@requires("dashboard.view")
def dashboard_view(request):
    viewer = request.membership
    return render(
        request,
        "console/dashboard.html",
        {"figures": dashboard.figures(viewer), "activity_chart": dashboard.activity_chart(viewer),
         "customer_chart": dashboard.customer_chart(viewer)},
    )


@require_POST
@requires("dashboard.view")
def switch_org(request):
    try:
        services.switch_organization(request, int(request.POST.get("org", "")))
    except (ValueError, PermissionDenied):
        messages.error(request, _("无法切换到该组织。"))
    return redirect("console:dashboard")


@platform_admin
def platform_orgs(request):
    form = OrganizationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                org = services.create_organization(slug=data["slug"], name=data["name"], by=request.user)
                services.add_member(
                    org=org, username=data["owner_username"], role=Role.OWNER,
                    password=data["owner_password"] or None, by=request.user,
                )
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            messages.success(request, _("已创建组织 %(name)s。") % {"name": org.name})
            return redirect("console:platform_orgs")
    page = paginate(request, Organization.objects.order_by("name"))
    return render(request, "console/platform_orgs.html", {"form": form, "page": page}, status=400 if form.errors else 200)


def csrf_failure(request, reason=""):
    return render(
        request, "console/error.html",
        {"title": _("请求已过期"), "message": _("页面停留太久或来源不可信，请刷新页面后重试。")}, status=403,
    )


def error_403(request, exception=None):
    return render(request, "console/error.html", {"title": _("没有权限"), "message": _("你的角色无权访问此页面。")}, status=403)


def error_404(request, exception=None):
    return render(request, "console/error.html", {"title": _("页面不存在"), "message": _("找不到你要访问的内容。")}, status=404)


def error_500(request):
    return render(request, "console/error.html", {"title": _("出错了"), "message": _("服务器遇到问题，已记录，请稍后重试。")}, status=500)
