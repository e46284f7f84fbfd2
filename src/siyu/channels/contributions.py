"""The channels app's menu entries and capabilities, registered when the console app is ready."""

from django.utils.translation import gettext_lazy as _

from siyu.console.nav import NavItem, register_nav
from siyu.orgs.roles import ALL, HQ, register_capabilities

register_capabilities({
    "channels.view": ALL,  # channel codes: guides the codes they are on or own, managers their stores' (visible_to)
    "channels.manage": HQ,  # create, edit, pause and delete codes; welcome messages
})

register_nav(
    NavItem(_("获客"), _("渠道活码"), "channels:list", "channels.view", "qrcode", 10),
    NavItem(_("获客"), _("欢迎语"), "channels:welcome", "channels.manage", "chat", 20),
)
