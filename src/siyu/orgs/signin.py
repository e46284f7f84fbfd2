"""Signing in: throttled per client address and per attempted name, locked per account, one answer for all.

Order of checks, cheapest first, so a flood costs no password hashing:

1. the client address has failed too often in the window → refused at once (no hashing, no account lookup;
   the login view answers 429 with a short text, without rendering the page);
2. the attempted name (known or not) has failed too often → refused after a dummy hash;
3. the account's lock check and its attempt counter move together under one row lock, so parallel guesses
   check at most ``LOGIN_MAX_FAILURES`` passwords; each attempt is counted before its password is checked and
   forgiven on success.

A locked account, an unknown name and a wrong password get the same answer (``None``) after the same amount of
hashing work, so the page cannot be used to tell which accounts exist or are locked.

Signing in with WeCom (``wecom.oauth``) proves who the visitor is through WeCom instead of a password:
:func:`member_for_wecom_user` maps the WeCom member (:class:`Staff`) to their console membership. Its failures
(a forged or stale state, a bad code, someone Siyu does not let in) count against the client address through
:func:`count_address_failure`, so the same address throttle guards both ways in.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from functools import cache

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.utils import timezone

from siyu.orgs import audit
from siyu.orgs.models import Membership, SignInThrottle, Staff, User


@cache
def _dummy_hash() -> str:
    return make_password("siyu: no such account")


def _spend_a_hash(password: str) -> None:
    """Hash once for nothing: refusals that skip the real check must cost what a real check costs."""
    check_password(password, _dummy_hash())


def _audit(user: User, action: str, details: dict | None = None) -> None:
    """Sign-in events go to the brands the person works for (which they joined themselves)."""
    org_ids = list(Membership.objects.for_user(user).values_list("org_id", flat=True)) or [None]
    for org_id in org_ids:
        audit.record(action, org=org_id, actor=user, obj=user, details=details or {})


def _key(kind: str, value: str) -> str:
    return f"{kind}:{hashlib.sha256(value.encode('utf-8', 'surrogatepass')).hexdigest()[:64]}"


def _over_limit(key: str, limit: int, now) -> bool:
    start = now - timedelta(seconds=settings.LOGIN_THROTTLE_WINDOW)
    return SignInThrottle.objects.filter(key=key, window_start__gte=start, failures__gte=limit).exists()


def _count_failure(key: str, now) -> None:
    start = now - timedelta(seconds=settings.LOGIN_THROTTLE_WINDOW)
    with transaction.atomic():
        row, created = SignInThrottle.objects.select_for_update().get_or_create(
            key=key, defaults={"failures": 1, "window_start": now}
        )
        if created:
            # Forget windows that are over, so random names do not pile up rows.
            SignInThrottle.objects.filter(window_start__lt=start).delete()
            return
        if row.window_start < start:
            row.failures, row.window_start = 0, now
        row.failures += 1
        row.save(update_fields=["failures", "window_start"])


def _reserve_attempt(user: User, now) -> bool:
    """Count the attempt before its password is checked; False while locked or at the limit."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.locked_until and user.locked_until > now:
            return False
        if user.first_failed_at is None or user.first_failed_at < now - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW):
            user.first_failed_at, user.failed_logins = now, 0
        if user.failed_logins >= settings.LOGIN_MAX_FAILURES:
            return False  # the other attempts in flight use up the allowance
        user.failed_logins += 1
        user.save(update_fields=["failed_logins", "first_failed_at"])
        return True


def _settle(user: User, *, succeeded: bool, now) -> None:
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if succeeded:
            user.failed_logins, user.first_failed_at, user.locked_until = 0, None, None
            _audit(user, "login.succeeded")
        else:
            _audit(user, "login.failed", {"failures": user.failed_logins})
            if user.failed_logins >= settings.LOGIN_MAX_FAILURES and not (user.locked_until and user.locked_until > now):
                user.locked_until = now + timedelta(seconds=settings.LOGIN_LOCK_SECONDS)
                user.failed_logins, user.first_failed_at = 0, None
                _audit(user, "login.locked", {"until": user.locked_until.isoformat()})
        user.save(update_fields=["failed_logins", "first_failed_at", "locked_until"])


def _ip_key(request) -> str:
    return _key("ip", request.META.get("REMOTE_ADDR") or "")


def address_throttled(request) -> bool:
    """The client address failed too often lately: refuse before reading the form (one indexed read)."""
    return _over_limit(_ip_key(request), settings.LOGIN_IP_MAX_FAILURES, timezone.now())


def sign_in(request, username: str, password: str) -> User | None:
    """The user when ``password`` is right and nothing refuses the attempt, else None (one answer for all)."""
    now = timezone.now()
    ip_key = _ip_key(request)
    if _over_limit(ip_key, settings.LOGIN_IP_MAX_FAILURES, now):
        return None
    name_key = _key("name", username)
    user = User.objects.filter(username=username, is_active=True).first()
    if _over_limit(name_key, settings.LOGIN_MAX_FAILURES, now) or user is None or not _reserve_attempt(user, now):
        _spend_a_hash(password)
        if user is not None and user.locked_until and user.locked_until > now:
            _audit(user, "login.refused_locked")
        _count_failure(ip_key, now)
        if user is None:
            _count_failure(name_key, now)  # a known account is guarded by its own counter and lock
        return None
    succeeded = user.check_password(password)
    _settle(user, succeeded=succeeded, now=now)
    if not succeeded:
        _count_failure(ip_key, now)
        return None
    user.backend = "django.contrib.auth.backends.ModelBackend"
    return user


# Why a WeCom member was not let in (audited with the refusal, and shown to them in words by the view).
NOT_IN_CORP, NOT_STAFF, STAFF_INACTIVE, NO_MEMBERSHIP = "not_in_corp", "not_staff", "staff_inactive", "no_membership"


def count_address_failure(request) -> None:
    """A sign-in that failed without a password (WeCom): counted against the client address like a wrong one."""
    _count_failure(_ip_key(request), timezone.now())


def member_for_wecom_user(request, *, org, userid: str | None, flow: str) -> tuple[Membership | None, str]:
    """The console membership of WeCom member ``userid`` of ``org`` and ``""``; or ``None`` and why not.

    A member maps to the membership linked to their :class:`Staff` row; nothing is created here: a member without
    a membership is refused (an admin links one on the staff page), as are departed or disabled members and
    people outside the corp (``userid`` None). Every outcome is audited in ``org``'s sign-in events and every
    refusal counts against the client address.
    """
    staff = (Staff.objects.for_org(org).filter(userid=userid).select_related("membership__user").first()
             if userid else None)
    membership = staff.membership if staff is not None else None
    if userid is None:
        reason = NOT_IN_CORP
    elif staff is None:
        reason = NOT_STAFF
    elif staff.status != Staff.Status.ACTIVE:
        reason = STAFF_INACTIVE
    elif membership is None or not membership.is_active or not membership.user.is_active:
        reason = NO_MEMBERSHIP
    else:
        audit.record("login.wecom_succeeded", org=org, actor=membership.user, obj=membership.user,
                     details={"userid": userid, "flow": flow})
        return membership, ""
    audit.record("login.wecom_refused", org=org, actor=None, obj=staff,
                 details={"userid": userid or "", "flow": flow, "reason": reason})
    count_address_failure(request)
    return None, reason
