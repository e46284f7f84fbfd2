"""What each role may do. Kept in code (reviewed, versioned, tested) rather than editable permission rows.

Which *rows* a role sees is decided by ``TenantQuerySet.visible_to``; this table decides which *actions*.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OWNER = "owner", _("所有者")
    HQ_ADMIN = "hq_admin", _("总部管理员")
    STORE_MANAGER = "store_manager", _("店长")
    GUIDE = "guide", _("导购")


WHOLE_ORG_ROLES = frozenset({Role.OWNER, Role.HQ_ADMIN})
STORE_ROLES = frozenset({Role.STORE_MANAGER, Role.GUIDE})

_ALL = frozenset(Role)
_HQ = WHOLE_ORG_ROLES
_MANAGERS = WHOLE_ORG_ROLES | {Role.STORE_MANAGER}

CAPABILITIES: dict[str, frozenset[str]] = {
    "dashboard.view": _ALL,
    "stores.view": _ALL,
    "stores.manage": _HQ,
    "members.view": _MANAGERS,
    "members.manage": _HQ,
    "members.manage_owner": frozenset({Role.OWNER}),
    "audit.view": _HQ,
    "jobs.view": _ALL,
    "org.settings": _HQ,
    "pii.view": _HQ,
    "staff.view": _MANAGERS,
    "transfers.manage": _MANAGERS,  # store managers: within their own stores (visible_to)
}


def role_can(role: str, capability: str) -> bool:
    try:
        return role in CAPABILITIES[capability]
    except KeyError:
        raise KeyError(f"unknown capability {capability!r}") from None
