"""An organization's own sensitive words, checked by :mod:`siyu.content.compliance` beside the law's terms."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from siyu.core.tenancy import TenantModel


class Severity(models.TextChoices):
    BLOCK = "block", _("拦截")
    FLAG = "flag", _("提示")


class SensitiveWord(TenantModel):
    """A word the brand never wants in what it sends (a competitor's name, a promise it cannot keep …)."""

    class Category(models.TextChoices):
        COMPETITOR = "competitor", _("竞品名称")
        PROMISE = "promise", _("夸大承诺")
        ABUSIVE = "abusive", _("不文明用语")
        PRIVACY = "privacy", _("索要隐私")
        OTHER = "other", _("其他")

    word = models.CharField(_("敏感词"), max_length=50)
    category = models.CharField(_("类别"), max_length=16, choices=Category.choices, default=Category.OTHER)
    severity = models.CharField(_("处理方式"), max_length=8, choices=Severity.choices, default=Severity.BLOCK)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    created_by = models.ForeignKey("orgs.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("添加时间"), auto_now_add=True)
    # Part of the checker's cache key (with the row count): any insert or edit moves the newest updated_at.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["word", "id"]
        verbose_name = _("敏感词")
        constraints = [models.UniqueConstraint(fields=["org", "word"], name="content_sensitive_word_unique")]

    def __str__(self) -> str:
        return self.word
