"""The orgs app's menu entries and capabilities, registered when the console app is ready."""

from django.utils.translation import gettext_lazy as _

from siyu.console.nav import NavItem, register_nav
from siyu.orgs.roles import ALL, HQ, MANAGERS, Role, register_capabilities

register_capabilities({
    "stores.view": ALL,
    "stores.manage": HQ,
    "members.view": MANAGERS,
    "members.manage": HQ,
    "members.manage_owner": frozenset({Role.OWNER}),
    "audit.view": HQ,
    "org.settings": HQ,
    "staff.view": MANAGERS,
    "transfers.manage": MANAGERS,  # store managers: within their own stores (visible_to)
})

register_nav(
    NavItem(_("组织"), _("门店"), "orgs:stores", "stores.view", "store", 10),
    NavItem(_("组织"), _("成员"), "orgs:members", "members.view", "people", 20),
    NavItem(_("组织"), _("员工"), "orgs:staff", "staff.view", "people", 30),
    NavItem(_("组织"), _("离职继承"), "orgs:transfers", "transfers.manage", "swap", 40),
    NavItem(_("系统"), _("审计日志"), "orgs:audit", "audit.view", "shield", 20),
)

register_capabilities({"apikeys.manage": HQ})
register_nav(NavItem(_("系统"), _("API 密钥"), "orgs:apikeys", "apikeys.manage", "key", 30))
