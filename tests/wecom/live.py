"""An organization wired to a running simulator: Siyu calls it over loopback, and its callbacks are
delivered into Siyu's real callback view in-process (the test's database transaction sees them)."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from django.test import Client

from siyu.core.dispatch import dispatch_once
from siyu.customers.models import Relation, RelationTag
from siyu.groups.models import CustomerGroup, GroupMember
from siyu.orgs.models import Staff
from siyu.wecom.crypto import generate_encoding_aes_key, generate_token
from siyu.wecom.models import WeComConnection
from siyu.wecom.receiver import forget_cryptor
from siyu.wecom.simulator import Simulator, run_in_thread

CORP_ID = "ww1234567890abcdef"
SECRET = "sim-secret-value"
AGENT_ID = "1000002"


@dataclass
class Wired:
    org: object
    sim: Simulator
    connection: WeComConnection

    def process(self, rounds: int = 50) -> int:
        """Run the dispatcher until nothing is due (bounded): processes every stored callback."""
        total = 0
        for _ in range(rounds):
            done = dispatch_once(owner="test-worker")
            total += done
            if not done:
                return total
        raise AssertionError("work kept coming after %d rounds" % rounds)


def deliver_into(client: Client):
    def deliver(url: str, params: dict, body: bytes) -> int:
        parsed = urllib.parse.urlsplit(url)
        query = urllib.parse.urlencode({**dict(urllib.parse.parse_qsl(parsed.query)), **params})
        return client.post(f"{parsed.path}?{query}", body, content_type="text/xml").status_code

    return deliver


def wire(org, **sim_options) -> tuple[Wired, callable]:
    """Start a simulator for ``org`` and connect the org to it; returns the wiring and a stop function."""
    token, aes_key = generate_token(), generate_encoding_aes_key()
    sim = Simulator(CORP_ID, SECRET, AGENT_ID, token, aes_key, deliver=deliver_into(Client()), **sim_options)
    base_url, stop = run_in_thread(sim)
    sim.set_callback_url(f"http://testserver/wecom/callback/{org.slug}/")
    connection = WeComConnection.objects.create(
        org=org, corp_id=CORP_ID, agent_id=AGENT_ID, secret=SECRET, callback_token=token,
        encoding_aes_key=aes_key, api_base=f"{base_url}/cgi-bin/",
    )
    forget_cryptor(org.slug)
    return Wired(org, sim, connection), stop


# -- comparing Siyu's rows with the simulator's state ----------------------------------------------------
def sim_view(sim: Simulator) -> dict:
    customers = sim.list_customers()
    return {
        "staff": {s["userid"] for s in sim.list_staff() if s["left_at"] is None},
        "friendships": {(r["userid"], c["external_userid"]) for c in customers for r in c["relations"] if r["status"] in ("active", "half")},
        "tags": {(r["userid"], c["external_userid"], t) for c in customers for r in c["relations"] if r["status"] in ("active", "half") for t in r["tag_ids"]},
        "groups": {g["chat_id"]: {m["userid"] for m in g["members"]} for g in sim.list_groups() if not g.get("dismissed")},
    }


def siyu_view(org) -> dict:
    active = Relation.objects.for_org(org).filter(status=Relation.Status.ACTIVE)
    return {
        "staff": set(Staff.objects.for_org(org).exclude(status=Staff.Status.DEPARTED).values_list("userid", flat=True)),
        "friendships": set(active.values_list("staff__userid", "customer__external_userid")),
        "tags": set(
            RelationTag.objects.for_org(org).filter(relation__in=active)
            .values_list("relation__staff__userid", "relation__customer__external_userid", "tag__wecom_id")
        ),
        "groups": {
            g.chat_id: set(GroupMember.objects.for_org(org).filter(group=g, is_active=True).values_list("userid", flat=True))
            for g in CustomerGroup.objects.for_org(org).filter(status=CustomerGroup.Status.ACTIVE)
        },
    }
