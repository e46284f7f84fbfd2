"""Sources of events and their write keys: create a source, create, rotate and revoke keys.

A key is shown once, when it is made; only its keyed hash (the key ring's blind index) is stored, so a database
leak does not hand out working keys. Rotation keeps the old key working for :data:`ROTATION_GRACE` so that
apps already in users' hands keep sending while the new key ships; revoke stops a key at once.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.cdp.models import Source, WriteKey
from siyu.orgs import audit
from siyu.privacy.keys import keyring

# A rotated key keeps working this long: a mobile app release takes days to reach most phones.
ROTATION_GRACE = timedelta(days=7)
KEY_PREFIX = "sk_"
PREFIX_SHOWN = 8


def key_hash(key: str) -> str:
    """The keyed hash a write key is stored and looked up by."""
    return keyring().blind_index(key, purpose="cdp.write_key")


def _require_hq(org, by) -> None:
    # ``by`` None is the command line (an operator on the server) or a system job.
    if by is not None and (by.org_id != org.pk or not by.can("cdp.sources")):
        raise PermissionDenied(_("你没有管理数据源的权限。"))


def _audit(action: str, org, by, obj, details: dict | None = None) -> None:
    audit.record(action, org=org.pk, actor=getattr(by, "user", None), obj=obj, details=details or {})


@transaction.atomic
def create_source(org, *, name: str, kind: str, by) -> Source:
    """A new source of ``kind`` (Source.Kind) named ``name``, unique within the organization; audited."""
    _require_hq(org, by)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("请填写数据源名称。")})
    if len(name) > Source._meta.get_field("name").max_length:
        raise ValidationError({"name": _("名称太长。")})
    if kind not in Source.Kind.values:
        raise ValidationError({"kind": _("未知的数据源类型“%(kind)s”。") % {"kind": kind}})
    if Source.objects.for_org(org).filter(name=name).exists():
        raise ValidationError({"name": _("已有同名数据源。")})
    source = Source.objects.create(org=org, name=name, kind=kind)
    _audit("cdp.source.created", org, by, source, {"kind": kind})
    return source


def _new_key(source: Source) -> tuple[WriteKey, str]:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = WriteKey.objects.create(org_id=source.org_id, source=source, key_hash=key_hash(key),
                                  prefix=key[:PREFIX_SHOWN])
    return row, key


@transaction.atomic
def create_write_key(source: Source, *, by) -> tuple[WriteKey, str]:
    """A new write key of ``source``; returns the row and the key itself (shown once, never stored)."""
    _require_hq(source.org, by)
    row, key = _new_key(source)
    _audit("cdp.write_key.created", source.org, by, source, {"prefix": row.prefix})
    return row, key


@transaction.atomic
def rotate_write_key(old: WriteKey, *, by) -> tuple[WriteKey, str]:
    """A new key of the same source; ``old`` keeps working for ROTATION_GRACE, then stops."""
    _require_hq(old.source.org, by)
    now = timezone.now()
    if old.revoked_at is not None and old.revoked_at <= now:
        raise ValidationError({"key": _("该密钥已失效，不能轮换。")})
    ends = now + ROTATION_GRACE
    if old.revoked_at is None or old.revoked_at > ends:
        old.revoked_at = ends
        old.save(update_fields=["revoked_at"])
    row, key = _new_key(old.source)
    _audit("cdp.write_key.rotated", old.source.org, by, old.source,
           {"old": old.prefix, "new": row.prefix, "old_works_until": ends.isoformat()})
    return row, key


@transaction.atomic
def revoke_write_key(key: WriteKey, *, by) -> WriteKey:
    """Stop ``key`` now (each web process notices within siyu.cdp.ingest.KEY_CACHE_SECONDS)."""
    from siyu.cdp.ingest import forget_key

    _require_hq(key.source.org, by)
    now = timezone.now()
    if key.revoked_at is None or key.revoked_at > now:
        key.revoked_at = now
        key.save(update_fields=["revoked_at"])
        _audit("cdp.write_key.revoked", key.source.org, by, key.source, {"prefix": key.prefix})
    # Forget it now and again once committed: a lookup in between may have cached the key as still live.
    forget_key(key.key_hash)
    transaction.on_commit(lambda: forget_key(key.key_hash))
    return key
