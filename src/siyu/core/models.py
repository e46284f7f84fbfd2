"""Jobs: long work (imports, bulk actions, syncs, rebuilds) with progress the console shows."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from siyu.core.tenancy import TenantModel
from siyu.privacy.fields import EncryptedJSONField


class Job(TenantModel):
    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("进行中")
        SUCCEEDED = "succeeded", _("已完成")
        FAILED = "failed", _("失败")

    kind = models.CharField(max_length=64)
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    # Encrypted: a job's arguments can carry personal data (an export filtered by a phone number, say).
    params = EncryptedJSONField(blank=True, default=dict)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(null=True, blank=True)
    message = models.CharField(max_length=500, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["org", "status"], name="job_org_status")]

    def __str__(self) -> str:
        return self.title

    @property
    def finished(self) -> bool:
        return self.status in {self.Status.SUCCEEDED, self.Status.FAILED}

    @property
    def percent(self) -> int | None:
        if not self.total:
            return 100 if self.status == self.Status.SUCCEEDED else None
        return min(100, round(100 * self.done / self.total))

    # Store roles see the jobs they started themselves (visible_to adds scope_owner for managers).
    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q(pk__in=[])

    @classmethod
    def scope_owner(cls, viewer) -> Q:
        return Q(created_by_id=viewer.user_id)


from siyu.core.events import DomainEvent, EventDelivery  # noqa: E402,F401  (the events' tables belong to core)
