"""Channel live codes (渠道活码), welcome messages (欢迎语), new-customer red packets and customer sources.

For the apps that read these tables (channel analytics, customer 360, segments):

* A :class:`ChannelCode` is one WeCom 「联系我」 contact way (``config_id``, ``qr_code``) with a ``state`` of at most
  30 characters. WeCom echoes the state in every ``add_external_contact`` the code causes and keeps it on the
  friendship, so ``Relation.state`` names the channel a relation came from. ``state`` is unique per organization
  and editable; every state a code has ever had is kept in :class:`ChannelState`, so relations added under an
  old state still map to their code. Map states with :func:`siyu.channels.queries.code_for_state` and
  :func:`siyu.channels.queries.state_directory` rather than by ``ChannelCode.state`` alone.
* ``folder`` (渠道分组) and ``partner`` (the other brand of a cross-brand campaign) group codes; ``owner`` is the
  console member responsible; the staff who receive customers are :class:`ChannelStaff` rows (primary staff, and
  backup staff used when the primary ones are full or off shift). Deleted codes keep their rows and state.
* :class:`CustomerChannel` is every code a customer came through, the first one flagged ``is_first``.
* Work with external effects is durable rows (:class:`WelcomeSend`, :class:`RotationSync`, :class:`AddFollowUp`,
  :class:`RedPacketPayout`), each with an idempotency key; they are performed by the dispatcher in this order.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from siyu.core.durable import DurableRow
from siyu.core.published import PublishedCode
from siyu.core.tenancy import TenantModel
from siyu.wecom import attachments as wecom_attachments
from siyu.wecom.states import STATE_MAX

WEEKDAY_NAMES = [_("周一"), _("周二"), _("周三"), _("周四"), _("周五"), _("周六"), _("周日")]
STAFF_MAX = 100  # WeCom: user + party ≤ 100 per contact way
ATTACHMENTS_MAX = wecom_attachments.MAX  # WeCom: send_welcome_msg takes at most 9 attachments


def _codes_of_stores(store_ids):
    return ChannelStaff.objects.filter(staff__store_id__in=store_ids).values("code_id")


def _codes_of_member(viewer):
    return ChannelStaff.objects.filter(staff__membership_id=viewer.pk).values("code_id")


class PartOfCode:
    """Visibility for a code's own settings (its staff, tags, red packet): whoever may open the code."""

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q(code__in=_codes_of_stores(store_ids)) | Q(code__owner__store_id__in=store_ids)

    @classmethod
    def scope_owner(cls, viewer) -> Q:
        return Q(code__in=_codes_of_member(viewer)) | Q(code__owner_id=viewer.pk)


class AboutRelation:
    """Visibility for rows about one friendship (a welcome sent, a red packet paid): whoever may see its staff's
    customers."""

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q(relation__staff__store_id__in=store_ids)

    @classmethod
    def scope_owner(cls, viewer) -> Q:
        return Q(relation__staff__membership_id=viewer.pk)


class ChannelFolder(TenantModel):
    """A channel group (渠道分组): how operators file their codes (stores, ads, events, partners…)."""

    # Brand-wide reference data every member works with (visible_to gives them all of it).
    shared_with_members = True

    name = models.CharField(_("分组名称"), max_length=50)
    order = models.IntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["order", "name", "id"]
        verbose_name = _("渠道分组")
        constraints = [models.UniqueConstraint(fields=["org", "name"], name="channelfolder_unique_name")]

    def __str__(self) -> str:
        return self.name


class Partner(TenantModel):
    """The other brand of a cross-brand campaign (异业合作), whose channels get a traffic-share report."""

    # Brand-wide reference data every member works with (visible_to gives them all of it).
    shared_with_members = True

    name = models.CharField(_("合作方"), max_length=100)
    note = models.CharField(_("备注"), max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("合作方")
        constraints = [models.UniqueConstraint(fields=["org", "name"], name="partner_unique_name")]

    def __str__(self) -> str:
        return self.name


class ChannelCode(PublishedCode):
    """One channel live code: a WeCom contact way, its staff rotation, tags, remark, welcome and red packet."""

    class Policy(models.TextChoices):
        ROUND_ROBIN = "round_robin", _("轮流分配")
        TIME_SLOTS = "time_slots", _("按时段分配")
        DAILY_CAP = "daily_cap", _("每日上限")

    name = models.CharField(_("名称"), max_length=50)
    folder = models.ForeignKey(ChannelFolder, null=True, blank=True, on_delete=models.SET_NULL, related_name="codes",
                               verbose_name=_("渠道分组"))
    partner = models.ForeignKey(Partner, null=True, blank=True, on_delete=models.SET_NULL, related_name="codes",
                                verbose_name=_("合作方"))
    owner = models.ForeignKey("orgs.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              verbose_name=_("负责人"))
    policy = models.CharField(_("分配方式"), max_length=20, choices=Policy.choices, default=Policy.ROUND_ROBIN)
    daily_cap = models.PositiveIntegerField(_("每人每日上限"), null=True, blank=True)
    # [{"days": [0..6] (Monday = 0), "start": "HH:MM", "end": "HH:MM" ("24:00" = midnight), "staff": [Staff.pk]}]
    time_slots = models.JSONField(_("时段"), default=list, blank=True)
    skip_verify = models.BooleanField(_("自动通过好友"), default=True)
    remark_template = models.CharField(_("备注模板"), max_length=60, blank=True)
    welcome_enabled = models.BooleanField(_("发送欢迎语"), default=True)
    # The staff the contact way lists in WeCom right now (what the rotation last wrote).
    current_userids = models.JSONField(default=list, blank=True)
    rotated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("渠道活码")
        constraints = [
            models.UniqueConstraint(fields=["org", "state"], name="channelcode_unique_state"),
            models.UniqueConstraint(fields=["org", "public_id"], name="channelcode_unique_public_id"),
        ]
        indexes = [
            models.Index(fields=["org", "status"], name="channelcode_org_status"),
            models.Index(fields=["org", "config_id"], name="channelcode_org_config"),
        ]

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q(pk__in=_codes_of_stores(store_ids)) | Q(owner__store_id__in=store_ids)

    @classmethod
    def scope_owner(cls, viewer) -> Q:
        return Q(pk__in=_codes_of_member(viewer)) | Q(owner_id=viewer.pk)

    @classmethod
    def holders_of_state(cls, org, state: str) -> list[ChannelCode]:
        return list(cls.objects.for_org(org).filter(pk__in=ChannelState.objects.for_org(org).filter(state=state).values("code_id")))


class ChannelState(TenantModel):
    """Every state a code has had (the current one included): relations keep the state they were added with."""

    code = models.ForeignKey(ChannelCode, on_delete=models.CASCADE, related_name="states")
    state = models.CharField(max_length=STATE_MAX)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "state"], name="channelstate_unique_state")]


class ChannelStaff(PartOfCode, TenantModel):
    """A staff member on a code: ``primary`` staff receive customers; ``backup`` ones when the policy has nobody."""

    class Role(models.TextChoices):
        PRIMARY = "primary", _("接待员工")
        BACKUP = "backup", _("备用员工")

    code = models.ForeignKey(ChannelCode, on_delete=models.CASCADE, related_name="channel_staff")
    staff = models.ForeignKey("orgs.Staff", on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.PRIMARY)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["role", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["org", "code", "staff"], name="channelstaff_unique")]


class ChannelCodeTag(PartOfCode, TenantModel):
    """A corp tag put on every relation the code brings in (source ``channel``)."""

    code = models.ForeignKey(ChannelCode, on_delete=models.CASCADE, related_name="code_tags")
    tag = models.ForeignKey("customers.Tag", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "code", "tag"], name="channelcodetag_unique")]


class WelcomeMessage(TenantModel):
    """A welcome message (欢迎语): for a code and staff member, a code, a staff member, or the default (neither).

    With ``window_days`` it is a time-slot variant (e.g. out-of-hours text) that replaces the plain message of
    the same scope while the add happens inside the window. ``attachments`` hold WeCom's attachment objects
    (``{"msgtype": "image", "image": {"pic_url": …}}``) exactly as they are sent.
    """

    class Scope(models.TextChoices):
        CODE_STAFF = "code_staff", _("渠道+员工")
        CODE = "code", _("渠道")
        STAFF = "staff", _("员工")
        DEFAULT = "default", _("默认")

    code = models.ForeignKey(ChannelCode, null=True, blank=True, on_delete=models.CASCADE, related_name="welcome_messages")
    staff = models.ForeignKey("orgs.Staff", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    window_days = models.JSONField(default=list, blank=True)  # Monday = 0; empty: not a variant
    window_start = models.TimeField(null=True, blank=True)
    window_end = models.TimeField(null=True, blank=True)  # None with a start: until midnight
    text = models.TextField(_("欢迎语"), blank=True)
    attachments = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["org", "code", "staff"], name="welcome_org_scope")]

    def __str__(self) -> str:
        return (self.text or "")[:30]

    @property
    def scope(self) -> str:
        if self.code_id and self.staff_id:
            return self.Scope.CODE_STAFF
        if self.code_id:
            return self.Scope.CODE
        if self.staff_id:
            return self.Scope.STAFF
        return self.Scope.DEFAULT

    @property
    def scope_label(self) -> str:
        return str(self.Scope(self.scope).label)

    @property
    def is_variant(self) -> bool:
        return bool(self.window_days)

    @property
    def window_label(self) -> str:
        if not self.window_days:
            return ""
        names = [str(WEEKDAY_NAMES[d]) for d in self.window_days]
        start = self.window_start.strftime("%H:%M") if self.window_start else "00:00"
        end = self.window_end.strftime("%H:%M") if self.window_end else "24:00"
        return f"{'、'.join(names)} {start}–{end}"

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q(staff__store_id__in=store_ids) | Q(code__in=_codes_of_stores(store_ids))

    @classmethod
    def scope_owner(cls, viewer) -> Q:
        return Q(staff__membership_id=viewer.pk)


class CustomerChannel(TenantModel):
    """A channel a customer came through (客户来源): one row per relation and code, the customer's first flagged."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    code = models.ForeignKey(ChannelCode, on_delete=models.CASCADE, related_name="customer_links")
    relation = models.ForeignKey("customers.Relation", on_delete=models.CASCADE, related_name="+")
    staff = models.ForeignKey("orgs.Staff", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    state = models.CharField(max_length=STATE_MAX)
    is_first = models.BooleanField(default=False)
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()
    adds = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["first_at", "id"]
        constraints = [models.UniqueConstraint(fields=["org", "relation", "code"], name="customerchannel_unique")]
        indexes = [
            models.Index(fields=["org", "customer"], name="customerchannel_customer"),
            models.Index(fields=["org", "code", "last_at"], name="customerchannel_code_day"),
        ]

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q(staff__store_id__in=store_ids)

    @classmethod
    def scope_owner(cls, viewer) -> Q:
        return Q(staff__membership_id=viewer.pk)


class RedPacketRule(PartOfCode, TenantModel):
    """A code's new-customer red packet: a fixed or random amount, paid from a budget that is never exceeded.

    ``spent_fen`` counts every amount reserved (paid, or being paid); a reservation is one conditional UPDATE,
    and the check constraint keeps it within ``budget_fen`` even against a bug.
    """

    class Mode(models.TextChoices):
        FIXED = "fixed", _("固定金额")
        RANDOM = "random", _("随机金额")

    code = models.OneToOneField(ChannelCode, on_delete=models.CASCADE, related_name="red_packet")
    enabled = models.BooleanField(_("启用"), default=True)
    mode = models.CharField(_("金额规则"), max_length=10, choices=Mode.choices, default=Mode.FIXED)
    amount_fen = models.PositiveIntegerField(_("金额（分）"), default=100)
    min_fen = models.PositiveIntegerField(_("最小金额（分）"), default=100)
    max_fen = models.PositiveIntegerField(_("最大金额（分）"), default=100)
    budget_fen = models.PositiveIntegerField(_("总预算（分）"), default=0)
    spent_fen = models.PositiveIntegerField(default=0)
    wishing = models.CharField(_("祝福语"), max_length=50, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(spent_fen__lte=F("budget_fen")), name="redpacket_within_budget"),
        ]

    @property
    def remaining_fen(self) -> int:
        return max(self.budget_fen - self.spent_fen, 0)


class SimulatedPayment(TenantModel):
    """The ledger of the simulated payment provider: what a real provider would have paid, one per bill number."""

    bill_no = models.CharField(max_length=32)
    recipient = models.CharField(max_length=64)
    amount_fen = models.PositiveIntegerField()
    description = models.CharField(max_length=100, blank=True)
    paid_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "bill_no"], name="simpayment_unique_bill")]


# -- durable rows, performed by the dispatcher in this order ------------------------------------------------
class WelcomeSend(AboutRelation, DurableRow):
    """One ``send_welcome_msg`` for one add event. The idempotency key is ``welcome:<WelcomeCode>``.

    Created when the add's callback is received (``userid``, ``external_userid``, ``state`` and ``event_at``
    are the callback's), so the welcome never waits behind the callbacks queued before it; ``relation`` is
    linked once the add itself has been processed. WeCom accepts a welcome code once, within 20 seconds of the
    add (``deadline``): the row is claimed before every other kind of work (lane 0), and one that cannot start
    in time is settled as expired without calling WeCom. 41051 (already sent, or the customer already chats)
    ends the row as done, 41096 (another app is sending) retries shortly, 41050 (the code expired) is expired.
    ``payload`` is exactly what was sent.
    """

    class Outcome(models.TextChoices):
        PENDING = "", _("待发送")
        SENT = "sent", _("已发送")
        ALREADY = "already_sent", _("已发送过或客户已开始聊天")
        EXPIRED = "expired", _("已超过 20 秒有效期")
        REFUSED = "refused", _("企业微信拒绝")
        NONE = "none", _("无适用的欢迎语")

    relation = models.ForeignKey("customers.Relation", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    userid = models.CharField(max_length=64, blank=True)
    external_userid = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=64, blank=True)
    code = models.ForeignKey(ChannelCode, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    welcome = models.ForeignKey(WelcomeMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    welcome_code = models.CharField(max_length=128)
    event_at = models.DateTimeField()
    deadline = models.DateTimeField()
    payload = models.JSONField(default=dict)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.PENDING, blank=True)
    errcode = models.IntegerField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Set by whichever comes second, the send or the link to the relation, so "welcomed" is on the timeline once.
    timeline_recorded = models.BooleanField(default=False)

    retry_base_seconds = 1
    retry_max_seconds = 5
    max_attempts = 8
    # Before every other row, and never started later than WeCom's window (due_at is the add's CreateTime).
    dispatch_lane: ClassVar[int] = 0
    deadline_seconds: ClassVar[float | None] = 20.0

    class Meta(DurableRow.Meta):
        constraints = [
            *DurableRow.Meta.constraints,
            # One welcome per relation, ever: a later add of the same friendship is not welcomed again.
            models.UniqueConstraint(fields=["org", "relation"], name="welcomesend_one_per_relation"),
        ]
        indexes = [
            *DurableRow.Meta.indexes,
            models.Index(fields=["org", "external_userid", "userid"], name="welcomesend_pair"),
        ]

    def perform(self) -> None:
        from siyu.channels.welcome import perform_send

        perform_send(self)


class RotationSync(DurableRow):
    """Makes a code's contact way list the staff its policy picks now (``update_contact_way``); one per code,
    woken again after every add through the code and whenever the policy may pick differently."""

    code = models.ForeignKey(ChannelCode, on_delete=models.CASCADE, related_name="+")

    retry_base_seconds = 5
    retry_max_seconds = 300

    def perform(self) -> None:
        from siyu.channels.rotation import perform_sync

        perform_sync(self)


class AddFollowUp(DurableRow):
    """What a code does to a relation it brought in, besides the welcome: its tags and the remark."""

    relation = models.ForeignKey("customers.Relation", on_delete=models.CASCADE, related_name="+")
    code = models.ForeignKey(ChannelCode, on_delete=models.CASCADE, related_name="+")
    tags_added = models.JSONField(default=list, blank=True)
    remark = models.CharField(max_length=20, blank=True)

    retry_base_seconds = 5

    def perform(self) -> None:
        from siyu.channels.services import perform_follow_up

        perform_follow_up(self)


class RedPacketPayout(AboutRelation, DurableRow):
    """One new-customer red packet. ``bill_no`` is the idempotency key handed to the payment provider, so a
    retry (or a crash between paying and recording) never pays twice; one per customer (``recipient_key``)."""

    class Outcome(models.TextChoices):
        PENDING = "", _("待发放")
        PAID = "paid", _("已发放")
        FAILED = "failed", _("发放失败")

    rule = models.ForeignKey(RedPacketRule, on_delete=models.PROTECT, related_name="payouts")
    code = models.ForeignKey(ChannelCode, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    relation = models.ForeignKey("customers.Relation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    recipient_key = models.CharField(max_length=80)  # "unionid:…" or "external_userid:…"
    recipient = models.CharField(max_length=64)  # what the provider pays to
    amount_fen = models.PositiveIntegerField()
    bill_no = models.CharField(max_length=32)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.PENDING, blank=True)
    provider_ref = models.CharField(max_length=64, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    released = models.BooleanField(default=False)  # a failed payout's amount went back to the budget

    retry_base_seconds = 10

    class Meta(DurableRow.Meta):
        constraints = [
            *DurableRow.Meta.constraints,
            models.UniqueConstraint(fields=["org", "recipient_key"], name="redpacket_one_per_customer"),
        ]

    def perform(self) -> None:
        from siyu.channels.redpackets import perform_payout

        perform_payout(self)
