"""Organization API: who am I, stores and members — always through ``visible_to``."""

from datetime import datetime

from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from siyu.orgs import services
from siyu.orgs.models import Membership, Store

router = Router(tags=["organization"])


class MeOut(Schema):
    username: str
    org: str
    org_slug: str
    role: str
    store_id: int | None


class StoreOut(Schema):
    id: int
    code: str
    name: str
    kind: str
    parent_id: int | None
    city: str
    is_active: bool


class StoreIn(Schema):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    name: str = Field(min_length=1, max_length=100)
    kind: Store.Kind = Store.Kind.STORE
    parent_id: int | None = None
    city: str = Field("", max_length=50)
    address: str = Field("", max_length=200)


class MemberOut(Schema):
    id: int
    username: str = Field(alias="user.username")
    display_name: str = Field(alias="user.display_name")
    role: str
    store_id: int | None
    is_active: bool
    created_at: datetime


@router.get("/me", response=MeOut)
def me(request):
    """The signed-in member and their current organization."""
    viewer = request.auth
    return {"username": viewer.user.username, "org": viewer.org.name, "org_slug": viewer.org.slug,
            "role": viewer.role, "store_id": viewer.store_id}


@router.get("/stores", response=list[StoreOut])
@paginate
def list_stores(request):
    """Stores and regions the caller may see."""
    return Store.objects.visible_to(request.auth).order_by("code")


@router.get("/stores/{store_id}", response=StoreOut)
def get_store(request, store_id: int):
    return get_object_or_404(Store.objects.visible_to(request.auth), pk=store_id)


@router.post("/stores", response={201: StoreOut})
def create_store(request, payload: StoreIn):
    """Create a store or region (HQ roles)."""
    viewer = request.auth
    viewer.require("stores.manage")
    parent = None
    if payload.parent_id is not None:
        parent = get_object_or_404(Store.objects.visible_to(viewer), pk=payload.parent_id)
    store = services.create_store(
        org=viewer.org, code=payload.code, name=payload.name, kind=payload.kind, parent=parent,
        city=payload.city, address=payload.address, by=viewer.user,
    )
    return Status(201, store)


@router.get("/members", response=list[MemberOut])
@paginate
def list_members(request):
    """Members the caller may see (HQ: all; store manager: their stores; guide: themselves)."""
    viewer = request.auth
    viewer.require("members.view")
    return Membership.objects.visible_to(viewer).filter(api_key__isnull=True).select_related("user").order_by("id")


@router.get("/members/{member_id}", response=MemberOut)
def get_member(request, member_id: int):
    viewer = request.auth
    viewer.require("members.view")
    return get_object_or_404(Membership.objects.visible_to(viewer).select_related("user"), pk=member_id)
