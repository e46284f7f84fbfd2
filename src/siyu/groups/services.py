"""Customer groups as WeCom knows them: re-read with ``groupchat/get`` on every change and reconcile members."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from siyu.core import events
from siyu.customers import timeline
from siyu.customers.models import Customer
from siyu.customers.services import from_epoch
from siyu.groups.models import CustomerGroup, GroupMember
from siyu.orgs.models import Staff
from siyu.wecom import endpoints


def refresh_group(org, chat_id: str, client) -> CustomerGroup:
    """Re-read a group from WeCom, then mirror it in one transaction (no lock held across the call)."""
    return _mirror_group(org, chat_id, endpoints.group_chat(client, chat_id))


@transaction.atomic
def _mirror_group(org, chat_id: str, data: dict) -> CustomerGroup:
    owner = Staff.objects.for_org(org).filter(userid=data.get("owner", "")).first()
    group, created = CustomerGroup.objects.for_org(org).update_or_create(
        org=org, chat_id=chat_id,
        defaults={
            "name": (data.get("name") or "")[:100], "owner": owner, "owner_userid": data.get("owner", ""),
            "notice": data.get("notice") or "", "status": CustomerGroup.Status.ACTIVE,
            "member_version": data.get("member_version", ""), "created_in_wecom_at": from_epoch(data.get("create_time")),
            "admin_userids": [a["userid"] for a in data.get("admin_list", [])], "synced_at": timezone.now(),
        },
    )
    members = {m["userid"]: m for m in data.get("member_list", [])}
    existing = {m.userid: m for m in GroupMember.objects.for_org(org).filter(group=group)}
    customers = {
        c.external_userid: c
        for c in Customer.objects.for_org(org).filter(external_userid__in=[u for u, m in members.items() if int(m.get("type", 2)) == 2])
    }
    fresh = []
    for userid, info in members.items():
        member = existing.get(userid) or GroupMember(org=org, group=group, userid=userid)
        rejoined = member.pk is None or not member.is_active
        values = {
            "type": int(info.get("type") or 2),
            "customer": customers.get(userid),
            "unionid": info.get("unionid", ""),
            "name": (info.get("name") or "")[:100],
            "group_nickname": (info.get("group_nickname") or "")[:100],
            "join_time": from_epoch(info.get("join_time")),
            "join_scene": int(info.get("join_scene") or 0),
            "invitor_userid": (info.get("invitor") or {}).get("userid", ""),
            "state": info.get("state", ""),
            "is_active": True, "left_at": None, "quit_scene": None,
        }
        # A big group changes one member at a time: write only the members whose row differs.
        if member.pk is not None and all(getattr(member, k) == v for k, v in values.items()):
            continue
        for key, value in values.items():
            setattr(member, key, value)
        if member.pk is None:
            fresh.append(member)
        else:
            member.save()
        if rejoined and member.customer is not None:
            timeline.joined_group(member.customer, group, at=member.join_time, scene=member.join_scene)
    GroupMember.objects.bulk_create(fresh)
    for userid, member in existing.items():
        if userid not in members and member.is_active:
            _leave(member, group)
    group.member_count = len(members)
    group.save(update_fields=["member_count"])
    events.emit(org, events.Kind.GROUP_CHANGED, group, {"created": created})
    return group


def _leave(member: GroupMember, group: CustomerGroup, *, scene=None) -> None:
    member.is_active, member.left_at, member.quit_scene = False, timezone.now(), scene
    member.save(update_fields=["is_active", "left_at", "quit_scene"])
    if member.customer_id:
        timeline.left_group(member.customer, group, scene=scene)


@transaction.atomic
def dismiss_group(org, chat_id: str) -> CustomerGroup | None:
    group = CustomerGroup.objects.for_org(org).filter(chat_id=chat_id).first()
    if group is None or group.status == CustomerGroup.Status.DISMISSED:
        return group
    group.status, group.dismissed_at, group.member_count = CustomerGroup.Status.DISMISSED, timezone.now(), 0
    group.save(update_fields=["status", "dismissed_at", "member_count"])
    for member in GroupMember.objects.for_org(org).filter(group=group, is_active=True).select_related("customer"):
        _leave(member, group)
    return group
