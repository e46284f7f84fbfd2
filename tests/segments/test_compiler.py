"""The compiled SQL selects exactly the persons a brute-force Python evaluation of the same rule selects, on
generated data with the edges that break compilers: window boundaries to the second, missing and mistyped
traits, persons without a WeCom customer, merged persons, deleted relations, another brand's rows."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from siyu.segments import rules
from siyu.segments.compiler import persons
from tests.segments import data, rulegen
from tests.segments.brute import World

pytestmark = pytest.mark.django_db


@pytest.fixture
def built(world):
    other = type("W", (), {"org": world.other_org, "e1": world.other_store, "e2": world.other_store,
                           "s1": world.other_store, "s2": world.other_store, "east": world.other_store,
                           "south": world.other_store, "hq": world.other_store})
    data.build(other, persons=12, seed=11)
    return data.build(world)


def compiled(built, rule) -> set[int]:
    return set(persons(built.org, rules.validate(rule), now=data.NOW).values_list("pk", flat=True))


def the_issue_segment(built) -> dict:
    """tag 高意向 AND (bought in the last 30 days OR did Material Opened 3+ times in 7 days) AND NOT stage 流失"""
    return {"op": "and", "rules": [
        {"type": "tags", "match": "any", "tags": [built.tags["高意向"]]},
        {"op": "or", "rules": [
            {"type": "orders", "measure": "count", "did": "at_least", "value": 1, "days": 30},
            {"type": "event", "event": "Material Opened", "did": "at_least", "count": 3, "days": 7},
        ]},
        {"op": "not", "rule": {"type": "stage", "ids": [built.stages["流失"]]}},
    ]}


def test_the_issue_segment_equals_brute_force(built):
    rule = the_issue_segment(built)
    expected = World(built.org, data.NOW).members(rule)
    # The data exercises the rule: some persons in, most out.
    assert 3 <= len(expected) < len(built.person_ids) // 2
    assert compiled(built, rule) == expected
    edges = built.edges
    assert {edges["three_with_one_on_the_edge"], edges["ordered_on_the_edge"],
            edges["ordered_without_stage_row"]} <= expected
    assert not {edges["two_and_one_a_second_early"], edges["two_and_one_a_second_late"],
                edges["ordered_a_second_early"], edges["ordered_but_lost"]} & expected


def test_each_branch_of_the_issue_segment_equals_brute_force(built):
    """Each part on its own, so a wrong boundary in one branch cannot hide behind the others."""
    world = World(built.org, data.NOW)
    segment = the_issue_segment(built)
    parts = [segment["rules"][0], *segment["rules"][1]["rules"], segment["rules"][2]]
    for rule in parts:
        expected = world.members(rule)
        assert 0 < len(expected) < len(built.person_ids), rule
        assert compiled(built, rule) == expected, rule


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(data=rulegen.st.data())
def test_random_rule_trees_equal_brute_force(built, data):
    world = World(built.org, rulegen.NOW)
    rule = data.draw(rulegen.trees(built))
    assert compiled(built, rule) == world.members(rules.validate(rule))
