"""Customer groups (客户群) and their members, mirrored from WeCom."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from siyu.core.published import PublishedCode
from siyu.core.tenancy import TenantModel


class CustomerGroup(TenantModel):
    class Status(models.TextChoices):
        ACTIVE = "active", _("正常")
        DISMISSED = "dismissed", _("已解散")

    class Inheritance(models.IntegerChoices):
        NONE = 0, _("正常")
        WAITING = 1, _("离职待继承")
        IN_PROGRESS = 2, _("离职继承中")
        DONE = 3, _("离职继承完成")

    chat_id = models.CharField(max_length=64)
    name = models.CharField(_("群名"), max_length=100, blank=True)
    owner = models.ForeignKey("orgs.Staff", null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_groups")
    owner_userid = models.CharField(max_length=64, blank=True)
    notice = models.TextField(_("群公告"), blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    inheritance = models.PositiveSmallIntegerField(choices=Inheritance.choices, default=Inheritance.NONE)
    member_version = models.CharField(max_length=64, blank=True)
    member_count = models.PositiveIntegerField(default=0)
    admin_userids = models.JSONField(default=list, blank=True)
    created_in_wecom_at = models.DateTimeField(null=True, blank=True)
    dismissed_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("客户群")
        constraints = [models.UniqueConstraint(fields=["org", "chat_id"], name="group_chat_unique")]

    def __str__(self) -> str:
        return self.name or self.chat_id

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q(owner__store_id__in=store_ids)

    @classmethod
    def scope_owner(cls, viewer) -> Q:
        return Q(owner__membership_id=viewer.pk)


class GroupTag(TenantModel):
    """The brand's own label for customer groups (新品群, 会员群 …), for choosing groups to message: WeCom's API has
    no group tags, so they live in Siyu only."""

    name = models.CharField(_("群标签"), max_length=30)
    created_at = models.DateTimeField(auto_now_add=True)

    shared_with_members = True  # every member chooses groups by the brand's tags

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("群标签")
        constraints = [models.UniqueConstraint(fields=["org", "name"], name="grouptag_unique_name")]

    def __str__(self) -> str:
        return self.name


class GroupTagging(TenantModel):
    """One tag on one customer group."""

    group = models.ForeignKey(CustomerGroup, on_delete=models.CASCADE, related_name="taggings")
    tag = models.ForeignKey(GroupTag, on_delete=models.CASCADE, related_name="taggings")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "tag"], name="grouptagging_unique")]

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q(group__owner__store_id__in=store_ids)

    @classmethod
    def scope_owner(cls, viewer) -> Q:
        return Q(group__owner__membership_id=viewer.pk)


class GroupMember(TenantModel):
    """A person in a group: a staff member (type 1) or a customer (type 2, linked when we know them)."""

    class Type(models.IntegerChoices):
        STAFF = 1, _("企业成员")
        EXTERNAL = 2, _("外部联系人")

    group = models.ForeignKey(CustomerGroup, on_delete=models.CASCADE, related_name="members")
    userid = models.CharField(max_length=64)
    type = models.PositiveSmallIntegerField(choices=Type.choices)
    customer = models.ForeignKey("customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="group_memberships")
    unionid = models.CharField(max_length=64, blank=True)
    name = models.CharField(max_length=100, blank=True)
    group_nickname = models.CharField(max_length=100, blank=True)
    join_time = models.DateTimeField(null=True, blank=True)
    join_scene = models.SmallIntegerField(default=0)
    invitor_userid = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=64, blank=True)
    is_active = models.BooleanField(default=True)
    left_at = models.DateTimeField(null=True, blank=True)
    quit_scene = models.SmallIntegerField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "group", "userid"], name="groupmember_unique")]
        indexes = [models.Index(fields=["org", "customer"], name="groupmember_customer")]

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q(group__owner__store_id__in=store_ids)

    @classmethod
    def scope_owner(cls, viewer) -> Q:
        return Q(group__owner__membership_id=viewer.pk)


# -- group live codes (群活码) and store codes (区域码) ------------------------------------------------------
from django.conf import settings  # noqa: E402

from siyu.core.durable import DurableRow  # noqa: E402

JOIN_WAY_GROUPS_MAX = 5  # WeCom: a join way lists at most 5 groups
QR_JOIN_CAP = 200  # WeCom: a group takes new members by QR code up to 200 (then only by invitation)


class GroupCode(PublishedCode):
    """A group live code: one WeCom 「加入群聊」 join way over up to 5 groups, with new rooms when they fill.

    ``chat_ids`` is what the join way lists in WeCom right now, oldest first; WeCom appends the rooms it creates
    (``auto_create_room``), and :class:`GroupCodeSync` copies that list back. Joins are attributed through
    ``state``: WeCom keeps it on each member who joined by the code (``GroupMember.state``); ``past_states``
    keeps earlier states so members who joined under them still count. The 入群欢迎语 is a WeCom
    ``group_welcome_template`` (``welcome_template_id``) that group owners apply to their groups.
    """

    name = models.CharField(_("名称"), max_length=30)
    store = models.ForeignKey("orgs.Store", null=True, blank=True, on_delete=models.SET_NULL, related_name="group_codes",
                              verbose_name=_("所属门店"))
    past_states = models.JSONField(default=list, blank=True)
    chat_ids = models.JSONField(default=list, blank=True)
    auto_create_room = models.BooleanField(_("群满自动建新群"), default=True)
    room_base_name = models.CharField(_("新群名称"), max_length=40, blank=True)
    room_base_id = models.PositiveIntegerField(_("新群起始序号"), default=1)
    welcome_text = models.TextField(_("入群欢迎语"), blank=True)
    # None, or one WeCom attachment object: {"msgtype": "image"|"link"|"miniprogram"|"file"|"video", <msgtype>: {…}}
    welcome_attachment = models.JSONField(null=True, blank=True)
    welcome_template_id = models.CharField(max_length=64, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("群活码")
        constraints = [
            models.UniqueConstraint(fields=["org", "state"], name="groupcode_unique_state"),
            models.UniqueConstraint(fields=["org", "public_id"], name="groupcode_unique_public_id"),
        ]
        indexes = [models.Index(fields=["org", "status"], name="groupcode_org_status")]

    @property
    def states(self) -> list[str]:
        return [self.state, *[s for s in self.past_states if s != self.state]]

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q(store_id__in=store_ids)

    @classmethod
    def scope_owner(cls, viewer) -> Q:
        # A guide shares their own store's group code.
        return Q(store_id=viewer.store_id) if viewer.store_id else Q(pk__in=[])

    @classmethod
    def holders_of_state(cls, org, state: str) -> list[GroupCode]:
        # Past states live in a JSON list, which SQLite cannot search by element: read the org's codes.
        return [code for code in cls.objects.for_org(org).only("name", "state", "past_states") if state in code.states]


class GroupCodeSync(DurableRow):
    """Copies a code's join way (``get_join_way``) back into Siyu: the rooms WeCom created, the QR image. One row
    per code, re-armed whenever a group of the code fills or a new group appears while all of them are full."""

    code = models.ForeignKey(GroupCode, on_delete=models.CASCADE, related_name="+")

    retry_base_seconds = 5
    retry_max_seconds = 300

    def perform(self) -> None:
        from siyu.groups.codes import perform_sync

        perform_sync(self)


class StoreCode(TenantModel):
    """A store code (区域码): one poster for every store. Its H5 page finds the nearest open store within
    ``radius_km`` of the customer (or lets them pick one by city) and shows that store's code."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("使用中")
        PAUSED = "paused", _("已暂停")
        DELETED = "deleted", _("已删除")

    public_id = models.CharField(max_length=16, editable=False)
    name = models.CharField(_("名称"), max_length=50)
    radius_km = models.DecimalField(_("匹配半径（公里）"), max_digits=6, decimal_places=1, default=10)
    fallback_code = models.ForeignKey(GroupCode, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                      verbose_name=_("兜底群活码"))
    intro = models.CharField(_("页面说明"), max_length=200, blank=True)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("区域码")
        constraints = [models.UniqueConstraint(fields=["org", "public_id"], name="storecode_unique_public_id")]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q()  # one code for all stores: every store manager sees it


class StoreRouting(TenantModel):
    """One routing decision of a store code's H5 page. Anonymous on purpose: no coordinates, no device, no IP —
    only the store chosen, how far it was (a bucket) and whether the customer shared their location."""

    class Method(models.TextChoices):
        LOCATION = "location", _("按定位")
        PICKER = "picker", _("手动选择")

    class Outcome(models.TextChoices):
        ROUTED = "routed", _("已匹配门店")
        ALL_CLOSED = "all_closed", _("附近门店均未营业")
        OUT_OF_RANGE = "out_of_range", _("范围内无门店")

    code = models.ForeignKey(StoreCode, on_delete=models.CASCADE, related_name="routings")
    store = models.ForeignKey("orgs.Store", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    method = models.CharField(max_length=10, choices=Method.choices)
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    distance_bucket = models.CharField(max_length=10, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["org", "code", "created_at"], name="storerouting_code_time")]

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q(store_id__in=store_ids)
