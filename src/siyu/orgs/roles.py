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
    "customers.view": _ALL,  # guides: their own customers, managers: their stores' (visible_to)
    "customers.edit": _ALL,  # notes, follow-ups, tags on the customers one may see
    "customers.bulk": _MANAGERS,  # bulk tag and export jobs
    "tags.manage": _HQ,  # corp tag groups and tags (synced to WeCom), protected labels
    "analytics.view": _ALL,  # store managers: their stores' staff; guides: their own figures (visible_to)
    "lifecycle.board": _ALL,  # the stage board and moving customers: guides their own (visible_to)
    "lifecycle.todos": _ALL,  # reminders and to-dos: guides their own, managers their stores'
    "lifecycle.alerts": _ALL,  # loss alerts: guides their own, managers their stores'
    "lifecycle.reports": _MANAGERS,  # time in stage, conversion and loss reports
    "lifecycle.rules": _HQ,  # auto-tagging rules and their back-fill
    "lifecycle.stages": _HQ,  # the organization's pipeline and reminder settings
    "channels.view": _ALL,  # channel codes: guides the codes they are on or own, managers their stores' (visible_to)
    "channels.manage": _HQ,  # create, edit, pause and delete codes; welcome messages
    "groupcodes.view": _ALL,  # group codes: managers their stores', guides their own store's (visible_to)
    "groupcodes.manage": _HQ,  # create, edit, pause and delete group codes (WeCom join ways) and group welcomes
    "storecodes.view": _MANAGERS,  # store codes (区域码) and where they sent people
    "storecodes.manage": _HQ,  # create, edit, pause and delete store codes
}


def role_can(role: str, capability: str) -> bool:
    try:
        return role in CAPABILITIES[capability]
    except KeyError:
        raise KeyError(f"unknown capability {capability!r}") from None
