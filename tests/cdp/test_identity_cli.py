"""``siyu cdp person``: the person as JSON in the documented shape, exit 1 when there is none."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from siyu import cli
from siyu.cdp import identity
from siyu.cdp.identity import Ident
from siyu.cdp.models import Event, Order, Source


def run(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        cli.main(["cdp", "person", *args])
    out, err = capsys.readouterr()
    return done.value.code, out, err


def test_prints_the_person_as_json(world, capsys):
    person = identity.resolve(world.org, [Ident("user_id", "u-1"), Ident("phone", "+86 138-0013-8000")])
    person.traits = {"plan": "pro"}
    person.save()
    web = Source.objects.create(org=world.org, name="官网", kind="web")
    at = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    Event.objects.create(org=world.org, source=web, person=person, type="track", name="Order Completed",
                         message_id="m-1", timestamp=at, received_at=at)
    Order.objects.create(org=world.org, person=person, order_no="YZ-1", source="youzan", total=Decimal("88.50"),
                         ordered_at=at)

    code, out, _err = run(capsys, "--org", "brand-a", "--identifier", "phone:13800138000")
    assert code == 0
    assert json.loads(out) == {
        "id": person.pk,
        "identifiers": [{"type": "phone", "value": "13800138000"}, {"type": "user_id", "value": "u-1"}],
        "traits": {"plan": "pro"},
        "events": [{"type": "track", "event": "Order Completed", "message_id": "m-1",
                    "timestamp": "2026-03-01T08:00:00+00:00"}],
        "orders": [{"order_no": "YZ-1", "source": "youzan", "total": "88.50",
                    "ordered_at": "2026-03-01T08:00:00+00:00"}],
    }


def test_exits_1_when_nobody_holds_the_identifier(world, capsys):
    identity.resolve(world.org, [Ident("user_id", "u-1")])
    code, out, err = run(capsys, "--org", "brand-a", "--identifier", "user_id:u-2")
    assert (code, out) == (1, "") and "u-2" in err
    # Another organization's person is nobody here.
    code, out, _err = run(capsys, "--org", "brand-b", "--identifier", "user_id:u-1")
    assert (code, out) == (1, "")


@pytest.mark.parametrize("args", [["--org", "brand-a", "--identifier", "u-1"],
                                  ["--org", "brand-a", "--identifier", "shoe:1"],
                                  ["--org", "nope", "--identifier", "user_id:u-1"]])
def test_bad_arguments_exit_2(world, capsys, args):
    code, _out, err = run(capsys, *args)
    assert code == 2 and err
