"""The lifecycle app's menu entries and capabilities, registered when the console app is ready."""

from django.utils.translation import gettext_lazy as _

from siyu.console.nav import NavItem, register_nav
from siyu.orgs.roles import ALL, HQ, MANAGERS, register_capabilities

register_capabilities({
    "lifecycle.board": ALL,  # the stage board and moving customers: guides their own (visible_to)
    "lifecycle.todos": ALL,  # reminders and to-dos: guides their own, managers their stores'
    "lifecycle.alerts": ALL,  # loss alerts: guides their own, managers their stores'
    "lifecycle.reports": MANAGERS,  # time in stage, conversion and loss reports
    "lifecycle.rules": HQ,  # auto-tagging rules and their back-fill
    "lifecycle.stages": HQ,  # the organization's pipeline and reminder settings
})

register_nav(
    NavItem(_("客户运营"), _("客户阶段"), "lifecycle:board", "lifecycle.board", "columns", 10),
    NavItem(_("客户运营"), _("待办提醒"), "lifecycle:todos", "lifecycle.todos", "bell", 20),
    NavItem(_("客户运营"), _("流失提醒"), "lifecycle:alerts", "lifecycle.alerts", "alert", 30),
    NavItem(_("客户运营"), _("自动打标签"), "lifecycle:rules", "lifecycle.rules", "tag", 40),
    NavItem(_("客户运营"), _("运营报表"), "lifecycle:reports", "lifecycle.reports", "chart", 50),
    NavItem(_("客户运营"), _("阶段与提醒设置"), "lifecycle:settings", "lifecycle.stages", "settings", 60),
)
