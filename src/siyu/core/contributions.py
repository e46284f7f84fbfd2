"""The core app's menu entries and capabilities, registered when the console app is ready."""

from django.utils.translation import gettext_lazy as _

from siyu.console.nav import NavItem, register_nav
from siyu.orgs.roles import ALL, register_capabilities

register_capabilities({
    "jobs.view": ALL,
})

register_nav(
    NavItem(_("系统"), _("后台任务"), "core:jobs", "jobs.view", "clock", 10),
    NavItem(_("系统"), _("事件投递"), "core:event_deliveries", "org.settings", "inbox", 30),
)
