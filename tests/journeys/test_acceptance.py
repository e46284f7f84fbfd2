"""The acceptance journey on both branches, with simulated time and the WeCom simulator:
"tag 高意向 added → wait 2 days → if no order then remind the guide, else add tag 已转化"."""

from __future__ import annotations

from decimal import Decimal

from siyu.cdp.models import Product
from siyu.cdp.services import Line, record_order
from siyu.core import clock as core_clock
from siyu.customers.models import RelationTag
from siyu.journeys import queries
from siyu.lifecycle.models import Reminder
from tests.factories import drain
from tests.journeys.helpers import entries, high_intent_journey, outcomes, tag


def test_high_intent_customers_are_converted_or_their_guide_is_reminded_after_two_days(world, corp, commit, clock):
    alice = corp.staff("alice", world.e1, world.guide_e1)
    high, converted = corp.tags("高意向", "已转化")
    journey, _secret = high_intent_journey(world.org, world.admin, high=high, converted=converted)
    tea = Product.objects.create(org=world.org, sku="T1", name="乌龙茶", price=Decimal("88"))
    with commit():
        buyer = corp.customer(alice, "买了的陈女士")
        silent = corp.customer(alice, "没买的李先生")
    with commit():
        tag(buyer, high)
        tag(silent, high)
    assert entries(journey).count() == 2

    clock.advance(days=1)
    with commit():
        record_order(world.org, buyer, [Line(tea, 1)], core_clock.now(), "pos")
    drain()
    assert outcomes(journey, buyer) == [("0", "")]  # still waiting out the two days
    assert not Reminder.objects.for_org(world.org).exists()

    clock.advance(days=1, minutes=1)
    drain()
    assert outcomes(journey, buyer) == [("0", "passed"), ("1", "yes"), ("1.yes.0", "done")]
    assert outcomes(journey, silent) == [("0", "passed"), ("1", "no"), ("1.no.0", "done")]
    # The buyer carries 已转化, here and in WeCom; the silent customer does not.
    assert RelationTag.objects.for_org(world.org).filter(relation__customer=buyer, tag=converted).exists()
    assert converted.wecom_id in corp.wecom_tags(alice, buyer)
    assert not RelationTag.objects.for_org(world.org).filter(relation__customer=silent, tag=converted).exists()
    # Alice was reminded about the silent customer only, once, as a WeCom app message.
    reminder = Reminder.objects.for_org(world.org).get()
    assert reminder.customer == silent and reminder.staff == alice and reminder.outcome == "sent"
    assert reminder.get_kind_display() == "旅程提醒"  # on the to-do list as the journey's, not a follow-up
    cards = [m for m in corp.sim.messages("alice") if m["content"]["title"] == "高意向客户两天未下单"]
    assert len(cards) == 1 and "没买的李先生" in cards[0]["content"]["description"]
    assert all(e.ended_at is not None and e.end == "finished" for e in entries(journey))

    report = {f.path: f for f in queries.report(journey, journey.version).steps}
    assert report["0"].counts["passed"] == 2 and report["1"].counts["yes"] == 1 and report["1"].counts["no"] == 1
    assert report["1.yes.0"].counts["done"] == 1 and report["1.no.0"].counts["done"] == 1
