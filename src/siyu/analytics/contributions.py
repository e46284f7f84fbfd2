"""The analytics app's menu entries and capabilities, registered when the console app is ready."""

from django.utils.translation import gettext_lazy as _

from siyu.console.nav import NavItem, register_nav
from siyu.orgs.roles import ALL, register_capabilities

register_capabilities({
    "analytics.view": ALL,  # store managers: their stores' staff; guides: their own figures (visible_to)
})

register_nav(
    NavItem(_("获客"), _("渠道统计"), "analytics:channels", "analytics.view", "chart", 50),
)
