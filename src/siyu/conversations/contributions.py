"""The conversations app's menu entries, capabilities and audit wording, registered when the console app is ready."""

from django.utils.translation import gettext_lazy as _

from siyu.console.nav import NavItem, register_nav
from siyu.conversations.models import ChatAlert
from siyu.orgs.audit_labels import register_audit_labels, register_detail_values
from siyu.orgs.roles import MANAGERS, register_capabilities

register_capabilities({
    "conversations.archive": MANAGERS,  # read archived chats (their stores' for a store manager), audited
    "conversations.alerts": MANAGERS,  # review the watch's alerts
})

register_nav(
    NavItem(_("内容"), _("会话存档"), "conversations:archive", "conversations.archive", "shield", 40),
    NavItem(_("内容"), _("会话预警"), "conversations:alerts", "conversations.alerts", "shield", 50),
)

register_audit_labels(
    actions={"conversations.viewed": _("查看会话存档"), "conversations.alert_reviewed": _("处理会话预警")},
    objects={"conversations.chatalert": (_("会话预警"), "conversations:alerts")},
    details={"searched": _("搜索"), "page": _("页码"), "staff": _("员工"), "decision": _("处理结果"), "kind": _("类型")},
    groups=[("conversations.", _("会话存档"))],
)
register_detail_values("decision", dict(ChatAlert.Review.choices))
register_detail_values("kind", dict(ChatAlert.Kind.choices))
