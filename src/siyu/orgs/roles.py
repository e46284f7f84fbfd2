"""What each role may do. Kept in code (reviewed, versioned, tested) rather than editable permission rows:
each app registers its capabilities from its ``contributions`` module.

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

ALL = frozenset(Role)
HQ = WHOLE_ORG_ROLES
MANAGERS = WHOLE_ORG_ROLES | {Role.STORE_MANAGER}

# capability → the roles that have it. Each app contributes its own (its ``contributions`` module, loaded when
# the console app is ready), so a new capability never edits this file.
CAPABILITIES: dict[str, frozenset[str]] = {}


def register_capabilities(table: dict[str, frozenset[str]]) -> None:
    """Say which roles may use each of an app's capabilities. A name means one thing: registering it again
    with other roles is a mistake and raises."""
    for name, roles in table.items():
        roles = frozenset(roles)
        if CAPABILITIES.get(name, roles) != roles:
            raise ValueError(f"capability {name!r} is already registered with other roles")
        CAPABILITIES[name] = roles


def role_can(role: str, capability: str) -> bool:
    try:
        return role in CAPABILITIES[capability]
    except KeyError:
        raise KeyError(f"unknown capability {capability!r}") from None
