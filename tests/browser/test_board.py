"""The stage board in Chromium: a guide drags a customer to 已成交 and sees the move on the customer's timeline."""

import re

import pytest
from playwright.sync_api import expect

from siyu.customers.models import TimelineEvent
from siyu.lifecycle import stages
from siyu.lifecycle.models import StageChange
from siyu.orgs.models import AuditEntry
from tests.lifecycle.conftest import Corp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def corp(world):
    corp = Corp(world.org)
    yield corp
    corp.stop()
    corp.sim.close()


def column(page, name):
    return page.get_by_test_id(f"stage-{name}")


def test_a_guide_drags_a_customer_to_won_and_sees_it_on_the_timeline(page, live_server, world, corp, sign_in, console):
    alice = corp.staff("alice", world.e1, world.guide_e1)
    sam = corp.staff("sam", world.s1, world.guide_s1)
    customer = corp.customer(alice, "周女士")
    corp.customer(alice, "吴先生")
    corp.customer(sam, "别家导购的客户")

    sign_in("guide_e1")
    page.get_by_role("link", name="客户阶段").click()
    expect(page.get_by_role("heading", name="客户阶段")).to_be_visible()
    page.wait_for_load_state("load")  # board.js is deferred
    card = page.get_by_test_id(f"card-{customer.pk}")
    expect(column(page, "新客户").locator("[data-board-count]")).to_have_text("2")
    expect(page.get_by_text("别家导购的客户")).to_have_count(0)  # a guide's board shows only their customers

    card.drag_to(column(page, "已成交").locator("[data-board-cards]"))

    expect(column(page, "已成交").get_by_test_id(f"card-{customer.pk}")).to_be_visible()
    # The card is drawn in its new column at once; the server's answer replaces it (no longer "moving").
    expect(column(page, "已成交").get_by_test_id(f"card-{customer.pk}")).not_to_have_class(re.compile(r"\bmoving\b"))
    expect(column(page, "已成交").locator("[data-board-count]")).to_have_text("1")
    expect(column(page, "新客户").locator("[data-board-count]")).to_have_text("1")
    won = stages.stages_of(world.org)[2]
    assert stages.stage_of(customer) == won
    change = StageChange.objects.for_org(world.org).get(customer=customer, to_stage=won)
    assert change.source == "board" and change.actor == world.guide_e1.user
    [event] = [e for e in TimelineEvent.objects.for_org(world.org).filter(customer=customer, kind="stage_changed")
             if e.data["to_stage"] == "已成交"]
    assert event.data["from_stage"] == "新客户" and event.actor == world.guide_e1.user
    assert AuditEntry.objects.for_org(world.org).filter(action="customer.stage_changed", actor=world.guide_e1.user).count() == 1

    page.reload()  # the move is stored, not just drawn
    expect(column(page, "已成交").get_by_test_id(f"card-{customer.pk}")).to_be_visible()

    # The customer's timeline shows the move.
    column(page, "已成交").get_by_role("link", name="周女士").click()
    expect(page.get_by_text("客户阶段：新客户 → 已成交（看板拖动）")).to_be_visible()
    # The profile's stage section agrees.
    expect(page.get_by_test_id("profile-stage").get_by_label("客户阶段")).to_have_value(str(won.pk))
    assert console.problems == [], console.problems
