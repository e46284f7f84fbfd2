"""Every state change of organizations, stores, members and sign-in. Views and commands call these."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.orgs import audit
from siyu.orgs.models import Invitation, Membership, Organization, Store, User
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
    """Create a sign-in account with a role in ``org``. An existing username is refused (a person who already
    has an account joins through :func:`invite_member`), except for platform administrators."""
    _check_role(org, role, store)
    user = User.objects.filter(username=username).first()
    if user is not None and not (by is not None and by.is_superuser):
        # Nobody but the platform attaches an existing account: that person joins through an invitation.
        raise ValidationError({"username": _("该用户名已被使用。已有账号的人请通过邀请链接加入。")})
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


def _check_role(org: Organization, role: str, store: Store | None) -> None:
    if role not in Role.values:
        raise ValidationError({"role": _("未知角色。")})
    if role in STORE_ROLES and store is None:
        raise ValidationError({"store": _("店长和导购必须指定门店或区域。")})
    if store is not None and store.org_id != org.pk:
        raise ValidationError({"store": _("门店不属于该组织。")})


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


# -- invitations ----------------------------------------------------------------------------------------
def invite_member(*, org: Organization, role: str, store: Store | None = None, by: Membership) -> tuple[Invitation, str]:
    """A one-time link for a person who already has an account; they join only by accepting it while signed in.

    Returns the invitation and its token (shown once: only its hash is stored).
    """
    by.require("members.manage")
    if role == Role.OWNER:
        by.require("members.manage_owner")
    _check_role(org, role, store)
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        org=org, role=role, store=store, token_hash=token_hash(token), invited_by=by.user,
        expires_at=timezone.now() + timedelta(seconds=settings.INVITATION_SECONDS),
    )
    audit.record("member.invited", org=org, actor=by.user, obj=invitation, details={"role": role, "store": store and store.pk})
    return invitation, token


def pending_invitation(token: str) -> Invitation | None:
    """The open invitation behind ``token`` (not accepted, not expired), if any."""
    return (
        Invitation.objects.by_token_hash(token_hash(token))
        .filter(accepted_at__isnull=True, expires_at__gt=timezone.now())
        .select_related("org", "store")
        .first()
    )


@transaction.atomic
def accept_invitation(token: str, *, user: User) -> Membership:
    """The signed-in ``user`` joins the invitation's organization. The link works once."""
    invitation = pending_invitation(token)
    if invitation is None:
        raise ValidationError(_("邀请链接无效、已使用或已过期。"))
    invitation = Invitation.objects.for_org(invitation.org_id).select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None:
        raise ValidationError(_("邀请链接无效、已使用或已过期。"))
    if Membership.objects.for_org(invitation.org_id).filter(user=user).exists():
        raise ValidationError(_("你已是该组织的成员。"))
    invitation.accepted_by, invitation.accepted_at = user, timezone.now()
    invitation.save(update_fields=["accepted_by", "accepted_at"])
    membership = Membership(org_id=invitation.org_id, user=user, role=invitation.role, store=invitation.store)
    membership.full_clean(validate_constraints=False)
    membership.save()
    audit.record("member.joined", org=invitation.org_id, actor=user, obj=membership,
                 details={"role": invitation.role, "invitation": invitation.pk})
    return membership


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


# -- sign-in locks ---------------------------------------------------------------------------------------
def unlock_account(user: User, *, by: User) -> None:
    """Clear a sign-in lock. A lock guards the person's account in every brand, so only a platform
    administrator may clear it early (otherwise it expires, or the person resets their own password)."""
    if not by.is_superuser:
        raise PermissionDenied("only platform administrators clear sign-in locks")
    user.locked_until, user.failed_logins, user.first_failed_at = None, 0, None
    user.save(update_fields=["locked_until", "failed_logins", "first_failed_at"])
    audit.record("login.unlocked", org=None, actor=by, obj=user)


def switch_organization(request, org_id: int) -> Membership:
    """Make another of the user's organizations the current one for this session."""
    membership = Membership.objects.for_user(request.user).filter(org_id=org_id).first()
    if membership is None:
        raise PermissionDenied("not a member of that organization")
    request.session["org_id"] = membership.org_id
    audit.record("org.switched", org=membership.org_id, actor=request.user, obj=membership.org)
    return membership
