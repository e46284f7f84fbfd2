"""The content app's menu entries, capabilities and audit wording, registered when the console app is ready."""

from django.utils.translation import gettext_lazy as _

from siyu.console.nav import NavItem, register_nav
from siyu.content.models import SensitiveWord, Severity
from siyu.orgs.audit_labels import register_audit_labels, register_detail_values
from siyu.orgs.roles import ALL, HQ, register_capabilities

register_capabilities({
    "content.manage": HQ,  # the brand's sensitive-word list
    "content.check": ALL,  # paste a text and see what the checker finds (guides write messages too)
})

register_nav(
    NavItem(_("内容"), _("内容合规检查"), "content:check", "content.check", "shield", 10),
    NavItem(_("内容"), _("敏感词"), "content:words", "content.manage", "shield", 20),
)

register_audit_labels(
    actions={"content.word_added": _("添加敏感词"), "content.word_removed": _("删除敏感词"),
             "content.words_imported": _("导入敏感词")},
    objects={"content.sensitiveword": (_("敏感词"), None)},
    details={"category": _("类别"), "severity": _("处理方式"), "skipped": _("已存在")},
    groups=[("content.", _("内容"))],
)
register_detail_values("category", dict(SensitiveWord.Category.choices))
register_detail_values("severity", dict(Severity.choices))
