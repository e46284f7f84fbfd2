"""The guard's reason codes and how they read (Chinese first)."""

from django.utils.translation import gettext_lazy as _

NO_CONSENT = "no_consent"
CONTENT_BLOCKED = "content_blocked"
PROTECTED_TAG = "protected_tag"
MINOR = "minor"
SENIOR = "senior"
WECOM_LIMIT = "wecom_limit"
FREQUENCY_CAP = "frequency_cap"
QUIET_HOURS = "quiet_hours"
STALE = "stale"
PROTECTED_APPROVED = "protected_approved"

LABELS = {
    NO_CONSENT: _("未授权该用途"),
    CONTENT_BLOCKED: _("内容含禁用词，整批拦截"),
    PROTECTED_TAG: _("受保护标签"),
    MINOR: _("未成年人"),
    SENIOR: _("65 岁及以上"),
    WECOM_LIMIT: _("已达企业微信群发接收上限"),
    FREQUENCY_CAP: _("已达品牌频次上限"),
    QUIET_HOURS: _("免打扰时段，暂缓发送"),
    STALE: _("暂缓后已过期，放弃发送"),
    PROTECTED_APPROVED: _("受保护人群，管理员已批准本次发送"),
}


def label(code: str) -> str:
    return str(LABELS.get(code, _("其他原因"))) if code else ""


def detail_text(code: str, detail: str) -> str:
    """A decision's detail as words: the purpose's name for missing consent, else as stored (``30/30``)."""
    if code == NO_CONSENT:
        from siyu.privacy.models import Purpose

        return str(dict(Purpose.choices).get(detail, detail))
    return detail
