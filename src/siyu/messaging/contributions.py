"""The messaging app's menu entry, capability and audit wording, registered when the console app is ready."""

from django.utils.translation import gettext_lazy as _

from siyu.console.nav import NavItem, register_nav
from siyu.messaging.models import Channel, Policy
from siyu.orgs.audit_labels import register_audit_labels, register_detail_values
from siyu.orgs.roles import HQ, register_capabilities

register_capabilities({
    "messaging.manage": HQ,  # the messaging policy, and approving one promotional send to protected people
    "messaging.mass": HQ,  # composing, sending, reminding and cancelling mass messages
})

register_nav(
    NavItem(_("消息触达"), _("客户群发"), "messaging:mass_list", "messaging.mass", "chat", 80),
    NavItem(_("消息触达"), _("触达规则设置"), "messaging:settings", "messaging.manage", "shield", 90),
)

register_audit_labels(
    actions={"messaging.policy_saved": _("保存消息触达设置"),
             "messaging.protected_approved": _("批准向受保护人群发送营销消息"),
             "messaging.recipient_facts_set": _("设置客户出生日期与时区"),
             "messaging.mass_created": _("新建企业群发"),
             "messaging.mass_updated": _("修改企业群发草稿"),
             "messaging.mass_scheduled": _("提交企业群发"),
             "messaging.mass_reminded": _("提醒员工确认群发"),
             "messaging.mass_cancelled": _("取消企业群发")},
    objects={"messaging.policy": (_("消息触达设置"), None), "messaging.send": (_("发送"), None),
             "messaging.massmessage": (_("企业群发"), None)},
    details={"receive_rule": _("群发接收规则"), "quiet_hours": _("免打扰时段"), "stale_after_hours": _("过期时长（小时）"),
             "protected_tags": _("受保护标签数"), "caps": _("频次上限"), "ref_id": _("发送编号"), "count": _("人数"),
             "birth_date_known": _("已知出生日期"), "timezone": _("时区"), "title": _("标题")},
    groups=[("messaging.", _("消息触达"))],
)
register_detail_values("receive_rule", dict(Policy.ReceiveRule.choices))
register_detail_values("channel", dict(Channel.choices))
