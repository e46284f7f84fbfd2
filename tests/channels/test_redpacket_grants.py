"""Granting new-customer red packets, row by row without WeCom: one packet per person (by unionid), and a budget
that a grant can only take from by the amount it pays (random amounts; the last customer takes what is left)."""

from __future__ import annotations

import random

from siyu.channels import redpackets
from siyu.channels.models import ChannelCode, RedPacketPayout, RedPacketRule
from siyu.customers.models import Customer, Relation
from siyu.orgs.models import Staff


def code_with_packet(org, **rule) -> ChannelCode:
    code = ChannelCode.objects.create(org=org, public_id="rp", name="红包码", state="c_rp", config_id="cfg-rp")
    RedPacketRule.objects.create(org=org, code=code, **rule)
    return code


def new_friend(org, n: int, unionid: str = "") -> Relation:
    staff = Staff.objects.for_org(org).first() or Staff.objects.create(org=org, userid="alice", name="张晓")
    customer = Customer.objects.create(org=org, external_userid=f"wm{n:030d}", unionid=unionid)
    return Relation.objects.create(org=org, customer=customer, staff=staff)


def test_one_packet_per_person_even_with_two_external_ids(world):
    code = code_with_packet(world.org, mode="fixed", amount_fen=100, budget_fen=10_000)
    # The same WeChat user seen as two external contacts (e.g. through two WeCom corps' service accounts).
    first = redpackets.grant(new_friend(world.org, 1, unionid="o6_same_person"), code)
    second = redpackets.grant(new_friend(world.org, 2, unionid="o6_same_person"), code)
    other = redpackets.grant(new_friend(world.org, 3, unionid="o6_someone_else"), code)
    assert first is not None and second is None and other is not None
    assert RedPacketRule.objects.for_org(world.org).get(code=code).spent_fen == 200


def test_a_fixed_packet_that_no_longer_fits_the_budget_is_not_granted(world):
    code = code_with_packet(world.org, mode="fixed", amount_fen=300, budget_fen=500)
    granted = [redpackets.grant(new_friend(world.org, n), code) for n in range(3)]
    assert [bool(g) for g in granted] == [True, False, False]
    assert RedPacketRule.objects.for_org(world.org).get(code=code).spent_fen == 300


def test_random_amounts_draw_in_range_and_the_last_customer_takes_the_rest(world):
    code = code_with_packet(world.org, mode="random", min_fen=150, max_fen=300, budget_fen=1_000)
    random.seed(7)
    for n in range(8):
        redpackets.grant(new_friend(world.org, n), code)
    # The same draws, replayed by hand: each takes its draw while it fits, then what is left if that still
    # reaches the minimum, then nothing.
    random.seed(7)
    expected, left = [], 1_000
    for _ in range(8):
        wanted = random.randint(150, 300)
        amount = wanted if wanted <= left else (left if left >= 150 else 0)
        if amount:
            expected.append(amount)
            left -= amount
    amounts = list(RedPacketPayout.objects.for_org(world.org).order_by("id").values_list("amount_fen", flat=True))
    # With this seed the fifth customer draws more than the 167 left and takes exactly that.
    assert amounts == expected == [232, 188, 251, 162, 167]
    assert RedPacketRule.objects.for_org(world.org).get(code=code).spent_fen == sum(amounts)
