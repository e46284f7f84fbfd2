"""SOPs (标准作业流程): a rule (trigger, optional condition, steps), each subject's run through it, and the tasks its
due steps become for a staff member or a group owner."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from siyu.core.durable import DurableRow
from siyu.core.tenancy import TenantModel


class StaffWork:
    """Rows that are one staff member's work: their stores' managers and they themselves see them."""

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q(staff__store_id__in=store_ids)

    @classmethod
    def scope_owner(cls, viewer) -> Q:
        return Q(staff__membership_id=viewer.pk)


class Sop(TenantModel):
    """One SOP: when it starts for a customer (or a customer group), for whom (the condition), and its steps."""

    class Trigger(models.TextChoices):
        ADDED = "added", _("添加好友后")
        TAG_ADDED = "tag_added", _("打上标签后")
        STAGE_ENTERED = "stage_entered", _("进入阶段后")
        GROUP_CREATED = "group_created", _("建群后（群SOP）")
        DATE = "date", _("指定日期")
        BIRTHDAY = "birthday", _("客户生日")

    # The rules are brand-wide reference every member works with; the runs and tasks are scoped by staff.
    shared_with_members = True

    name = models.CharField(_("名称"), max_length=60)
    trigger = models.CharField(_("触发条件"), max_length=20, choices=Trigger.choices, default=Trigger.ADDED)
    trigger_tag = models.ForeignKey("customers.Tag", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("触发标签"))
    trigger_stage = models.ForeignKey("lifecycle.Stage", null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="+", verbose_name=_("触发阶段"))
    trigger_date = models.DateField(_("触发日期"), null=True, blank=True)
    # The condition: customers carrying any of these tags (ids of Tag) and/or in this segment.
    condition_tag_ids = models.JSONField(_("限定标签"), default=list, blank=True)
    condition_segment = models.ForeignKey("segments.Segment", null=True, blank=True, on_delete=models.PROTECT,
                                          related_name="+", verbose_name=_("限定人群"))
    is_active = models.BooleanField(_("启用"), default=False)
    # Only subjects whose trigger happens from this moment on are enrolled: turning an SOP on never floods the
    # guides with steps for every customer they already had.
    active_since = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("SOP")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name

    @property
    def for_groups(self) -> bool:
        return self.trigger == self.Trigger.GROUP_CREATED


class SopStep(TenantModel):
    """One step: ``day_offset`` days after the trigger's local day, at ``time_of_day`` local time, with a script
    from the library or inline text, and optional attachments (:mod:`siyu.wecom.attachments`)."""

    shared_with_members = True

    sop = models.ForeignKey(Sop, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField(default=0)
    day_offset = models.IntegerField(_("第几天"))
    time_of_day = models.TimeField(_("时间"))
    script = models.ForeignKey("content.Script", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("话术"))
    # A material from the library sent with the step (an article as its link card, an image, a file …); it is
    # turned into its WeCom attachment when a task is made, so a material withdrawn meanwhile is not sent.
    material = models.ForeignKey("content.Material", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+", verbose_name=_("素材"))
    text = models.TextField(_("内容"), blank=True)
    attachments = models.JSONField(_("附件"), default=list, blank=True)
    # Replaced by an edit while tasks still point at it: kept for those tasks and the report, never scheduled again.
    retired = models.BooleanField(default=False)

    class Meta:
        ordering = ["sop_id", "day_offset", "time_of_day", "position", "id"]

    def __str__(self) -> str:
        return f"D{self.day_offset} {self.time_of_day:%H:%M}"


class SopRun(StaffWork, TenantModel):
    """One customer (or group) going through one SOP from ``anchor_at``, with the staff member who does the work;
    stopped when they leave the SOP's condition."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("进行中")
        STOPPED = "stopped", _("已停止")

    class StopReason(models.TextChoices):
        LOST = "lost", _("客户流失")
        TAG_REMOVED = "tag_removed", _("标签已移除")
        STAGE_LEFT = "stage_left", _("已离开阶段")
        CONDITION_LEFT = "condition_left", _("不再符合条件")
        GROUP_DISMISSED = "group_dismissed", _("群已解散")
        SOP_OFF = "sop_off", _("SOP 已停用")

    sop = models.ForeignKey(Sop, on_delete=models.CASCADE, related_name="runs")
    customer = models.ForeignKey("customers.Customer", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey("groups.CustomerGroup", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    staff = models.ForeignKey("orgs.Staff", on_delete=models.CASCADE, related_name="+")
    anchor_at = models.DateTimeField()
    key = models.CharField(max_length=100)  # the subject and occasion: one run per SOP per key
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    stop_reason = models.CharField(max_length=20, choices=StopReason.choices, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "sop", "key"], name="sop_run_unique_key")]
        indexes = [models.Index(fields=["org", "sop", "status"], name="sop_run_status")]


class SopTask(StaffWork, DurableRow):
    """A due step for one staff member: delivered once as a WeCom app message (the durable part), then done by
    the staff member from the mobile task page (``completed_at``)."""

    run = models.ForeignKey(SopRun, on_delete=models.CASCADE, related_name="tasks")
    step = models.ForeignKey(SopStep, on_delete=models.CASCADE, related_name="tasks")
    sop = models.ForeignKey(Sop, on_delete=models.CASCADE, related_name="tasks")
    staff = models.ForeignKey("orgs.Staff", on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("customers.Customer", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey("groups.CustomerGroup", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    content = models.TextField(_("内容"), blank=True)
    attachments = models.JSONField(default=list, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    sent_at = models.DateTimeField(null=True, blank=True)
    msgid = models.CharField(max_length=128, blank=True)
    cancel_reason = models.CharField(max_length=20, blank=True)

    class Meta(DurableRow.Meta):
        ordering = ["due_at", "id"]
        indexes = [
            *DurableRow.Meta.indexes,
            models.Index(fields=["org", "staff", "due_at"], name="sop_task_staff_due"),
            models.Index(fields=["org", "sop", "step"], name="sop_task_step"),
        ]

    def __str__(self) -> str:
        return f"{self.sop_id}:{self.step_id}"

    def perform(self) -> None:
        from siyu.sop.delivery import notify

        notify(self)
