"""Customer 360 in a real browser: a guide opens a customer, adds a note and a tag, and sees both on the timeline;
the tag reaches the customer in the (simulated) WeCom. (The board drag to 已成交 is added by the stages work.)"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from siyu.customers import tags as tag_services
from siyu.customers.models import Tag
from tests.customers.test_tags import Corp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def corp(world, settings):
    settings.WECOM_BACKOFF_BASE = 0.001
    settings.WECOM_BACKOFF_MAX = 0.01
    corp = Corp(world.org)
    yield corp
    corp.stop()
    corp.sim.close()


@pytest.fixture
def guide_customer(world, corp):
    """Guide e1 is WeCom member zhang; customer 林小姐 added zhang; the brand has a 购买意向 tag group."""
    staff = corp.staff("zhang", world.e1, world.guide_e1)
    customer = corp.customer(staff, name="林小姐")
    tag_services.create_tag_group(world.org, name="购买意向", tags=["关注新品", "团购需求"], by=world.admin.user)
    return customer


def test_guide_adds_a_note_and_a_tag_and_sees_both_on_the_timeline(page, live_server, world, corp, guide_customer,
                                                                  sign_in, console):
    sign_in("guide_e1")
    page.get_by_role("link", name="客户列表").click()
    expect(page.get_by_role("heading", name="客户列表")).to_be_visible()
    page.get_by_test_id("customer-list").get_by_role("link", name="林小姐").click()
    expect(page.get_by_test_id("customer-name")).to_have_text("林小姐")

    page.get_by_label("小记").fill("想给妈妈买一款低咖啡因的茶，周末来店试喝")
    page.get_by_role("button", name="添加小记").click()
    expect(page.locator(".toast")).to_contain_text("已添加小记")

    # The tag picker: type to search, pick from the 购买意向 group; the pick shows as a chip.
    form = page.get_by_test_id("tag-form")
    form.locator(".ts-control input").fill("关注")
    dropdown = page.locator(".ts-dropdown:visible")
    expect(dropdown.locator(".optgroup-header")).to_have_text(["购买意向"])
    dropdown.get_by_text("关注新品", exact=True).click()
    expect(form.locator(".ts-control .chip")).to_contain_text("关注新品")
    page.keyboard.press("Escape")
    with page.expect_navigation():  # a plain POST and redirect: wait for it, however busy the machine is
        form.get_by_role("button", name="添加标签").press("Enter")
    expect(page.locator(".toast")).to_contain_text("已添加标签")
    expect(page.get_by_test_id("customer-tag").filter(has_text="关注新品")).to_contain_text("手动")

    timeline = page.get_by_test_id("timeline-event")
    expect(timeline.filter(has_text="被打上标签“关注新品”（来源：手动）")).to_have_count(1)
    expect(timeline.filter(has_text="小记：想给妈妈买一款低咖啡因的茶，周末来店试喝")).to_have_count(1)
    # Newest first: the tag came after the note.
    kinds = [k for k in timeline.evaluate_all("els => els.map(e => e.dataset.kind)") if k in ("tagged", "note_added")]
    assert kinds == ["tagged", "note_added"]

    # The tag is on the customer in WeCom, on zhang's friendship.
    tag = Tag.objects.for_org(world.org).get(name="关注新品")
    assert corp.sim.state.relation("zhang", guide_customer.external_userid).tag_ids == [tag.wecom_id]
    assert console.problems == [], console.problems
