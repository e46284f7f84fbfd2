"""A journey's send step: the policy guard decides per customer (consent, quiet hours), an included customer gets
one WeCom group message from their guide, a held one gets it when the quiet window opens, and a run after a crash
never sends twice. The editor refuses blocked words and a missing purpose on the step's row."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError

from siyu.journeys import services
from siyu.journeys.models import JourneyStep
from siyu.messaging import guard
from siyu.messaging.models import Decision, Send
from siyu.privacy.consent import grant_consent
from siyu.wecom import messaging_endpoints as wecom
from siyu.wecom.client import WeComClient
from tests.factories import deliver_events, drain
from tests.journeys.helpers import outcomes, tag

LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)
TEXT = "秋冬新品到店了，欢迎来门店试饮"


def send_journey(org, by, tag):
    return services.create_journey(org, name="高意向关怀", trigger="tag_added", trigger_ref=tag.pk, by=by,
                                   steps=[{"kind": "send", "text": TEXT, "purpose": "marketing"}])[0]


def test_the_guard_decides_and_an_included_customer_gets_one_message_from_their_guide(world, corp, commit, clock):
    clock.attach(corp.sim)
    clock.set(datetime(2027, 3, 1, 6, 0, tzinfo=UTC))  # 14:00 in Beijing
    alice = corp.staff("alice", world.e1, world.guide_e1)
    (high,) = corp.tags("高意向")
    journey = send_journey(world.org, world.admin, high)
    with commit():
        agreed = corp.customer(alice, "同意的陈女士")
        silent = corp.customer(alice, "没同意的李先生")
    grant_consent(agreed, "marketing", by=None, source="import", at=LONG_AGO)
    with commit():
        tag(agreed, high)
        tag(silent, high)
    drain()

    assert outcomes(journey, agreed) == [("0", "done")]
    assert outcomes(journey, silent) == [("0", "skipped")]
    (template,) = corp.sim.state.msg_templates.values()
    assert template.sender == "alice" and template.text == {"content": TEXT}
    assert [r.external_userid for r in template.results] == [agreed.external_userid]
    skipped = JourneyStep.objects.for_org(world.org).get(entry__customer=silent)
    assert skipped.detail == "未授权该用途"
    done = JourneyStep.objects.for_org(world.org).get(entry__customer=agreed)
    send = Send.objects.for_org(world.org).get(kind="journeys.journeystep", ref_id=done.pk)
    assert send.channel == "journey" and send.sent_at is not None

    drain()  # nothing more to do: still one message
    assert len(corp.sim.state.msg_templates) == 1


def consenting_customer(world, corp, commit, clock, at: datetime):
    """At ``at``: a send journey on tag 高意向 and a consenting customer of alice; returns both and the tag."""
    clock.attach(corp.sim)
    clock.set(at)
    alice = corp.staff("alice", world.e1, world.guide_e1)
    (high,) = corp.tags("高意向")
    journey = send_journey(world.org, world.admin, high)
    with commit():
        customer = corp.customer(alice, "陈女士")
    grant_consent(customer, "marketing", by=None, source="import", at=LONG_AGO)
    return journey, customer, high


def test_a_send_held_for_quiet_hours_goes_out_when_the_window_opens(world, corp, commit, clock):
    at_night = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)  # 22:00 in Beijing: quiet hours
    journey, customer, high = consenting_customer(world, corp, commit, clock, at_night)
    with commit():
        tag(customer, high)
    drain()
    assert outcomes(journey, customer) == [("0", "")]  # waiting for the window
    assert Decision.objects.for_org(world.org).get(customer=customer).outcome == "held"
    assert corp.sim.state.msg_templates == {}

    clock.set(datetime(2027, 3, 2, 1, 30, tzinfo=UTC))  # 09:30 in Beijing
    drain()
    assert outcomes(journey, customer) == [("0", "done")]
    assert len(corp.sim.state.msg_templates) == 1


@pytest.mark.parametrize("wecom_made_it", [True, False])
def test_a_run_after_a_crash_during_the_call_sends_exactly_once(world, corp, commit, clock, wecom_made_it):
    """A worker marked the call and died before recording what WeCom answered: the retry adopts the message WeCom
    made, or sends it when WeCom never got the call. Either way the customer gets one message."""
    at = datetime(2027, 3, 1, 6, 0, tzinfo=UTC)
    journey, customer, high = consenting_customer(world, corp, commit, clock, at)
    tag(customer, high)  # outside commit(): nothing runs before the crash is staged
    deliver_events()  # the customer enters: their send step is due
    row = JourneyStep.objects.for_org(world.org).get(entry__customer=customer)
    # What the dead attempt had done before the call: the guard's decision (its Send row), then the mark.
    guard.plan(world.org, send=row, customer_ids=[customer.pk], purpose="marketing", channel="journey", content=TEXT)
    if wecom_made_it:
        with WeComClient.for_org(world.org) as client:
            made = wecom.add_msg_template(client, content={"text": {"content": TEXT}}, sender="alice",
                                          external_userids=[customer.external_userid]).msgid
        # An earlier message to the same customer with other words is not mistaken for it.
        with WeComClient.for_org(world.org) as client:
            wecom.add_msg_template(client, content={"text": {"content": "另一条消息"}}, sender="alice",
                                   external_userids=[customer.external_userid])
    assert JourneyStep.objects.for_org(world.org).filter(entry__customer=customer).update(send_called_at=at) == 1
    drain()
    assert outcomes(journey, customer) == [("0", "done")]
    sent = [t for t in corp.sim.state.msg_templates.values() if t.text == {"content": TEXT}]
    assert len(sent) == 1 and [r.external_userid for r in sent[0].results] == [customer.external_userid]
    step = JourneyStep.objects.for_org(world.org).get(entry__customer=customer)
    assert (made in step.detail) if wecom_made_it else (sent[0].msgid in step.detail)
    assert Send.objects.for_org(world.org).get(kind="journeys.journeystep", ref_id=step.pk).sent_at is not None


def test_the_editor_refuses_blocked_words_and_a_missing_purpose_on_the_row(world, corp):
    (high,) = corp.tags("高意向")
    with pytest.raises(ValidationError) as refused:
        services.create_journey(world.org, name="x", trigger="tag_added", trigger_ref=high.pk, by=world.admin,
                                steps=[{"kind": "wait", "days": 1},
                                       {"kind": "send", "text": "全网最低价，国家级好茶", "purpose": "spam"}])
    errors = refused.value.message_dict
    assert "全网最低价" in " ".join(errors["steps.1.text"]) and "steps.1.purpose" in errors
