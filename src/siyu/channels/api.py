"""Channel code API: list, read, create, change, pause, resume and delete codes; who came through a code.

Writes need ``channels.manage``; reads show what ``visible_to`` lets the caller see. Bad input is a 422 with
the same field names and messages as the console form (``state``, ``staff``, ``welcome_attachments`` …), and
changes nothing in Siyu or in WeCom.
"""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from siyu.channels import queries, services
from siyu.channels.models import ChannelCode, ChannelStaff, WelcomeMessage
from siyu.customers.models import Customer, Tag
from siyu.orgs.models import Staff

router = Router(tags=["channels"])


class SlotSchema(Schema):
    days: list[int] = Field(description="weekdays, Monday = 0")
    start: str = Field(description="HH:MM, Beijing time")
    end: str = Field(description="HH:MM; 24:00 = midnight")
    staff: list[int] = Field(description="staff ids (primary staff of the code)")


class RedPacketSchema(Schema):
    enabled: bool = True
    mode: str = Field("fixed", description="fixed | random")
    amount_fen: int = 0
    min_fen: int = 0
    max_fen: int = 0
    budget_fen: int = 0
    wishing: str = ""


class ChannelIn(Schema):
    name: str
    state: str = Field("", description="≤30 letters, digits, _ - .; empty: generated")
    folder: str = Field("", description="channel group name (created if new)")
    partner: str = Field("", description="partner brand name (created if new)")
    staff: list[int] = Field(description="staff ids receiving customers (≤100 with backup_staff)")
    backup_staff: list[int] = []
    policy: str = Field("round_robin", description="round_robin | time_slots | daily_cap")
    daily_cap: int | None = None
    time_slots: list[SlotSchema] = []
    skip_verify: bool = True
    tags: list[int] = Field([], description="corp tag ids put on every new relation")
    remark_template: str = ""
    welcome_enabled: bool = True
    welcome_text: str = ""
    welcome_attachments: list[dict] = Field([], description="WeCom attachment objects, or approved HQ materials as "
                                            '{"msgtype": "material", "material": {"id": 42}} (≤9 in all)')
    red_packet: RedPacketSchema | None = None


class ChannelPatch(Schema):
    name: str | None = None
    state: str | None = None
    folder: str | None = None
    partner: str | None = None
    staff: list[int] | None = None
    backup_staff: list[int] | None = None
    policy: str | None = None
    daily_cap: int | None = None
    time_slots: list[SlotSchema] | None = None
    skip_verify: bool | None = None
    tags: list[int] | None = None
    remark_template: str | None = None
    welcome_enabled: bool | None = None
    welcome_text: str | None = None
    welcome_attachments: list[dict] | None = None
    red_packet: RedPacketSchema | None = None


class ChannelOut(Schema):
    id: int
    name: str
    state: str
    status: str
    policy: str
    daily_cap: int | None
    time_slots: list[dict]
    skip_verify: bool
    folder: str | None
    partner: str | None
    staff: list[str]
    backup_staff: list[str]
    current_staff: list[str] = Field(alias="current_userids")
    tags: list[str]
    remark_template: str
    welcome_enabled: bool
    welcome_text: str
    welcome_attachments: list[dict]
    config_id: str
    qr_code: str
    created_at: datetime

    @staticmethod
    def resolve_folder(code):
        return str(code.folder) if code.folder_id else None

    @staticmethod
    def resolve_partner(code):
        return str(code.partner) if code.partner_id else None

    @staticmethod
    def resolve_staff(code):
        return [link.staff.userid for link in _links(code) if link.role == ChannelStaff.Role.PRIMARY]

    @staticmethod
    def resolve_backup_staff(code):
        return [link.staff.userid for link in _links(code) if link.role == ChannelStaff.Role.BACKUP]

    @staticmethod
    def resolve_tags(code):
        return [t.tag.name for t in code.code_tags.select_related("tag")]

    @staticmethod
    def resolve_welcome_text(code):
        base = _base_welcome(code)
        return base.text if base else ""

    @staticmethod
    def resolve_welcome_attachments(code):
        base = _base_welcome(code)
        return base.attachments if base else []


def _links(code: ChannelCode) -> list[ChannelStaff]:
    if not hasattr(code, "_api_links"):
        code._api_links = list(code.channel_staff.select_related("staff"))
    return code._api_links


def _base_welcome(code: ChannelCode) -> WelcomeMessage | None:
    return next((m for m in code.welcome_messages.filter(staff=None) if not m.is_variant), None)


class ListFilters(Schema):
    q: str = ""
    status: str = Field("", description="active | paused | deleted; empty: not deleted")
    folder: str = ""


class CustomerRef(Schema):
    id: int
    external_userid: str
    name: str


def _staff(viewer, ids: list[int], field: str) -> list[Staff]:
    found = {s.pk: s for s in Staff.objects.visible_to(viewer).filter(pk__in=ids)}
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationError({field: [_("员工不存在或不在你的管理范围内：%(ids)s。") % {"ids": ", ".join(map(str, missing))}]})
    return [found[i] for i in dict.fromkeys(ids)]


def _tags(viewer, ids: list[int]) -> list[Tag]:
    found = {t.pk: t for t in Tag.objects.visible_to(viewer).filter(pk__in=ids)}
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationError({"tags": [_("标签不存在：%(ids)s。") % {"ids": ", ".join(map(str, missing))}]})
    return [found[i] for i in dict.fromkeys(ids)]


_LIST_FIELDS = {"staff", "backup_staff", "tags", "time_slots", "welcome_attachments"}


def _service_data(viewer, payload: dict) -> dict:
    # A list field sent as null (the schema allows it) means an empty list.
    data = {k: [] if v is None and k in _LIST_FIELDS else v for k, v in payload.items()}
    staff_fields = {}
    for field in ("staff", "backup_staff"):
        if field in data:
            staff_fields[field] = _staff(viewer, data[field], field)
    data.update(staff_fields)
    if "tags" in data:
        data["tags"] = _tags(viewer, data["tags"])
    if "folder" in data:
        data["folder_name"] = data.pop("folder") or ""
        data["folder"] = None
    if "partner" in data:
        data["partner_name"] = data.pop("partner") or ""
        data["partner"] = None
    return data


def _visible(viewer, pk: int) -> ChannelCode:
    return get_object_or_404(ChannelCode.objects.visible_to(viewer).select_related("folder", "partner", "org"), pk=pk)


@router.get("/channels", response=list[ChannelOut])
@paginate
def list_codes(request, filters: Query[ListFilters]):
    """Channel codes the caller may see, newest first."""
    rows = ChannelCode.objects.visible_to(request.auth).select_related("folder", "partner")
    if filters.q:
        rows = queries.search(rows, filters.q)
    if filters.folder:
        rows = rows.filter(folder__name=filters.folder)
    rows = rows.filter(status=filters.status) if filters.status else rows.exclude(status=ChannelCode.Status.DELETED)
    return rows.order_by("-created_at", "-id")


@router.get("/channels/{code_id}", response=ChannelOut)
def get_code(request, code_id: int):
    return _visible(request.auth, code_id)


@router.post("/channels", response={201: ChannelOut})
def create_code(request, payload: ChannelIn):
    """Create a code and its WeCom contact way."""
    viewer = request.auth
    viewer.require("channels.manage")
    data = _service_data(viewer, payload.dict())
    code = services.create_channel_code(viewer.org, by=viewer, **data)
    return Status(201, code)


@router.patch("/channels/{code_id}", response=ChannelOut)
def update_code(request, code_id: int, payload: ChannelPatch):
    """Change some of a code's settings; the others keep their values."""
    viewer = request.auth
    viewer.require("channels.manage")
    code = _visible(viewer, code_id)
    given = payload.dict(exclude_unset=True)
    data = {**services.code_values(code), **_service_data(viewer, given)}
    code = services.update_channel_code(code, by=viewer, **data)
    return code


@router.post("/channels/{code_id}/pause", response=ChannelOut)
def pause_code(request, code_id: int):
    viewer = request.auth
    viewer.require("channels.manage")
    return services.pause_channel_code(_visible(viewer, code_id), by=viewer)


@router.post("/channels/{code_id}/resume", response=ChannelOut)
def resume_code(request, code_id: int):
    viewer = request.auth
    viewer.require("channels.manage")
    return services.resume_channel_code(_visible(viewer, code_id), by=viewer)


@router.delete("/channels/{code_id}", response=ChannelOut)
def delete_code(request, code_id: int):
    """Delete the code's contact way; the code, its state and its customers' sources stay."""
    viewer = request.auth
    viewer.require("channels.manage")
    return services.delete_channel_code(_visible(viewer, code_id), by=viewer)


@router.get("/channels/{code_id}/customers", response=list[CustomerRef])
@paginate
def code_customers(request, code_id: int, first_only: bool = False):
    """Customers who came through the code (``first_only``: those it brought in first)."""
    viewer = request.auth
    code = _visible(viewer, code_id)
    visible = Customer.objects.visible_to(viewer)
    return visible.filter(pk__in=queries.customers_from_channel(viewer.org_id, code, first_only=first_only).values("pk")).order_by("pk")
