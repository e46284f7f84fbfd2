"""The SOP app's menu entries, capabilities and audit wording, registered when the console app is ready."""

from django.utils.translation import gettext_lazy as _

from siyu.console.nav import NavItem, register_nav
from siyu.orgs.audit_labels import register_audit_labels
from siyu.orgs.roles import ALL, HQ, MANAGERS, register_capabilities

register_capabilities({
    "sop.manage": HQ,  # writing SOPs and switching them on and off
    "sop.calendar": ALL,  # the calendar of due SOP tasks: guides their own, managers their stores'
    "sop.reports": MANAGERS,  # completion per step and per staff member
})

register_nav(
    NavItem(_("消息触达"), _("SOP"), "sop:list", "sop.manage", "list", 20),
    NavItem(_("消息触达"), _("SOP 日历"), "sop:calendar", "sop.calendar", "clock", 30),
)

register_audit_labels(
    actions={"sop.created": _("新建 SOP"), "sop.updated": _("修改 SOP"), "sop.activated": _("启用 SOP"),
             "sop.deactivated": _("停用 SOP"), "sop.task_completed": _("完成 SOP 任务"),
             "sop.task_sent": _("一键发送 SOP 任务")},
    objects={"sop.sop": (_("SOP"), "sop:edit")},
    details={"steps": _("步骤数"), "task": _("任务编号"), "step": _("步骤编号")},
    groups=[("sop.", _("SOP"))],
)
