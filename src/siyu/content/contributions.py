"""The content app's menu entries, capabilities and audit wording, registered when the console app is ready."""

from django.utils.translation import gettext_lazy as _

from siyu.console.nav import NavItem, register_nav
from siyu.content.models import Material, Scope, SensitiveWord, Severity
from siyu.orgs.audit_labels import register_audit_labels, register_detail_values
from siyu.orgs.roles import ALL, HQ, register_capabilities

register_capabilities({
    "content.manage": HQ,  # the brand's sensitive-word list
    "content.check": ALL,  # paste a text and see what the checker finds (guides write messages too)
    "content.scripts": ALL,  # read the script library and keep one's own personal scripts
    "content.scripts_shared": HQ,  # write HQ's shared scripts and folders
    "content.materials": ALL,  # read the material library and keep one's own materials (reviewed like HQ's)
    "content.materials_shared": HQ,  # write HQ's shared materials and folders
    "content.review": HQ,  # approve or reject content, override the checker with a reason
})

register_nav(
    NavItem(_("内容"), _("内容合规检查"), "content:check", "content.check", "shield", 10),
    NavItem(_("内容"), _("敏感词"), "content:words", "content.manage", "shield", 20),
    NavItem(_("内容"), _("话术库"), "content:scripts", "content.scripts", "shield", 30),
    NavItem(_("内容"), _("素材库"), "content:materials", "content.materials", "shield", 40),
)

register_audit_labels(
    actions={"content.word_added": _("添加敏感词"), "content.word_removed": _("删除敏感词"),
             "content.words_imported": _("导入敏感词"), "content.script_folder_created": _("新建话术分组"),
             "content.script_created": _("新建话术"), "content.script_changed": _("修改话术"),
             "content.script_submitted": _("提交话术审核"), "content.script_approved": _("通过话术审核"),
             "content.script_rejected": _("驳回话术"), "content.script_overridden": _("放行含禁用词的话术"),
             "content.material_folder_created": _("新建素材分组"), "content.material_created": _("新建素材"),
             "content.material_changed": _("修改素材"), "content.material_submitted": _("提交素材审核"),
             "content.material_approved": _("通过素材审核"), "content.material_rejected": _("驳回素材"),
             "content.material_overridden": _("放行含禁用词的素材"), "content.material_withdrawn": _("下架素材")},
    objects={"content.sensitiveword": (_("敏感词"), None), "content.script": (_("话术"), "content:script_review"),
             "content.scriptfolder": (_("话术分组"), None),
             "content.material": (_("素材"), "content:material_review"),
             "content.materialfolder": (_("素材分组"), None)},
    details={"category": _("类别"), "severity": _("处理方式"), "skipped": _("已存在"), "title": _("标题"),
             "scope": _("范围"), "blocked": _("禁用词数"), "terms": _("禁用词"), "reason": _("放行理由"),
             "comment": _("审核意见"), "material_kind": _("素材类型")},
    groups=[("content.", _("内容"))],
)
register_detail_values("category", dict(SensitiveWord.Category.choices))
register_detail_values("severity", dict(Severity.choices))
register_detail_values("scope", dict(Scope.choices))
register_detail_values("material_kind", dict(Material.Kind.choices))
