"""Staff (WeCom members) as WeCom reports them: created, updated, departed."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from siyu.core import events
from siyu.orgs import audit
from siyu.orgs.models import Staff

# WeCom member Status: 1 activated, 2 disabled, 4 not activated, 5 left the corp.
_STATUS = {"1": Staff.Status.ACTIVE, "2": Staff.Status.DISABLED, "4": Staff.Status.INACTIVE, "5": Staff.Status.DEPARTED}


def staff_for(org, userid: str) -> Staff:
    """The staff row for ``userid``, created bare if a callback mentions someone the sync has not seen yet."""
    staff, _ = Staff.objects.for_org(org).get_or_create(org=org, userid=userid, defaults={"name": userid})
    return staff


@transaction.atomic
def upsert_staff(org, info: dict, *, previous_userid: str | None = None) -> Staff:
    """Create or update a member from WeCom fields (``user/get`` JSON keys or callback XML keys)."""
    userid = info.get("userid") or info.get("UserID")
    staff = staff_for(org, previous_userid or userid)
    if previous_userid and previous_userid != userid:
        staff.userid = userid
    name = info.get("name") or info.get("Name")
    if name:
        staff.name = name[:64]
    for ours, keys in {"alias": ("alias", "Alias"), "position": ("position", "Position"), "avatar": ("avatar", "Avatar")}.items():
        value = next((info[k] for k in keys if info.get(k)), None)
        if value is not None:
            setattr(staff, ours, str(value)[: Staff._meta.get_field(ours).max_length])
    mobile = info.get("mobile") or info.get("Mobile")
    if mobile:
        staff.mobile = str(mobile)
    departments = info.get("department") or info.get("Department")
    if departments:
        staff.department_ids = [int(d) for d in (departments.split(",") if isinstance(departments, str) else departments)]
    status = str(info.get("status") or info.get("Status") or "")
    if status in _STATUS:
        staff.status = _STATUS[status]
    staff.synced_at = timezone.now()
    staff.save()
    if staff.status == Staff.Status.DEPARTED and staff.departed_at is None:
        mark_departed(staff)
    return staff


@transaction.atomic
def mark_departed(staff: Staff, *, at=None) -> Staff:
    """A member left the corp: their customers and groups wait for a new owner (离职继承)."""
    already = staff.departed_at is not None
    staff.status = Staff.Status.DEPARTED
    staff.departed_at = staff.departed_at or at or timezone.now()
    staff.save(update_fields=["status", "departed_at"])
    if not already:
        audit.record("staff.departed", org=staff.org_id, actor=None, obj=staff)
        events.emit(staff.org_id, events.Kind.STAFF_DEPARTED, staff)
    return staff
