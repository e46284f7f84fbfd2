"""The groups app's menu entries, capabilities and behaviour events, registered when the console app is ready."""

from django.utils.translation import gettext_lazy as _

from siyu.console.nav import NavItem, register_nav
from siyu.lifecycle.rules import register_behaviour_event
from siyu.orgs.roles import ALL, HQ, MANAGERS, register_capabilities

register_capabilities({
    "groupcodes.view": ALL,  # group codes: managers their stores', guides their own store's (visible_to)
    "groupcodes.manage": HQ,  # create, edit, pause and delete group codes (WeCom join ways) and group welcomes
    "storecodes.view": MANAGERS,  # store codes (区域码) and where they sent people
    "storecodes.manage": HQ,  # create, edit, pause and delete store codes
})

register_nav(
    NavItem(_("获客"), _("群活码"), "groups:codes", "groupcodes.view", "qrcode", 30),
    NavItem(_("获客"), _("区域码"), "groups:store_codes", "storecodes.view", "map", 40),
)

register_behaviour_event("group_joined", _("加入客户群"), timeline_kind="joined_group", ref_key="group_id")
