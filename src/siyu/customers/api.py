"""Customer API: list and read customers the caller may see, tag and untag them; list the tags.

Filters are the console list's (same names, same validation): a bad value is a 422 with field errors.
Lists page with cursors (``next_cursor``), not offsets, so any page of a million customers is as fast as the first.
"""

from __future__ import annotations

import json
from datetime import datetime

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema

from siyu.customers.forms import CustomerFilterForm
from siyu.customers.models import Customer, Tag, TagGroup
from siyu.customers.queries import decorate, filter_customers, keyset_page, relations_of, tags_of
from siyu.customers.tags import tag_customer_as, untag_customer_as, usable_tags
from siyu.privacy.masking import mask_phone

router = Router(tags=["customers"])


class Filters(Schema):
    q: str = Field("", description="name or remark contains, or a phone number (any format)")
    tags: list[int] = Field([], description="tag ids")
    tag_mode: str = Field("any", description="any | all | none")
    staff: list[int] = Field([], description="staff ids (customers of any of them)")
    store: int | None = None
    group: int | None = None
    in_group: str = Field("", description="yes | no")
    status: str = Field("", description="friend | lost")
    added_from: str = Field("", description="YYYY-MM-DD, Beijing time")
    added_to: str = Field("", description="YYYY-MM-DD, Beijing time")
    sort: str = Field("-added", description="-added | added | name")
    after: str = Field("", description="next_cursor of the previous page")
    limit: int = Field(50, ge=1, le=200)


class TagBrief(Schema):
    id: int
    name: str
    kind: str


class CustomerOut(Schema):
    id: int
    external_userid: str
    name: str
    avatar: str
    type: int
    gender: int
    corp_name: str
    is_friend: bool
    first_added_at: datetime | None
    staff: list[str]
    tags: list[TagBrief]


class CustomerPage(Schema):
    items: list[CustomerOut]
    next_cursor: str | None


class TagLinkOut(Schema):
    id: int
    name: str
    kind: str
    group: str | None
    source: str
    source_ref: str
    tagged_at: datetime


class RelationOut(Schema):
    staff_userid: str
    staff_name: str
    status: str
    remark: str
    description: str
    remark_mobiles: list[str]
    add_way: int
    state: str
    added_at: datetime | None
    deleted_at: datetime | None
    tags: list[TagLinkOut]


class CustomerDetailOut(CustomerOut):
    unionid: str
    position: str
    corp_full_name: str
    relations: list[RelationOut]


class TagIds(Schema):
    tag_ids: list[int] = Field(..., min_length=1, max_length=100)


class TagOut(Schema):
    id: int
    wecom_id: str
    name: str
    order: int


class TagGroupOut(Schema):
    id: int
    wecom_id: str
    name: str
    order: int
    tags: list[TagOut]


def _out(row) -> dict:
    c = row.customer
    return {
        "id": c.pk, "external_userid": c.external_userid, "name": c.name, "avatar": c.avatar, "type": c.type,
        "gender": c.gender, "corp_name": c.corp_name, "is_friend": c.is_friend, "first_added_at": c.first_added_at,
        "staff": [r.staff.userid for r in row.relations],
        "tags": [t for t in row.tags if "id" in t],
    }


def _detail(viewer, customer: Customer) -> dict:
    [row] = decorate(viewer.org_id, [customer], max_tags=10_000)
    show = viewer.can("pii.view")
    links: dict[int, list] = {}
    for on in tags_of(customer):
        for link in on.links:
            links.setdefault(link.relation_id, []).append({
                "id": on.tag.pk, "name": on.tag.name, "kind": on.tag.kind, "group": on.tag.group.name if on.tag.group else None,
                "source": link.source, "source_ref": link.source_ref, "tagged_at": link.created_at})
    relations = []
    for r in relations_of(customer):
        try:
            phones = [str(p) for p in json.loads(r.remark_mobiles or "[]") if p]
        except ValueError:
            phones = []
        relations.append({
            "staff_userid": r.staff.userid, "staff_name": r.staff.name, "status": r.status, "remark": r.remark,
            "description": r.description, "remark_mobiles": phones if show else [mask_phone(p) for p in phones],
            "add_way": r.add_way, "state": r.state, "added_at": r.added_at, "deleted_at": r.deleted_at,
            "tags": links.get(r.pk, [])})
    return {**_out(row), "unionid": customer.unionid, "position": customer.position,
            "corp_full_name": customer.corp_full_name, "relations": relations}


def _customer(viewer, customer_id: int) -> Customer:
    return get_object_or_404(Customer.objects.visible_to(viewer), pk=customer_id)


@router.get("/customers", response=CustomerPage)
def list_customers(request, filters: Query[Filters]):
    """Customers the caller may see (HQ: all; store manager: their stores' staff's; guide: their own), newest first."""
    viewer = request.auth
    viewer.require("customers.view")
    form = CustomerFilterForm(request.GET, viewer=viewer)
    if not form.is_valid():
        raise ValidationError({k: [str(m) for m in v] for k, v in form.errors.items()})
    rows = filter_customers(viewer, form.cleaned_data)
    page = keyset_page(rows, form.cleaned_data["sort"], after=filters.after or None, size=filters.limit)
    return {"items": [_out(r) for r in decorate(viewer.org_id, page.rows, max_tags=10_000)], "next_cursor": page.next_cursor}


@router.get("/customers/{customer_id}", response=CustomerDetailOut)
def get_customer(request, customer_id: int):
    """One customer with every staff relation, its remark and phones (masked without personal-data access) and
    each tag with its source."""
    viewer = request.auth
    viewer.require("customers.view")
    return _detail(viewer, _customer(viewer, customer_id))


def _tags(viewer, ids: list[int]) -> list[Tag]:
    tags = list(usable_tags(viewer).filter(pk__in=ids))
    missing = set(ids) - {t.pk for t in tags}
    if missing:
        raise ValidationError({"tag_ids": [f"unknown or unusable tag ids: {sorted(missing)}"]})
    return tags


@router.post("/customers/{customer_id}/tags", response=CustomerDetailOut)
def tag_customer(request, customer_id: int, payload: TagIds):
    """Put tags on the customer (corp tags are marked in WeCom too) through the caller's friendships with them."""
    viewer = request.auth
    viewer.require("customers.edit")
    customer = _customer(viewer, customer_id)
    tag_customer_as(viewer, customer, _tags(viewer, payload.tag_ids))
    return _detail(viewer, customer)


@router.delete("/customers/{customer_id}/tags/{tag_id}", response=CustomerDetailOut)
def untag_customer(request, customer_id: int, tag_id: int):
    """Take a tag off the customer on the caller's friendships with them."""
    viewer = request.auth
    viewer.require("customers.edit")
    customer = _customer(viewer, customer_id)
    untag_customer_as(viewer, customer, _tags(viewer, [tag_id]))
    return _detail(viewer, customer)


@router.get("/tags", response=list[TagGroupOut])
def list_tags(request):
    """The live corp tag groups and their tags, in WeCom's order."""
    viewer = request.auth
    viewer.require("customers.view")
    groups = TagGroup.objects.visible_to(viewer).filter(deleted=False).prefetch_related("tags")
    return [{"id": g.pk, "wecom_id": g.wecom_id, "name": g.name, "order": g.order,
             "tags": [t for t in g.tags.all() if not t.deleted]} for g in groups]
