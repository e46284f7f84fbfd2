"""The CDP's menu entries and capabilities, registered when the console app is ready."""

from django.utils.translation import gettext_lazy as _

from siyu.console.nav import NavItem, register_nav
from siyu.orgs.roles import HQ, register_capabilities

register_capabilities({
    "cdp.sources": HQ,
})

register_nav(
    NavItem(_("客户"), _("数据源"), "sources:list", "cdp.sources", "inbox", 60),
)
