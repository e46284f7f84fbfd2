"""The other triggers: a customer moved into a stage, and a person who enters a saved segment."""

from __future__ import annotations

from siyu.customers.models import RelationTag
from siyu.journeys import services
from siyu.lifecycle import stages
from siyu.lifecycle.models import StageChange
from siyu.segments import services as segments
from tests.factories import drain
from tests.journeys.helpers import entries, tag


def test_entering_the_named_stage_lets_the_customer_in_and_other_stages_do_not(world, corp, commit):
    alice = corp.staff("alice", world.e1, world.guide_e1)
    (welcome,) = corp.tags("成交礼")
    pipeline = stages.ensure_default_stages(world.org)
    won = next(s for s in pipeline if s.name == "已成交")
    keen = next(s for s in pipeline if s.name == "意向客户")
    journey, _ = services.create_journey(world.org, name="成交后", trigger="stage_changed", trigger_ref=won.pk,
                                         steps=[{"kind": "add_tag", "tag": welcome.pk}], by=world.admin)
    with commit():
        buyer, browser = corp.customer(alice), corp.customer(alice)
    with commit():
        stages.move_customer(buyer, won, source=StageChange.Source.MANUAL)
        stages.move_customer(browser, keen, source=StageChange.Source.MANUAL)
    assert entries(journey, buyer).count() == 1 and not entries(journey, browser).exists()
    assert RelationTag.objects.for_org(world.org).filter(relation__customer=buyer, tag=welcome).exists()


def test_persons_entering_a_segment_after_the_journey_began_enter_it_once(world, corp, commit):
    alice = corp.staff("alice", world.e1, world.guide_e1)
    vip, welcome = corp.tags("VIP", "欢迎礼")
    with commit():
        before = corp.customer(alice)
    with commit():
        tag(before, vip)
    segment = segments.create_segment(world.org, name="VIP", rule={"type": "tags", "match": "any", "tags": [vip.pk]},
                                      by=None)
    drain()
    journey, _ = services.create_journey(world.org, name="进入VIP", trigger="segment_entered", trigger_ref=segment.pk,
                                         steps=[{"kind": "add_tag", "tag": welcome.pk}], by=world.admin)
    with commit():
        newcomer = corp.customer(alice)
    with commit():
        tag(newcomer, vip)
    with commit():
        segments.refresh_segment(segment)
    with commit():
        segments.refresh_segment(segment)  # nothing changed: nobody enters again
    assert entries(journey, newcomer).count() == 1
    assert not entries(journey, before).exists()  # a member from before the journey began is not swept in
    assert RelationTag.objects.for_org(world.org).filter(relation__customer=newcomer, tag=welcome).exists()
