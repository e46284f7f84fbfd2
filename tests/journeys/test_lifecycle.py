"""Pausing (positions wait), stopping (positions end), editing (running positions finish on their version) and
the re-entry rules, with the clock fixture moving time."""

from __future__ import annotations

import pytest

from siyu.core.events import DomainEvent
from siyu.customers import tagging
from siyu.customers.tagging import TAGGED
from siyu.customers.models import RelationTag
from siyu.journeys import services, triggers
from siyu.journeys.models import Journey, JourneyStep
from tests.factories import drain
from tests.journeys.helpers import entries, outcomes, tag


def has_tag(org, customer, tag) -> bool:
    return RelationTag.objects.for_org(org).filter(relation__customer=customer, tag=tag).exists()


def tag_after_a_day(tag):
    return [{"kind": "wait", "days": 1}, {"kind": "add_tag", "tag": tag.pk}]


@pytest.fixture
def setup(world, corp):
    alice = corp.staff("alice", world.e1, world.guide_e1)
    high, done, other = corp.tags("高意向", "已跟进", "新版本")
    return alice, high, done, other


def test_a_paused_journey_holds_its_customers_and_lets_nobody_in_until_it_resumes(world, corp, commit, clock, setup):
    alice, high, done, _other = setup
    journey, _ = services.create_journey(world.org, name="暂停", trigger="tag_added", trigger_ref=high.pk,
                                         steps=tag_after_a_day(done), by=world.admin)
    with commit():
        inside, later = corp.customer(alice), corp.customer(alice)
    with commit():
        tag(inside, high)
    services.pause_journey(journey, by=world.admin)
    with commit():
        tag(later, high)
    assert not entries(journey, later).exists()  # nobody enters a paused journey

    clock.advance(days=3)
    drain()
    assert outcomes(journey, inside) == [("0", "")] and not has_tag(world.org, inside, done)

    services.resume_journey(journey, by=world.admin)
    drain()  # the wait ended while paused: the customer goes on at once
    assert outcomes(journey, inside) == [("0", "passed"), ("1", "done")] and has_tag(world.org, inside, done)


def test_a_stopped_journey_ends_every_position_and_admits_nobody(world, corp, commit, clock, setup):
    alice, high, done, _other = setup
    journey, _ = services.create_journey(world.org, name="停止", trigger="tag_added", trigger_ref=high.pk,
                                         steps=tag_after_a_day(done), by=world.admin, reentry="always")
    with commit():
        customer = corp.customer(alice)
    with commit():
        tag(customer, high)
    services.stop_journey(journey, by=world.admin)
    (step,) = JourneyStep.objects.for_org(world.org).filter(journey=journey)
    assert step.status == "cancelled" and step.outcome == "stopped"
    (entry,) = entries(journey, customer)
    assert entry.ended_at is not None and entry.end == "stopped"

    clock.advance(days=2)
    drain()
    assert not has_tag(world.org, customer, done)
    tagging.untag_customer(customer, [high], source="manual")
    with commit():
        tag(customer, high)
    assert entries(journey, customer).count() == 1
    with pytest.raises(Exception, match="状态"):
        services.resume_journey(journey, by=world.admin)


def test_an_edit_is_a_new_version_for_new_entrants_while_running_positions_finish_on_theirs(
        world, corp, commit, clock, setup):
    alice, high, done, other = setup
    journey, _ = services.create_journey(world.org, name="改版", trigger="tag_added", trigger_ref=high.pk,
                                         steps=tag_after_a_day(done), by=world.admin)
    with commit():
        early, late = corp.customer(alice), corp.customer(alice)
    with commit():
        tag(early, high)
    journey = services.update_journey(journey, name="改版", trigger="tag_added", trigger_ref=high.pk, reentry="never",
                                      steps=tag_after_a_day(other), by=world.admin)
    assert journey.version.number == 2
    with commit():
        tag(late, high)
    clock.advance(days=1, minutes=1)
    drain()
    assert has_tag(world.org, early, done) and not has_tag(world.org, early, other)
    assert has_tag(world.org, late, other) and not has_tag(world.org, late, done)
    assert [e.version.number for e in entries(journey).order_by("pk")] == [1, 2]
    # Saving the same steps again makes no new version.
    journey = services.update_journey(journey, name="改了名字", trigger="tag_added", trigger_ref=high.pk, reentry="never",
                                      steps=tag_after_a_day(other), by=world.admin)
    assert journey.version.number == 2 and journey.name == "改了名字"


@pytest.mark.parametrize(("reentry", "days", "expected"), [
    ("never", 0, [1, 1, 1]),         # once, ever
    ("after_days", 3, [1, 1, 2]),    # again only 3 days after the last entry
    ("always", 0, [1, 2, 3]),        # again whenever the last run has ended
])
def test_reentry_rules(world, corp, commit, clock, setup, reentry, days, expected):
    alice, high, done, _other = setup
    journey, _ = services.create_journey(world.org, name="再次进入", trigger="tag_added", trigger_ref=high.pk,
                                         steps=[{"kind": "add_tag", "tag": done.pk}], by=world.admin,
                                         reentry=reentry, reentry_days=days)
    with commit():
        customer = corp.customer(alice)
    counts = []
    for advance in (0, 1, 3):
        clock.advance(days=advance)
        tagging.untag_customer(customer, [high], source="manual")
        with commit():
            tag(customer, high)
        counts.append(entries(journey, customer).count())
    assert counts == expected


def test_one_run_at_a_time_even_when_reentry_is_always(world, corp, commit, clock, setup):
    alice, high, done, _other = setup
    journey, _ = services.create_journey(world.org, name="同时一次", trigger="tag_added", trigger_ref=high.pk,
                                         steps=tag_after_a_day(done), by=world.admin, reentry="always")
    with commit():
        customer = corp.customer(alice)
    with commit():
        tag(customer, high)
    tagging.untag_customer(customer, [high], source="manual")
    with commit():
        tag(customer, high)
    assert entries(journey, customer).count() == 1
    assert Journey.objects.for_org(world.org).get(pk=journey.pk).status == "active"


def test_a_trigger_delivered_twice_enters_once(world, corp, commit, setup):
    alice, high, done, _other = setup
    journey, _ = services.create_journey(world.org, name="重复投递", trigger="tag_added", trigger_ref=high.pk,
                                         steps=[{"kind": "add_tag", "tag": done.pk}], by=world.admin, reentry="always")
    with commit():
        customer = corp.customer(alice)
    with commit():
        tag(customer, high)
    # The first tagging is 高意向's (the journey's own 已跟进 comes after it).
    event = DomainEvent.objects.for_org(world.org).filter(kind=TAGGED, payload__customer_id=customer.pk).earliest("pk")
    assert event.payload["tag_ids"] == [high.pk]
    assert entries(journey, customer).get().ended_at is not None  # its run is over: "always" would let it in again
    triggers.on_tagged(event)  # the same event handled again (a redelivery after a lost lease)
    assert entries(journey, customer).count() == 1
