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
from siyu.orgs.models import Membership, SignInThrottle, User


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
