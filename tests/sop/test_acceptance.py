"""The acceptance story: an SOP "day 0 welcome pack, day 3 tips, day 7 coupon" makes tasks at the right local
times for 3 new customers, notifies the guide with an app message linking the mobile task page, and a task
completed there is done — by its guide only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from siyu.core.dispatch import dispatch_once
from siyu.messaging.models import RecipientFacts
from siyu.sop.models import SopTask
from tests.sop.helpers import make_sop, sign_in_with_wecom


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def sop_cards(corp, userid: str) -> list[dict]:
    return [m for m in corp.sim.messages(userid) if m["content"]["title"].startswith("SOP")]


def due_table(org, customer) -> list[datetime]:
    return list(SopTask.objects.for_org(org).filter(customer=customer).order_by("due_at").values_list("due_at", flat=True))


@pytest.fixture
def story(world, corp, commit, clock, settings):
    settings.PUBLIC_URL = "http://testserver"
    clock.attach(corp.sim)
    clock.set(utc(2027, 3, 1, 1, 0))  # 09:00 in Beijing
    alice = corp.staff("alice", world.e1, world.guide_e1)
    bob = corp.staff("bob", world.e2, world.guide_e2)
    with commit():
        # C already knew bob; C lives in London, which the guard knows.
        c = corp.customer(bob, "C先生")
    RecipientFacts.objects.create(org=world.org, customer=c, timezone="Europe/London")
    sop = make_sop(world.org, world.admin)
    clock.advance(minutes=1)
    with commit():
        a = corp.customer(alice, "A女士")
    return {"alice": alice, "bob": bob, "a": a, "c": c, "sop": sop}


def test_three_new_customers_get_their_steps_at_local_times_and_the_guide_an_app_message(
        world, corp, commit, clock, story):
    a, c = story["a"], story["c"]
    assert due_table(world.org, a) == [utc(2027, 3, 1, 12), utc(2027, 3, 4, 2), utc(2027, 3, 8, 2)]  # 20:00, 10:00 BJ
    clock.set(utc(2027, 3, 1, 11, 59))
    dispatch_once()
    assert sop_cards(corp, "alice") == []  # not due yet
    clock.set(utc(2027, 3, 1, 12, 0))
    dispatch_once()
    (card,) = sop_cards(corp, "alice")
    assert card["msgtype"] == "textcard" and "新客 7 天" in card["content"]["title"]
    assert card["content"]["url"] == "http://testserver/m/sop/?org=brand-a"
    assert "A女士" in card["content"]["description"] and "欢迎礼包" in card["content"]["description"]

    clock.set(utc(2027, 3, 2, 7, 0))  # 15:00 in Beijing
    with commit():
        b = corp.customer(story["alice"], "B先生")
    assert due_table(world.org, b) == [utc(2027, 3, 2, 12), utc(2027, 3, 5, 2), utc(2027, 3, 9, 2)]

    clock.set(utc(2027, 3, 3, 15, 30))  # 23:30 in Beijing, 15:30 in London
    with commit():
        corp.befriend(story["alice"], c)
    # London's day: 20:00 that evening (UTC+0 in March), then 10:00 London on days 3 and 7.
    assert due_table(world.org, c) == [utc(2027, 3, 3, 20), utc(2027, 3, 6, 10), utc(2027, 3, 10, 10)]
    assert all(t.staff == story["alice"] for t in SopTask.objects.for_org(world.org))
    assert len(sop_cards(corp, "alice")) == 2  # A's and B's day 0; C's is not due yet
    clock.set(utc(2027, 3, 10, 10, 0))
    dispatch_once()
    assert len(sop_cards(corp, "alice")) == 9 and sop_cards(corp, "bob") == []
    dispatch_once()
    assert len(sop_cards(corp, "alice")) == 9  # each task notifies once


def test_the_guide_completes_a_task_on_the_mobile_page_and_another_guide_cannot(
        world, corp, commit, clock, settings, story):
    clock.set(utc(2027, 3, 1, 12, 0))
    dispatch_once()
    link = sop_cards(corp, "alice")[0]["content"]["url"]
    phone = sign_in_with_wecom(corp, settings, "alice", link)
    page = phone.get("/m/sop/").content.decode()
    assert "A女士您好，欢迎礼包已为您准备好" in page and "护肤小技巧" not in page  # day 3 is not due today
    task = SopTask.objects.for_org(world.org).get(customer=story["a"], step__day_offset=0)

    # Another guide, and a manager who sees alice's store in the console: the phone page is one's own work only.
    corp.staff("erin", world.east, world.east_manager)
    for userid in ("bob", "erin"):
        intruder = sign_in_with_wecom(corp, settings, userid, link)
        assert "A女士" not in intruder.get("/m/sop/").content.decode()
        assert intruder.post(f"/m/sop/tasks/{task.pk}/done/").status_code == 404
        assert intruder.post(f"/m/sop/tasks/{task.pk}/send/").status_code == 404
    task.refresh_from_db()
    assert task.completed_at is None and task.sent_at is None

    answer = phone.post(f"/m/sop/tasks/{task.pk}/done/", follow=True)
    assert "已标记完成" in answer.content.decode() and "A女士您好" not in answer.content.decode()
    task.refresh_from_db()
    assert task.completed_at is not None and task.completed_by == world.guide_e1.user
