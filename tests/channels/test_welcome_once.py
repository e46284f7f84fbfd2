"""A welcome code is used once: queuing it again finds the same send, and a send whose completion was lost (the
outcome written, the row not yet marked done) is not sent again when the dispatcher retries it."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from siyu.channels import services, welcome
from siyu.channels.models import WelcomeSend
from siyu.core import durable
from siyu.customers.models import Relation


def test_queuing_the_same_welcome_code_twice_finds_the_same_send(world, corp):
    corp.staff("alice", "张晓")
    services.save_welcome_message(world.org, text="你好，我是张晓")
    added = corp.sim.add_customer("alice", name="王姐")  # the callback is received: its send is queued
    fields = {"WelcomeCode": added["welcome_code"], "UserID": "alice", "ExternalUserID": added["external_userid"]}
    # WeCom delivers the same callback again (it thought the first was lost), a moment later.
    welcome.queue_from_callback(world.org.pk, fields, timezone.now())
    welcome.queue_from_callback(world.org.pk, fields, timezone.now() + timedelta(seconds=3))
    row = WelcomeSend.objects.for_org(world.org).get()
    assert row.welcome_code == added["welcome_code"] and row.status == "pending"
    # A different welcome code is a different send.
    welcome.queue_from_callback(world.org.pk, {**fields, "WelcomeCode": "ANOTHER-WELCOME-CODE"}, timezone.now())
    assert WelcomeSend.objects.for_org(world.org).count() == 2
    WelcomeSend.objects.for_org(world.org).exclude(pk=row.pk).delete()

    corp.run()  # the add is processed: the one send goes out once and is linked to the relation
    relation = Relation.objects.for_org(world.org).get(customer__external_userid=added["external_userid"])
    welcome.link_relation(relation, welcome_code=added["welcome_code"])  # linking again changes nothing
    row.refresh_from_db()
    assert (row.status, row.outcome, row.relation_id) == ("done", "sent", relation.pk)
    assert WelcomeSend.objects.for_org(world.org).count() == 1
    assert corp.calls("externalcontact/send_welcome_msg") == 1 and len(corp.sim.welcomes()) == 1


def test_a_send_whose_completion_was_lost_is_not_sent_again(world, corp):
    corp.staff("alice", "张晓")
    services.save_welcome_message(world.org, text="你好，我是张晓")
    corp.sim.add_customer("alice", name="王姐")
    # The first worker claims the send, sends it (the outcome is written) and dies before marking the row done.
    (claimed,) = durable.claim(WelcomeSend, owner="worker-that-dies", limit=10, lease_seconds=30)
    claimed.perform()
    row = WelcomeSend.objects.for_org(world.org).get()
    assert (row.status, row.outcome) == ("running", "sent")
    assert corp.calls("externalcontact/send_welcome_msg") == 1
    # Its lease expires; the dispatcher claims the row again and retries it.
    WelcomeSend.objects.for_org(world.org).update(lease_until=timezone.now() - timedelta(seconds=1))
    corp.run()
    assert corp.calls("externalcontact/send_welcome_msg") == 1 and len(corp.sim.welcomes()) == 1
    row.refresh_from_db()
    assert (row.status, row.outcome, row.errcode) == ("done", "sent", 0)
    assert row.attempts == 2  # it really was claimed and performed a second time
