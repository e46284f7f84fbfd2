"""New-customer red packets: the budget holds under concurrent adds, one packet per person, a bill paid once."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from django.db.models import Sum

from siyu.channels import redpackets, services
from siyu.channels.models import RedPacketPayout, RedPacketRule, SimulatedPayment
from siyu.core import durable
from siyu.core.dispatch import dispatch_once
from siyu.core.durable import DurableRow, PermanentFailure
from siyu.customers.models import Customer, Relation, TimelineEvent
from siyu.wecom.models import CallbackEvent

YUAN = 100


def packet(budget_fen: int, **changes) -> dict:
    return {"enabled": True, "mode": "fixed", "amount_fen": YUAN, "budget_fen": budget_fen, "wishing": "新年快乐", **changes}


def drain(org, pool=None, passes: int = 200) -> None:
    for _ in range(passes):
        if not dispatch_once(pool=pool):
            return


# -- the acceptance path: ¥100 at ¥1, 150 new customers at once -----------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_100_yuan_budget_at_1_yuan_pays_exactly_100_of_150_concurrent_new_customers(live_corp):
    corp, org = live_corp, live_corp.org
    staff = [corp.staff(f"guide{i}") for i in range(3)]
    code = services.create_channel_code(org, by=corp.admin, name="联名活动", staff=staff, red_packet=packet(100 * YUAN))
    for i in range(150):  # 150 customers scan; their callbacks are stored, not yet processed
        corp.sim.scan(config_id=code.config_id, name=f"新客{i}")
    assert CallbackEvent.objects.for_org(org).filter(change_type="add_external_contact").count() == 150
    with ThreadPoolExecutor(max_workers=8) as pool:  # eight workers process them at the same time
        drain(org, pool=pool)
    connections.close_all()

    assert Relation.objects.for_org(org).filter(state=code.state).count() == 150
    payouts = RedPacketPayout.objects.for_org(org)
    assert payouts.count() == 100 and payouts.filter(outcome="paid").count() == 100
    assert payouts.values("recipient_key").distinct().count() == 100
    ledger = SimulatedPayment.objects.for_org(org)
    assert ledger.count() == 100 and ledger.values("bill_no").distinct().count() == 100
    assert ledger.values("recipient").distinct().count() == 100
    assert ledger.aggregate(total=Sum("amount_fen"))["total"] == 100 * YUAN
    rule = RedPacketRule.objects.for_org(org).get(code=code)
    assert rule.spent_fen == rule.budget_fen == 100 * YUAN


@pytest.mark.django_db(transaction=True)
def test_concurrent_grants_never_overdraw_and_one_person_gets_one_packet(live_corp):
    corp, org = live_corp, live_corp.org
    alice = corp.staff("alice")
    code = services.create_channel_code(org, by=corp.admin, name="红包", staff=[alice], red_packet=packet(30 * YUAN))
    relations = []
    for i in range(60):
        customer = Customer.objects.create(org=org, external_userid=f"wm{i:030d}", unionid=f"union{i % 45}")
        relations.append(Relation.objects.create(org=org, customer=customer, staff=alice))
    barrier = threading.Barrier(12)

    def grant(batch):
        try:
            barrier.wait(timeout=10)
            return [bool(redpackets.grant(r, code)) for r in batch]
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = sum(pool.map(grant, [relations[i::12] for i in range(12)]), [])
    assert sum(results) == 30  # 45 distinct people want one, the budget pays 30
    payouts = RedPacketPayout.objects.for_org(org)
    assert payouts.count() == 30 and payouts.values("recipient_key").distinct().count() == 30
    assert RedPacketRule.objects.for_org(org).get(code=code).spent_fen == 30 * YUAN


# -- rules -------------------------------------------------------------------------------------------------
def test_only_new_customers_of_an_active_code_get_a_packet(world, corp):
    alice = corp.staff("alice")
    corp.staff("bob")
    code = services.create_channel_code(world.org, by=world.admin, name="红包", staff=[alice], red_packet=packet(10 * YUAN))
    first = corp.scan(code)
    assert RedPacketPayout.objects.for_org(world.org).filter(outcome="paid").count() == 1
    # A customer who already is someone's friend is not new.
    known = corp.sim.add_customer("bob")["external_userid"]
    corp.run()
    corp.scan(code, external_userid=known)
    assert RedPacketPayout.objects.for_org(world.org).count() == 1
    services.pause_channel_code(code, by=world.admin)
    services.resume_channel_code(code, by=world.admin)
    services.pause_channel_code(code, by=world.admin)
    pending = corp.sim.scan(config_id=code.config_id)
    corp.sim.accept("alice", pending["external_userid"])
    corp.run()
    assert RedPacketPayout.objects.for_org(world.org).count() == 1  # paused: no packets
    assert first["external_userid"] == RedPacketPayout.objects.for_org(world.org).get().recipient


def test_random_amounts_stay_in_range_and_the_last_takes_what_is_left(world, corp, monkeypatch):
    alice = corp.staff("alice")
    code = services.create_channel_code(world.org, by=world.admin, name="随机红包", staff=[alice],
                                        red_packet=packet(500, mode="random", min_fen=100, max_fen=300))
    rule = RedPacketRule.objects.for_org(world.org).get(code=code)
    rng = random.Random(7)
    monkeypatch.setattr(redpackets, "draw", lambda r, rng_=None: rng.randint(r.min_fen, r.max_fen))
    for _ in range(6):
        corp.scan(code)
    amounts = list(RedPacketPayout.objects.for_org(world.org).order_by("id").values_list("amount_fen", flat=True))
    rule.refresh_from_db()
    assert all(100 <= a <= 300 for a in amounts) and sum(amounts) == rule.spent_fen <= 500
    assert 500 - sum(amounts) < 100  # what is left cannot pay the minimum


def test_a_retry_after_a_crash_never_pays_twice(world, corp):
    alice = corp.staff("alice")
    code = services.create_channel_code(world.org, by=world.admin, name="红包", staff=[alice], red_packet=packet(10 * YUAN))
    corp.sim.scan(config_id=code.config_id)
    for event in durable.claim(CallbackEvent, owner="test", limit=10, lease_seconds=60):
        durable.run_row(event, "test")  # only the callback: the payout row exists, not yet paid
    payout = RedPacketPayout.objects.for_org(world.org).get()
    provider = redpackets.SimulatedProvider()
    # The provider paid, then the worker died before recording it.
    assert provider.pay(org_id=world.org.pk, bill_no=payout.bill_no, recipient=payout.recipient, amount_fen=payout.amount_fen).status == "paid"
    corp.run()
    payout.refresh_from_db()
    assert (payout.status, payout.outcome) == (DurableRow.Status.DONE, "paid")
    assert SimulatedPayment.objects.for_org(world.org).count() == 1
    again = provider.pay(org_id=world.org.pk, bill_no=payout.bill_no, recipient=payout.recipient, amount_fen=payout.amount_fen)
    assert again.status == "duplicate"
    assert payout.bill_no == redpackets.bill_no_for(world.org.pk, payout.recipient_key) and len(payout.bill_no) == 32
    event = TimelineEvent.objects.for_org(world.org).get(customer=payout.customer, kind="red_packet_paid")
    assert event.data["amount_fen"] == YUAN


def test_a_refused_payment_fails_and_gives_the_amount_back(world, corp, monkeypatch):
    alice = corp.staff("alice")
    code = services.create_channel_code(world.org, by=world.admin, name="红包", staff=[alice], red_packet=packet(10 * YUAN))

    class Refusing(redpackets.SimulatedProvider):
        def pay(self, **kwargs):
            return redpackets.PaymentResult(redpackets.PaymentResult.FAILED, message="recipient has no real-name account")

    monkeypatch.setattr(redpackets, "get_provider", Refusing)
    corp.scan(code)
    payout = RedPacketPayout.objects.for_org(world.org).get()
    assert (payout.status, payout.outcome, payout.released) == ("failed", "failed", True)
    assert "real-name" in payout.last_error
    assert RedPacketRule.objects.for_org(world.org).get(code=code).spent_fen == 0
    with pytest.raises(PermanentFailure):  # performing it again releases nothing more
        redpackets.perform_payout(payout)
    assert RedPacketRule.objects.for_org(world.org).get(code=code).spent_fen == 0


def test_the_budget_cannot_be_set_below_what_was_spent(world, corp):
    alice = corp.staff("alice")
    code = services.create_channel_code(world.org, by=world.admin, name="红包", staff=[alice], red_packet=packet(10 * YUAN))
    corp.scan(code)
    corp.scan(code)
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        services.update_channel_code(code, by=world.admin, **{**services.code_values(code), "red_packet": packet(YUAN)})
    assert "已发放的 ¥2.00" in caught.value.message_dict["red_packet_budget"][0]
