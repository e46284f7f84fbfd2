"""The customers app's menu entries and capabilities, registered when the console app is ready."""

from django.utils.translation import gettext_lazy as _

from siyu.console.nav import NavItem, register_nav
from siyu.orgs.roles import ALL, HQ, MANAGERS, register_capabilities

register_capabilities({
    "customers.view": ALL,  # guides: their own customers, managers: their stores' (visible_to)
    "customers.edit": ALL,  # notes, follow-ups, tags on the customers one may see
    "customers.bulk": MANAGERS,  # bulk tag and export jobs
    "tags.manage": HQ,  # corp tag groups and tags (synced to WeCom), protected labels
})

register_nav(
    NavItem(_("客户"), _("客户列表"), "customers:list", "customers.view", "people", 10),
    NavItem(_("客户"), _("企业标签"), "customers:tags", "tags.manage", "tag", 20),
    NavItem(_("客户"), _("我的个人标签"), "customers:personal_tags", "customers.edit", "tag", 30),
    NavItem(_("客户"), _("受保护标签词"), "customers:protected_labels", "tags.manage", "shield", 40),
)
