"""Customer groups (客户群) and their members, mirrored from WeCom."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

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
