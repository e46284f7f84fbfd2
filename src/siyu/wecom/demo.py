"""The demo brand's simulated WeCom: a connection pointing at a local simulator, the simulator seeded with
the demo staff and a couple of groups, and a scenario driver that keeps customers coming."""

from __future__ import annotations

import logging
import secrets

from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction

from siyu.customers.models import Relation
from siyu.demo_history import PREFIX
from siyu.orgs.models import Staff
from siyu.wecom.connection import save_connection
from siyu.wecom.crypto import generate_encoding_aes_key, generate_token
from siyu.wecom.models import WeComConnection

log = logging.getLogger(__name__)

DEMO_CORP_ID = "wwdemo00000000001"
DEMO_AGENT_ID = "1000002"


def simulator_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


@transaction.atomic
def ensure_demo_connection(org, *, simulator_port: int) -> WeComConnection:
    """Connect the demo brand to the local simulator (keys generated once, kept in the database)."""
    api_base = f"{simulator_url(simulator_port)}/cgi-bin/"
    connection = WeComConnection.objects.for_org(org).first()
    if connection is not None:
        if connection.api_base != api_base:
            connection.api_base = api_base
            connection.save(update_fields=["api_base", "updated_at"])
        return connection
    return save_connection(
        org, corp_id=DEMO_CORP_ID, agent_id=DEMO_AGENT_ID, secret=secrets.token_urlsafe(24),
        callback_token=generate_token(), encoding_aes_key=generate_encoding_aes_key(), api_base=api_base, by=None,
    )


def seed_simulator(sim, org) -> None:
    """Give the simulator the demo staff (as WeCom members), the demo's past friendships and two groups, unless
    it has them already."""
    # Sign-in with WeCom redirects only to the app's trusted domain: Siyu's own address.
    sim.set_trusted_domains([urlsplit(settings.PUBLIC_URL).netloc])
    known = {s["userid"] for s in sim.list_staff()}
    for staff in Staff.objects.for_org(org).exclude(status=Staff.Status.DEPARTED).order_by("userid"):
        if staff.userid not in known:
            sim.add_staff(userid=staff.userid, name=staff.name, mobile=staff.mobile or "")
    # A member who left the simulated corp (through its control API) keeps no friendships there: importing theirs
    # would be refused, and the demo would not start.
    active = {s["userid"] for s in sim.list_staff() if s.get("left_at") is None}
    sim.import_contacts([c for c in history_contacts(org) if c["userid"] in active])
    if not sim.list_groups():
        owners = [s.userid for s in Staff.objects.for_org(org).filter(membership__role="guide").order_by("userid")[:2]]
        for owner in owners:
            sim.create_group(owner, name=f"山茶物语·{owner[-4:].upper()} 会员福利群", new_members=6)


def history_contacts(org) -> list[dict]:
    """The demo history's friendships as WeCom still lists them (``siyu.demo_history``), so a full sync of the
    simulated corp keeps them instead of ending them."""
    listed = (Relation.objects.for_org(org)
              .filter(customer__external_userid__startswith=PREFIX,
                      status__in=[Relation.Status.ACTIVE, Relation.Status.DELETED_BY_CUSTOMER])
              .values_list("customer__external_userid", "customer__name", "customer__gender", "customer__avatar",
                           "staff__userid", "added_at", "state", "status"))
    return [{"external_userid": ext, "name": name, "gender": gender, "avatar": avatar, "userid": userid,
             "createtime": int(added_at.timestamp()), "state": state, "status": status}
            for ext, name, gender, avatar, userid, added_at, state, status in listed]
