"""Orders API: ``POST /api/v1/orders`` records an order from a web shop, a POS or an ERP.

Idempotent by source + order number: sending the same order again answers the stored one (200) and changes
nothing, so a client may retry after a timeout. The buyer is named by any of phone, member_id, user_id or
external_userid and becomes a person through OneID, bound to the WeCom customer when one matches.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from ninja import Field, Router, Schema, Status

from siyu.cdp import identity
from siyu.cdp.models import Order, OrderStatus
from siyu.cdp.order_import import ParsedLine, ParsedOrder, parse_phone, store_order
from siyu.customers.models import Customer

router = Router(tags=["orders"])


class Buyer(Schema):
    phone: str = Field("", max_length=32, description="mobile number, any format")
    member_id: str = Field("", max_length=100, description="the brand's membership number")
    user_id: str = Field("", max_length=100, description="the id the brand's app or shop knows the person by")
    external_userid: str = Field("", max_length=100, description="a WeCom customer's external_userid")
    name: str = Field("", max_length=100, description="nickname or name (stored encrypted)")


class LineIn(Schema):
    sku: str = Field("", max_length=64)
    name: str = Field("", max_length=100, description="product name; required when the SKU is new")
    quantity: int = Field(1, ge=1, le=100_000)
    unit_price: Decimal | None = Field(None, ge=0, max_digits=12, decimal_places=2)


class OrderIn(Schema):
    source: str = Field(..., min_length=1, max_length=30, description="e.g. web, pos, erp, miniprogram")
    order_no: str = Field(..., min_length=1, max_length=64)
    ordered_at: datetime = Field(..., description="ISO 8601 with a time zone")
    paid_at: datetime | None = None
    status: OrderStatus = OrderStatus.PAID
    total: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=2,
                                  description="what the buyer paid; the lines' sum when omitted")
    refund_total: Decimal = Field(Decimal("0"), ge=0, max_digits=14, decimal_places=2)
    buyer: Buyer
    lines: list[LineIn] = Field(..., min_length=1, max_length=200)


class OrderOut(Schema):
    id: int
    source: str
    order_no: str
    status: str
    total: Decimal
    refund_total: Decimal
    ordered_at: datetime
    paid_at: datetime | None
    person_id: int | None
    customer_id: int | None


def _check(viewer, payload: OrderIn) -> ParsedOrder:
    """The payload as an order to store, or field-level errors."""
    errors: dict[str, list[str]] = {}
    for name in ("ordered_at", "paid_at"):
        moment = getattr(payload, name)
        if moment is not None and moment.tzinfo is None:
            errors[name] = ["needs a time zone, e.g. 2024-01-31T13:45:00+08:00"]
    buyer = payload.buyer
    phone = ""
    if buyer.phone.strip():
        try:
            phone = parse_phone(buyer.phone)
        except ValueError:
            errors["buyer.phone"] = ["not a phone number"]
    idents = []
    if buyer.external_userid.strip():
        customer = Customer.objects.visible_to(viewer).filter(external_userid=buyer.external_userid.strip()).first()
        if customer is None:
            errors["buyer.external_userid"] = ["no such WeCom customer"]
        else:
            idents.append(identity.Ident(identity.Kind.EXTERNAL_USERID, customer.external_userid))
    if buyer.user_id.strip():
        idents.append(identity.Ident(identity.Kind.USER_ID, buyer.user_id.strip()))
    if not (phone or buyer.member_id.strip() or idents) and "buyer.phone" not in errors:
        errors["buyer"] = ["name the buyer by phone, member_id, user_id or external_userid"]
    for index, line in enumerate(payload.lines):
        if not line.sku.strip() and not line.name.strip():
            errors[f"lines.{index}.sku"] = ["give the SKU or the product name"]
    if errors:
        raise ValidationError(errors)
    order = ParsedOrder(order_no=payload.order_no.strip(), first_line=0, ordered_at=payload.ordered_at,
                        paid_at=payload.paid_at, status=payload.status, total=payload.total,
                        refund=payload.refund_total, buyer_name=buyer.name.strip(), phone=phone,
                        member_id=buyer.member_id.strip(), idents=idents)
    order.lines = [ParsedLine(product_name=line.name.strip() or line.sku.strip(), sku=line.sku.strip(),
                              quantity=line.quantity, unit_price=line.unit_price) for line in payload.lines]
    return order


def _existing(viewer, source: str, order_no: str) -> Order | None:
    return Order.objects.visible_to(viewer).filter(source=source, order_no=order_no).first()


@router.post("/orders", response={200: OrderOut, 201: OrderOut})
def create_order(request, payload: OrderIn):
    """Record an order (201). The same source + order_no again answers the stored order (200) unchanged."""
    viewer = request.auth
    viewer.require("orders.write")
    source = payload.source.strip()
    existing = _existing(viewer, source, payload.order_no.strip())
    if existing is not None:
        return Status(200, existing)
    parsed = _check(viewer, payload)
    with transaction.atomic():
        result = store_order(viewer.org, parsed, source=source, batch=None, products={})
    if result == "erased":
        raise ValidationError({"buyer": ["this person asked to be erased: nothing about them is stored"]})
    order = _existing(viewer, source, parsed.order_no)
    return Status(201 if result == "created" else 200, order)
