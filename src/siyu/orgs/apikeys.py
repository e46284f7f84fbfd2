"""Integration API keys: ``Authorization: Bearer siyu_<prefix>_<secret>`` on every ``/api/v1`` operation.

A key carries a role (and, for store roles, a store) through a membership of its own, so ``visible_to`` gives it
the rows a member with that role sees. Only a keyed HMAC of the whole key is stored: a stolen database does not
yield working keys, and the key is shown once, when it is made.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja.errors import AuthenticationError
from ninja.security import HttpBearer

from siyu.orgs import audit
from siyu.orgs.models import ApiKey, Membership, Organization, Store, User
from siyu.orgs.roles import STORE_ROLES, Role
from siyu.privacy.keys import keyring

TOKEN_START = "siyu_"
# Writing last_used_at on every call would turn each read into a write; a minute is precise enough to spot keys
# nobody uses any more.
TOUCH_EVERY = timedelta(minutes=1)


def _hash(token: str) -> str:
    return keyring().blind_index(token, purpose="api-key")


@transaction.atomic
def create_key(org: Organization, *, name: str, role: str, store: Store | None = None,
               by: User | None) -> tuple[ApiKey, str]:
    """A new key and its secret token (returned once, never stored)."""
    name = (name or "").strip()
    errors = {}
    if not name:
        errors["name"] = _("请填写名称。")
    elif len(name) > 60:
        errors["name"] = _("名称最多 60 个字。")
    if role not in Role.values:
        errors["role"] = _("未知角色。")
    elif role == Role.OWNER:
        errors["role"] = _("API 密钥不能拥有所有者权限。")
    elif role in STORE_ROLES and store is None:
        errors["store"] = _("店长和导购必须指定门店或区域。")
    if store is not None and store.org_id != org.pk:
        errors["store"] = _("门店不属于该组织。")
    if errors:
        raise ValidationError(errors)
    prefix = secrets.token_hex(6)
    token = f"{TOKEN_START}{prefix}_{secrets.token_urlsafe(32)}"
    # The key's own principal: an account nobody can sign in with (no password, inactive).
    user = User(username=f"apikey-{prefix}", display_name=name, is_active=False)
    user.set_unusable_password()
    user.save()
    membership = Membership.objects.create(org=org, user=user, role=role,
                                           store=store if role in STORE_ROLES else None)
    key = ApiKey.objects.create(org=org, name=name, membership=membership, prefix=prefix, key_hash=_hash(token),
                                created_by=by)
    audit.record("apikey.created", org=org, actor=by, obj=key, details={"role": role, "store": store and store.pk})
    return key, token


@transaction.atomic
def revoke_key(key: ApiKey, *, by: User | None) -> ApiKey:
    """Stop a key from working, at once and for good (it stays listed, with when it was revoked)."""
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        Membership.objects.for_org(key.org_id).filter(pk=key.membership_id).update(is_active=False)
        audit.record("apikey.revoked", org=key.org_id, actor=by, obj=key)
    return key


def authenticate(token: str) -> Membership | None:
    """The membership a bearer token acts as, or None for a malformed, unknown or revoked key."""
    if not token.startswith(TOKEN_START) or token.count("_") < 2:
        return None
    prefix = token[len(TOKEN_START):].split("_", 1)[0]
    key = (ApiKey.objects.by_prefix(prefix).select_related("membership__user", "membership__org",
                                                            "membership__store").first())
    if key is None or key.revoked_at is not None or not hmac.compare_digest(key.key_hash, _hash(token)):
        return None
    membership = key.membership
    if not membership.is_active or not membership.org.is_active:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= TOUCH_EVERY:
        ApiKey.objects.by_prefix(prefix).update(last_used_at=now)
    return membership


class ApiKeyAuth(HttpBearer):
    """``Authorization: Bearer …``: no session, so no CSRF token either (a browser never sends this header by
    itself, which is what CSRF abuses). A request that presents credentials we cannot verify is refused outright,
    even with a console session beside them: the caller meant the key, and a bad key must not pass silently."""

    def __call__(self, request):
        if not request.headers.get("Authorization"):
            return None  # no key: the console session may speak
        membership = super().__call__(request)
        if membership is None:
            raise AuthenticationError()
        return membership

    def authenticate(self, request, token):
        return authenticate(token)
