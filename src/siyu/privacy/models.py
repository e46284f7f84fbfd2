"""Records of data-subject requests: who asked Siyu to export or erase whose data, when, and what it covered."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from siyu.core.tenancy import TenantModel
from siyu.customers.models import CustomerScoped


class SubjectRequest(TenantModel):
    """One export or erasure (siyu.privacy.requests). Holds the identifier only masked: the request outlives the
    data it was about."""

    class Kind(models.TextChoices):
        EXPORT = "export", _("导出个人信息")
        ERASE = "erase", _("删除个人信息")

    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices)
    identifier = models.CharField(_("标识"), max_length=120)
    summary = models.JSONField(_("范围"), default=dict, blank=True)
    file = models.CharField(max_length=100, blank=True)  # the export bundle's name in the org's export folder
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("个人信息请求")
        indexes = [models.Index(fields=["org", "-created_at"], name="subjectrequest_org_time")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.identifier}"


class Purpose(models.TextChoices):
    """What a customer may consent to. Biometric data (faces, voiceprints, fingerprints) is never collected, so it
    has no purpose here: nothing can be consented to that Siyu does not do."""

    MARKETING = "marketing", _("营销消息")
    PROFILING = "profiling", _("用户画像")
    LOCATION = "location", _("位置信息")


class PrivacyNotice(TenantModel):
    """One published version of an organization's privacy notice. A new version is a new row: a consent record
    names the version the customer saw, so an old version is never edited."""

    version = models.PositiveIntegerField(_("版本"))
    title = models.CharField(_("标题"), max_length=100)
    body = models.TextField(_("正文"))
    published_at = models.DateTimeField(_("发布时间"))
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")

    class Meta:
        ordering = ["-version"]
        verbose_name = _("隐私政策")
        constraints = [models.UniqueConstraint(fields=["org", "version"], name="privacynotice_unique_version")]

    def __str__(self) -> str:
        return f"{self.title} v{self.version}"


class ConsentRecord(CustomerScoped, TenantModel):
    """One grant or withdrawal of one purpose by one customer; never updated or deleted. The customer's current
    state for a purpose is their latest record (by ``at``, then id) — ``siyu.privacy.consent.consenting``."""

    class Source(models.TextChoices):
        H5 = "h5", _("授权页面")
        IMPORT = "import", _("导入")
        API = "api", _("接口")
        CHAT_STOPWORD = "chat_stopword", _("聊天退订")
        CONSOLE = "console", _("管理后台")

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="consents")
    person = models.ForeignKey("cdp.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    purpose = models.CharField(_("用途"), max_length=20, choices=Purpose.choices)
    granted = models.BooleanField(_("同意"))
    notice_version = models.PositiveIntegerField(_("政策版本"), null=True, blank=True)
    source = models.CharField(_("来源"), max_length=20, choices=Source.choices)
    evidence = models.JSONField(_("凭据"), default=dict, blank=True)
    at = models.DateTimeField(_("时间"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("授权记录")
        indexes = [models.Index(fields=["org", "purpose", "customer", "-at", "-id"], name="consent_latest")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.purpose} {'+' if self.granted else '-'}"

    @property
    def state(self) -> str:
        return "granted" if self.granted else "withdrawn"
