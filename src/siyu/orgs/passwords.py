"""Passwords: a signed-in person changes their own, and a one-time reset link for someone who forgot theirs.

An account may belong to several brands, so a brand's admin may make a reset link only for an account that belongs
to their brand alone (and an owner's only if they are an owner themself); any other account is the platform
administrator's (``siyu resetpassword USERNAME``). Otherwise one brand's admin could take over a person's access
to another brand. A reset also clears a sign-in lock, and changing a password signs out every other session
(Django's session hash follows the password).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.orgs import audit
from siyu.orgs.models import Membership, PasswordReset, Role, User
from siyu.orgs.services import token_hash as _hash


def change_password(user: User, *, old: str, new: str) -> None:
    """Set ``user``'s password to ``new`` once ``old`` is right and ``new`` passes the password rules."""
    if not user.check_password(old):
        raise ValidationError({"old_password": [_("当前密码不正确。")]})
    _set(user, new, field="new_password")
    audit.record("account.password_changed", org=None, actor=user, obj=user)


def issue_reset(user: User, *, by: Membership | None = None, platform_admin: User | None = None,
                command_line: bool = False) -> str:
    """A one-time reset link for ``user``, made by a brand admin (``by``), a platform administrator, or an operator
    on the server's command line. Earlier unused links for the same account stop working. Returns the link (shown
    once: only the hash is stored)."""
    if command_line:
        actor, org_id = None, None
    elif platform_admin is not None:
        if not platform_admin.is_superuser:
            raise PermissionDenied("platform administrators only")
        actor, org_id = platform_admin, None
    else:
        _may_reset(user, by)
        actor, org_id = by.user, by.org_id
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        _void(user)
        reset = PasswordReset.objects.create(
            user=user, token_hash=_hash(token), created_by=actor, org_id=org_id,
            expires_at=timezone.now() + timedelta(seconds=settings.PASSWORD_RESET_SECONDS))
        audit.record("account.reset_link_issued", org=org_id, actor=actor, obj=user, details={"reset": reset.pk})
    return settings.PUBLIC_URL.rstrip("/") + reverse("orgs:password_reset", args=[token])


def _may_reset(user: User, by: Membership | None) -> None:
    if by is None:
        raise PermissionDenied("a brand admin or a platform administrator makes reset links")
    by.require("members.manage")
    memberships = list(Membership.objects.for_user(user))
    here = [m for m in memberships if m.org_id == by.org_id]
    if not here:
        raise PermissionDenied("not a member of this brand")
    if user.is_superuser or len(memberships) > len(here):
        raise ValidationError(_("该账号还属于其他品牌或是平台管理员，只有平台管理员可以为其生成重置密码链接。"))
    if any(m.role == Role.OWNER for m in here):
        by.require("members.manage_owner")


def pending(token: str) -> PasswordReset | None:
    """The unused, unexpired reset behind ``token``, if any."""
    return (PasswordReset.objects.filter(token_hash=_hash(token), used_at__isnull=True, expires_at__gt=timezone.now())
            .select_related("user").first())


def reset_password(token: str, *, new: str) -> User:
    """Set a new password through a reset link. The link works once; a sign-in lock is cleared."""
    reset = pending(token)
    if reset is None:
        raise ValidationError(_("重置密码链接无效、已使用或已过期。"))
    with transaction.atomic():
        reset = PasswordReset.objects.select_for_update().get(pk=reset.pk)
        if reset.used_at is not None:
            raise ValidationError(_("重置密码链接无效、已使用或已过期。"))
        user = reset.user
        _set(user, new, field="new_password")
        user.locked_until, user.failed_logins, user.first_failed_at = None, 0, None
        user.save(update_fields=["locked_until", "failed_logins", "first_failed_at"])
        reset.used_at = timezone.now()
        reset.save(update_fields=["used_at"])
        _void(user)
        audit.record("account.password_reset", org=reset.org_id, actor=user, obj=user, details={"reset": reset.pk})
    return user


def _set(user: User, new: str, *, field: str) -> None:
    try:
        password_validation.validate_password(new, user)
    except ValidationError as error:
        raise ValidationError({field: error.messages}) from error
    user.set_password(new)
    user.save(update_fields=["password"])


def _void(user: User) -> None:
    PasswordReset.objects.filter(user=user, used_at__isnull=True).update(expires_at=timezone.now())
