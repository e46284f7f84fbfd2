"""Customers (WeCom external contacts), their relations with staff, tags, transfers and the timeline."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from siyu.core.tenancy import TenantModel
from siyu.privacy.fields import EncryptedJSONField, EncryptedTextField


def _relations_of_stores(store_ids):
    return Relation.objects.filter(staff__store_id__in=store_ids).values("customer_id")


def _relations_of_member(viewer):
    return Relation.objects.filter(staff__membership_id=viewer.pk).values("customer_id")


class CustomerScoped:
    """Visibility for rows about one customer (a ``customer`` foreign key): whoever may see the customer."""

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q(customer_id__in=_relations_of_stores(store_ids))

    @classmethod
    def scope_owner(cls, viewer) -> Q:
        return Q(customer_id__in=_relations_of_member(viewer))


class Customer(TenantModel):
    """One WeCom external contact of the brand (one ``external_userid``), whoever of the staff added them."""

    class Type(models.IntegerChoices):
        WECHAT = 1, _("微信用户")
        WECOM = 2, _("企业微信用户")

    class Gender(models.IntegerChoices):
        UNKNOWN = 0, _("未知")
        MALE = 1, _("男")
        FEMALE = 2, _("女")

    external_userid = models.CharField(max_length=64)
    name = models.CharField(_("昵称"), max_length=100, blank=True)
    avatar = models.URLField(max_length=500, blank=True)
    type = models.PositiveSmallIntegerField(_("类型"), choices=Type.choices, default=Type.WECHAT)
    gender = models.PositiveSmallIntegerField(_("性别"), choices=Gender.choices, default=Gender.UNKNOWN)
    unionid = models.CharField(max_length=64, blank=True)
    position = models.CharField(_("职务"), max_length=100, blank=True)
    corp_name = models.CharField(_("企业简称"), max_length=100, blank=True)
    corp_full_name = models.CharField(_("企业全称"), max_length=200, blank=True)
    external_profile = models.JSONField(default=dict, blank=True)
    is_friend = models.BooleanField(_("仍是好友"), default=True, help_text=_("至少一位员工的好友关系仍有效"))
    first_added_at = models.DateTimeField(_("首次添加"), null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("客户")
        constraints = [models.UniqueConstraint(fields=["org", "external_userid"], name="customer_unique_per_org")]
        indexes = [
            models.Index(fields=["org", "-first_added_at"], name="customer_org_added"),
            models.Index(fields=["org", "unionid"], name="customer_org_unionid"),
        ]

    def __str__(self) -> str:
        return self.name or self.external_userid

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q(pk__in=_relations_of_stores(store_ids))

    @classmethod
    def scope_owner(cls, viewer) -> Q:
        return Q(pk__in=_relations_of_member(viewer))


class Relation(TenantModel):
    """A staff member's friendship with a customer (WeCom ``follow_user``): remark, tags, how and when added."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("好友")
        PENDING = "pending", _("待通过")  # add_half_external_contact: customer added, staff not yet accepted
        DELETED_BY_STAFF = "deleted_by_staff", _("员工删除客户")
        DELETED_BY_CUSTOMER = "deleted_by_customer", _("客户删除员工")
        TRANSFERRED = "transferred", _("已转接")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="relations")
    staff = models.ForeignKey("orgs.Staff", on_delete=models.PROTECT, related_name="relations")
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.ACTIVE)
    remark = models.CharField(_("备注"), max_length=100, blank=True)
    description = models.CharField(_("描述"), max_length=300, blank=True)
    remark_corp_name = models.CharField(_("备注企业"), max_length=100, blank=True)
    # A JSON list of the customer's phone numbers as the staff member noted them, encrypted at rest.
    remark_mobiles = EncryptedTextField(_("备注手机号"))
    add_way = models.IntegerField(_("添加方式"), default=0)
    state = models.CharField(_("渠道参数"), max_length=64, blank=True)
    oper_userid = models.CharField(max_length=64, blank=True)
    added_at = models.DateTimeField(_("添加时间"), null=True, blank=True)
    deleted_at = models.DateTimeField(_("删除时间"), null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("好友关系")
        constraints = [models.UniqueConstraint(fields=["org", "customer", "staff"], name="relation_unique")]
        indexes = [
            models.Index(fields=["org", "staff", "status"], name="relation_staff_status"),
            models.Index(fields=["org", "state"], name="relation_state"),
        ]

    def __str__(self) -> str:
        return f"{self.staff} ↔ {self.customer}"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q(staff__store_id__in=store_ids)

    @classmethod
    def scope_owner(cls, viewer) -> Q:
        return Q(staff__membership_id=viewer.pk)


class TagGroup(TenantModel):
    """A corp tag group (企业客户标签组), mirrored from WeCom; ``wecom_id`` empty until created there."""

    # Brand-wide reference data every member works with (visible_to gives them all of it).
    shared_with_members = True

    wecom_id = models.CharField(max_length=64, blank=True)
    name = models.CharField(_("标签组"), max_length=30)
    order = models.IntegerField(default=0)
    deleted = models.BooleanField(default=False)
    # Created in WeCom by Siyu's app: WeCom lets an app change only the tags it created (doc 92117).
    made_by_app = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["org", "wecom_id"], condition=~Q(wecom_id=""), name="taggroup_wecom_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Tag(TenantModel):
    """A customer tag: a WeCom corp tag (synced both ways) or a staff member's personal tag (Siyu only)."""

    class Kind(models.TextChoices):
        CORP = "corp", _("企业标签")
        PERSONAL = "personal", _("个人标签")

    group = models.ForeignKey(TagGroup, null=True, blank=True, on_delete=models.CASCADE, related_name="tags")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.CORP)
    owner = models.ForeignKey("orgs.Staff", null=True, blank=True, on_delete=models.CASCADE, related_name="personal_tags")
    wecom_id = models.CharField(max_length=64, blank=True)
    name = models.CharField(_("标签"), max_length=30)
    order = models.IntegerField(default=0)
    deleted = models.BooleanField(default=False)
    made_by_app = models.BooleanField(default=False)  # as TagGroup.made_by_app
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["org", "wecom_id"], condition=~Q(wecom_id=""), name="tag_wecom_unique")
        ]

    def __str__(self) -> str:
        return self.name

    # Corp tags are the brand's shared vocabulary; a personal tag belongs to its staff member (and their store's
    # managers).
    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q(kind=cls.Kind.CORP) | Q(owner__store_id__in=store_ids)

    @classmethod
    def scope_owner(cls, viewer) -> Q:
        return Q(kind=cls.Kind.CORP) | Q(owner__membership_id=viewer.pk)


class RelationTag(TenantModel):
    """A tag on a customer as one staff member sees them (WeCom marks tags per follow_user), with its source."""

    class Source(models.TextChoices):
        WECOM = "wecom", _("企业微信")
        MANUAL = "manual", _("手动")
        CHANNEL = "channel", _("渠道")
        RULE = "rule", _("规则")
        IMPORT = "import", _("导入")
        ACTIVITY = "activity", _("活动")
        SEGMENT = "segment", _("人群")

    relation = models.ForeignKey(Relation, on_delete=models.CASCADE, related_name="relation_tags")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="relation_tags")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.WECOM)
    source_ref = models.CharField(max_length=100, blank=True, help_text="the rule, channel or job that added it")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "relation", "tag"], name="relationtag_unique")]
        indexes = [models.Index(fields=["org", "tag"], name="relationtag_org_tag")]


class Transfer(TenantModel):
    """One customer handed from one staff member to another (离职继承 / 在职转接), with WeCom's verdict."""

    class Kind(models.TextChoices):
        RESIGNED = "resigned", _("离职继承")
        ONJOB = "onjob", _("在职转接")

    class Status(models.TextChoices):
        REQUESTED = "requested", _("待提交")
        WAITING = "waiting", _("等待接替")
        DONE = "done", _("接替完毕")
        REFUSED = "refused", _("客户拒绝")
        LIMIT = "limit", _("接替成员客户达到上限")
        FAILED = "failed", _("失败")

    kind = models.CharField(max_length=10, choices=Kind.choices)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="transfers")
    handover = models.ForeignKey("orgs.Staff", on_delete=models.PROTECT, related_name="handed_over")
    takeover = models.ForeignKey("orgs.Staff", on_delete=models.PROTECT, related_name="taken_over")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REQUESTED)
    errcode = models.IntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    rule = models.CharField(max_length=30, blank=True, help_text="manual, same_store_least_loaded, …")
    requested_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    takeover_time = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["org", "handover", "status"], name="transfer_handover_status")]

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q(handover__store_id__in=store_ids) | Q(takeover__store_id__in=store_ids)


class TimelineEvent(CustomerScoped, TenantModel):
    """One thing that happened to a customer. Written only through ``siyu.customers.timeline``."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(max_length=40)
    occurred_at = models.DateTimeField()
    staff = models.ForeignKey("orgs.Staff", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Encrypted: entries quote chats, notes and follow-ups, which may carry a phone number or an address.
    data = EncryptedJSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["org", "customer", "-occurred_at"], name="timeline_customer_time")]



# -- transfers: the WeCom calls behind Transfer rows -------------------------------------------------------
# Imported here, not at the top, so the models above stay as they were; DurableRow is a plain abstract model.
from siyu.core.durable import DurableRow  # noqa: E402


class TransferBatch(DurableRow):
    """One ``transfer_customer`` call (≤100 customers of one handover → takeover pair) for ``transfer_ids``.

    ``sent_at`` is set and committed *before* the call and ``answered_at`` with the answer, so a retry knows
    whether WeCom may already have the request; it then asks ``transfer_result`` instead of sending again.
    """

    kind = models.CharField(max_length=10, choices=Transfer.Kind.choices)
    handover = models.ForeignKey("orgs.Staff", on_delete=models.PROTECT, related_name="+")
    takeover = models.ForeignKey("orgs.Staff", on_delete=models.PROTECT, related_name="+")
    transfer_ids = models.JSONField(default=list)
    external_userids = models.JSONField(default=list)
    success_msg = models.CharField(max_length=200, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    sent_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    answer = models.JSONField(default=dict, blank=True)

    class Meta(DurableRow.Meta):
        pass

    def perform(self) -> None:
        from siyu.customers.transfers import submit_batch

        submit_batch(self)

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q(handover__store_id__in=store_ids) | Q(takeover__store_id__in=store_ids)


class TransferPoll(DurableRow):
    """Asks ``transfer_result`` for one (kind, handover, takeover) until none of its transfers is waiting.

    One row per pair (the idempotency key names it); new submissions for the pair wake it up again.
    """

    kind = models.CharField(max_length=10, choices=Transfer.Kind.choices)
    handover = models.ForeignKey("orgs.Staff", on_delete=models.PROTECT, related_name="+")
    takeover = models.ForeignKey("orgs.Staff", on_delete=models.PROTECT, related_name="+")
    polled_at = models.DateTimeField(null=True, blank=True)

    class Meta(DurableRow.Meta):
        pass

    def perform(self) -> None:
        from siyu.customers.transfers import poll_transfers

        poll_transfers(self)


class GroupTransferBatch(DurableRow):
    """One ``groupchat/transfer`` (owner departed) or ``groupchat/onjob_transfer`` call for ≤100 groups.

    ``failed`` keeps WeCom's ``failed_chat_list`` entries; every other group got ``new_owner``.
    """

    kind = models.CharField(max_length=10, choices=Transfer.Kind.choices)
    new_owner = models.ForeignKey("orgs.Staff", on_delete=models.PROTECT, related_name="+")
    previous_owner = models.ForeignKey("orgs.Staff", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    chat_ids = models.JSONField(default=list)
    failed = models.JSONField(default=list, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    sent_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta(DurableRow.Meta):
        ordering = ["-created_at", "-id"]
        # The inherited "<app>_<class>_due" name is over the 30 characters Django allows for an index.
        indexes = [models.Index(fields=["status", "due_at"], name="grouptransfer_due")]

    def perform(self) -> None:
        from siyu.customers.transfers import submit_group_batch

        submit_group_batch(self)

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q(new_owner__store_id__in=store_ids) | Q(previous_owner__store_id__in=store_ids)


# -- customer 360: notes, follow-ups, protected labels, the phone index ------------------------------------
from siyu.privacy.fields import BlindIndexField  # noqa: E402
from siyu.privacy.keyring import normalize_phone  # noqa: E402


def _customers_of_stores_or(field: str, store_ids) -> Q:
    return Q(customer_id__in=_relations_of_stores(store_ids)) | Q(**{f"{field}__store_id__in": store_ids})


class Note(CustomerScoped, TenantModel):
    """A note (小记) a console user wrote on a customer. Written only through ``siyu.customers.notes``."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The author's WeCom member row, when they have one: the note shows under their name in the sidebar too.
    staff = models.ForeignKey("orgs.Staff", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    text = EncryptedTextField(_("内容"), max_length=2000, blank=False)  # free text: may hold a phone or an address
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("小记")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["org", "customer", "-created_at"], name="note_customer_time")]

    def __str__(self) -> str:
        return self.text[:50]



class FollowUp(TenantModel):
    """A follow-up (跟进计划) due at a time for one staff member. Data only: the reminders app delivers it."""

    class Status(models.TextChoices):
        OPEN = "open", _("待跟进")
        DONE = "done", _("已完成")
        CANCELLED = "cancelled", _("已取消")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="follow_ups")
    assignee = models.ForeignKey("orgs.Staff", on_delete=models.PROTECT, related_name="follow_ups")
    text = EncryptedTextField(_("跟进内容"), max_length=500, blank=False)  # free text, like a note
    due_at = models.DateTimeField(_("跟进时间"))
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.OPEN)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("跟进计划")
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(fields=["org", "assignee", "status", "due_at"], name="followup_assignee_due"),
            models.Index(fields=["org", "customer", "status"], name="followup_customer"),
            models.Index(fields=["status", "due_at"], name="followup_due"),
        ]

    def __str__(self) -> str:
        return self.text[:50]

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return _customers_of_stores_or("assignee", store_ids)

    @classmethod
    def scope_owner(cls, viewer) -> Q:
        return Q(customer_id__in=_relations_of_member(viewer)) | Q(assignee__membership_id=viewer.pk)


class ProtectedLabel(TenantModel):
    """A word no tag name may contain (seed 000: labels that mark people as easy to mislead or exploit)."""

    word = models.CharField(_("受保护词"), max_length=30)
    reason = models.CharField(_("原因"), max_length=200, blank=True)
    is_default = models.BooleanField(default=False, help_text="seeded from the default list")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("受保护标签词")
        ordering = ["word", "id"]
        constraints = [models.UniqueConstraint(fields=["org", "word"], name="protectedlabel_unique")]

    def __str__(self) -> str:
        return self.word


class CustomerPhone(CustomerScoped, TenantModel):
    """One phone number of a customer, encrypted, with a blind index: the list's phone search looks here.

    Rebuilt from a relation's ``remark_mobiles`` by ``siyu.customers.queries.index_customer_phones``.
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="phones")
    relation = models.ForeignKey(Relation, null=True, blank=True, on_delete=models.CASCADE, related_name="phones")
    phone = EncryptedTextField(_("手机号"), index_field="phone_index")
    phone_index = BlindIndexField(source="phone", purpose="phone", normalizer=normalize_phone)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("客户手机号")
        indexes = [
            models.Index(fields=["org", "phone_index"], name="customerphone_lookup"),
            models.Index(fields=["org", "customer"], name="customerphone_customer"),
        ]



class CustomerTag(TenantModel):
    """The tags a customer carries through any of their relations: ``RelationTag`` rolled up per customer.

    Kept in step by database triggers on ``customers_relationtag`` (migration ``0003_customer_360``), so every
    writer — the tagging service, the WeCom mirror, cascades, raw SQL — updates it in the same transaction and
    nothing in Python has to remember to. Read-only for the application: the customer list filters by tag with one
    index range per tag here instead of going through every relation (5,000,000 links at a million customers).
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="+", db_index=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "tag", "customer"], name="customertag_unique")]
