"""The issue's segment built in a real browser: pick conditions without typing JSON, watch the live count, save,
sync to a WeCom tag, and find that tag on the members' friendships in the (simulated) WeCom."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from siyu.cdp import identity
from siyu.cdp.models import Event, Order, Source
from siyu.customers import tags as tag_services
from siyu.customers.models import Tag
from siyu.customers.tagging import tag_customer
from siyu.lifecycle.models import CustomerLifecycle
from siyu.lifecycle.stages import ensure_default_stages
from siyu.segments.models import Segment
from tests.customers.test_tags import corp  # noqa: F401  (the simulator-connected brand fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def people(world, corp):
    """Four customers of zhang tagged 高意向: a recent buyer, a reader of materials, a recent buyer who is 流失, and
    one who did neither; plus an untagged recent buyer."""
    zhang = corp.staff("zhang", world.e1)
    tag_services.create_tag_group(world.org, name="意向", tags=["高意向"], by=world.admin.user)
    hot = Tag.objects.get(org=world.org, name="高意向")
    stages = {s.name: s for s in ensure_default_stages(world.org)}
    source = Source.objects.create(org=world.org, name="官网", kind=Source.Kind.WEB)
    now = timezone.now()
    made = {}
    for name, tagged, ordered, reads, stage in [("林小姐", True, True, 0, "意向客户"), ("王先生", True, False, 3, "新客户"),
                                                 ("赵女士", True, True, 0, "流失"), ("钱先生", True, False, 1, "新客户"),
                                                 ("孙女士", False, True, 0, "新客户")]:
        customer = corp.customer(zhang, name=name)
        person = identity.person_for_customer(customer)
        if tagged:
            tag_customer(customer, [hot], source="manual")
        if ordered:
            Order.objects.create(org=world.org, person=person, customer=customer, order_no=f"o-{name}", total=100,
                                 ordered_at=now - timedelta(days=3))
        for k in range(reads):
            Event.objects.create(org=world.org, source=source, person=person, type="track", name="Material Opened",
                                 message_id=f"{name}-{k}", timestamp=now - timedelta(days=1, hours=k), received_at=now)
        CustomerLifecycle.objects.create(org=world.org, customer=customer, stage=stages[stage])
        made[name] = customer
    return made


def pick(scope, text: str, page):
    """Choose ``text`` in a Tom Select picker inside ``scope`` (type to search, click the option)."""
    scope.locator(".ts-control input").fill(text)
    page.locator(".ts-dropdown:visible").get_by_text(text, exact=True).click()
    page.keyboard.press("Escape")
    # Leave the picker the way a person does, by clicking elsewhere: Tom Select takes the first click after a
    # pick to blur itself.
    page.get_by_role("heading", name="条件").click()


def test_build_the_issue_segment_save_and_sync_it_to_a_wecom_tag(page, live_server, world, corp, people, sign_in,
                                                                 console):
    sign_in("admin")
    page.get_by_role("link", name="人群").click()
    page.get_by_role("link", name="新建人群").first.click()
    builder = page.get_by_test_id("segment-builder")

    # 1. tag 高意向 (the first condition starts as a tag condition)
    first = builder.locator(".seg-item").nth(0)
    pick(first, "高意向", page)
    root_list = builder.locator(":scope > .seg-group > .seg-list")
    root_buttons = builder.locator(":scope > .seg-group > .seg-group-head").last

    # 2. (bought in the last 30 days OR Material Opened 3+ times in 7 days)
    root_buttons.get_by_role("button", name="添加条件组").click()
    either = root_list.locator(":scope > .seg-item").nth(1)
    either.get_by_label("组合方式").select_option("or")
    inner_buttons = either.locator(".seg-group > .seg-group-head").last
    inner_buttons.get_by_role("button", name="添加条件", exact=True).click()
    bought = either.locator(".seg-list > .seg-item").nth(0)
    bought.get_by_label("条件类型").select_option("orders")
    bought = either.locator(".seg-list > .seg-item").nth(0)
    bought.get_by_label("天数").fill("30")
    inner_buttons.get_by_role("button", name="添加条件", exact=True).click()
    opened = either.locator(".seg-list > .seg-item").nth(1)
    opened.get_by_label("条件类型").select_option("event")
    opened = either.locator(".seg-list > .seg-item").nth(1)
    opened.get_by_label("事件").select_option("Material Opened")
    opened.get_by_label("天数").fill("7")
    opened.get_by_label("次数", exact=True).fill("3")

    # 3. NOT stage 流失
    root_buttons.get_by_role("button", name="添加条件", exact=True).click()
    lost = root_list.locator(":scope > .seg-item").nth(2)
    lost.get_by_label("条件类型").select_option("stage")
    lost = root_list.locator(":scope > .seg-item").nth(2)
    pick(lost, "流失", page)
    lost.get_by_label("排除").check()

    # The live count: 林小姐 (bought) and 王先生 (read 3 times); not 赵女士 (流失), 钱先生 (read once), 孙女士 (untagged).
    expect(page.get_by_test_id("live-count")).to_have_text("2 人")
    expect(page.get_by_test_id("examples").locator("li")).to_have_count(2)

    page.get_by_label("人群名称").fill("高意向活跃")
    with page.expect_navigation():
        page.get_by_role("button", name="保存人群").click()
    expect(page.get_by_test_id("member-count")).to_have_text("2")
    members = page.get_by_test_id("segment-members")
    expect(members).to_contain_text("林小姐")
    expect(members).to_contain_text("王先生")

    segment = Segment.objects.get(org=world.org)
    assert segment.rule["rules"][2] == {"op": "not", "rule": {"type": "stage",
                                                              "ids": [ensure_default_stages(world.org)[4].pk]}}

    page.get_by_role("button", name="同步到企业微信标签").click()
    with page.expect_navigation():  # the console's confirm dialog names its button after the action
        page.locator("dialog.confirm").get_by_role("button", name="同步到企业微信标签").click()
    expect(page.get_by_test_id("segment-tag")).to_contain_text("高意向活跃")

    segment.refresh_from_db()
    tag_id = segment.wecom_tag.wecom_id
    hot = Tag.objects.get(org=world.org, name="高意向").wecom_id
    state = corp.sim.state
    assert sorted(state.relation("zhang", people["林小姐"].external_userid).tag_ids) == sorted([hot, tag_id])
    assert sorted(state.relation("zhang", people["王先生"].external_userid).tag_ids) == sorted([hot, tag_id])
    for name in ("赵女士", "钱先生", "孙女士"):
        assert tag_id not in state.relation("zhang", people[name].external_userid).tag_ids
    assert console.problems == [], console.problems
