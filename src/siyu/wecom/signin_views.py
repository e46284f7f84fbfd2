"""Sign in with WeCom: send the visitor to WeCom, and take them back signed in (or tell them why not)."""

from django.conf import settings
from django.contrib.auth import login
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from siyu.console.views import safe_next
from siyu.orgs import signin
from siyu.orgs.models import Organization
from siyu.wecom import oauth
from siyu.wecom.errors import NotConnected, WeComError

_REFUSALS = {
    signin.NOT_IN_CORP: gettext_lazy("你不是该企业的成员，无法登录。"),
    signin.NOT_STAFF: gettext_lazy("你的企业微信账号还没有同步到本系统，请联系管理员同步通讯录后再试。"),
    signin.STAFF_INACTIVE: gettext_lazy("你的企业微信账号已停用或已离职，无法登录。"),
    signin.NO_MEMBERSHIP: gettext_lazy("你的企业微信账号还没有关联后台成员账号，请联系品牌管理员开通。"),
}


def _refused(request, message: str, *, status: int):
    return render(request, "wecom/signin_refused.html",
                  {"heading": _("无法通过企业微信登录"), "message": message}, status=status)


@require_GET
@never_cache
def oauth_start(request):
    """``?org=SLUG&next=/path&flow=app|qr``: remember the sign-in in this browser and go to WeCom's page."""
    org = oauth.signin_org(request.GET.get("org", "").strip() or None)
    if org is None:
        return _refused(request, _("没有找到可用企业微信登录的品牌，请检查品牌标识，或使用账号密码登录。"), status=400)
    flow = request.GET.get("flow")
    if flow not in oauth.FLOWS:
        flow = oauth.flow_for(request.META.get("HTTP_USER_AGENT", ""))
    next_url = safe_next(request, request.GET.get("next"))
    if not request.GET.get("next") and flow == "app":
        next_url = reverse("workbench:home")  # inside the WeCom app a guide starts from their workbench
    state = oauth.begin(request.session, org=org, flow=flow, next_url=next_url)
    return redirect(oauth.authorize_url(oauth.connection_of(org), flow=flow, state=state))


@require_GET
@never_cache
def oauth_callback(request):
    """WeCom sends the visitor back with ``code`` and ``state``: check the state, ask WeCom who it is, sign in."""
    if signin.address_throttled(request):
        return HttpResponse(_("尝试次数过多，请稍后再试。"), status=429, content_type="text/plain; charset=utf-8",
                            headers={"Retry-After": str(settings.LOGIN_THROTTLE_WINDOW)})
    pending = oauth.finish(request.session, request.GET.get("state", ""))
    org = pending and Organization.objects.filter(pk=pending.org_id, is_active=True).first()
    code = request.GET.get("code", "")
    if org is None or not code:
        signin.count_address_failure(request)
        return _refused(request, _("登录请求已失效或不是从本浏览器发起的，请重新登录。"), status=400)
    try:
        userid = oauth.visitor_userid(org, code)
    except NotConnected:
        return _refused(request, _("该品牌尚未连接企业微信，请使用账号密码登录。"), status=400)
    except WeComError as error:
        if error.errcode in oauth.BAD_CODE_ERRCODES:
            signin.count_address_failure(request)
            return _refused(request, _("企业微信授权码无效、已使用或已过期，请重新登录。"), status=400)
        return _refused(request, _("暂时无法连接企业微信，请稍后再试。"), status=502)
    membership, reason = signin.member_for_wecom_user(request, org=org, userid=userid, flow=pending.flow)
    if membership is None:
        return _refused(request, _REFUSALS[reason], status=403)
    login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")  # rotates the session key
    request.session["org_id"] = org.pk
    return redirect(pending.next_url)
