"""The journeys app's menu entry, capability and audit wording, registered when the console app is ready."""

from django.utils.translation import gettext_lazy as _

from siyu.console.nav import NavItem, register_nav
from siyu.journeys.models import Journey
from siyu.orgs.audit_labels import register_audit_labels, register_detail_values
from siyu.orgs.roles import HQ, register_capabilities

register_capabilities({
    "journeys.manage": HQ,  # creating, editing, pausing and stopping customer journeys
})

register_nav(
    NavItem(_("消息触达"), _("客户旅程"), "journeys:list", "journeys.manage", "route", 60),
)

register_audit_labels(
    actions={"journeys.created": _("新建客户旅程"), "journeys.updated": _("修改客户旅程"),
             "journeys.paused": _("暂停客户旅程"), "journeys.resumed": _("恢复客户旅程"),
             "journeys.stopped": _("停止客户旅程")},
    objects={"journeys.journey": (_("客户旅程"), "journeys:report")},
    details={"journey_trigger": _("触发条件"), "steps": _("步骤数"), "version": _("版本")},
    groups=[("journeys.", _("客户旅程"))],
)
register_detail_values("journey_trigger", dict(Journey.Trigger.choices))
