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


class Folder(TenantModel):
    """A folder of a library: HQ's shared tree, or a member's own folders (seen by nobody else)."""

    name = models.CharField(_("名称"), max_length=50)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    scope = models.CharField(_("范围"), max_length=10, choices=Scope.choices, default=Scope.HQ)
    owner = models.ForeignKey("orgs.Membership", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    order = models.PositiveIntegerField(_("排序"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["order", "name", "id"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q(scope=Scope.HQ)

    @classmethod
    def scope_owner(cls, viewer) -> Q:
        return Q(scope=Scope.HQ) | Q(scope=Scope.PERSONAL, owner=viewer)


class ScriptFolder(Folder):
    """A folder of scripts."""

    class Meta(Folder.Meta):
        verbose_name = _("话术分组")
        indexes = [models.Index(fields=["org", "scope", "owner"], name="content_folder_scope")]


class Reviewed(TenantModel):
    """What reviewed content keeps of its review: the reviewer's comment, an override's reason, who and when."""

    review_comment = models.CharField(_("审核意见"), max_length=500, blank=True)
    override_reason = models.CharField(_("放行理由"), max_length=500, blank=True)
    reviewed_by = models.ForeignKey("orgs.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class Script(Reviewed):
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


class MaterialFolder(Folder):
    """A folder of materials."""

    class Meta(Folder.Meta):
        verbose_name = _("素材分组")
        indexes = [models.Index(fields=["org", "scope", "owner"], name="content_mfolder_scope")]


def material_upload_to(material: "Material", filename: str) -> str:
    """Files are stored under a random name: the original name is kept on the row, never trusted as a path."""
    import uuid
    from pathlib import PurePath

    return f"materials/{material.org_id}/{uuid.uuid4().hex}{PurePath(filename).suffix.lower()[:10]}"


class Material(Reviewed):
    """What a guide or a campaign sends: an article hosted by Siyu, an image, a link, a mini-program card, a file, a
    video, a PDF or a poster. Every material is reviewed before it may be sent (it is published to customers), and
    records where its content comes from (seed 001: original, licensed, or quoted with its source)."""

    class Kind(models.TextChoices):
        ARTICLE = "article", _("文章")
        IMAGE = "image", _("图片")
        LINK = "link", _("链接")
        MINIPROGRAM = "miniprogram", _("小程序")
        FILE = "file", _("文件")
        VIDEO = "video", _("视频")
        PDF = "pdf", _("PDF")
        POSTER = "poster", _("海报")

    class Status(models.TextChoices):
        DRAFT = "draft", _("草稿")
        IN_REVIEW = "in_review", _("审核中")
        APPROVED = "approved", _("已通过")
        REJECTED = "rejected", _("已驳回")
        WITHDRAWN = "withdrawn", _("已下架")

    class Source(models.TextChoices):
        ORIGINAL = "original", _("原创")
        LICENSED = "licensed", _("已获授权")
        QUOTED = "quoted", _("引用（注明出处）")

    kind = models.CharField(_("类型"), max_length=12, choices=Kind.choices)
    folder = models.ForeignKey(MaterialFolder, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="materials")
    title = models.CharField(_("标题"), max_length=60)
    summary = models.CharField(_("摘要"), max_length=170, blank=True)
    body = models.TextField(_("正文"), blank=True)  # an article's HTML, sanitized by the service before saving
    url = models.URLField(_("链接地址"), max_length=2048, blank=True)
    appid = models.CharField(_("小程序 AppID"), max_length=18, blank=True)
    page = models.CharField(_("小程序页面"), max_length=512, blank=True)
    file = models.FileField(_("文件"), upload_to=material_upload_to, max_length=200, blank=True)
    file_name = models.CharField(_("文件名"), max_length=200, blank=True)
    file_size = models.PositiveIntegerField(default=0)
    cover = models.FileField(_("封面"), upload_to=material_upload_to, max_length=200, blank=True)
    # A poster's QR area, in percent of the background's width and height, where a guide's personal code goes.
    qr_left = models.PositiveSmallIntegerField(_("二维码左边距 %"), default=0)
    qr_top = models.PositiveSmallIntegerField(_("二维码上边距 %"), default=0)
    qr_size = models.PositiveSmallIntegerField(_("二维码宽度 %"), default=0)
    qr_name = models.BooleanField(_("二维码下方印导购姓名"), default=False)
    # ",秋冬,新品," so one LIKE finds a tag on SQLite and PostgreSQL alike.
    tags = models.CharField(_("标签"), max_length=300, blank=True)
    source = models.CharField(_("来源与版权"), max_length=10, choices=Source.choices, default=Source.ORIGINAL)
    source_text = models.CharField(_("出处 / 授权说明"), max_length=200, blank=True)
    scope = models.CharField(_("范围"), max_length=10, choices=Scope.choices, default=Scope.HQ)
    owner = models.ForeignKey("orgs.Membership", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    search_text = models.TextField(default="", editable=False)
    created_by = models.ForeignKey("orgs.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        verbose_name = _("素材")
        indexes = [models.Index(fields=["org", "scope", "status"], name="content_material_scope"),
                   models.Index(fields=["org", "owner"], name="content_material_owner")]

    def __str__(self) -> str:
        return self.title

    @property
    def tag_list(self) -> list[str]:
        return [t for t in self.tags.split(",") if t]

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q(scope=Scope.HQ, status=cls.Status.APPROVED)

    @classmethod
    def scope_owner(cls, viewer) -> Q:
        return Q(scope=Scope.HQ, status=cls.Status.APPROVED) | Q(scope=Scope.PERSONAL, owner=viewer)
