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
