"""Transfers (离职继承 / 在职转接) against the real simulator over HTTP: batches, polling, retries, refusals,
the 90-day rule, the least-loaded rule and group handover."""

from __future__ import annotations

import itertools
import urllib.parse

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client, override_settings
from django.utils import timezone

from siyu.core.dispatch import dispatch_once
from siyu.customers import services as customer_services
from siyu.customers import transfers
from siyu.customers.models import GroupTransferBatch, Relation, TimelineEvent, Transfer, TransferBatch, TransferPoll
from siyu.groups import services as group_services
from siyu.groups.models import CustomerGroup
from siyu.orgs.models import AuditEntry, Staff
from siyu.orgs.staff import mark_departed, upsert_staff
from siyu.wecom.client import WeComClient
from siyu.wecom.crypto import generate_encoding_aes_key, generate_token
from siyu.wecom.models import ApiCall, WeComConnection
from siyu.wecom.receiver import forget_cryptor
from siyu.wecom.simulator import SimClock, Simulator, run_in_thread

CORP_ID = "ww7a1b2c3d4e5f6a7b"
SECRET = "transfer-test-secret"
AGENT_ID = "1000002"
DAY = 24 * 3600
RESIGNED_SEND = "externalcontact/resigned/transfer_customer"
RESIGNED_RESULT = "externalcontact/resigned/transfer_result"
ONJOB_SEND = "externalcontact/transfer_customer"
_n = itertools.count(1)


class Corp:
    """An organization wired to a simulator served on a loopback port, as Siyu's client reaches real WeCom.

    Callbacks reach Siyu's callback URL (through the test client) only while ``deliver`` is on; otherwise
    WeCom's delivery goes nowhere and the tests mirror what they need explicitly.
    """

    def __init__(self, org):
        self.org = org
        self.deliver = False
        token, aes_key = generate_token(), generate_encoding_aes_key()
        self.sim = Simulator(
            CORP_ID, SECRET, AGENT_ID, token, aes_key, f"http://testserver/wecom/callback/{org.slug}/",
            clock=SimClock(frozen=True), deliver=self._deliver,
        )
        base, self.stop = run_in_thread(self.sim)
        WeComConnection.objects.create(
            org=org, corp_id=CORP_ID, agent_id=AGENT_ID, secret=SECRET, callback_token=token,
            encoding_aes_key=aes_key, api_base=f"{base}/cgi-bin/",
        )
        forget_cryptor(org.slug)
        self.http = Client()

    def _deliver(self, url: str, params: dict, body: bytes) -> int:
        if not self.deliver:
            return 200
        path = urllib.parse.urlsplit(url).path
        return self.http.post(f"{path}?{urllib.parse.urlencode(params)}", body, content_type="text/xml").status_code

    def staff(self, userid: str, store, *, contact: bool = True) -> Staff:
        info = self.sim.add_staff(userid, f"员工{userid}")
        staff = upsert_staff(self.org, info)
        staff.store, staff.is_customer_contact = store, contact
        staff.save(update_fields=["store", "is_customer_contact"])
        return staff

    def customers(self, staff: Staff, count: int) -> list[str]:
        """``count`` customers add ``staff`` in WeCom; Siyu's rows are then synced from WeCom's answer."""
        ids = [self.sim.add_customer(staff.userid, name=f"客户{next(_n)}")["external_userid"] for _ in range(count)]
        self.sync(staff)
        return ids

    def sync(self, staff: Staff) -> None:
        with WeComClient.for_org(self.org) as client:
            body = {"userid_list": [staff.userid], "limit": 100}
            for item in client.iter_cursor("externalcontact/batch/get_by_user", body, "external_contact_list"):
                customer = customer_services.upsert_customer(self.org, item["external_contact"])
                customer_services.apply_follow_info(self.org, customer, item["follow_info"])

    def leave(self, staff: Staff) -> Staff:
        """The member leaves in WeCom; the delete_user callback reaches Siyu and is processed."""
        self.deliver = True
        try:
            self.sim.remove_staff(staff.userid)
        finally:
            self.deliver = False
        dispatch_once()
        staff.refresh_from_db()
        return staff

    def run(self) -> int:
        """Make every pending transfer row due now and run one dispatcher pass."""
        for model in (TransferBatch, TransferPoll, GroupTransferBatch):
            model.objects.for_org(self.org).filter(status="pending").update(due_at=timezone.now())
        return dispatch_once()

    def calls(self, endpoint: str) -> int:
        """Calls WeCom answered with errcode 0 (a stale token's 42001 and its retry are one call)."""
        return ApiCall.objects.for_org(self.org).filter(endpoint=endpoint, errcode=0).count()

    def transfers(self, **filters):
        return Transfer.objects.for_org(self.org).filter(**filters)


@pytest.fixture
def corp(world):
    corp = Corp(world.org)
    yield corp
    corp.stop()
    corp.sim.close()


def customers_of(org, external_userids):
    return list(customer_services.Customer.objects.for_org(org).filter(external_userid__in=external_userids))


# -- the acceptance path ------------------------------------------------------------------------------------
def test_departed_staffs_250_customers_reassigned_in_three_calls_polled_and_recorded(world, corp):
    alice, bob = corp.staff("alice", world.e1), corp.staff("bob", world.e1)
    ids = corp.customers(alice, 250)
    assert Relation.objects.for_org(world.org).filter(staff=alice, status="active").count() == 250
    alice = corp.leave(alice)
    assert alice.status == Staff.Status.DEPARTED and alice.departed_at is not None

    waiting = transfers.waiting_customers(world.org, alice)
    assert waiting.count() == 250
    made = transfers.reassign_customers(world.org, handover=alice, takeover=bob, customers=waiting, by=world.admin)
    assert len(made) == 250 and {t.kind for t in made} == {"resigned"}
    batches = list(TransferBatch.objects.for_org(world.org).order_by("pk"))
    assert [len(b.external_userids) for b in batches] == [100, 100, 50]
    assert corp.calls(RESIGNED_SEND) == 0  # nothing is sent inside the request

    corp.run()
    assert corp.calls(RESIGNED_SEND) == 3
    assert corp.transfers(status="waiting").count() == 250
    assert all(b.status == "done" for b in TransferBatch.objects.for_org(world.org))

    # A batch run again (its lease expired after it had answered) sends nothing.
    TransferBatch.objects.for_org(world.org).filter(pk=batches[0].pk).update(status="pending", finished_at=None)
    assert dispatch_once() == 1  # (the poller is not due for ten minutes)
    assert corp.calls(RESIGNED_SEND) == 3

    # Before the 24 hours: transfer_result says waiting, and the poller stays scheduled.
    poll = TransferPoll.objects.for_org(world.org).get()
    corp.run()
    poll.refresh_from_db()
    assert corp.calls(RESIGNED_RESULT) == 1
    assert poll.status == "pending" and poll.due_at > timezone.now()
    assert corp.transfers(status="waiting").count() == 250

    corp.sim.advance(DAY)
    corp.run()
    poll.refresh_from_db()
    assert poll.status == "done"
    assert corp.transfers(status="done").count() == 250
    assert not corp.transfers(takeover_time=None).exists() and not corp.transfers(finished_at=None).exists()
    rels = Relation.objects.for_org(world.org)
    assert rels.filter(staff=alice, status="transferred").count() == 250
    assert rels.filter(staff=bob, status="active", add_way=202).count() == 250
    assert {c["external_userid"] for c in corp.sim.list_customers("bob")} == set(ids)  # WeCom agrees
    events = TimelineEvent.objects.for_org(world.org)
    assert events.filter(kind="transfer_requested").count() == 250
    assert [e.data["status"] for e in events.filter(kind="transfer_finished")] == ["done"] * 250
    assert events.filter(kind="transferred_away", staff=alice).count() == 250
    entry = AuditEntry.objects.for_org(world.org).get(action="transfer.requested")
    assert entry.actor == world.admin.user and entry.object_id == str(alice.pk)
    assert entry.details == {"kind": "resigned", "takeover": "bob", "customers": 250, "batches": 3, "rule": "manual"}

    corp.run()  # nothing left to poll: no more calls
    assert corp.calls(RESIGNED_RESULT) == 2
    assert transfers.waiting_customers(world.org, alice).count() == 0


def test_a_batch_whose_answer_was_lost_is_reconciled_not_resent(world, corp, monkeypatch):
    alice, bob = corp.staff("alice", world.e1), corp.staff("bob", world.e1)
    corp.customers(alice, 5)
    alice = corp.leave(alice)
    transfers.reassign_customers(world.org, handover=alice, takeover=bob,
                                 customers=transfers.waiting_customers(world.org, alice), by=None)
    real = transfers._record_answer
    crashes = iter([True])

    def crash_once(*args, **kwargs):
        if next(crashes, False):
            raise RuntimeError("worker died after WeCom answered")
        return real(*args, **kwargs)

    monkeypatch.setattr(transfers, "_record_answer", crash_once)
    corp.run()
    batch = TransferBatch.objects.for_org(world.org).get()
    assert batch.status == "pending" and batch.sent_at is not None and batch.answered_at is None
    assert corp.calls(RESIGNED_SEND) == 1 and corp.transfers(status="requested").count() == 5

    corp.run()  # the retry asks transfer_result instead of submitting again
    batch.refresh_from_db()
    assert batch.status == "done" and corp.calls(RESIGNED_SEND) == 1 and corp.calls(RESIGNED_RESULT) == 1
    # A second submission would have come back 40129 (already being transferred) and failed them all.
    assert corp.transfers(status="waiting").count() == 5


@override_settings(WECOM_BACKOFF_MAX=0)
def test_rate_limited_batch_retries_later_without_counting_an_attempt(world, corp):
    alice, bob = corp.staff("alice", world.e1), corp.staff("bob", world.e1)
    corp.customers(alice, 3)
    alice = corp.leave(alice)
    transfers.reassign_customers(world.org, handover=alice, takeover=bob,
                                 customers=transfers.waiting_customers(world.org, alice))
    corp.sim.fail_next(RESIGNED_SEND, 45009)
    corp.run()
    batch = TransferBatch.objects.for_org(world.org).get()
    assert (batch.status, batch.attempts) == ("pending", 0) and batch.due_at > timezone.now()
    assert "RetryLater" in batch.last_error
    corp.run()
    batch.refresh_from_db()
    assert batch.status == "done" and corp.transfers(status="waiting").count() == 3


def test_per_customer_errcodes_fail_only_those_transfers(world, corp):
    alice, bob = corp.staff("alice", world.e1), corp.staff("bob", world.e1)
    ids = corp.customers(alice, 4)
    alice = corp.leave(alice)
    # Siyu missed it: WeCom answers 40131 for this one ("handover_userid 并不是外部联系人的跟进人", global
    # errcodes, doc 90313; /work/shared/wecom/reference.md "Errcodes").
    corp.sim.staff_deletes_customer("alice", ids[0])
    transfers.reassign_customers(world.org, handover=alice, takeover=bob,
                                 customers=transfers.waiting_customers(world.org, alice))
    corp.run()
    failed = corp.transfers(status="failed").get()
    assert failed.customer.external_userid == ids[0] and failed.errcode == 40131
    assert failed.error == "该客户不是原跟进成员的好友。"
    assert corp.transfers(status="waiting").count() == 3
    assert [e.data["status"] for e in TimelineEvent.objects.for_org(world.org).filter(kind="transfer_finished")].count("failed") == 1


def test_whole_call_refused_fails_the_batch_transfers_with_the_hint(world, corp):
    alice, bob = corp.staff("alice", world.e1), corp.staff("bob", world.e1)
    corp.customers(alice, 2)
    alice = corp.leave(alice)
    transfers.reassign_customers(world.org, handover=alice, takeover=bob,
                                 customers=transfers.waiting_customers(world.org, alice))
    corp.sim.fail_next(RESIGNED_SEND, 48002)
    corp.run()
    assert {(t.status, t.errcode) for t in corp.transfers()} == {("failed", 48002)}
    assert "可调用接口的应用" in corp.transfers().first().error
    assert not TransferPoll.objects.for_org(world.org).exists()


# -- on-job: 90 days, refusals ------------------------------------------------------------------------------
def _transfer_and_complete(corp, org, handover, takeover, customers):
    transfers.reassign_customers(org, handover=handover, takeover=takeover, customers=customers)
    corp.run()
    corp.sim.advance(DAY)
    corp.run()


def test_third_onjob_transfer_within_90_days_is_refused_and_nothing_is_sent(world, corp):
    bob, carol = corp.staff("bob", world.e1), corp.staff("carol", world.e1)
    ext = corp.customers(bob, 1)
    customer = customers_of(world.org, ext)
    _transfer_and_complete(corp, world.org, bob, carol, customer)
    _transfer_and_complete(corp, world.org, carol, bob, customer)
    assert corp.transfers(kind="onjob", status="done").count() == 2
    assert Relation.objects.for_org(world.org).get(staff=bob, customer=customer[0]).status == "active"
    sent = corp.calls(ONJOB_SEND)

    with pytest.raises(ValidationError) as refused:
        transfers.reassign_customers(world.org, handover=bob, takeover=carol, customers=customer, by=world.admin)
    assert "90 天内已转接 2 次" in " ".join(refused.value.message_dict["customers"])
    assert corp.transfers().count() == 2 and TransferBatch.objects.for_org(world.org).count() == 2
    corp.run()
    assert corp.calls(ONJOB_SEND) == sent
    assert AuditEntry.objects.for_org(world.org).filter(action="transfer.requested").count() == 2


def test_customer_refusal_arrives_by_callback_and_by_poll(world, corp):
    bob, carol = corp.staff("bob", world.e1), corp.staff("carol", world.e1)
    ids = corp.customers(bob, 2)
    made = transfers.reassign_customers(world.org, handover=bob, takeover=carol, customers=customers_of(world.org, ids),
                                        success_msg="您好，后续由同事卡罗为您服务。")
    corp.run()
    assert corp.transfers(status="waiting").count() == 2
    assert TransferBatch.objects.for_org(world.org).get().success_msg.startswith("您好")

    by_callback, by_poll = sorted(made, key=lambda t: t.customer.external_userid != ids[0])
    corp.deliver = True  # on-job refusals call back transfer_fail
    corp.sim.refuse_transfer(ids[0])
    corp.deliver = False
    dispatch_once()
    by_callback.refresh_from_db()
    assert by_callback.status == "refused" and by_callback.error == "customer_refused"

    corp.sim.refuse_transfer(ids[1])  # this callback is lost: transfer_result status 3 tells us anyway
    corp.run()
    by_poll.refresh_from_db()
    assert by_poll.status == "refused"
    assert TransferPoll.objects.for_org(world.org).get().status == "done"
    assert Relation.objects.for_org(world.org).filter(staff=bob, status="active").count() == 2
    assert not Relation.objects.for_org(world.org).filter(staff=carol).exists()
    finished = TimelineEvent.objects.for_org(world.org).filter(kind="transfer_finished")
    assert [e.data["status"] for e in finished] == ["refused"] * 2


# -- validation --------------------------------------------------------------------------------------------
def test_bad_requests_get_field_errors_and_write_nothing(world, corp):
    alice, bob = corp.staff("alice", world.e1), corp.staff("bob", world.e1)
    mute = corp.staff("mute", world.e1, contact=False)
    gone = corp.staff("gone", world.e1)
    ext = corp.customers(alice, 2)
    stranger = corp.customers(bob, 1)
    mark_departed(gone)
    alice = corp.leave(alice)
    mine = customers_of(world.org, ext)

    def refused(field, **kwargs):
        args = {"handover": alice, "takeover": bob, "customers": mine, **kwargs}
        with pytest.raises(ValidationError) as error:
            transfers.reassign_customers(world.org, **args)
        assert field in error.value.message_dict, error.value.message_dict
        return " ".join(error.value.message_dict[field])

    assert "已离职" in refused("takeover", takeover=gone) or "不是在职" in refused("takeover", takeover=gone)
    assert "客户联系" in refused("takeover", takeover=mute)
    assert "本人" in refused("takeover", takeover=alice)
    assert "不是" in refused("customers", customers=mine + customers_of(world.org, stranger))
    assert "至少" in refused("customers", customers=[])
    assert "不会给客户发消息" in refused("success_msg", success_msg="hi")
    assert "在职转接" in refused("handover", kind="resigned", handover=bob, takeover=alice)
    with pytest.raises(ValidationError) as long_msg:
        transfers.reassign_customers(world.org, handover=bob, takeover=corp.staff("dan", world.e1),
                                     customers=customers_of(world.org, stranger), success_msg="好" * 201)
    assert "200" in " ".join(long_msg.value.message_dict["success_msg"])
    assert not corp.transfers().exists() and not TransferBatch.objects.for_org(world.org).exists()

    transfers.reassign_customers(world.org, handover=alice, takeover=bob, customers=mine)
    assert "进行中" in refused("customers")  # already under way
    assert corp.transfers().count() == 2


def test_store_manager_may_only_hand_over_within_their_stores(world, corp):
    alice, bob = corp.staff("alice", world.e1), corp.staff("bob", world.e2)
    sam = corp.staff("sam", world.s1)
    ext = corp.customers(alice, 1)
    alice = corp.leave(alice)
    customers = customers_of(world.org, ext)
    with pytest.raises(ValidationError) as outside:
        transfers.reassign_customers(world.org, handover=alice, takeover=sam, customers=customers, by=world.east_manager)
    assert "管理范围" in " ".join(outside.value.message_dict["takeover"])
    with pytest.raises(PermissionDenied):
        transfers.reassign_customers(world.org, handover=alice, takeover=sam, customers=customers, by=world.s1_manager)
    with pytest.raises(PermissionDenied):
        transfers.reassign_customers(world.org, handover=alice, takeover=bob, customers=customers, by=world.guide_e1)
    transfers.reassign_customers(world.org, handover=alice, takeover=bob, customers=customers, by=world.east_manager)
    assert corp.transfers(takeover=bob).count() == 1


# -- the rule ----------------------------------------------------------------------------------------------
def test_rule_gives_each_customer_to_the_least_loaded_same_store_staff(world, corp):
    alice = corp.staff("alice", world.e1)
    bob, carol, dan = corp.staff("bob", world.e1), corp.staff("carol", world.e1), corp.staff("dan", world.e1)
    corp.staff("erin", world.e2)  # another store: not considered while E1 has someone
    corp.staff("mute", world.e1, contact=False)
    corp.customers(bob, 3)
    corp.customers(carol, 5)
    corp.customers(alice, 10)
    alice = corp.leave(alice)

    plan = transfers.plan_by_rule(world.org, alice)
    assert plan.rule == "same_store_least_loaded" and plan.total == 10
    assert {a.takeover.userid: (a.load, len(a.customers)) for a in plan.assignments} == {
        "dan": (0, 6), "bob": (3, 3), "carol": (5, 1)}  # 18 customers in all: 6 each afterwards
    assert not corp.transfers().exists()

    transfers.reassign_by_rule(world.org, alice, by=world.admin)
    assert {u: corp.transfers(takeover__userid=u).count() for u in ("bob", "carol", "dan")} == {"bob": 3, "carol": 1, "dan": 6}
    assert set(corp.transfers().values_list("rule", flat=True)) == {"same_store_least_loaded"}
    assert TransferBatch.objects.for_org(world.org).count() == 3  # one per takeover
    loads = transfers.staff_loads(world.org, [bob.pk, carol.pk, dan.pk])
    assert sorted(loads.values()) == [6, 6, 6]
    corp.run()
    corp.sim.advance(DAY)
    corp.run()
    assert corp.transfers(status="done").count() == 10


def test_rule_falls_back_to_the_region_then_hq(world, corp):
    alice = corp.staff("alice", world.e1)
    corp.customers(alice, 4)
    hq = corp.staff("hq1", world.hq)
    alice = corp.leave(alice)
    plan = transfers.plan_by_rule(world.org, alice)
    assert (plan.rule, [(a.takeover, len(a.customers)) for a in plan.assignments]) == ("hq_least_loaded", [(hq, 4)])
    e2 = corp.staff("eve", world.e2)  # same region (EAST), other store
    plan = transfers.plan_by_rule(world.org, alice)
    assert (plan.rule, [(a.takeover, len(a.customers)) for a in plan.assignments]) == ("region_least_loaded", [(e2, 4)])
    corp.staff("sid", world.s1)  # another region never counts
    assert transfers.plan_by_rule(world.org, alice).rule == "region_least_loaded"
    hq.status = Staff.Status.DISABLED
    hq.save(update_fields=["status"])
    e2.status = Staff.Status.DISABLED
    e2.save(update_fields=["status"])
    with pytest.raises(ValidationError) as nobody:
        transfers.plan_by_rule(world.org, alice)
    assert "takeover" in nobody.value.message_dict


# -- groups ------------------------------------------------------------------------------------------------
def test_groups_of_a_departed_owner_get_a_new_owner_and_failures_are_recorded(world, corp):
    alice, bob = corp.staff("alice", world.e1), corp.staff("bob", world.e1)
    ext = corp.customers(alice, 3)
    chats = [corp.sim.create_group("alice", name=f"甲群{i}", members=ext)["chat_id"] for i in range(3)]
    with WeComClient.for_org(world.org) as client:
        groups = [group_services.refresh_group(world.org, chat_id, client) for chat_id in chats]
    corp.sim.dismiss_group(chats[2])  # Siyu has not heard yet: WeCom lists it as failed
    alice = corp.leave(alice)
    assert transfers.waiting_groups(world.org, alice).count() == 3

    batches = transfers.transfer_groups(world.org, chats=groups, new_owner=bob, by=world.admin)
    assert [(b.kind, len(b.chat_ids)) for b in batches] == [("resigned", 3)]
    assert transfers.waiting_groups(world.org, alice).count() == 0  # under way
    corp.run()
    batch = GroupTransferBatch.objects.for_org(world.org).get()
    assert batch.status == "done" and [f["chat_id"] for f in batch.failed] == [chats[2]]
    assert batch.failed[0]["errcode"] == 90501
    rows = {g.chat_id: g for g in CustomerGroup.objects.for_org(world.org)}
    assert [rows[c].owner_id for c in chats] == [bob.pk, bob.pk, alice.pk]
    assert rows[chats[0]].inheritance == CustomerGroup.Inheritance.DONE
    assert [g["owner"] for g in corp.sim.list_groups() if g["chat_id"] in chats[:2]] == ["bob", "bob"]
    assert corp.calls("externalcontact/groupchat/transfer") == 1
    assert AuditEntry.objects.for_org(world.org).filter(action="transfer.groups_requested").exists()

    with pytest.raises(ValidationError) as bad:
        transfers.transfer_groups(world.org, chats=[groups[0]], new_owner=bob)
    assert "群主" in " ".join(bad.value.message_dict["chats"])


def test_a_group_batch_whose_answer_was_lost_is_not_sent_again(world, corp, monkeypatch):
    alice, bob = corp.staff("alice", world.e1), corp.staff("bob", world.e1)
    chat_id = corp.sim.create_group("alice", name="甲群", new_members=2)["chat_id"]
    with WeComClient.for_org(world.org) as client:
        group = group_services.refresh_group(world.org, chat_id, client)
    alice = corp.leave(alice)
    transfers.transfer_groups(world.org, chats=[group], new_owner=bob)
    real = transfers._record_group_answer
    crashes = iter([True])

    def crash_once(*args, **kwargs):
        if next(crashes, False):
            raise RuntimeError("worker died after WeCom answered")
        return real(*args, **kwargs)

    monkeypatch.setattr(transfers, "_record_group_answer", crash_once)
    corp.run()
    corp.run()
    batch = GroupTransferBatch.objects.for_org(world.org).get()
    assert batch.status == "done" and batch.failed == []
    assert corp.calls("externalcontact/groupchat/transfer") == 1
    assert CustomerGroup.objects.for_org(world.org).get(chat_id=chat_id).owner == bob
