"""The audit trail. Services call :func:`record`; the request's IP comes from the middleware's context."""

from __future__ import annotations

import contextvars

from django.db import models

from siyu.orgs.models import AuditEntry, Organization, User

# The client address of the request being served, set by TenantMiddleware (None in jobs and commands).
client_ip: contextvars.ContextVar[str | None] = contextvars.ContextVar("siyu_client_ip", default=None)


def record(
    action: str,
    *,
    org: Organization | int | None,
    actor: User | None,
    obj: models.Model | None = None,
    details: dict | None = None,
) -> AuditEntry:
    """Append one audit entry. ``action`` is a dotted verb such as ``member.role_changed``."""
    org_id = org.pk if isinstance(org, Organization) else org
    return AuditEntry.objects.create(
        org_id=org_id,
        actor=actor if actor is not None and actor.pk else None,
        actor_name=(actor.username if actor is not None else "")[:150],
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        details=details or {},
        ip=client_ip.get(),
    )
