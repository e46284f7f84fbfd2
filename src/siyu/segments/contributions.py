"""The segments app's menu entry and capability, registered when the console app is ready."""

from django.utils.translation import gettext_lazy as _

from siyu.console.nav import NavItem, register_nav
from siyu.orgs.roles import HQ, register_capabilities

register_capabilities({
    "segments.manage": HQ,  # build, refresh, export and sync segments (人群) over the whole brand
})

register_nav(
    NavItem(_("客户"), _("人群"), "segments:list", "segments.manage", "people", 50),
)
