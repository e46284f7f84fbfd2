"""Shared set-up of the guard's tests: customers, consent, the messaging policy, and sends that went out."""

from __future__ import annotations

import datetime as dt
import itertools

from siyu.customers.models import Customer, Relation, RelationTag, Tag
from siyu.messaging import guard, services
from siyu.messaging.models import Policy, RecipientFacts, Send
from siyu.orgs.models import Staff
from siyu.privacy.consent import grant_consent

BEIJING = dt.timezone(dt.timedelta(hours=8))
LONG_AGO = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
_refs = itertools.count(1)


def customers(org, n: int, *, consent: bool = True, prefix: str = "wm") -> list[Customer]:
    made = [Customer.objects.create(org=org, external_userid=f"{prefix}{i}", name=f"张客户{i}") for i in range(n)]
    if consent:
        for customer in made:
            grant_consent(customer, "marketing", by=None, source="import", at=LONG_AGO)
    return made


def set_policy(org, **fields) -> Policy:
    policy = guard.policy_of(org)
    for key, value in fields.items():
        setattr(policy, key, value)
    policy.save()
    return policy


def tag_customer(org, customer, name: str) -> Tag:
    staff = Staff.objects.for_org(org).first() or Staff.objects.create(org=org, userid="alice", name="张晓")
    tag = Tag.objects.for_org(org).filter(name=name).first() or Tag.objects.create(org=org, name=name)
    relation, _ = Relation.objects.for_org(org).get_or_create(org=org, customer=customer, staff=staff)
    RelationTag.objects.create(org=org, relation=relation, tag=tag, source=RelationTag.Source.MANUAL)
    return tag


def born(customer, birth_date: dt.date | None, timezone: str = "") -> None:
    RecipientFacts.objects.create(org_id=customer.org_id, customer=customer, birth_date=birth_date, timezone=timezone)


def plan(org, ids, at, *, channel="mass_message", purpose="marketing", content="春季新品到店，欢迎来看看", **kw):
    return guard.plan(org, send=("test.send", next(_refs)), customer_ids=ids, purpose=purpose, channel=channel,
                      content=content, at=at, **kw)


def send_out(org, ids, at, **kw):
    """A send planned and gone out at ``at``: its included recipients now count against the caps."""
    result = plan(org, ids, at, **kw)
    services.mark_sent(Send.objects.for_org(org).get(kind=result.send_ref[0], ref_id=result.send_ref[1]), at=at)
    return result


def beijing(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BEIJING)


def beijing_after(now: dt.datetime, hour: int) -> dt.datetime:
    """The first ``hour``:00 Beijing time after ``now``."""
    local = now.astimezone(BEIJING).replace(hour=hour, minute=0, second=0, microsecond=0)
    return local if local > now else local + dt.timedelta(days=1)
