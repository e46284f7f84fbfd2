"""Segments (人群): a saved rule over persons, and who is in it over time."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from siyu.core.tenancy import TenantModel


class Segment(TenantModel):
    """A named rule (``segments.rules``) whose members are recomputed on a schedule and on demand. Its current
    members are the open :class:`SegmentMembership` rows; later sends, SOPs and journeys select people with it."""

    class Refresh(models.TextChoices):
        HOURLY = "hourly", _("每小时")
        DAILY = "daily", _("每天")
        MANUAL = "manual", _("仅手动")

    name = models.CharField(_("人群名称"), max_length=30)
    description = models.CharField(_("说明"), max_length=200, blank=True)
    rule = models.JSONField(_("条件"), default=dict)
    refresh = models.CharField(_("更新频率"), max_length=10, choices=Refresh.choices, default=Refresh.DAILY)
    member_count = models.PositiveIntegerField(_("人数"), default=0)
    refreshed_at = models.DateTimeField(_("最近更新"), null=True, blank=True)
    # The corp tag that mirrors the segment in WeCom, once synced.
    wecom_tag = models.ForeignKey("customers.Tag", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    synced_at = models.DateTimeField(_("最近同步"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("人群")
        constraints = [models.UniqueConstraint(fields=["org", "name"], name="segment_name_unique_per_org")]

    def __str__(self) -> str:
        return self.name


class SegmentMembership(TenantModel):
    """A span of time a person was in a segment: entered when a refresh first found them, left when one no longer
    did (``left_at`` empty while they are in). Re-entering opens a new span, so the rows are the history."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    person = models.ForeignKey("cdp.Person", on_delete=models.CASCADE, related_name="+")
    entered_at = models.DateTimeField(_("进入时间"))
    left_at = models.DateTimeField(_("离开时间"), null=True, blank=True)

    class Meta:
        ordering = ["-entered_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["org", "segment", "person"], condition=Q(left_at__isnull=True),
                                               name="segment_membership_open_once")]
        indexes = [models.Index(fields=["org", "segment", "left_at", "person"], name="segment_members"),
                   models.Index(fields=["org", "person"], name="segment_membership_person")]
