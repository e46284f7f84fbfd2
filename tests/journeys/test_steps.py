"""Walking a step list (where a customer goes next) and the times waits end, in the organization's zone."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from siyu.journeys import engine, steps

SHANGHAI = ZoneInfo("Asia/Shanghai")
STEPS = [
    {"kind": "wait", "days": 1, "hours": 2, "minutes": 3},
    {"kind": "branch", "rule": {}, "yes": [{"kind": "remind"}, {"kind": "webhook"}], "no": []},
    {"kind": "add_tag"},
]


def test_after_goes_down_the_line_and_out_of_a_branch_back_to_the_main_line():
    assert steps.after(STEPS, "0") == "1"
    assert steps.after(STEPS, "1.yes.0") == "1.yes.1"
    assert steps.after(STEPS, "1.yes.1") == "2"
    assert steps.after(STEPS, "2") is None


def test_into_a_lane_or_past_the_branch_when_the_lane_is_empty():
    assert steps.into(STEPS, "1", "yes") == "1.yes.0"
    assert steps.into(STEPS, "1", "no") == "2"


def test_walk_lists_every_step_with_its_depth():
    assert [(path, depth) for path, depth, _s in steps.walk(STEPS)] == [
        ("0", 0), ("1", 0), ("1.yes.0", 1), ("1.yes.1", 1), ("2", 0)]


@pytest.mark.django_db
def test_waits_end_after_their_duration_or_at_the_next_local_time(world):
    now = datetime(2026, 12, 7, 3, 0, tzinfo=timezone.utc)  # 11:00 in Shanghai
    org = world.org.pk
    assert engine.due_for(STEPS[0], org, now) == datetime(2026, 12, 8, 5, 3, tzinfo=timezone.utc)
    later_today = engine.due_for({"kind": "wait_until", "time": "20:30", "date": ""}, org, now)
    assert later_today == datetime(2026, 12, 7, 20, 30, tzinfo=SHANGHAI)
    tomorrow = engine.due_for({"kind": "wait_until", "time": "09:00", "date": ""}, org, now)
    assert tomorrow == datetime(2026, 12, 8, 9, 0, tzinfo=SHANGHAI)
    on_date = engine.due_for({"kind": "wait_until", "time": "10:00", "date": "2026-12-24"}, org, now)
    assert on_date == datetime(2026, 12, 24, 10, 0, tzinfo=SHANGHAI)
    past_date = engine.due_for({"kind": "wait_until", "time": "10:00", "date": "2026-01-01"}, org, now)
    assert past_date == now
    assert engine.due_for({"kind": "add_tag"}, org, now) == now


@pytest.mark.django_db
def test_validation_keys_each_problem_by_the_steps_place(world):
    with pytest.raises(Exception) as caught:
        steps.validate(world.org, [
            {"kind": "wait", "days": 0},
            {"kind": "branch", "rule": {"type": "orders", "measure": "count", "did": "at_least", "value": 1, "days": 2},
             "yes": [{"kind": "branch", "rule": {}, "yes": [], "no": []}], "no": [{"kind": "remind", "title": ""}]},
        ])
    assert set(caught.value.message_dict) == {"steps.0.days", "steps.1.yes.0.kind", "steps.1.no.0.title"}
