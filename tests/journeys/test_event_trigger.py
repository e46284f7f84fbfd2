"""A journey triggered by a CDP event: customers whose person does the named event after the journey began enter
it once per event, other events and events from before do not, and a sweep read again enters nobody twice."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from siyu.cdp import identity
from siyu.cdp.models import Event, Person, Source
from siyu.journeys import services, triggers
from siyu.journeys.models import Journey
from tests.journeys.helpers import entries

OPENED = "Material Opened"


def event(org, source, person, name: str, n: int) -> Event:
    now = timezone.now()
    return Event.objects.create(org=org, source=source, person=person, type="track", name=name,
                                message_id=f"m-{n}", timestamp=now, received_at=now)


def test_the_named_event_lets_the_customer_in_once_and_only_after_the_journey_began(world, corp, commit):
    alice = corp.staff("alice", world.e1, world.guide_e1)
    with commit():
        reader = corp.customer(alice, "读文章的陈女士")
        other = corp.customer(alice, "只浏览的李先生")
    source = Source.objects.create(org=world.org, name="官网", kind=Source.Kind.WEB)
    reader_person, other_person = identity.person_for_customer(reader), identity.person_for_customer(other)
    stranger = Person.objects.create(org=world.org)  # known only from the web: no WeCom customer to let in
    event(world.org, source, reader_person, OPENED, 0)  # before the journey: does not count

    journey, _secret = services.create_journey(world.org, name="读了就跟进", trigger="event", trigger_event=OPENED,
                                               steps=[{"kind": "wait", "days": 1}], by=world.admin)
    assert entries(journey).count() == 0 and triggers.sweep_events(world.org.pk) == 0

    event(world.org, source, reader_person, OPENED, 1)
    event(world.org, source, other_person, "Page Viewed", 2)
    event(world.org, source, stranger, OPENED, 3)
    assert triggers.sweep_events(world.org.pk) == 1
    assert [e.customer for e in entries(journey)] == [reader]

    Journey.objects.for_org(world.org).filter(pk=journey.pk).update(event_cursor=0)  # read everything again
    assert triggers.sweep_events(world.org.pk) == 0 and entries(journey).count() == 1


def test_an_event_trigger_needs_its_event_name(world, corp):
    with pytest.raises(ValidationError) as refused:
        services.create_journey(world.org, name="无事件", trigger="event", trigger_event="  ",
                                steps=[{"kind": "wait", "days": 1}], by=world.admin)
    assert "trigger_event" in refused.value.message_dict
    assert not Journey.objects.for_org(world.org).exists()
