"""What the chat sidebar reads, each through ``visible_to``: the customer or group of the open chat, and what the
guide sees of them. A guide reaches only customers they have a friendship with (a store manager: their stores'),
so changing the id in the address leads nowhere."""

from __future__ import annotations

import json

from django.db.models import Q
from django.http import Http404

from siyu.cdp.models import Order
from siyu.content import materials, scripts
from siyu.customers.models import Customer, Relation
from siyu.customers.tags import staff_of
from siyu.groups.models import CustomerGroup, GroupMember
from siyu.orgs.models import Membership
from siyu.privacy.masking import mask_phone
from siyu.sop.models import SopRun, SopTask
from siyu.workbench.queries import my_customers

LIBRARY_SHOWN = 20
ORDERS_SHOWN = 5
NOTES_SHOWN = 5


def customer_for(viewer: Membership, external_userid: str) -> Customer:
    """The customer of the open chat, if the viewer may open them; else 404 (whether or not they exist)."""
    customer = my_customers(viewer).filter(external_userid=external_userid).first()
    if customer is None:
        raise Http404("no such customer for this member")
    return customer


def group_for(viewer: Membership, chat_id: str) -> CustomerGroup:
    """The customer group of the open chat: a guide's own (owner or member), a manager's stores'."""
    rows = CustomerGroup.objects.visible_to(viewer)
    staff = staff_of(viewer)
    if viewer.is_guide:
        userid = staff.userid if staff is not None else None
        rows = rows.filter(Q(owner=staff) | Q(members__userid=userid, members__is_active=True)).distinct()
    group = rows.filter(chat_id=chat_id).select_related("owner").first()
    if group is None:
        raise Http404("no such group for this member")
    return group


def own_relation(viewer: Membership, customer: Customer) -> Relation | None:
    """The viewer's friendship with the customer, else the first live one the viewer may see (a manager's view)."""
    rows = Relation.objects.visible_to(viewer).filter(customer=customer).select_related("staff")
    staff = staff_of(viewer)
    mine = rows.filter(staff=staff).first() if staff is not None else None
    return mine or rows.filter(status=Relation.Status.ACTIVE).first() or rows.first()


def phones(relation: Relation | None, *, show: bool) -> list[str]:
    """The phone numbers the guide noted on the friendship, masked unless the role may see them."""
    if relation is None:
        return []
    try:
        numbers = [str(n) for n in json.loads(relation.remark_mobiles or "[]") if n]
    except ValueError:
        numbers = []
    return numbers if show else [mask_phone(n) for n in numbers]


def orders_of(viewer: Membership, customer: Customer):
    return Order.objects.visible_to(viewer).filter(customer=customer).order_by("-ordered_at")[:ORDERS_SHOWN]


def script_choices(viewer: Membership, query: str = ""):
    """Scripts the viewer may send, matching ``query`` (Chinese substring or pinyin initials)."""
    return scripts.search(scripts.usable_by(viewer), query).order_by("-updated_at", "-id")[:LIBRARY_SHOWN]


def material_choices(viewer: Membership, query: str = ""):
    """Approved materials the viewer may send, matching ``query``."""
    return materials.search(materials.sendable_by(viewer), query).order_by("-updated_at", "-id")[:LIBRARY_SHOWN]


def group_members(viewer: Membership, group: CustomerGroup):
    return (GroupMember.objects.visible_to(viewer).filter(group=group, is_active=True)
            .select_related("customer").order_by("type", "join_time", "pk"))


def group_tags(group: CustomerGroup):
    return [tagging.tag for tagging in group.taggings.select_related("tag").order_by("tag__name")]


def group_sop_tasks(viewer: Membership, group: CustomerGroup):
    """The group's SOP steps not done yet, soonest first."""
    return (SopTask.objects.visible_to(viewer).filter(group=group, completed_at=None, run__status=SopRun.Status.ACTIVE)
            .exclude(status=SopTask.Status.CANCELLED).select_related("sop").order_by("due_at")[:10])
