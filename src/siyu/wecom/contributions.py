"""The wecom app's menu entries, registered when the console app is ready."""

from django.utils.translation import gettext_lazy as _

from siyu.console.nav import NavItem, register_nav

register_nav(
    NavItem(_("企业微信"), _("企业微信连接"), "wecom:connection", "org.settings", "link", 10),
    NavItem(_("企业微信"), _("接口调用日志"), "wecom:calls", "org.settings", "list", 20),
    NavItem(_("企业微信"), _("回调事件"), "wecom:events", "org.settings", "inbox", 30),
    NavItem(_("企业微信"), _("全量同步"), "wecom:sync", "org.settings", "refresh", 40),
)
