"""Reminders and to-dos: repurchase from a product's cycle, delivery as a WeCom app message through the
simulator, cancellation when the friendship ends, birthdays, no-contact, follow-ups, and the to-do pages."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from siyu.cdp.models import Product
from siyu.cdp.services import Line, record_order
from siyu.core.dispatch import dispatch_once
from siyu.core.events import EventDelivery, Kind
from siyu.customers import notes
from siyu.customers.models import FollowUp, TimelineEvent
from siyu.lifecycle import reminders, stages
from siyu.lifecycle.models import Reminder
from siyu.orgs.models import AuditEntry
from tests.factories import client_for


@pytest.fixture
def aroma(world):
    return Product.objects.create(org=world.org, sku="AR-90", name="白茶香薰", category="香薰", price=Decimal("199"), cycle_days=90)


def due_now(org):
    Reminder.objects.for_org(org).filter(status="pending").update(due_at=timezone.now() - timedelta(seconds=1))


def test_a_90_day_product_makes_one_reminder_80_days_later_cancelled_when_the_customer_deletes_the_guide(
        world, corp, commit, aroma):
    alice = corp.staff("alice", world.e1, world.guide_e1)
    bob = corp.staff("bob", world.e2)
    with commit():
        customer = corp.customer(alice)
        corp.befriend(bob, customer)  # a second friend, added later: alice owns the customer
    bought = timezone.now() - timedelta(hours=1)
    with commit():
        order = record_order(world.org, customer, [Line(aroma, 1)], bought, "pos", order_no="SH01-0001")
    with commit():  # the same order arriving again (a retried import) is the same order
        assert record_order(world.org, customer, [Line(aroma, 1)], bought, "pos", order_no="SH01-0001") == order
    reminder = Reminder.objects.for_org(world.org).get()
    assert reminder.kind == "repurchase" and reminder.staff == alice and reminder.customer == customer
    assert reminder.due_at == bought + timedelta(days=80) and reminder.status == "pending"
    assert reminder.product == aroma and reminder.source_ref == f"order:{order.pk}"
    assert "白茶香薰" in reminder.title

    with commit():
        corp.customer_deletes(customer, alice)
    reminder.refresh_from_db()
    assert reminder.status == "cancelled" and reminder.cancel_reason == "deleted_by_customer"
    due_now(world.org)
    dispatch_once()
    titles = [m["content"]["title"] for m in corp.sim.messages("alice")]
    assert titles and not [t for t in titles if "快用完了" in t]  # only the loss alert went out


def test_a_due_reminder_is_sent_once_as_an_app_message_and_shows_on_the_timeline(world, corp, commit, aroma):
    alice = corp.staff("alice", world.e1, world.guide_e1)
    with commit():
        customer = corp.customer(alice, "陈女士")
        record_order(world.org, customer, [Line(aroma, 1)], timezone.now(), "pos")
    due_now(world.org)
    assert dispatch_once() >= 1
    reminder = Reminder.objects.for_org(world.org).get()
    assert reminder.status == "done" and reminder.outcome == "sent" and reminder.sent_at is not None
    (message,) = corp.sim.messages("alice")
    assert message["msgtype"] == "textcard" and "陈女士" in message["content"]["title"]
    assert message["content"]["url"].endswith(reverse("lifecycle:todos"))
    assert TimelineEvent.objects.for_org(world.org).filter(customer=customer, kind="reminder_sent").count() == 1
    dispatch_once()
    assert len(corp.sim.messages("alice")) == 1


def test_a_reminder_for_someone_no_longer_a_friend_is_skipped_not_sent(world, corp, commit, aroma):
    alice = corp.staff("alice", world.e1)
    with commit():
        customer = corp.customer(alice)
        record_order(world.org, customer, [Line(aroma, 1)], timezone.now(), "pos")
    corp.customer_deletes(customer, alice)
    # The loss reaction (which cancels the reminder) has not run yet: the reminder must check for itself.
    EventDelivery.objects.filter(event__kind=Kind.RELATION_LOST).update(due_at=timezone.now() + timedelta(hours=1))
    due_now(world.org)
    dispatch_once()
    reminder = Reminder.objects.for_org(world.org).get()
    assert reminder.status == "done" and reminder.outcome == "skipped"
    assert corp.sim.messages("alice") == []


def test_buying_again_settles_the_earlier_repurchase_reminder(world, corp, commit, aroma):
    alice = corp.staff("alice", world.e1)
    with commit():
        customer = corp.customer(alice)
        record_order(world.org, customer, [Line(aroma, 1)], timezone.now() - timedelta(days=60), "pos", order_no="1")
        record_order(world.org, customer, [Line(aroma, 1)], timezone.now(), "pos", order_no="2")
    rows = Reminder.objects.for_org(world.org).order_by("due_at")
    assert [(r.status, r.cancel_reason) for r in rows] == [("cancelled", "repurchased"), ("pending", "")]


def test_products_without_a_cycle_or_customers_without_friends_make_no_reminder(world, corp, commit):
    alice = corp.staff("alice", world.e1)
    tea = Product.objects.create(org=world.org, sku="T", name="茶", price=Decimal("10"))
    with commit():
        customer = corp.customer(alice)
        record_order(world.org, customer, [Line(tea, 1)], timezone.now(), "pos")
    assert not Reminder.objects.for_org(world.org).exists()


def test_birthdays_and_silent_customers_are_reminded_once(world, corp, commit):
    alice = corp.staff("alice", world.e1)
    with commit():
        birthday_girl, chatty, silent = (corp.customer(alice, n) for n in ("生日", "常聊", "沉默"))
    today = timezone.localdate()
    stages.set_birthday(birthday_girl, date(1990, *(today + timedelta(days=3)).timetuple()[1:3]))
    assert reminders.schedule_birthdays(world.org) == 1
    assert reminders.schedule_birthdays(world.org) == 0
    reminder = Reminder.objects.for_org(world.org).get(kind="birthday")
    assert reminder.customer == birthday_girl and reminder.staff == alice

    reminders.update_policy(world.org, no_contact_days=30, by=world.admin)
    later = timezone.now() + timedelta(days=31)
    corp.message(chatty, "最近好吗", from_customer=False, at=later - timedelta(days=2))
    assert reminders.schedule_no_contact(world.org, now=later) == 2  # silent and birthday_girl; chatty was written to
    assert reminders.schedule_no_contact(world.org, now=later) == 0
    assert set(Reminder.objects.for_org(world.org).filter(kind="no_contact").values_list("customer__name", flat=True)) == {"生日", "沉默"}
    assert AuditEntry.objects.for_org(world.org).filter(action="reminder_policy.updated").exists()


def test_follow_ups_set_on_the_profile_are_delivered_and_closed_with_them(world, corp, commit):
    alice = corp.staff("alice", world.e1, world.guide_e1)
    with commit():
        customer = corp.customer(alice)
    due = timezone.now() + timedelta(days=2)
    with commit():
        follow_up = notes.add_follow_up(customer, "回访使用感受", due_at=due, assignee=alice, by=world.guide_e1)
    reminder = Reminder.objects.for_org(world.org).get(kind="follow_up")
    assert reminder.due_at == due and reminder.body == "回访使用感受" and reminder.staff == alice
    with commit():
        notes.close_follow_up(follow_up, FollowUp.Status.DONE, by=world.guide_e1)
    reminder.refresh_from_db()
    assert reminder.status == "cancelled" and reminder.completed_at is not None


def test_todo_pages_show_a_guide_their_own_and_let_them_tick_off(world, corp, commit, aroma):
    alice = corp.staff("alice", world.e1, world.guide_e1)
    sam = corp.staff("sam", world.s1, world.guide_s1)
    with commit():
        mine, theirs = corp.customer(alice, "我的客户"), corp.customer(sam, "别人的客户")
        record_order(world.org, mine, [Line(aroma, 1)], timezone.now(), "pos")
        record_order(world.org, theirs, [Line(aroma, 1)], timezone.now(), "pos")
    guide = client_for(world.guide_e1)
    page = guide.get(reverse("lifecycle:todos")).content.decode()
    assert "我的客户" in page and "别人的客户" not in page
    other = Reminder.objects.for_org(world.org).get(customer=theirs)
    assert guide.post(reverse("lifecycle:todo_cancel", args=[other.pk])).status_code == 404
    assert guide.post(reverse("lifecycle:todo_done", args=[other.pk])).status_code == 404
    own = Reminder.objects.for_org(world.org).get(customer=mine)
    assert guide.post(reverse("lifecycle:todo_cancel", args=[own.pk])).status_code == 302
    own.refresh_from_db()
    assert own.status == "cancelled"
    assert guide.post(reverse("lifecycle:todo_done", args=[own.pk])).status_code == 302
    own.refresh_from_db()
    assert own.completed_at is not None
    manager = client_for(world.s1_manager).get(reverse("lifecycle:todos")).content.decode()
    assert "别人的客户" in manager and "我的客户" not in manager
