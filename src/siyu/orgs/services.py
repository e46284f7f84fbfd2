"""Every state change of organizations, stores, members and sign-in. Views and commands call these."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.orgs import audit
from siyu.orgs.models import Membership, Organization, Store, User
from siyu.orgs.roles import STORE_ROLES, Role


# -- organizations ---------------------------------------------------------------------------------------
@transaction.atomic
def create_organization(*, slug: str, name: str, by: User | None) -> Organization:
    """Create a brand. Only platform superusers (or scripted set-up, ``by=None``) may."""
    if by is not None and not by.is_superuser:
        raise PermissionDenied("only platform administrators create organizations")
    org = Organization(slug=slug, name=name)
    org.full_clean()
    org.save()
    audit.record("org.created", org=org, actor=by, obj=org)
    return org


# -- stores ----------------------------------------------------------------------------------------------
@transaction.atomic
def create_store(
    *,
    org: Organization,
    code: str,
    name: str,
    kind: str = Store.Kind.STORE,
    parent: Store | None = None,
    city: str = "",
    address: str = "",
    by: User | None,
) -> Store:
    if parent is not None and parent.org_id != org.pk:
        raise ValidationError({"parent": _("上级区域不属于该组织。")})
    if parent is not None and parent.kind == Store.Kind.STORE:
        raise ValidationError({"parent": _("门店下不能再建下级，请选择总部或区域。")})
    if Store.objects.for_org(org).filter(code=code).exists():
        raise ValidationError({"code": _("编码已存在。")})
    store = Store(org=org, code=code, name=name, kind=kind, parent=parent, city=city, address=address)
    store.full_clean(validate_constraints=False)
    store.save()
    audit.record("store.created", org=org, actor=by, obj=store)
    return store


HOURS_MAX_SPANS = 3  # per day: a morning, an afternoon and an evening shift are plenty


def clean_opening_hours(hours: dict) -> dict:
    """Validate ``{"mon": [["09:00", "22:00"]], …}`` (see ``Store.opening_hours``); return it in weekday order."""
    if not isinstance(hours, dict) or set(hours) - set(Store.WEEKDAYS):
        raise ValidationError({"opening_hours": _("营业时间格式不正确。")})
    cleaned = {}
    for day in Store.WEEKDAYS:
        spans = hours.get(day)
        if spans is None:
            continue
        if not isinstance(spans, list) or len(spans) > HOURS_MAX_SPANS:
            raise ValidationError({"opening_hours": _("每天最多 %(n)d 个营业时段。") % {"n": HOURS_MAX_SPANS}})
        for span in spans:
            try:
                start, end = Store.minutes_of(span[0]), Store.minutes_of(span[1])
            except (ValueError, TypeError, IndexError):
                raise ValidationError({"opening_hours": _("营业时间须为 HH:MM-HH:MM，例如 10:00-22:00。")}) from None
            if start == end:
                raise ValidationError({"opening_hours": _("营业时段的开始和结束不能相同。")})
        cleaned[day] = [[str(a), str(b)] for a, b in spans]
    return cleaned


def _require_store_manager(store: Store, by: Membership) -> None:
    by.require("stores.manage")
    if not Store.objects.visible_to(by).filter(pk=store.pk).exists():
        raise PermissionDenied("store not visible")


@transaction.atomic
def update_store(
    store: Store, *, name: str, city: str, address: str, latitude, longitude, opening_hours: dict, by: Membership,
) -> Store:
    """Change a store's name, address, location (WGS-84, both or neither) and opening hours; audited."""
    _require_store_manager(store, by)
    if (latitude is None) != (longitude is None):
        raise ValidationError({"longitude": _("纬度和经度须同时填写，或同时留空。")})
    if latitude is not None and not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise ValidationError({"latitude": _("坐标超出范围：纬度 -90～90，经度 -180～180。")})
    before = {f: getattr(store, f) for f in ("name", "city", "address", "latitude", "longitude", "opening_hours")}
    store.name, store.city, store.address = name, city, address
    store.latitude, store.longitude = latitude, longitude
    store.opening_hours = clean_opening_hours(opening_hours)
    store.full_clean(validate_constraints=False)
    store.save(update_fields=list(before))
    changed = sorted(f for f, value in before.items() if getattr(store, f) != value)
    audit.record("store.updated", org=store.org_id, actor=by.user, obj=store, details={"changed": changed})
    return store


@transaction.atomic
def set_store_active(store: Store, *, active: bool, by: Membership) -> Store:
    """Close a store (it stops taking customers: store codes route elsewhere) or reopen it; audited."""
    _require_store_manager(store, by)
    if store.is_active != active:
        store.is_active = active
        store.save(update_fields=["is_active"])
        audit.record("store.reopened" if active else "store.closed", org=store.org_id, actor=by.user, obj=store)
    return store


# -- people ----------------------------------------------------------------------------------------------
@transaction.atomic
def add_member(
    *,
    org: Organization,
    username: str,
    role: str,
    store: Store | None = None,
    password: str | None = None,
    display_name: str = "",
    phone: str = "",
    by: User | None,
) -> Membership:
    """Give a person a role in ``org``, creating their sign-in account if it does not exist yet."""
    if role not in Role.values:
        raise ValidationError({"role": _("未知角色。")})
    if role in STORE_ROLES and store is None:
        raise ValidationError({"store": _("店长和导购必须指定门店或区域。")})
    if store is not None and store.org_id != org.pk:
        raise ValidationError({"store": _("门店不属于该组织。")})
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User(username=username, display_name=display_name, phone=phone)
        if password:
            validate_password(password, user)
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.full_clean(exclude=["password"])
        user.save()
        audit.record("user.created", org=org, actor=by, obj=user)
    elif Membership.objects.for_org(org).filter(user=user).exists():
        raise ValidationError({"username": _("该用户已是本组织成员。")})
    membership = Membership(org=org, user=user, role=role, store=store)
    membership.full_clean(validate_constraints=False)
    membership.save()
    audit.record("member.added", org=org, actor=by, obj=membership, details={"role": role, "store": store and store.pk})
    return membership


@transaction.atomic
def change_member_role(membership: Membership, *, role: str, store: Store | None, by: Membership) -> Membership:
    """Change what a member may do. Only owners may create or remove owners."""
    by.require("members.manage")
    if Role.OWNER in (role, membership.role):
        by.require("members.manage_owner")
    before = {"role": membership.role, "store": membership.store_id}
    membership.role = role
    membership.store = store
    membership.full_clean(validate_constraints=False)
    membership.save(update_fields=["role", "store"])
    audit.record(
        "member.role_changed",
        org=membership.org_id,
        actor=by.user,
        obj=membership,
        details={"before": before, "after": {"role": role, "store": store and store.pk}},
    )
    return membership


@transaction.atomic
def set_member_active(membership: Membership, *, active: bool, by: Membership) -> Membership:
    by.require("members.manage")
    if membership.role == Role.OWNER:
        by.require("members.manage_owner")
    if membership.pk == by.pk and not active:
        raise ValidationError(_("不能停用自己。"))
    membership.is_active = active
    membership.save(update_fields=["is_active"])
    audit.record("member.activated" if active else "member.deactivated", org=membership.org_id, actor=by.user, obj=membership)
    return membership


# -- sign-in ---------------------------------------------------------------------------------------------
class AccountLocked(Exception):
    def __init__(self, until):
        super().__init__(until)
        self.until = until


def _audit_for_each_org(user: User, action: str, details: dict) -> None:
    """Sign-in events concern every brand the person works for: each one's admins can see them."""
    org_ids = list(Membership.objects.for_user(user).values_list("org_id", flat=True)) or [None]
    for org_id in org_ids:
        audit.record(action, org=org_id, actor=user, obj=user, details=details)


def sign_in(request, username: str, password: str) -> User | None:
    """Check a password with lockout: too many failures within the window lock the account for a while.

    Returns the user, or None for wrong credentials; raises :class:`AccountLocked` while locked.
    """
    now = timezone.now()
    user = User.objects.filter(username=username).first()
    if user is not None and user.locked_until and user.locked_until > now:
        _audit_for_each_org(user, "login.refused_locked", {})
        raise AccountLocked(user.locked_until)
    authenticated = authenticate(request, username=username, password=password)
    if user is None:
        return None
    locked = False
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if authenticated is None:
            window_start = now - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW)
            if user.first_failed_at is None or user.first_failed_at < window_start:
                user.first_failed_at, user.failed_logins = now, 0
            user.failed_logins += 1
            _audit_for_each_org(user, "login.failed", {"failures": user.failed_logins})
            if user.failed_logins >= settings.LOGIN_MAX_FAILURES:
                locked = True
                user.locked_until = now + timedelta(seconds=settings.LOGIN_LOCK_SECONDS)
                user.failed_logins, user.first_failed_at = 0, None
                _audit_for_each_org(user, "login.locked", {"until": user.locked_until.isoformat()})
        else:
            user.failed_logins, user.first_failed_at, user.locked_until = 0, None, None
            _audit_for_each_org(user, "login.succeeded", {})
        user.save(update_fields=["failed_logins", "first_failed_at", "locked_until"])
    # Raised after the commit: the lock and its audit entries must survive the exception.
    if locked:
        raise AccountLocked(user.locked_until)
    return authenticated


def unlock_account(user: User, *, by: Membership) -> None:
    by.require("members.manage")
    user.locked_until, user.failed_logins, user.first_failed_at = None, 0, None
    user.save(update_fields=["locked_until", "failed_logins", "first_failed_at"])
    audit.record("login.unlocked", org=by.org_id, actor=by.user, obj=user)


def switch_organization(request, org_id: int) -> Membership:
    """Make another of the user's organizations the current one for this session."""
    membership = Membership.objects.for_user(request.user).filter(org_id=org_id).first()
    if membership is None:
        raise PermissionDenied("not a member of that organization")
    request.session["org_id"] = membership.org_id
    audit.record("org.switched", org=membership.org_id, actor=request.user, obj=membership.org)
    return membership
