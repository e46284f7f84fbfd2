"""The automation around a customer's life: stages (客户阶段), auto-tagging rules, reminders and loss alerts."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from siyu.core.durable import DurableRow
from siyu.core.tenancy import TenantModel
from siyu.customers.models import CustomerScoped



# -- stages ------------------------------------------------------------------------------------------------
class Stage(TenantModel):
    """One column of the organization's pipeline, ordered by ``position``. ``is_lost`` marks where customers go
    when no staff member is their friend any more (流失)."""

    # Brand-wide reference data every member works with (visible_to gives them all of it).
    shared_with_members = True

    name = models.CharField(_("阶段名称"), max_length=20)
    position = models.PositiveIntegerField(_("顺序"), default=0)
    is_lost = models.BooleanField(_("流失阶段"), default=False,
                                  help_text=_("客户不再是任何员工的好友时自动移入此阶段。"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("客户阶段")
        constraints = [models.UniqueConstraint(fields=["org", "name"], name="stage_name_unique_per_org")]

    def __str__(self) -> str:
        return self.name


class CustomerLifecycle(CustomerScoped, TenantModel):
    """Per customer: the current stage (and since when) and the dates reminders need."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    stage = models.ForeignKey(Stage, null=True, blank=True, on_delete=models.SET_NULL, related_name="customers")
    stage_since = models.DateTimeField(null=True, blank=True)
    birthday = models.DateField(_("生日"), null=True, blank=True, help_text=_("年份不详时填任意年份，只看月和日。"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "customer"], name="lifecycle_one_per_customer")]
        indexes = [models.Index(fields=["org", "stage"], name="lifecycle_org_stage")]



class StageChange(CustomerScoped, TenantModel):
    """A customer entering a stage; ``left_at`` is set when they move on, so a row is also a span of time in it."""

    class Source(models.TextChoices):
        BOARD = "board", _("看板拖动")
        MANUAL = "manual", _("手动")
        RULE = "rule", _("规则")
        ADDED = "added", _("添加好友")
        RETURNED = "returned", _("重新添加")
        LOST = "lost", _("流失")
        BULK = "bulk", _("批量操作")

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    from_stage = models.ForeignKey(Stage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    to_stage = models.ForeignKey(Stage, null=True, on_delete=models.SET_NULL, related_name="entries")
    entered_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    source_ref = models.CharField(max_length=100, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-entered_at", "-id"]
        indexes = [
            models.Index(fields=["org", "customer", "-entered_at"], name="stagechange_customer"),
            models.Index(fields=["org", "to_stage", "entered_at"], name="stagechange_stage"),
        ]



# -- auto-tagging rules ----------------------------------------------------------------------------------
class Rule(TenantModel):
    """When something happens to a customer, add tags and/or move them forward to a stage.

    ``config`` depends on ``kind`` (validated by :mod:`siyu.lifecycle.rules`):

    * keyword: ``keywords``, ``exclude`` (lists), ``match`` ("any" | "all" in one message), ``speaker``
      ("customer" | "staff" | "any");
    * behaviour: ``event`` (material_opened | link_clicked | activity_joined | group_joined), ``ref`` ("" = any);
    * purchase: ``condition`` (product | category | spent_over | order_count) and ``products`` / ``categories``
      / ``amount`` / ``count``;
    * channel: ``state`` (the channel code's state; a trailing ``*`` matches a prefix).
    """

    class Kind(models.TextChoices):
        KEYWORD = "keyword", _("聊天关键词")
        BEHAVIOUR = "behaviour", _("客户行为")
        PURCHASE = "purchase", _("购买行为")
        CHANNEL = "channel", _("来源渠道")

    name = models.CharField(_("规则名称"), max_length=50)
    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices)
    config = models.JSONField(default=dict, blank=True)
    tags = models.ManyToManyField("customers.Tag", through="RuleTag", related_name="+", blank=True)
    stage = models.ForeignKey(Stage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              verbose_name=_("移入阶段"))
    is_active = models.BooleanField(_("启用"), default=True)
    tagged_count = models.PositiveIntegerField(default=0)
    last_fired_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "name", "id"]
        verbose_name = _("自动打标签规则")
        constraints = [models.UniqueConstraint(fields=["org", "name"], name="rule_name_unique_per_org")]
        indexes = [models.Index(fields=["org", "kind", "is_active"], name="rule_org_kind")]

    def __str__(self) -> str:
        return self.name


class RuleTag(TenantModel):
    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="rule_tags")
    tag = models.ForeignKey("customers.Tag", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "rule", "tag"], name="ruletag_unique")]


class RuleSetVersion(TenantModel):
    """Bumped whenever an organization's rules change, so every process rebuilds its cached keyword automaton."""

    version = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org"], name="rulesetversion_one_per_org")]


# -- reminders ------------------------------------------------------------------------------------------
class Reminder(DurableRow):
    """A reminder to one staff member about one customer, delivered once as a WeCom app message when due.

    Delivery is the durable part (``status``); the to-do part is ``completed_at`` (the guide ticks it off).
    ``outcome`` says what delivery did: sent, or skipped because the customer is no longer their friend.
    """

    class Kind(models.TextChoices):
        REPURCHASE = "repurchase", _("复购提醒")
        BIRTHDAY = "birthday", _("生日提醒")
        NO_CONTACT = "no_contact", _("久未联系")
        FOLLOW_UP = "follow_up", _("跟进提醒")
        JOURNEY = "journey", _("旅程提醒")

    class Outcome(models.TextChoices):
        NONE = "", _("未发送")
        SENT = "sent", _("已发送")
        SKIPPED = "skipped", _("已跳过（客户已不是好友）")
        CONSOLE = "console", _("仅控制台（未连接企业微信）")

    kind = models.CharField(_("类型"), max_length=12, choices=Kind.choices)
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    staff = models.ForeignKey("orgs.Staff", on_delete=models.CASCADE, related_name="+")
    title = models.CharField(_("标题"), max_length=60)
    body = models.CharField(_("内容"), max_length=300, blank=True)
    source_ref = models.CharField(max_length=100, blank=True)
    product = models.ForeignKey("cdp.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.NONE, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=40, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta(DurableRow.Meta):
        ordering = ["due_at", "id"]
        indexes = [
            *DurableRow.Meta.indexes,
            models.Index(fields=["org", "staff", "status", "due_at"], name="reminder_staff_due"),
            models.Index(fields=["org", "customer", "status"], name="reminder_customer"),
        ]

    def __str__(self) -> str:
        return self.title

    def perform(self) -> None:
        from siyu.lifecycle.reminders import deliver

        deliver(self)

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q(staff__store_id__in=store_ids)

    @classmethod
    def scope_owner(cls, viewer) -> Q:
        return Q(staff__membership_id=viewer.pk)


class ReminderPolicy(TenantModel):
    """An organization's reminder settings."""

    repurchase_lead_days = models.PositiveIntegerField(_("复购提前天数"), default=10,
                                                       help_text=_("在商品消耗周期结束前多少天提醒导购。"))
    birthday_lead_days = models.PositiveIntegerField(_("生日提前天数"), default=3)
    no_contact_days = models.PositiveIntegerField(_("久未联系天数"), default=30,
                                                  help_text=_("导购多少天没有联系客户时提醒；0 表示不提醒。"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org"], name="reminderpolicy_one_per_org")]


# -- loss alerts ----------------------------------------------------------------------------------------
class LossAlert(TenantModel):
    """A friendship lost: the customer deleted the staff member or the other way round (流失提醒).

    ``history`` is a snapshot of what was known when it happened (stage, tags, orders, last messages), so the
    alert still reads right after the customer's data changes.
    """

    class Reason(models.TextChoices):
        DELETED_BY_CUSTOMER = "deleted_by_customer", _("客户删除员工")
        DELETED_BY_STAFF = "deleted_by_staff", _("员工删除客户")

    class Cause(models.TextChoices):
        UNKNOWN = "", _("未填写")
        PRICE = "price", _("价格")
        PRODUCT = "product", _("产品")
        SERVICE = "service", _("服务")
        TOO_MANY_MESSAGES = "messages", _("打扰过多")
        MOVED = "moved", _("搬离/不再需要")
        OTHER = "other", _("其他")

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    relation = models.ForeignKey("customers.Relation", on_delete=models.CASCADE, related_name="+")
    staff = models.ForeignKey("orgs.Staff", on_delete=models.CASCADE, related_name="+")
    store = models.ForeignKey("orgs.Store", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.CharField(_("流失方式"), max_length=20, choices=Reason.choices)
    occurred_at = models.DateTimeField(_("流失时间"))
    history = models.JSONField(default=dict, blank=True)
    cause = models.CharField(_("流失原因"), max_length=10, choices=Cause.choices, default=Cause.UNKNOWN, blank=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("流失提醒")
        constraints = [
            # relation_lost may be delivered again (a re-run callback): one alert per friendship ending.
            models.UniqueConstraint(fields=["org", "relation", "occurred_at"], name="lossalert_unique"),
        ]
        indexes = [
            models.Index(fields=["org", "-occurred_at"], name="lossalert_org_time"),
            models.Index(fields=["org", "store", "-occurred_at"], name="lossalert_store_time"),
        ]

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q(store_id__in=store_ids) | Q(staff__store_id__in=store_ids)

    @classmethod
    def scope_owner(cls, viewer) -> Q:
        return Q(staff__membership_id=viewer.pk)


class LossNotice(DurableRow):
    """One WeCom app message telling ``recipient`` about a loss alert (the owner, and each store manager)."""

    alert = models.ForeignKey(LossAlert, on_delete=models.CASCADE, related_name="notices")
    recipient = models.ForeignKey("orgs.Staff", on_delete=models.CASCADE, related_name="+")
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta(DurableRow.Meta):
        pass

    def perform(self) -> None:
        from siyu.lifecycle.loss import deliver_notice

        deliver_notice(self)
