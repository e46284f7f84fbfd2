"""Recording orders and keeping products. Other capabilities subscribe to the ``order.recorded`` event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Sum
from django.utils.translation import gettext as _

from siyu.cdp.models import Order, OrderLine, Product
from siyu.core import events
from siyu.customers import timeline
from siyu.orgs import audit

MAX_LINES = 200


@dataclass(frozen=True)
class Line:
    """One line to record: a product (or its SKU), how many, and the unit price (the product's price if None)."""

    product: Product | str
    quantity: int = 1
    unit_price: Decimal | str | None = None


def _line(org, raw) -> tuple[Product, int, Decimal]:
    if isinstance(raw, dict):
        raw = Line(**raw)
    product = raw.product
    if not isinstance(product, Product):
        product = Product.objects.for_org(org).filter(sku=str(product)).first()
        if product is None:
            raise ValidationError({"lines": _("商品编码“%(sku)s”不存在。") % {"sku": raw.product}})
    elif product.org_id != org.pk:
        raise ValidationError({"lines": _("商品“%(name)s”不属于该组织。") % {"name": product.name}})
    try:
        quantity = int(raw.quantity)
    except (TypeError, ValueError):
        quantity = 0
    if quantity < 1:
        raise ValidationError({"lines": _("商品“%(name)s”的数量必须是正整数。") % {"name": product.name}})
    try:
        price = product.price if raw.unit_price is None else Decimal(str(raw.unit_price))
    except InvalidOperation:
        price = Decimal(-1)
    if price < 0 or not price.is_finite():
        raise ValidationError({"lines": _("商品“%(name)s”的单价无效。") % {"name": product.name}})
    return product, quantity, price.quantize(Decimal("0.01"))


@transaction.atomic
def record_order(org, customer, lines, ordered_at: datetime, source: str = "manual", *, order_no: str = "",
                 staff=None, actor=None, person=None, total: Decimal | None = None,
                 details: dict | None = None) -> Order:
    """Record one order of ``customer`` with ``lines`` (:class:`Line` or dicts of its fields).

    ``customer`` may be None for a ``person`` known only from a marketplace or the API. ``total`` is what the buyer
    paid when it differs from the lines' sum (discounts, postage); ``details`` sets the other :class:`Order` fields
    an export carries (status, paid_at, refund_total, buyer_phone, buyer_name, import_batch).

    Idempotent on ``(source, order_no)``: the same order recorded again returns the stored one and signals nothing.
    Writes the timeline, the ``order.recorded`` event and, when a person recorded it, the audit log.
    """
    if customer is None and person is None:
        raise ValidationError({"customer": _("请指定客户。")})
    if customer is not None and customer.org_id != org.pk:
        raise ValidationError({"customer": _("客户不属于该组织。")})
    if person is not None and person.org_id != org.pk:
        raise ValidationError({"person": _("用户不属于该组织。")})
    if staff is not None and staff.org_id != org.pk:
        raise ValidationError({"staff": _("员工不属于该组织。")})
    source, order_no = (source or "manual").strip()[:30], (order_no or "").strip()[:64]
    if not source:
        raise ValidationError({"source": _("请填写订单来源。")})
    if ordered_at is None or ordered_at.tzinfo is None:
        raise ValidationError({"ordered_at": _("下单时间必须带时区。")})
    if order_no:
        existing = Order.objects.for_org(org).filter(source=source, order_no=order_no).first()
        if existing is not None:
            return existing
    lines = list(lines or [])
    if not lines:
        raise ValidationError({"lines": _("订单至少要有一件商品。")})
    if len(lines) > MAX_LINES:
        raise ValidationError({"lines": _("一张订单最多 %(n)d 行。") % {"n": MAX_LINES}})
    parsed = [_line(org, raw) for raw in lines]
    if total is None:
        total = sum((price * quantity for _p, quantity, price in parsed), Decimal("0"))
    order = Order.objects.create(
        org=org, customer=customer, person=person, staff=staff, order_no=order_no, source=source,
        ordered_at=ordered_at, total=total, **(details or {}),
    )
    OrderLine.objects.bulk_create([
        OrderLine(org=org, order=order, product=product, quantity=quantity, unit_price=price, amount=price * quantity)
        for product, quantity, price in parsed
    ])
    if customer is not None:
        timeline.ordered(order)
    if actor is not None:
        audit.record("order.recorded", org=org, actor=actor, obj=order,
                     details={"customer": customer.pk if customer else None, "person": person.pk if person else None,
                              "total": str(order.total), "source": source})
    events.emit(org, events.Kind.ORDER_RECORDED, order)
    return order


def purchase_summary(org, customer) -> dict:
    """How many orders a customer has and what they spent in total (purchase rules, loss alerts, the profile)."""
    row = Order.objects.for_org(org).filter(customer=customer).aggregate(orders=Count("pk"), spent=Sum("total"))
    return {"orders": row["orders"] or 0, "spent": Decimal(row["spent"] or 0).quantize(Decimal("0.01"))}


@transaction.atomic
def save_product(org, *, sku: str, name: str, category: str = "", price=Decimal("0"), cycle_days: int | None = None,
                 by=None) -> Product:
    """Create or update a product by SKU."""
    sku, name = (sku or "").strip(), (name or "").strip()
    errors = {}
    if not sku:
        errors["sku"] = _("请填写商品编码。")
    if not name:
        errors["name"] = _("请填写商品名称。")
    if cycle_days is not None and not (1 <= int(cycle_days) <= 3650):
        errors["cycle_days"] = _("消耗周期须在 1 到 3650 天之间。")
    if errors:
        raise ValidationError(errors)
    product, created = Product.objects.for_org(org).update_or_create(
        org=org, sku=sku[:64],
        defaults={"name": name[:100], "category": (category or "").strip()[:50], "price": Decimal(str(price)),
                  "cycle_days": cycle_days},
    )
    if by is not None:
        audit.record("product.created" if created else "product.updated", org=org, actor=by, obj=product)
    return product
