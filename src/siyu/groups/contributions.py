"""The groups app's menu entries, capabilities and behaviour events, registered when the console app is ready."""

from django.utils.translation import gettext_lazy as _

from siyu.console.nav import NavItem, register_nav
from siyu.lifecycle.rules import register_behaviour_event
from siyu.orgs.audit_labels import register_audit_labels
from siyu.orgs.roles import ALL, HQ, MANAGERS, register_capabilities

register_capabilities({
    "groupcodes.view": ALL,  # group codes: managers their stores', guides their own store's (visible_to)
    "groupcodes.manage": HQ,  # create, edit, pause and delete group codes (WeCom join ways) and group welcomes
    "storecodes.view": MANAGERS,  # store codes (区域码) and where they sent people
    "storecodes.manage": HQ,  # create, edit, pause and delete store codes
    "groups.view": ALL,  # customer groups: managers their stores', guides their own (visible_to)
    "groups.tags": HQ,  # the brand's list of group tags
    "groups.tag_groups": ALL,  # put tags on the groups one may see
})

register_nav(
    NavItem(_("客户"), _("客户群"), "groups:list", "groups.view", "people", 15),
    NavItem(_("获客"), _("群活码"), "groups:codes", "groupcodes.view", "qrcode", 30),
    NavItem(_("获客"), _("区域码"), "groups:store_codes", "storecodes.view", "map", 40),
)

register_behaviour_event("group_joined", _("加入客户群"), timeline_kind="joined_group", ref_key="group_id")

register_audit_labels(
    actions={"groups.tag_created": _("新建群标签"), "groups.tag_deleted": _("删除群标签"), "groups.group_tagged": _("修改客户群标签")},
    objects={"groups.grouptag": (_("群标签"), None), "groups.customergroup": (_("客户群"), None)},
    details={"groups": _("客户群数")},
)
