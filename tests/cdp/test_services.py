"""Recording orders: validation that writes nothing, idempotency per source and order number, the timeline,
the audit log and the order.recorded event."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from siyu.cdp.models import Order, OrderLine, Product
from siyu.cdp.services import Line, purchase_summary, record_order, save_product
from siyu.core.events import DomainEvent, Kind
from siyu.customers.models import Customer, TimelineEvent
from siyu.orgs.models import AuditEntry


@pytest.fixture
def shop(world):
    customer = Customer.objects.create(org=world.org, external_userid="wmCUST1", name="林女士")
    candle = save_product(world.org, sku="C-1", name="香薰蜡烛", category="香薰", price=Decimal("88.5"), cycle_days=60,
                          by=world.admin.user)
    tea = save_product(world.org, sku="T-1", name="白茶", category="茶叶", price=Decimal("30"))
    return customer, candle, tea


def test_an_order_is_recorded_with_lines_total_timeline_audit_and_event(world, shop):
    customer, candle, tea = shop
    order = record_order(world.org, customer, [Line(candle, 2), {"product": "T-1", "quantity": 1, "unit_price": "25"}],
                         timezone.now(), "youzan", order_no="YZ-1", actor=world.admin.user)
    assert order.total == Decimal("202.00")
    assert [(l.product.sku, l.quantity, l.amount) for l in OrderLine.objects.for_org(world.org).filter(order=order)] == [
        ("C-1", 2, Decimal("177.00")), ("T-1", 1, Decimal("25.00"))]
    event = TimelineEvent.objects.for_org(world.org).get(kind="ordered")
    assert event.data["total"] == "202.00" and event.data["products"] == ["香薰蜡烛", "白茶"]
    assert AuditEntry.objects.for_org(world.org).filter(action="order.recorded").count() == 1
    assert list(DomainEvent.objects.for_org(world.org).values_list("kind", "subject_type", "subject_id")) == [
        (Kind.ORDER_RECORDED, "cdp.order", order.pk)]
    assert purchase_summary(world.org, customer) == {"orders": 1, "spent": Decimal("202.00")}

    # The same order again (a retried import) is the same order: nothing new, no second event.
    again = record_order(world.org, customer, [Line(candle, 5)], timezone.now(), "youzan", order_no="YZ-1")
    assert again == order and Order.objects.for_org(world.org).count() == 1
    assert DomainEvent.objects.for_org(world.org).count() == 1


@pytest.mark.parametrize("lines, field", [
    ([], "lines"),
    ([Line("NOPE", 1)], "lines"),
    ([Line("C-1", 0)], "lines"),
    ([Line("C-1", "x")], "lines"),
    ([Line("C-1", 1, "-3")], "lines"),
    ([Line("C-1", 1, "abc")], "lines"),
])
def test_bad_orders_are_refused_and_write_nothing(world, shop, lines, field):
    customer, candle, tea = shop
    with pytest.raises(ValidationError) as error:
        record_order(world.org, customer, lines, timezone.now(), "pos")
    assert field in error.value.message_dict
    assert not Order.objects.for_org(world.org).exists() and not OrderLine.objects.for_org(world.org).exists()


def test_orders_refuse_other_brands_rows_and_naive_times(world, shop):
    customer, candle, tea = shop
    foreign = Product.objects.create(org=world.other_org, sku="C-1", name="别家", price=Decimal("1"))
    stranger = Customer.objects.create(org=world.other_org, external_userid="wmX")
    for kwargs, field in (
        ({"customer": stranger, "lines": [Line(candle)]}, "customer"),
        ({"customer": customer, "lines": [Line(foreign)]}, "lines"),
    ):
        with pytest.raises(ValidationError) as error:
            record_order(world.org, kwargs["customer"], kwargs["lines"], timezone.now(), "pos")
        assert field in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        record_order(world.org, customer, [Line(candle)], datetime(2026, 1, 1), "pos")
    assert "ordered_at" in error.value.message_dict


def test_products_are_saved_by_sku_and_validated(world):
    product = save_product(world.org, sku="A", name="一", cycle_days=30)
    assert save_product(world.org, sku="A", name="二", cycle_days=45).pk == product.pk
    product.refresh_from_db()
    assert (product.name, product.cycle_days) == ("二", 45)
    with pytest.raises(ValidationError) as error:
        save_product(world.org, sku="", name="", cycle_days=0)
    assert set(error.value.message_dict) == {"sku", "name", "cycle_days"}
