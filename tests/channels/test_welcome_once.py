"""A welcome code is used once: queuing it again finds the same send, and a send whose completion was lost (the
outcome written, the row not yet marked done) is not sent again when the dispatcher retries it."""

from __future__ import annotations

from django.utils import timezone

from siyu.channels import welcome
from siyu.channels.models import WelcomeMessage, WelcomeSend
from siyu.customers.models import Customer, Relation


def relation_with_default_welcome(corp):
    staff = corp.staff("alice", "张晓")
    WelcomeMessage.objects.create(org=corp.org, text="你好，我是张晓")
    customer = Customer.objects.create(org=corp.org, external_userid="wm-welcome-once", name="王姐")
    return Relation.objects.create(org=corp.org, customer=customer, staff=staff)


def test_queuing_the_same_welcome_code_twice_finds_the_same_send(world, corp):
    relation = relation_with_default_welcome(corp)
    first = welcome.queue_welcome(relation, code=None, welcome_code="WELCOMECODE1", event_at=timezone.now())
    again = welcome.queue_welcome(relation, code=None, welcome_code="WELCOMECODE1", event_at=timezone.now())
    assert first is not None and again is not None and again.pk == first.pk
    assert WelcomeSend.objects.for_org(world.org).count() == 1


def test_a_send_whose_completion_was_lost_is_not_sent_again(world, corp):
    relation = relation_with_default_welcome(corp)
    row = welcome.queue_welcome(relation, code=None, welcome_code="WELCOMECODE2", event_at=timezone.now())
    # The first attempt sent it and wrote the outcome, then the worker died before marking the row done.
    WelcomeSend.objects.for_org(world.org).filter(pk=row.pk).update(outcome=WelcomeSend.Outcome.SENT)
    row.refresh_from_db()
    welcome.perform_send(row)
    assert corp.calls("externalcontact/send_welcome_msg") == 0
    row.refresh_from_db()
    assert row.outcome == WelcomeSend.Outcome.SENT
