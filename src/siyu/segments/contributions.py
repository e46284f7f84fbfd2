"""The segments app's menu entry and capability, registered when the console app is ready."""

from django.utils.translation import gettext_lazy as _

from siyu.console.nav import NavItem, register_nav
from siyu.orgs.audit_labels import register_audit_labels
from siyu.orgs.roles import HQ, register_capabilities

register_capabilities({
    "segments.manage": HQ,  # build, refresh, export and sync segments (人群) over the whole brand
})

register_nav(
    NavItem(_("客户"), _("人群"), "segments:list", "segments.manage", "people", 50),
)

register_audit_labels(
    actions={
        "segments.created": _("新建人群"), "segments.updated": _("修改人群"), "segments.deleted": _("删除人群"),
        "segments.refreshed": _("刷新人群"), "segments.export_requested": _("开始导出人群"),
        "segments.exported": _("导出人群"), "segments.sync_requested": _("开始同步人群到企业微信标签"),
        "segments.synced": _("同步人群到企业微信标签"),
    },
    objects={"segments.segment": (_("人群"), "segments:detail")},
    details={"conditions": _("条件数"), "entered": _("进入"), "left": _("离开"), "members": _("人数"),
             "segment": _("人群"), "tagged": _("已打标签"), "untagged": _("已移除标签"), "names_masked": _("姓名已脱敏")},
    groups=[("segments.", _("人群"))],
)
