"""The sidebar harness: a page that plays the WeCom client for the demo and the tests, served only when WeCom is
simulated (sign-in and the organization's API both point at the local simulator). It lists members' chats, shows
the real sidebar page in a frame and answers its JS-SDK calls; the calls that need WeCom's side (checking a
signature, putting a message into the chat) go to the simulator's control API through :func:`relay`."""

from __future__ import annotations

import json

import httpx
from django.conf import settings

from siyu.customers.models import Relation
from siyu.groups.models import CustomerGroup, GroupMember
from siyu.orgs.models import Staff
from siyu.wecom import oauth

# The only simulator control routes the harness page may reach (docs/simulator.md).
RELAYED = ("check-jsapi-signature", "send-chat-message")
STAFF_SHOWN, CHATS_SHOWN = 30, 12


def simulator_base(org) -> str | None:
    """The simulator's address when ``org``'s WeCom is the local simulator, else None (no harness on real WeCom)."""
    base = (getattr(settings, "WECOM_LOGIN_BASE", "") or "").rstrip("/")
    connection = oauth.connection_of(org) if org is not None else None
    if not base or connection is None or not connection.api_base.startswith(base + "/"):
        return None
    return base


def chats(org) -> list[dict]:
    """Members with a console account and their open chats: customers (live friendships) and groups."""
    rows = []
    staff = (Staff.objects.for_org(org).filter(membership__isnull=False, membership__is_active=True)
             .select_related("membership").order_by("name", "userid")[:STAFF_SHOWN])
    for member in staff:
        customers = (Relation.objects.for_org(org).filter(staff=member, status=Relation.Status.ACTIVE)
                     .select_related("customer").order_by("-added_at", "-pk")[:CHATS_SHOWN])
        group_ids = GroupMember.objects.for_org(org).filter(userid=member.userid, is_active=True).values("group_id")
        groups = (CustomerGroup.objects.for_org(org).filter(pk__in=group_ids, status=CustomerGroup.Status.ACTIVE)
                  .order_by("name")[:CHATS_SHOWN])
        rows.append({"staff": member, "customers": [r.customer for r in customers], "groups": list(groups)})
    return rows


def relay(base: str, action: str, payload: dict) -> tuple[int, dict]:
    """POST ``payload`` to the simulator's ``/sim/<action>``; its status and JSON answer."""
    response = httpx.post(f"{base}/sim/{action}", content=json.dumps(payload), timeout=10,
                          headers={"Content-Type": "application/json"})
    try:
        answer = response.json()
    except ValueError:
        answer = {"error": response.text[:200]}
    return response.status_code, answer
