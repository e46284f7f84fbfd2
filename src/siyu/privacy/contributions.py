"""The privacy app's menu entries and capabilities, registered when the console app is ready."""

from django.utils.translation import gettext_lazy as _

from siyu.console.nav import NavItem, register_nav
from siyu.orgs.audit_labels import register_audit_labels
from siyu.orgs.roles import HQ, register_capabilities

register_capabilities({
    "pii.view": HQ,
    "privacy.requests": HQ,  # export or erase one person's data (PIPL §45, §47)
    "privacy.notices": HQ,  # publish the privacy notice customers consent under
    "privacy.consents": HQ,  # record consent for customers: import, API
})

register_nav(
    NavItem(_("系统"), _("个人信息请求"), "privacy:subject_requests", "privacy.requests", "shield", 25),
    NavItem(_("系统"), _("隐私政策与授权"), "privacy:notices", "privacy.notices", "shield", 26),
)

register_audit_labels(
    actions={
        "privacy.subject_exported": _("导出个人信息"),
        "privacy.subject_export_downloaded": _("下载个人信息导出"),
        "privacy.subject_erased": _("删除个人信息"),
        "privacy.notice_published": _("发布隐私政策"),
        "privacy.consent_granted": _("记录授权同意"),
        "privacy.consent_withdrawn": _("记录撤回授权"),
        "privacy.consents_imported": _("导入授权记录"),
    },
    objects={"privacy.subjectrequest": (_("个人信息请求"), None), "privacy.privacynotice": (_("隐私政策"), None)},
    details={"identifier": _("标识"), "persons": _("用户数"), "identifiers": _("标识数"), "events": _("事件数"),
             "orders": _("订单数"), "wecom_customers": _("企业微信客户数"), "raw_batches": _("原始事件批次"),
             "version": _("版本"), "title": _("标题"), "purpose": _("用途"), "consent_source": _("授权来源"), "rows": _("行数"),
             "recorded": _("已记录"), "problems": _("问题行")},
)
