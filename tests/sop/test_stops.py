"""Triggers other than a new friend, and an SOP stopping for a customer who leaves its condition: the tag comes
off, the stage is left, the friendship ends, the SOP is switched off."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from siyu.core.dispatch import dispatch_once
from siyu.customers.models import Relation
from siyu.customers.tagging import tag_relation, untag_relation
from siyu.lifecycle import stages
from siyu.messaging.models import RecipientFacts
from siyu.sop import enrollment, queries, services
from siyu.sop.models import SopRun, SopTask
from siyu.sop.services import StepInput
from tests.sop.helpers import make_sop

STEPS = [StepInput(0, time(10, 0), text="欢迎了解我们的新品"), StepInput(2, time(10, 0), text="新品试用装还剩最后几份")]


def sop_cards(corp, userid="alice"):
    return [m for m in corp.sim.messages(userid) if m["content"]["title"].startswith("SOP")]


def relation_of(org, customer):
    return Relation.objects.for_org(org).get(customer=customer)


def test_a_removed_tag_stops_the_sop_before_its_steps_reach_the_guide(world, corp, commit, clock):
    clock.attach(corp.sim)
    alice = corp.staff("alice", world.e1, world.guide_e1)
    (keen,) = corp.tags("高意向")
    make_sop(world.org, world.admin, trigger="tag_added", trigger_tag=keen, steps=STEPS)
    with commit():
        stays, leaves = corp.customer(alice, "留下的"), corp.customer(alice, "离开的")
    assert enrollment.sweep(world.org) == (0, 0)  # no tag, no run
    with corp.client() as client:
        for customer in (stays, leaves):
            tag_relation(relation_of(world.org, customer), [keen], source="manual", client=client)
    assert enrollment.sweep(world.org) == (2, 0)
    assert enrollment.sweep(world.org) == (0, 0)  # once per tagging
    with corp.client() as client:
        untag_relation(relation_of(world.org, leaves), [keen], source="manual", client=client)
    assert enrollment.sweep(world.org) == (0, 1)
    run = SopRun.objects.for_org(world.org).get(customer=leaves)
    assert run.status == "stopped" and run.stop_reason == "tag_removed"
    assert set(SopTask.objects.for_org(world.org).filter(run=run).values_list("status", flat=True)) == {"cancelled"}
    clock.advance(days=3)
    dispatch_once()
    described = " ".join(card["content"]["description"] for card in sop_cards(corp))
    assert "留下的" in described and "离开的" not in described
    assert {t.customer for t in queries.open_tasks(world.guide_e1)} == {stays}


def test_a_tag_and_a_stage_start_their_sops_as_they_happen_not_at_the_next_sweep(world, corp, commit, clock):
    clock.attach(corp.sim)
    alice = corp.staff("alice", world.e1, world.guide_e1)
    (keen,) = corp.tags("高意向")
    stage = stages.create_stage(world.org, name="到店体验")
    make_sop(world.org, world.admin, name="标签跟进", trigger="tag_added", trigger_tag=keen, steps=STEPS)
    make_sop(world.org, world.admin, name="阶段跟进", trigger="stage_entered", trigger_stage=stage, steps=STEPS)
    clock.advance(minutes=1)
    with commit():
        tagged, staged = corp.customer(alice, "打标签的"), corp.customer(alice, "转阶段的")
    with commit(), corp.client() as client:
        tag_relation(relation_of(world.org, tagged), [keen], source="manual", client=client)
        stages.move_customer(staged, stage, source="manual")
    runs = SopRun.objects.for_org(world.org).order_by("sop__name")
    assert [(r.sop.name, r.customer.name) for r in runs] == [("标签跟进", "打标签的"), ("阶段跟进", "转阶段的")]
    assert enrollment.sweep(world.org) == (0, 0)  # the sweep finds them started: once per occasion


def test_delivery_stops_a_run_whose_customer_left_since_the_last_sweep(world, corp, commit, clock):
    clock.attach(corp.sim)
    alice = corp.staff("alice", world.e1, world.guide_e1)
    (keen,) = corp.tags("高意向")
    make_sop(world.org, world.admin, trigger="tag_added", trigger_tag=keen, steps=STEPS)
    with commit():
        customer = corp.customer(alice, "陈女士")
    with corp.client() as client:
        tag_relation(relation_of(world.org, customer), [keen], source="manual", client=client)
        enrollment.sweep(world.org)
        untag_relation(relation_of(world.org, customer), [keen], source="manual", client=client)
    clock.advance(days=3)
    dispatch_once()
    assert sop_cards(corp) == []
    assert SopRun.objects.for_org(world.org).get().stop_reason == "tag_removed"


def test_a_lost_customer_and_a_left_stage_stop_their_runs(world, corp, commit, clock):
    clock.attach(corp.sim)
    alice = corp.staff("alice", world.e1, world.guide_e1)
    make_sop(world.org, world.admin, steps=STEPS)
    stage = stages.create_stage(world.org, name="到店体验")
    make_sop(world.org, world.admin, name="意向跟进", trigger="stage_entered", trigger_stage=stage, steps=STEPS)
    clock.advance(minutes=1)
    with commit():
        lost, staged = corp.customer(alice, "流失的"), corp.customer(alice, "转阶段的")
    stages.move_customer(staged, stage, source="manual")
    enrollment.sweep(world.org)
    assert SopRun.objects.for_org(world.org).filter(sop__trigger="stage_entered").get().customer == staged
    with commit():
        corp.customer_deletes(lost, alice)
    lost_run = SopRun.objects.for_org(world.org).get(customer=lost)
    assert lost_run.status == "stopped" and lost_run.stop_reason == "lost"
    stages.move_customer(staged, stages.first_stage(world.org), source="manual")
    enrollment.sweep(world.org)
    staged_run = SopRun.objects.for_org(world.org).get(customer=staged, sop__trigger="stage_entered")
    assert staged_run.stop_reason == "stage_left"
    added_run = SopRun.objects.for_org(world.org).get(customer=staged, sop__trigger="added")
    assert added_run.status == "active"  # the other SOP goes on


def test_switching_an_sop_off_stops_its_runs(world, corp, commit, clock):
    clock.attach(corp.sim)
    alice = corp.staff("alice", world.e1, world.guide_e1)
    sop = make_sop(world.org, world.admin, steps=STEPS)
    clock.advance(minutes=1)
    with commit():
        corp.customer(alice)
    services.set_active(sop, False, by=world.admin)
    assert SopRun.objects.for_org(world.org).get().stop_reason == "sop_off"
    assert not SopTask.objects.for_org(world.org).filter(status="pending").exists()


def test_a_condition_tag_limits_who_enters(world, corp, commit, clock):
    clock.attach(corp.sim)
    alice = corp.staff("alice", world.e1, world.guide_e1)
    (vip,) = corp.tags("VIP")
    make_sop(world.org, world.admin, steps=STEPS, condition_tag_ids=[vip.pk])
    clock.advance(minutes=1)
    with commit():
        corp.customer(alice, "普通")
        tagged = corp.customer(alice, "贵宾")
    assert not SopRun.objects.for_org(world.org).exists()
    with corp.client() as client:
        tag_relation(relation_of(world.org, tagged), [vip], source="manual", client=client)
    enrollment.sweep(world.org)
    assert [r.customer for r in SopRun.objects.for_org(world.org)] == [tagged]


def test_birthday_and_calendar_date_sops_start_on_the_local_day(world, corp, commit, clock):
    clock.attach(corp.sim)
    alice = corp.staff("alice", world.e1, world.guide_e1)
    clock.set(datetime(2027, 5, 19, 12, 0, tzinfo=UTC))  # 20:00 in Beijing, 13:00 in London
    with commit():
        beijing, london = corp.customer(alice, "北京客户"), corp.customer(alice, "伦敦客户")
    RecipientFacts.objects.create(org=world.org, customer=beijing, birth_date=date(1990, 5, 20))
    RecipientFacts.objects.create(org=world.org, customer=london, birth_date=date(1990, 5, 20), timezone="Europe/London")
    greet = [StepInput(0, time(9, 0), text="{客户称呼}，生日快乐！")]
    make_sop(world.org, world.admin, name="生日祝福", trigger="birthday", steps=greet)
    make_sop(world.org, world.admin, name="周年庆", trigger="date", trigger_date=date(2027, 5, 20), steps=STEPS)
    enrollment.sweep(world.org)
    assert not SopRun.objects.for_org(world.org).exists()  # 19 May everywhere
    clock.set(datetime(2027, 5, 19, 17, 0, tzinfo=UTC))  # 01:00 on the 20th in Beijing, still the 19th in London
    enrollment.sweep(world.org)
    birthdays = SopTask.objects.for_org(world.org).filter(sop__trigger="birthday")
    assert [(t.customer, t.due_at) for t in birthdays] == [(beijing, datetime(2027, 5, 20, 1, 0, tzinfo=UTC))]
    assert "北京客户，生日快乐！" == birthdays.get().content
    dated = SopTask.objects.for_org(world.org).filter(sop__trigger="date", step__day_offset=0)
    assert {t.customer for t in dated} == {beijing, london}
    clock.set(datetime(2027, 5, 20, 0, 0, tzinfo=UTC))  # the 20th in London too
    enrollment.sweep(world.org)
    # 09:00 in London on summer time (UTC+1).
    assert birthdays.filter(customer=london).get().due_at == datetime(2027, 5, 20, 8, 0, tzinfo=UTC)
    clock.set(datetime(2028, 5, 20, 2, 0, tzinfo=UTC))
    enrollment.sweep(world.org)
    assert SopRun.objects.for_org(world.org).filter(sop__trigger="birthday").count() == 4  # once a year
