"""Journeys: a trigger, then a list of steps each customer walks through, one durable row per step reached.

A :class:`Journey` keeps its steps in numbered :class:`JourneyVersion` rows: an edit makes a new version for
new entrants while the customers already inside finish on the version they entered with. A customer's run is a
:class:`JourneyEntry`; where they stand is the :class:`JourneyStep` row of the step they have reached — a
durable row, due when the step may run (a wait's row is due when the wait ends), so the dispatcher drives the
whole journey and a crash only delays it.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from siyu.core.durable import DurableRow
from siyu.core.tenancy import TenantModel
from siyu.privacy.fields import EncryptedTextField


class Journey(TenantModel):
    class Status(models.TextChoices):
        ACTIVE = "active", _("运行中")
        PAUSED = "paused", _("已暂停")
        STOPPED = "stopped", _("已停止")

    class Trigger(models.TextChoices):
        TAG_ADDED = "tag_added", _("客户被打上标签")
        STAGE_CHANGED = "stage_changed", _("客户进入阶段")
        ORDER_PLACED = "order_placed", _("客户下单")
        SEGMENT_ENTERED = "segment_entered", _("客户进入人群")
        EVENT = "event", _("客户发生事件")

    class Reentry(models.TextChoices):
        NEVER = "never", _("不可再次进入")
        AFTER_DAYS = "after_days", _("距上次进入满 N 天后可再次进入")
        ALWAYS = "always", _("上一次结束后即可再次进入")

    name = models.CharField(_("旅程名称"), max_length=60)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    trigger = models.CharField(_("触发条件"), max_length=20, choices=Trigger.choices)
    # The tag, stage or segment the trigger names (empty for "order placed").
    trigger_ref = models.BigIntegerField(null=True, blank=True)
    # The event name an "event" trigger waits for (a track call's event, e.g. "Material Opened"), and the last CDP
    # event it has looked at: events come in at thousands a second, so the journey reads them after the fact
    # (``triggers.sweep_events``) instead of every event emitting a domain event.
    trigger_event = models.CharField(_("触发事件"), max_length=200, blank=True)
    event_cursor = models.BigIntegerField(default=0)
    reentry = models.CharField(_("再次进入"), max_length=12, choices=Reentry.choices, default=Reentry.NEVER)
    reentry_days = models.PositiveIntegerField(_("间隔天数"), default=0)
    # Signs the bodies of this journey's webhook calls; shown to the operator once, when the journey is created.
    webhook_secret = EncryptedTextField()
    version = models.ForeignKey("JourneyVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey("orgs.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["org", "name"], name="journey_name_once")]
        indexes = [models.Index(fields=["org", "trigger", "status"], name="journey_trigger")]

    def __str__(self) -> str:
        return self.name


class JourneyVersion(TenantModel):
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    # The validated step list (journeys.steps): never edited once written.
    steps = models.JSONField(default=list)
    created_by = models.ForeignKey("orgs.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["org", "journey", "number"], name="journey_version_once")]


class JourneyEntry(TenantModel):
    """One customer's run through one journey, from the trigger that let them in to its last step."""

    class End(models.TextChoices):
        NONE = "", _("进行中")
        FINISHED = "finished", _("已走完")
        STOPPED = "stopped", _("旅程已停止")

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="entries")
    version = models.ForeignKey(JourneyVersion, on_delete=models.PROTECT, related_name="entries")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    entered_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end = models.CharField(max_length=10, choices=End.choices, default=End.NONE, blank=True)
    # The trigger that made the entry ("<journey>:<event>"): a redelivered event does not enter twice.
    idempotency_key = models.CharField(max_length=128)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "idempotency_key"], name="journey_entry_once")]
        indexes = [models.Index(fields=["org", "journey", "customer"], name="journey_entry_customer")]


class JourneyStep(DurableRow):
    """A customer's position: the step of their entry they have reached, due when it may run."""

    class Outcome(models.TextChoices):
        NONE = "", _("等待中")
        PASSED = "passed", _("已通过")
        YES = "yes", _("满足条件")
        NO = "no", _("不满足条件")
        DONE = "done", _("已执行")
        SKIPPED = "skipped", _("已跳过")
        FAILED = "failed", _("执行失败")
        STOPPED = "stopped", _("旅程已停止")

    entry = models.ForeignKey(JourneyEntry, on_delete=models.CASCADE, related_name="steps")
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(JourneyVersion, on_delete=models.PROTECT, related_name="+")
    # Where the step sits in the version's list: "2", or "1.yes.0" inside a branch.
    path = models.CharField(max_length=40)
    # When the step was meant to run; a pause moves due_at, resuming puts it back here.
    planned_at = models.DateTimeField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.NONE, blank=True)
    detail = models.CharField(max_length=200, blank=True)
    # A send step's WeCom call: committed before the call, so a run after a crash knows the call may have been made
    # and does not make it again (at most once: WeCom takes no idempotency key for add_msg_template).
    send_called_at = models.DateTimeField(null=True, blank=True)

    # After deadline work and event reactions: a journey step is bulk work.
    dispatch_lane: ClassVar[int] = 5
    # A webhook receiver that is down is tried again after 10 s, 20 s, 40 s, 80 s.
    retry_base_seconds = 10

    class Meta(DurableRow.Meta):
        indexes = [*DurableRow.Meta.indexes,
                   models.Index(fields=["org", "journey", "version", "path"], name="journey_step_report")]

    def perform(self) -> None:
        from siyu.journeys import engine

        engine.run_step(self)
