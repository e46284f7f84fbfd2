"""The console app's menu entries and capabilities, registered when the console app is ready."""

from django.utils.translation import gettext_lazy as _

from siyu.console.nav import NavItem, register_nav
from siyu.orgs.roles import ALL, register_capabilities

register_capabilities({
    "dashboard.view": ALL,
})

register_nav(
    NavItem(_("总览"), _("数据总览"), "console:dashboard", "dashboard.view", "chart", 10),
)
