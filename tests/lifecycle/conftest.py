"""An organization wired to a simulated WeCom served on a loopback port, with helpers to add staff, customers,
corp tags and archived chat messages the way the real integration does."""

from __future__ import annotations

import itertools
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.utils import timezone

from siyu.core import events
from siyu.customers import services as customer_services
from siyu.customers.models import Customer, Relation, Tag
from siyu.orgs.models import Staff
from siyu.orgs.staff import upsert_staff
from siyu.wecom.client import WeComClient
from siyu.wecom.crypto import generate_encoding_aes_key, generate_token
from siyu.wecom.models import ApiCall, ChatMessage, WeComConnection
from siyu.wecom.receiver import forget_cryptor
from siyu.wecom.simulator import SimClock, Simulator, run_in_thread
from tests.factories import drain

CORP_ID = "ww5c0ffee5c0ffee51"
SECRET = "lifecycle-test-secret"
AGENT_ID = "1000002"
_n = itertools.count(1)


class Corp:
    def __init__(self, org):
        self.org = org
        token, aes_key = generate_token(), generate_encoding_aes_key()
        self.sim = Simulator(CORP_ID, SECRET, AGENT_ID, token, aes_key, None, clock=SimClock(frozen=True))
        base, self.stop = run_in_thread(self.sim)
        WeComConnection.objects.create(
            org=org, corp_id=CORP_ID, agent_id=AGENT_ID, secret=SECRET, callback_token=token,
            encoding_aes_key=aes_key, api_base=f"{base}/cgi-bin/",
        )
        forget_cryptor(org.slug)

    def client(self) -> WeComClient:
        return WeComClient.for_org(self.org)

    def staff(self, userid: str, store=None, membership=None) -> Staff:
        staff = upsert_staff(self.org, self.sim.add_staff(userid, f"员工{userid}"))
        staff.store, staff.membership, staff.is_customer_contact = store, membership, True
        staff.save(update_fields=["store", "membership", "is_customer_contact"])
        return staff

    def customer(self, staff: Staff, name: str | None = None, *, state: str = "") -> Customer:
        """A customer adds ``staff``; Siyu mirrors it as the callback handler does (a ``relation.added`` event)."""
        external_userid = self.sim.add_customer(staff.userid, name=name or f"客户{next(_n)}")["external_userid"]
        with self.client() as client:
            relation = customer_services.customer_added(
                self.org, userid=staff.userid, external_userid=external_userid, state=state, welcome_code="", client=client)
        return relation.customer

    def befriend(self, staff: Staff, customer: Customer, *, state: str = "") -> Relation:
        """An existing customer adds another staff member."""
        self.sim.add_customer(staff.userid, customer.external_userid)
        with self.client() as client:
            return customer_services.customer_added(
                self.org, userid=staff.userid, external_userid=customer.external_userid, state=state, welcome_code="",
                client=client)

    def customer_deletes(self, customer: Customer, staff: Staff) -> Relation:
        self.sim.customer_deletes_staff(customer.external_userid, staff.userid)
        return customer_services.relation_ended(self.org, userid=staff.userid, external_userid=customer.external_userid,
                                                status=Relation.Status.DELETED_BY_CUSTOMER)

    def staff_deletes(self, staff: Staff, customer: Customer) -> Relation:
        self.sim.staff_deletes_customer(staff.userid, customer.external_userid)
        return customer_services.relation_ended(self.org, userid=staff.userid, external_userid=customer.external_userid,
                                                status=Relation.Status.DELETED_BY_STAFF)

    def tags(self, *names: str, group: str = "客户意向") -> list[Tag]:
        """Corp tags created in WeCom and mirrored into Siyu (so they have their WeCom ids)."""
        made = self.sim.admin_add_tags(list(names), group_name=group)
        with self.client() as client:
            data = client.post("externalcontact/get_corp_tag_list", {"group_id": [made["group_id"]]})
        customer_services.upsert_tag_groups(self.org, data["tag_group"])
        return [Tag.objects.for_org(self.org).get(wecom_id=t["id"]) for t in made["tags"]]

    def wecom_tags(self, staff: Staff, customer: Customer) -> set[str]:
        """The tag ids WeCom itself has on the relation."""
        for entry in self.sim.list_customers(staff.userid):
            if entry["external_userid"] == customer.external_userid:
                return set(entry["relations"][0]["tag_ids"])
        return set()

    def message(self, customer: Customer, text: str, *, staff: Staff | None = None, from_customer: bool = True,
                at=None) -> ChatMessage:
        """An archived chat message, stored as the session archive stores it."""
        n = next(_n)
        staff = staff or Relation.objects.for_org(self.org).filter(customer=customer).first().staff
        return ChatMessage.objects.create(
            org=self.org, msgid=f"msg-{n}", seq=n, sender=customer.external_userid if from_customer else staff.userid,
            receivers=[staff.userid if from_customer else customer.external_userid], msgtype="text", text=text,
            sent_at=at or timezone.now() - timedelta(seconds=1), customer=customer, staff=staff, from_customer=from_customer,
        )

    def archived(self, message: ChatMessage) -> None:
        """The archive stored ``message``: it announces it as the session archive does."""
        events.emit(self.org, events.Kind.MESSAGE_ARCHIVED, message)

    def calls(self, endpoint: str) -> int:
        return ApiCall.objects.for_org(self.org).filter(endpoint=endpoint, errcode=0).count()


@pytest.fixture
def corp(world, settings):
    settings.WECOM_BACKOFF_BASE = 0.001
    settings.WECOM_BACKOFF_MAX = 0.01
    corp = Corp(world.org)
    yield corp
    corp.stop()
    corp.sim.close()


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """``with commit(): …`` runs what the block queued for after commit, as a real commit would, then the
    dispatcher until nothing is due, as the worker would: the events' reactions happen."""

    @contextmanager
    def committed():
        with django_capture_on_commit_callbacks(execute=True):
            yield
        drain()

    return committed
