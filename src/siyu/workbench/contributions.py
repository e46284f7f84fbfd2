"""The workbench's capability and menu entry, registered when the console app is ready."""

from django.utils.translation import gettext_lazy as _

from siyu.console.nav import NavItem, register_nav
from siyu.orgs.roles import ALL, register_capabilities

register_capabilities({"workbench.use": ALL})

register_nav(NavItem(_("总览"), _("导购工作台"), "workbench:home", "workbench.use", "shield", 20))
