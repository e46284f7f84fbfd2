"""Records of data-subject requests: who asked Siyu to export or erase whose data, when, and what it covered."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from siyu.core.tenancy import TenantModel


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
