"""An organization's own sensitive words, checked by :mod:`siyu.content.compliance` beside the law's terms."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
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


class Scope(models.TextChoices):
    HQ = "hq", _("总部共享")
    PERSONAL = "personal", _("个人")


class ScriptFolder(TenantModel):
    """A folder of scripts: HQ's shared tree, or a guide's own folders (seen by nobody else)."""

    name = models.CharField(_("名称"), max_length=50)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    scope = models.CharField(_("范围"), max_length=10, choices=Scope.choices, default=Scope.HQ)
    owner = models.ForeignKey("orgs.Membership", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    order = models.PositiveIntegerField(_("排序"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["order", "name", "id"]
        verbose_name = _("话术分组")
        indexes = [models.Index(fields=["org", "scope", "owner"], name="content_folder_scope")]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q(scope=Scope.HQ)

    @classmethod
    def scope_owner(cls, viewer) -> Q:
        return Q(scope=Scope.HQ) | Q(scope=Scope.PERSONAL, owner=viewer)


class Script(TenantModel):
    """A short text a guide sends in a chat, with variables (``{客户称呼}``) filled in for the customer at hand.

    HQ scripts go draft → in review → approved / rejected, and guides see only approved ones; a guide's personal
    scripts need no review and are seen by their owner only."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("草稿")
        IN_REVIEW = "in_review", _("审核中")
        APPROVED = "approved", _("已通过")
        REJECTED = "rejected", _("已驳回")

    folder = models.ForeignKey(ScriptFolder, null=True, blank=True, on_delete=models.PROTECT, related_name="scripts")
    title = models.CharField(_("标题"), max_length=60)
    body = models.TextField(_("内容"))
    scope = models.CharField(_("范围"), max_length=10, choices=Scope.choices, default=Scope.HQ)
    owner = models.ForeignKey("orgs.Membership", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    review_comment = models.CharField(_("审核意见"), max_length=500, blank=True)
    override_reason = models.CharField(_("放行理由"), max_length=500, blank=True)
    reviewed_by = models.ForeignKey("orgs.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    # Lower-cased title and body with their pinyin initials and full pinyin, written by the service on every save,
    # so one LIKE finds 欢迎语 by "欢迎", "hyy" or "huanying" on SQLite and PostgreSQL alike.
    search_text = models.TextField(default="", editable=False)
    created_by = models.ForeignKey("orgs.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["folder_id", "title", "id"]
        verbose_name = _("话术")
        indexes = [models.Index(fields=["org", "scope", "status"], name="content_script_scope"),
                   models.Index(fields=["org", "owner"], name="content_script_owner")]

    def __str__(self) -> str:
        return self.title

    @property
    def is_personal(self) -> bool:
        return self.scope == Scope.PERSONAL

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q(scope=Scope.HQ, status=cls.Status.APPROVED)

    @classmethod
    def scope_owner(cls, viewer) -> Q:
        return Q(scope=Scope.HQ, status=cls.Status.APPROVED) | Q(scope=Scope.PERSONAL, owner=viewer)


class ScriptUse(TenantModel):
    """One send (or copy) of a script by a member: what the per-script and per-guide counts add up."""

    script = models.ForeignKey(Script, on_delete=models.CASCADE, related_name="uses")
    membership = models.ForeignKey("orgs.Membership", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    staff = models.ForeignKey("orgs.Staff", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    used_at = models.DateTimeField(_("使用时间"), db_index=True)

    class Meta:
        ordering = ["-used_at", "-id"]
        verbose_name = _("话术使用")
        indexes = [models.Index(fields=["org", "script"], name="content_script_use"),
                   models.Index(fields=["org", "membership"], name="content_script_use_member")]

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q(membership__store_id__in=store_ids)

    @classmethod
    def scope_owner(cls, viewer) -> Q:
        return Q(membership=viewer)
