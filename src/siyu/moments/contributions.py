"""The moments app's menu entry, capabilities and audit wording, registered when the console app is ready."""

from django.utils.translation import gettext_lazy as _

from siyu.console.nav import NavItem, register_nav
from siyu.moments.models import Moment
from siyu.orgs.audit_labels import register_audit_labels, register_detail_values
from siyu.orgs.roles import HQ, register_capabilities

register_capabilities({
    "moments.manage": HQ,  # composing, scheduling and cancelling moments, reading their results
    "moments.settings": HQ,  # the brand's cap on promotional moments per day
})

register_nav(
    NavItem(_("消息触达"), _("客户朋友圈"), "moments:list", "moments.manage", "image", 60),
)

register_audit_labels(
    actions={"moments.created": _("新建客户朋友圈"), "moments.updated": _("修改客户朋友圈"),
             "moments.scheduled": _("发布客户朋友圈"), "moments.cancelled": _("取消客户朋友圈"),
             "moments.settings_saved": _("保存朋友圈设置")},
    objects={"moments.moment": (_("客户朋友圈"), "moments:detail"), "moments.momentsettings": (_("朋友圈设置"), None)},
    details={"moment_kind": _("朋友圈类型"), "promotional": _("营销类"), "promotional_per_day": _("每天最多营销朋友圈条数")},
    groups=[("moments.", _("客户朋友圈"))],
)
register_detail_values("moment_kind", dict(Moment.Kind.choices))
