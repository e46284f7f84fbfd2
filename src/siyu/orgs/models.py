"""Organizations (brands), their store tree, people and their roles, and the audit log."""

from __future__ import annotations

from functools import cached_property

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from siyu.core.tenancy import TenantManager, TenantModel, TenantQuerySet
from siyu.orgs.roles import STORE_ROLES, WHOLE_ORG_ROLES, Role, role_can
from siyu.privacy.fields import BlindIndexField, EncryptedTextField
from siyu.privacy.keyring import normalize_phone
from siyu.privacy.masking import mask_phone


class User(AbstractUser):
    """A person who can sign in to the console. Which brands they work for is in :class:`Membership`."""

    display_name = models.CharField(_("显示名"), max_length=64, blank=True)
    phone = EncryptedTextField(_("手机号"), index_field="phone_index")
    phone_index = BlindIndexField(source="phone", purpose="phone", normalizer=normalize_phone)
    failed_logins = models.PositiveIntegerField(default=0)
    first_failed_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)

    @property
    def name(self) -> str:
        return self.display_name or self.get_full_name() or self.username

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone or "")


class Organization(models.Model):
    """A brand: one WeCom corp. The tenant every other row belongs to."""

    slug = models.SlugField(_("标识"), max_length=50, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("组织")

    def __str__(self) -> str:
        return self.name


class Store(TenantModel):
    """A node of the brand's store tree: HQ → regions → stores. Guides work in stores; a manager of a region or
    of HQ manages every store below it."""

    class Kind(models.TextChoices):
        HQ = "hq", _("总部")
        REGION = "region", _("区域")
        STORE = "store", pgettext_lazy("singular", "门店")

    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices, default=Kind.STORE)
    code = models.CharField(_("编码"), max_length=32)
    name = models.CharField(_("名称"), max_length=100)
    city = models.CharField(_("城市"), max_length=50, blank=True)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    is_active = models.BooleanField(_("营业中"), default=True)
    # WGS-84 (what a phone's GPS and the browser's geolocation report); null = not placed on the map.
    latitude = models.DecimalField(_("纬度"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("经度"), max_digits=9, decimal_places=6, null=True, blank=True)
    # {"mon": [["09:00", "22:00"]], …, "sun": [["10:00", "02:00"]]}: local time (Asia/Shanghai). An end at or
    # before the start runs past midnight into the next day; "24:00" is midnight. A weekday missing from a
    # non-empty dict is a closed day; an empty dict means the hours are not known, and the store counts as open.
    opening_hours = models.JSONField(_("营业时间"), default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    HOURS_TIME_ZONE = "Asia/Shanghai"

    class Meta:
        ordering = ["code"]
        verbose_name = _("门店")
        constraints = [models.UniqueConstraint(fields=["org", "code"], name="store_code_unique_per_org")]

    def __str__(self) -> str:
        return self.name

    @property
    def has_location(self) -> bool:
        return self.latitude is not None and self.longitude is not None

    @staticmethod
    def minutes_of(value: str) -> int:
        """``"HH:MM"`` → minutes after midnight (``"24:00"`` → 1440); ValueError when it is not a time."""
        hours, _sep, minutes = str(value).partition(":")
        if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
            raise ValueError(f"not a time: {value!r}")
        total = int(hours) * 60 + int(minutes)
        if int(minutes) > 59 or total > 24 * 60:
            raise ValueError(f"not a time: {value!r}")
        return total

    def is_open_at(self, moment) -> bool:
        """Open at ``moment`` (an aware datetime): active, and inside a range of that day's hours or in the part
        of the previous day's range that runs past midnight. Unknown hours (an empty dict) count as open."""
        from datetime import timedelta
        from zoneinfo import ZoneInfo

        if not self.is_active:
            return False
        hours = self.opening_hours or {}
        if not hours:
            return True
        local = moment.astimezone(ZoneInfo(self.HOURS_TIME_ZONE))
        minute = local.hour * 60 + local.minute
        yesterday = (local - timedelta(days=1)).weekday()
        for day, overnight in ((local.weekday(), False), (yesterday, True)):
            for span in hours.get(self.WEEKDAYS[day]) or []:
                try:
                    start, end = self.minutes_of(span[0]), self.minutes_of(span[1])
                except (ValueError, TypeError, IndexError):
                    continue  # a malformed range never opens the store
                if end > start:
                    if not overnight and start <= minute < end:
                        return True
                elif overnight:
                    if minute < end:
                        return True
                elif minute >= start:
                    return True
        return False

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q(pk__in=store_ids)

    @classmethod
    def scope_owner(cls, viewer: Membership) -> Q:
        return Q(pk=viewer.store_id)


class MembershipQuerySet(TenantQuerySet):
    def for_user(self, user: User) -> MembershipQuerySet:
        """A person's own active memberships across organizations (sign-in, organization switcher)."""
        return self.filter(user=user, is_active=True, org__is_active=True).select_related("org", "store")._scoped()


class Membership(TenantModel):
    """A user's place in one organization: their role and, for store roles, their store or region."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("角色"), max_length=20, choices=Role.choices)
    store = models.ForeignKey(Store, null=True, blank=True, on_delete=models.PROTECT, related_name="members")
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantManager.from_queryset(MembershipQuerySet)()

    class Meta:
        ordering = ["created_at"]
        verbose_name = _("成员")
        constraints = [models.UniqueConstraint(fields=["org", "user"], name="membership_unique_per_org")]

    def __str__(self) -> str:
        return f"{self.user.name} · {self.get_role_display()}"

    def clean(self):
        if self.role in STORE_ROLES and self.store_id is None:
            raise ValidationError({"store": _("店长和导购必须指定门店或区域。")})
        if self.store_id is not None and self.store.org_id != self.org_id:
            raise ValidationError({"store": _("门店不属于该组织。")})

    # -- the viewer interface used by TenantQuerySet.visible_to ----------------------------------------
    @property
    def sees_whole_org(self) -> bool:
        return self.role in WHOLE_ORG_ROLES

    @property
    def is_store_manager(self) -> bool:
        return self.role == Role.STORE_MANAGER

    @property
    def is_guide(self) -> bool:
        return self.role == Role.GUIDE

    def store_ids(self) -> list[int]:
        return self._store_ids

    @cached_property
    def _store_ids(self) -> list[int]:
        """The member's store and, for a region, every store below it."""
        if self.store_id is None:
            return []
        ids, frontier = [self.store_id], [self.store_id]
        while frontier:
            frontier = list(
                Store.objects.for_org(self.org_id).filter(parent_id__in=frontier).values_list("id", flat=True)
            )
            ids.extend(frontier)
        return ids

    def can(self, capability: str) -> bool:
        return self.is_active and role_can(self.role, capability)

    def require(self, capability: str) -> None:
        if not self.can(capability):
            raise PermissionDenied(capability)

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q(store_id__in=store_ids)

    @classmethod
    def scope_owner(cls, viewer: Membership) -> Q:
        return Q(pk=viewer.pk)


class InvitationQuerySet(TenantQuerySet):
    def by_token_hash(self, token_hash: str) -> InvitationQuerySet:
        """The invitation a link points to, whichever brand made it: the secret token is the scope."""
        return self.filter(token_hash=token_hash)._scoped()


class Invitation(TenantModel):
    """A one-time link that lets a person who already has an account join the brand, once they accept it
    while signed in. Only the token's hash is stored: the link is shown once, to the admin who made it."""

    role = models.CharField(_("角色"), max_length=20, choices=Role.choices)
    store = models.ForeignKey(Store, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    expires_at = models.DateTimeField()
    accepted_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    accepted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantManager.from_queryset(InvitationQuerySet)()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("邀请")


class PasswordReset(models.Model):
    """A one-time link that lets a person choose a new password without the old one. Made by a platform
    administrator (``siyu resetpassword``) or by the admin of the only brand the person belongs to, and handed to
    the person outside Siyu. Only the token's hash is stored. Not tenant data: an account spans brands."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    org = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("重置密码链接")


class SignInThrottle(models.Model):
    """Failed sign-ins counted per client address and per attempted username (known or not), so a flood is
    refused before any password hashing. Not tenant data: it concerns the sign-in page, before any brand."""

    key = models.CharField(max_length=80, unique=True)
    failures = models.PositiveIntegerField(default=0)
    window_start = models.DateTimeField(db_index=True)


class Staff(TenantModel):
    """A WeCom member (成员) of the brand: serves customers; may also sign in to the console via ``membership``."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("在职")
        DISABLED = "disabled", _("已禁用")
        INACTIVE = "inactive", _("未激活")
        DEPARTED = "departed", _("已离职")

    userid = models.CharField(_("成员账号"), max_length=64)
    name = models.CharField(_("姓名"), max_length=64, blank=True)
    alias = models.CharField(max_length=64, blank=True)
    position = models.CharField(_("职务"), max_length=64, blank=True)
    department_ids = models.JSONField(default=list, blank=True)
    mobile = EncryptedTextField(_("手机号"), index_field="mobile_index")
    mobile_index = BlindIndexField(source="mobile", purpose="phone", normalizer=normalize_phone)
    avatar = models.URLField(max_length=500, blank=True)
    store = models.ForeignKey(Store, null=True, blank=True, on_delete=models.SET_NULL, related_name="staff")
    membership = models.OneToOneField(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="staff")
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    is_customer_contact = models.BooleanField(_("客户联系"), default=False, help_text=_("已开通客户联系功能"))
    departed_at = models.DateTimeField(_("离职时间"), null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["userid"]
        verbose_name = _("员工")
        constraints = [models.UniqueConstraint(fields=["org", "userid"], name="staff_userid_unique_per_org")]
        indexes = [models.Index(fields=["org", "status"], name="staff_org_status")]

    def __str__(self) -> str:
        return self.name or self.userid

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q(store_id__in=store_ids)

    @classmethod
    def scope_owner(cls, viewer: Membership) -> Q:
        return Q(membership_id=viewer.pk)


class AuditEntry(models.Model):
    """One action: who did what to which object, when, from where. Append-only."""

    org = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = TenantManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["org", "-created_at"], name="audit_org_time")]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionDenied("audit entries cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionDenied("audit entries cannot be deleted")


# -- integration API keys -------------------------------------------------------------------------------------------


class ApiKeyQuerySet(TenantQuerySet):
    def by_prefix(self, prefix: str) -> ApiKeyQuerySet:
        """The key a bearer token names, whichever brand made it: the secret that follows the prefix is the scope."""
        return self.filter(prefix=prefix)._scoped()


class ApiKey(TenantModel):
    """A bearer key for ``/api/v1``. It acts through a membership of its own (a sign-in-less account holding the
    key's role and store), so the API shows a key exactly what the console shows a member with that role. Only a
    keyed hash of the key is stored; the prefix identifies it on screen."""

    name = models.CharField(_("名称"), max_length=60)
    membership = models.OneToOneField(Membership, on_delete=models.PROTECT, related_name="api_key")
    prefix = models.CharField(_("前缀"), max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)

    objects = TenantManager.from_queryset(ApiKeyQuerySet)()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("API 密钥")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
