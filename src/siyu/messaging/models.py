"""The policy guard's tables: the organization's messaging policy, per-channel frequency caps, facts about a
recipient Siyu keeps nowhere else (a birth date with a known year, a time zone), and every planned send with one
decision per recipient."""

from __future__ import annotations

from datetime import time

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from siyu.core.tenancy import TenantModel
from siyu.customers.models import CustomerScoped


class Channel(models.TextChoices):
    """How a message reaches a customer; frequency caps are set per channel."""

    MASS_MESSAGE = "mass_message", _("企业群发")
    SOP = "sop", _("SOP")
    JOURNEY = "journey", _("自动化旅程")
    MOMENT = "moment", _("朋友圈")
    REMINDER = "reminder", _("客户提醒")
    ACTIVITY = "activity", _("活动消息")


# Channels whose sends are WeCom enterprise group messages (add_msg_template): WeCom counts every one of them
# against each customer's receive limit (reference §3.6), whichever feature made it.
WECOM_GROUP_MESSAGE_CHANNELS = (Channel.MASS_MESSAGE, Channel.SOP, Channel.JOURNEY)


class Policy(TenantModel):
    """An organization's messaging settings (消息触达设置); the defaults apply until it is saved once."""

    class ReceiveRule(models.TextChoices):
        # WeCom's receive cap for enterprise mass messages, as the admin sets it in 群发助手 (reference §3.6).
        MONTH = "month", _("每月最多当月天数条")
        WEEK = "week7", _("每周最多七条")
        DAY = "day1", _("每天最多一条")

    receive_rule = models.CharField(_("企业微信群发接收规则"), max_length=10, choices=ReceiveRule.choices,
                                    default=ReceiveRule.MONTH,
                                    help_text=_("与企业微信“群发助手 → 设置群发规则”保持一致。"))
    quiet_start = models.TimeField(_("免打扰开始"), default=time(21, 0))
    quiet_end = models.TimeField(_("免打扰结束"), default=time(9, 0))
    timezone = models.CharField(_("默认时区"), max_length=40, default="Asia/Shanghai",
                                help_text=_("客户没有记录时区时，按此时区计算免打扰时段。"))
    stale_after_hours = models.PositiveIntegerField(_("过期时长（小时）"), default=24,
                                                    help_text=_("免打扰期间暂缓的消息，超过这个时长仍发不出就放弃。"))
    protect_minors = models.BooleanField(_("保护未成年人"), default=True)
    protect_seniors = models.BooleanField(_("保护 65 岁及以上老人"), default=True)
    # Ids of corp tags whose customers are protected people (seed 000); read with the tags, never trusted blindly.
    protected_tag_ids = models.JSONField(_("受保护标签"), default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("消息触达设置")
        constraints = [models.UniqueConstraint(fields=["org"], name="messaging_policy_one_per_org")]


class FrequencyCap(TenantModel):
    """At most ``max_messages`` promotional messages per customer per ``days`` days on one channel."""

    channel = models.CharField(_("渠道"), max_length=20, choices=Channel.choices)
    max_messages = models.PositiveIntegerField(_("最多条数"))
    days = models.PositiveIntegerField(_("天数"), default=7)

    class Meta:
        verbose_name = _("频次上限")
        ordering = ["channel"]
        constraints = [models.UniqueConstraint(fields=["org", "channel"], name="messaging_cap_one_per_channel")]


class RecipientFacts(CustomerScoped, TenantModel):
    """What the guard needs to know about a customer that no other table holds: a birth date whose year is known
    (the lifecycle birthday may carry any year) and the customer's time zone for quiet hours."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    birth_date = models.DateField(_("出生日期"), null=True, blank=True)
    timezone = models.CharField(_("时区"), max_length=40, blank=True)

    class Meta:
        verbose_name = _("客户触达信息")
        constraints = [models.UniqueConstraint(fields=["org", "customer"], name="messaging_facts_one_per_customer")]
        indexes = [models.Index(fields=["org", "birth_date"], name="messaging_facts_birth")]


class Send(TenantModel):
    """One outbound send as the guard saw it: which feature's row it is (``kind`` + ``ref_id``), on which channel,
    for which purpose, with which text; ``sent_at`` once it went out (WeCom's receive cap and the brand's
    frequency caps count only sends that went out)."""

    kind = models.CharField(max_length=30)
    ref_id = models.BigIntegerField()
    channel = models.CharField(_("渠道"), max_length=20, choices=Channel.choices)
    purpose = models.CharField(_("用途"), max_length=20)
    promotional = models.BooleanField(_("营销类"), default=True)
    content = models.TextField(_("内容"), blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    planned_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("发送")
        constraints = [models.UniqueConstraint(fields=["org", "kind", "ref_id"], name="messaging_send_unique_ref")]
        indexes = [models.Index(fields=["org", "channel", "sent_at"], name="messaging_send_channel_sent")]


class Decision(CustomerScoped, TenantModel):
    """The guard's decision for one recipient of one send, and why."""

    class Outcome(models.TextChoices):
        INCLUDED = "included", _("发送")
        HELD = "held", _("暂缓")
        EXCLUDED = "excluded", _("排除")

    send = models.ForeignKey(Send, on_delete=models.CASCADE, related_name="decisions")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.CharField(max_length=20, blank=True)
    detail = models.CharField(max_length=200, blank=True)
    release_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField()

    class Meta:
        verbose_name = _("触达决定")
        constraints = [models.UniqueConstraint(fields=["org", "send", "customer"], name="messaging_decision_unique")]
        indexes = [
            models.Index(fields=["org", "customer", "-decided_at"], name="messaging_decision_customer"),
            # Partial: held rows are few, and an index every decision had to enter would slow the big writes.
            models.Index(fields=["org", "release_at"], condition=models.Q(outcome="held"),
                         name="messaging_decision_held"),
        ]


# -- mass messages (企业群发) ------------------------------------------------------------------------------------------
# Imported here: DurableRow is a plain abstract model, kept beside the guard's tables it works with.
from siyu.core.durable import DurableRow  # noqa: E402


class MassMessage(TenantModel):
    """A mass message to customers or customer groups: text plus up to 9 attachments (:mod:`siyu.wecom.attachments`),
    an audience (``{"segment": id}`` or ``{"tag_ids", "staff_ids", "store_ids", "stage_ids"}``; for groups
    ``{"owner_ids", "name"}``), sent now or at
    ``scheduled_at`` as one WeCom group-message task per staff member and ≤10,000 customers or ≤2,000 groups
    (:class:`MassTask`)."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("草稿")
        SCHEDULED = "scheduled", _("待发送")
        SENDING = "sending", _("发送中")
        SENT = "sent", _("已完成")
        CANCELLED = "cancelled", _("已取消")

    class ChatType(models.TextChoices):
        # add_msg_template's chat_type: to customers one by one, or to the sender's customer groups (DOC 92135).
        SINGLE = "single", _("客户")
        GROUP = "group", _("客户群")

    title = models.CharField(_("标题"), max_length=100)
    chat_type = models.CharField(_("发送给"), max_length=10, choices=ChatType.choices, default=ChatType.SINGLE)
    text = models.TextField(_("内容"), blank=True)
    attachments = models.JSONField(_("附件"), default=list, blank=True)
    audience = models.JSONField(_("发送对象"), default=dict)
    purpose = models.CharField(_("用途"), max_length=20, default="marketing")
    scheduled_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    # An admin's approval lets protected people receive this one promotional send (audited by the guard).
    approved_by = models.ForeignKey("orgs.Membership", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    # Progress of planning, polled by the console: recipients decided and tasks created so far.
    planned = models.PositiveIntegerField(default=0)
    tasks_total = models.PositiveIntegerField(default=0)
    results_at = models.DateTimeField(null=True, blank=True)
    # A group send's groups the guard left out: {chat_id: [reason, detail]} (customer decisions are Decision rows).
    excluded_groups = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("企业群发")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["org", "status"], name="messaging_mass_status")]

    def __str__(self) -> str:
        return self.title


class MassPlan(DurableRow):
    """Plans one mass message when it is due: the audience is resolved, the guard decides, and the included
    customers become :class:`MassTask` rows. One row per message (its idempotency key)."""

    message = models.ForeignKey(MassMessage, on_delete=models.CASCADE, related_name="+")

    class Meta(DurableRow.Meta):
        pass

    def perform(self) -> None:
        from siyu.messaging import mass

        mass.plan_message(self.message_id, org_id=self.org_id)


class MassTask(DurableRow):
    """One ``add_msg_template`` call: ≤10,000 customers of one staff member. ``call_state`` ``calling`` is
    committed before the call, so a retry knows WeCom may already hold the task and looks for it first."""

    class CallState(models.TextChoices):
        NEW = "new", _("未调用")
        CALLING = "calling", _("调用中")
        CREATED = "created", _("已创建")
        REFUSED = "refused", _("被拒绝")

    message = models.ForeignKey(MassMessage, on_delete=models.CASCADE, related_name="tasks")
    staff = models.ForeignKey("orgs.Staff", on_delete=models.PROTECT, related_name="+")
    userid = models.CharField(max_length=64)
    chunk = models.PositiveIntegerField(default=0)
    external_userids = models.JSONField(default=list)
    chat_ids = models.JSONField(default=list, blank=True)  # a group send: the owner's groups (≤2,000 per call)
    call_state = models.CharField(max_length=10, choices=CallState.choices, default=CallState.NEW)
    called_at = models.DateTimeField(null=True, blank=True)
    msgid = models.CharField(max_length=128, blank=True)
    fail_list = models.JSONField(default=list, blank=True)
    error = models.CharField(max_length=300, blank=True)
    # Results read from WeCom: when the member sent it, and recipients per SendStatus (0, 1, 2, 3).
    confirmed_at = models.DateTimeField(null=True, blank=True)
    results = models.JSONField(default=dict, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)

    class Meta(DurableRow.Meta):
        pass

    def perform(self) -> None:
        from siyu.messaging import mass

        mass.create_wecom_task(self)
