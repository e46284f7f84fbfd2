"""The wecom app's menu entries and capabilities, registered when the console app is ready."""

from django.utils.translation import gettext_lazy as _

from siyu.console.nav import NavItem, register_nav
from siyu.orgs import signin
from siyu.orgs.audit_labels import register_audit_labels, register_detail_values
from siyu.orgs.roles import ALL, register_capabilities

# Every member may configure the JS-SDK on Siyu's pages inside WeCom (the pages check their own capabilities).
register_capabilities({"wecom.jssdk": ALL})

register_nav(
    NavItem(_("企业微信"), _("企业微信连接"), "wecom:connection", "org.settings", "link", 10),
    NavItem(_("企业微信"), _("接口调用日志"), "wecom:calls", "org.settings", "list", 20),
    NavItem(_("企业微信"), _("回调事件"), "wecom:events", "org.settings", "inbox", 30),
    NavItem(_("企业微信"), _("全量同步"), "wecom:sync", "org.settings", "refresh", 40),
)

# Sign-in with WeCom in the audit log (login.wecom_succeeded / login.wecom_refused).
register_audit_labels(details={"userid": _("成员账号"), "flow": _("登录方式")})
register_detail_values("flow", {"app": _("企业微信内网页授权"), "qr": _("企业微信扫码登录")})
register_detail_values("reason", {
    signin.NOT_IN_CORP: _("非企业成员"), signin.NOT_STAFF: _("员工未同步"),
    signin.STAFF_INACTIVE: _("员工已停用或离职"), signin.NO_MEMBERSHIP: _("未关联后台成员账号"),
})
