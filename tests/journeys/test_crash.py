"""A worker that dies in the middle of a step: the step runs again on another worker, and its action happens once."""

from __future__ import annotations

from siyu.core import durable
from siyu.journeys import engine, services, steps
from siyu.journeys.models import JourneyEntry, JourneyStep
from siyu.lifecycle.models import Reminder
from tests.factories import deliver_events, drain
from tests.journeys.helpers import tag

LEASE = 60
TITLE = "新的高意向客户"


def _journey_with_a_pending_reminder_step(world, corp):
    alice = corp.staff("alice", world.e1, world.guide_e1)
    (high,) = corp.tags("高意向")
    journey, _ = services.create_journey(world.org, name="提醒", trigger="tag_added", trigger_ref=high.pk,
                                         steps=[{"kind": "remind", "title": TITLE}], by=world.admin)
    customer = corp.customer(alice)
    drain()
    tag(customer, high)
    deliver_events()  # the customer enters; the step's row is due and nobody has run it yet
    (row,) = durable.claim(JourneyStep, owner="dying-worker", limit=10, lease_seconds=LEASE)
    return journey, row


def _reminded(world, corp) -> int:
    return len([m for m in corp.sim.messages("alice") if m["content"]["title"] == TITLE])


def test_a_worker_dying_after_the_step_ran_but_before_it_was_marked_done_does_not_remind_twice(world, corp, clock):
    journey, row = _journey_with_a_pending_reminder_step(world, corp)
    row.perform()  # the step ran; the worker died before marking its row done
    clock.advance(seconds=LEASE + 1)
    drain()  # another worker takes the row over once the lease has expired
    row.refresh_from_db()
    assert row.status == "done" and row.outcome == "done" and row.attempts == 2 and row.lease_owner != "dying-worker"
    assert Reminder.objects.for_org(world.org).count() == 1 and _reminded(world, corp) == 1
    assert JourneyEntry.objects.for_org(world.org).get(journey=journey).end == "finished"


def test_a_worker_dying_between_the_action_and_recording_its_outcome_does_not_remind_twice(world, corp, clock):
    journey, row = _journey_with_a_pending_reminder_step(world, corp)
    entry = JourneyEntry.objects.for_org(world.org).select_related("journey", "version", "customer").get(pk=row.entry_id)
    engine._effect(row, entry, steps.at(entry.version.steps, row.path))  # the action, then the crash
    clock.advance(seconds=LEASE + 1)
    drain()
    row.refresh_from_db()
    assert row.status == "done" and row.outcome == "done"
    assert Reminder.objects.for_org(world.org).count() == 1 and _reminded(world, corp) == 1
