"""Consent as a segment condition: the compiled SQL picks exactly the persons the brute-force evaluator picks, for
each purpose and state, with the edges of "latest record at this instant"; bad conditions are field errors."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from siyu.cdp.models import Person
from siyu.customers.models import Customer
from siyu.privacy.models import ConsentRecord
from siyu.segments import rules
from siyu.segments.compiler import persons
from tests.segments.brute import World

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
SECOND = dt.timedelta(seconds=1)


def person(org, name: str, *records) -> int:
    customer = Customer.objects.create(org=org, external_userid=name)
    for granted, at in records:
        ConsentRecord.objects.create(org=org, customer=customer, purpose="marketing", granted=granted, source="h5", at=at)
    return Person.objects.create(org=org, customer=customer).pk


def compiled(org, rule) -> set[int]:
    return set(persons(org, rules.validate(rule), now=NOW).values_list("pk", flat=True))


def test_consent_condition_equals_brute_force_on_the_edges(world):
    org = world.org
    p = {
        "granted": person(org, "granted", (True, NOW - 10 * SECOND)),
        "withdrawn_at_now": person(org, "withdrawn_at_now", (True, NOW - 10 * SECOND), (False, NOW)),
        "withdrawn_after_now": person(org, "withdrawn_after_now", (True, NOW - 10 * SECOND), (False, NOW + SECOND)),
        "granted_only_later": person(org, "granted_only_later", (True, NOW + SECOND)),
        "tie_grant_wins": person(org, "tie_grant_wins", (False, NOW - SECOND), (True, NOW - SECOND)),
        "no_record": person(org, "no_record"),
        "no_customer": Person.objects.create(org=org).pk,
    }
    other = Customer.objects.create(org=world.other_org, external_userid="granted")
    ConsentRecord.objects.create(org=world.other_org, customer=other, purpose="marketing", granted=True, source="h5",
                                 at=NOW - SECOND)
    world_now = World(org, NOW)
    expected = {
        "granted": {p["granted"], p["withdrawn_after_now"], p["tie_grant_wins"]},
        "withdrawn": {p["withdrawn_at_now"]},
        "unknown": {p["granted_only_later"], p["no_record"], p["no_customer"]},
    }
    for state, members in expected.items():
        rule = {"type": "consent", "purpose": "marketing", "state": state}
        assert world_now.members(rule) == members, state
        assert compiled(org, rule) == members, state
        # NOT is exact: nobody falls out because their state is unknown.
        negated = {"op": "not", "rule": rule}
        assert compiled(org, negated) == set(p.values()) - members, state
    assert compiled(org, {"type": "consent", "purpose": "location", "state": "unknown"}) == set(p.values())


def test_a_bad_consent_condition_names_its_fields():
    with pytest.raises(ValidationError) as error:
        rules.validate({"op": "and", "rules": [{"type": "consent", "purpose": "biometric", "state": "yes"}]})
    assert set(error.value.message_dict) == {"rules.0.purpose", "rules.0.state"}
