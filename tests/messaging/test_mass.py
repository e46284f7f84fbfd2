"""Mass messages against the real simulator: planning through the guard, one WeCom task per staff member and
≤10,000 customers, a worker dying between the WeCom call and the msgid write, results, reminders, cancel."""

from __future__ import annotations

from collections import Counter
from datetime import time, timedelta

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError

from siyu.core import durable
from siyu.messaging import mass, reasons, services, tasks
from siyu.messaging.models import Decision, MassMessage, MassPlan, MassTask, Send
from siyu.orgs.models import AuditEntry
from siyu.privacy.consent import withdraw_consent
from siyu.wecom.client import WeComClient
from siyu.wecom.simulator.errors import SimulatorError
from tests.messaging.helpers import beijing_after, set_policy, tag_customer
from tests.messaging.mass_helpers import ADDED, Corp

pytestmark = pytest.mark.django_db
TEXT = "春季新品到店，欢迎来看看"


@pytest.fixture
def corp(world):
    corp = Corp(world.org)
    yield corp
    corp.stop()


def compose(world, **kw) -> MassMessage:
    fields = {"title": "春季上新", "text": TEXT, "audience": {}, **kw}
    return mass.create_message(world.org, by=world.admin, **fields)


def test_20000_customers_of_40_staff_become_split_tasks_each_customer_in_exactly_one(world, corp, clock):
    staff = corp.staff(40, store=world.e1)
    big = corp.customers(staff[0], 10_500)  # more than one add_msg_template call takes
    rest = [c for index, member in enumerate(staff[1:], 1) for c in corp.customers(member, 243 + (index <= 23))]
    customers = big + rest
    assert len(customers) == 20_000
    # 50 of staff[1]'s customers later also added staff[2]: the most recent relation sends to them.
    shared = rest[:50]
    corp.befriend(staff[2], shared, at=ADDED + timedelta(days=30))
    withdrawn = rest[100]
    withdraw_consent(withdrawn, "marketing", by=None, source="h5")

    message = compose(world, scheduled_at=clock.now() + timedelta(hours=1))
    dry = mass.preview(message)
    assert dry.included == 19_999
    assert [(r.code, r.count) for r in dry.reasons] == [(reasons.NO_CONSENT, 1)]
    mass.schedule(message, by=world.admin)
    corp.run()
    assert not corp.recipients()  # not due yet
    clock.advance(hours=1, seconds=1)
    corp.run()

    sent = corp.recipients()
    tasks = list(MassTask.objects.for_org(world.org).filter(message=message))
    assert len(sent) == len(tasks) == 41  # staff[0]'s 10,500 in two calls, one call for each other member
    assert {t.msgid for t in tasks} == set(sent)
    assert all(len(ids) <= 10_000 for _sender, ids in sent.values())
    everyone = Counter(ext for _sender, ids in sent.values() for ext in ids)
    expected = {c.external_userid for c in customers} - {withdrawn.external_userid}
    assert set(everyone) == expected and set(everyone.values()) == {1}
    sender_of = {ext: sender for sender, ids in sent.values() for ext in ids}
    assert {sender_of[c.external_userid] for c in shared} == {staff[2].userid}
    assert {sender_of[c.external_userid] for c in big} == {staff[0].userid}
    assert sorted(len(ids) for sender, ids in sent.values() if sender == staff[0].userid) == [500, 10_000]
    message.refresh_from_db()
    assert (message.status, message.planned, message.tasks_total) == (MassMessage.Status.SENDING, 20_000, 41)

    # Members confirm on their phones; one customer deleted staff[3] before the task was sent.
    gone = only_friend_of(rest, staff[3], corp)
    corp.sim.state.relation(staff[3].userid, gone).status = "deleted_by_staff"
    for msgid, (sender, _ids) in list(sent.items())[:30]:
        corp.sim.confirm_groupmsg(msgid, sender)
    mass.fetch_results(message)
    report = mass.report(message)
    statuses = Counter(r.status for t in corp.sim.state.msg_templates.values() for r in t.results)
    assert report.total.delivered == statuses[1]
    assert report.total.not_friend == statuses[2]
    assert report.total.unsent == statuses[0]
    assert report.total.handed == 19_999 and report.planned == 20_000
    assert report.excluded == {reasons.NO_CONSENT: 1}
    confirmed = {m for m, t in corp.sim.state.msg_templates.items() if any(t.tasks.values())}
    assert report.total.confirmed == sum(len(sent[m][1]) for m in confirmed)
    assert report.by_store[world.e1.name].tasks == 41
    assert sum(c.delivered for c in report.by_staff.values()) == statuses[1]
    assert Send.objects.for_org(world.org).get(ref_id=message.pk).sent_at is not None  # counts against the caps


def only_friend_of(customers, staff, corp) -> str:
    """One external_userid among ``customers`` whose only WeCom friend is ``staff``."""
    for customer in customers:
        rels = corp.sim.state.relations_of_customer(customer.external_userid)
        if [r.userid for r in rels] == [staff.userid]:
            return customer.external_userid
    raise AssertionError("no such customer")


def _due_tasks(world) -> list[MassTask]:
    return durable.claim(MassTask, owner="dead-worker", limit=100, lease_seconds=settings.DISPATCH_LEASE_SECONDS)


def test_a_worker_dying_between_the_wecom_call_and_the_msgid_write_never_makes_a_second_task(world, corp, clock):
    ann, bob, cat = corp.staff(3)
    corp.customers(ann, 5)
    corp.customers(bob, 4)
    corp.customers(cat, 3)
    message = compose(world)
    mass.schedule(message, by=world.admin)
    durable.run_rows(MassPlan, durable.claim(MassPlan, owner="w", limit=10, lease_seconds=60), "w")
    rows = sorted(_due_tasks(world), key=lambda r: r.userid)
    assert [r.userid for r in rows] == [ann.userid, bob.userid, cat.userid]
    # The dead worker: ann's call reached WeCom and the answer was lost; bob's was about to be made.
    with WeComClient.for_org(world.org) as client:
        mass.begin_call(rows[0])
        lost = mass.call_wecom(client, rows[0], message).msgid
    mass.begin_call(rows[1])
    assert list(corp.recipients()) == [lost]

    clock.advance(seconds=settings.DISPATCH_LEASE_SECONDS + 1)  # the leases expire; another worker takes over
    corp.run()
    sent = corp.recipients()
    tasks = {t.userid: t for t in MassTask.objects.for_org(world.org).filter(message=message)}
    assert len(sent) == 3
    assert tasks[ann.userid].msgid == lost  # found again, not made twice
    assert {t.msgid for t in tasks.values()} == set(sent)
    assert sorted(len(ids) for _s, ids in sent.values()) == [3, 4, 5]
    assert {t.status for t in tasks.values()} == {MassTask.Status.DONE}


def test_cancel_stops_unconfirmed_tasks_and_tasks_not_yet_made(world, corp, clock):
    ann, bob = corp.staff(2)
    corp.customers(ann, 2)
    corp.customers(bob, 2)
    message = compose(world)
    mass.schedule(message, by=world.admin)
    corp.run()
    sent = corp.recipients()
    by_sender = {sender: msgid for msgid, (sender, _ids) in sent.items()}
    corp.sim.confirm_groupmsg(by_sender[ann.userid], ann.userid)
    assert tasks.fetch_mass_results.call_local() == 1  # the periodic read of the messages being sent
    assert mass.remind(message, by=world.admin) == 1
    assert len(corp.sim.state.msg_templates[by_sender[bob.userid]].reminders) == 1

    mass.cancel(message, by=world.admin)
    assert corp.sim.state.msg_templates[by_sender[bob.userid]].cancelled
    with pytest.raises(SimulatorError):
        corp.sim.confirm_groupmsg(by_sender[bob.userid], bob.userid)
    assert AuditEntry.objects.for_org(world.org).filter(action="messaging.mass_cancelled").count() == 1
    with pytest.raises(ValidationError):
        mass.cancel(message, by=world.admin)

    later = compose(world, scheduled_at=clock.now() + timedelta(hours=2))
    mass.schedule(later, by=world.admin)
    mass.cancel(later, by=world.admin)
    clock.advance(hours=3)
    corp.run()
    assert len(corp.recipients()) == 2  # the cancelled schedule made no task
    assert not MassTask.objects.for_org(world.org).filter(message=later).exists()


def test_a_customer_who_withdrew_consent_is_left_out_and_shown_in_the_dry_run(world, corp):
    [ann] = corp.staff(1)
    kept, left = corp.customers(ann, 2)
    withdraw_consent(left, "marketing", by=None, source="chat_stopword")
    message = compose(world)
    dry = mass.preview(message)
    assert (dry.included, dry.excluded) == (1, 1)
    assert [(r.code, r.count) for r in dry.reasons] == [(reasons.NO_CONSENT, 1)]
    mass.schedule(message, by=world.admin)
    corp.run()
    [(sender, ids)] = corp.recipients().values()
    assert (sender, ids) == (ann.userid, [kept.external_userid])
    decision = Decision.objects.for_org(world.org).get(customer=left)
    assert (decision.outcome, decision.reason) == (Decision.Outcome.EXCLUDED, reasons.NO_CONSENT)


def test_blocked_words_and_bad_input_are_refused_with_nothing_written(world, corp):
    with pytest.raises(ValidationError) as refused:
        compose(world, title="", text="", attachments=[{"msgtype": "link", "link": {"title": "x"}}])
    assert set(refused.value.message_dict) == {"title", "text", "attachments"}
    assert not MassMessage.objects.for_org(world.org).exists()
    message = compose(world, text="全网最低价，快来")
    with pytest.raises(ValidationError) as blocked:
        mass.schedule(message, by=world.admin)
    assert "全网最低价" in blocked.value.message_dict["text"][0]
    message.refresh_from_db()
    assert message.status == MassMessage.Status.DRAFT
    assert not MassPlan.objects.for_org(world.org).exists()


def test_recipients_held_for_quiet_hours_get_their_tasks_when_the_window_opens(world, corp, clock):
    [ann] = corp.staff(1)
    early, late = corp.customers(ann, 2)
    set_policy(world.org, quiet_start=time(21, 0), quiet_end=time(9, 0), timezone="Asia/Shanghai")
    evening = beijing_after(clock.now(), 22)
    clock.set(evening)
    message = compose(world)
    mass.schedule(message, by=world.admin)
    corp.run()
    assert not corp.recipients()  # everyone held until 09:00
    assert mass.report(message).held == 2
    assert mass.fetch_results(message).status == MassMessage.Status.SENDING  # not finished: the held are to come

    clock.set(evening + timedelta(hours=11, minutes=1))  # 09:01 the next morning
    released = services.release_held(world.org)
    assert [len(ids) for ids in released.values()] == [2]
    corp.run()
    [(sender, ids)] = corp.recipients().values()
    assert (sender, sorted(ids)) == (ann.userid, sorted([early.external_userid, late.external_userid]))
    msgid = next(iter(corp.recipients()))
    corp.sim.confirm_groupmsg(msgid, ann.userid)
    assert mass.fetch_results(message).status == MassMessage.Status.SENT
    assert mass.report(message).total.delivered == 2


def test_protected_customers_are_left_out_unless_an_admin_approves_that_send(world, corp):
    [ann] = corp.staff(1)
    plain, protected = corp.customers(ann, 2)
    tag = tag_customer(world.org, protected, "孕期")
    set_policy(world.org, protected_tag_ids=[tag.pk])
    first = compose(world)
    mass.schedule(first, by=world.admin)
    with pytest.raises(ValidationError):
        mass.schedule(compose(world), by=world.admin, approved_by=world.east_manager)  # not an admin
    approved = compose(world, title="孕期关怀")
    mass.schedule(approved, by=world.admin, approved_by=world.admin)
    corp.run()
    sent = {frozenset(ids) for _sender, ids in corp.recipients().values()}
    assert sent == {frozenset([plain.external_userid]), frozenset([plain.external_userid, protected.external_userid])}
    assert mass.report(first).excluded == {reasons.PROTECTED_TAG: 1}
    entry = AuditEntry.objects.for_org(world.org).get(action="messaging.protected_approved")
    assert entry.actor == world.admin.user and entry.details["count"] == 1
    assert mass.report(approved).progress == 1.0
