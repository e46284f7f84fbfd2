"""The SOP editor in Chromium: a rule with more steps than the blank rows the page starts with — 添加步骤 adds a
row in place, so nobody has to save half a rule to get more rows."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from siyu.sop.models import Sop, SopStep

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_adding_step_rows_in_place_and_saving_them_all(page, live_server, world, sign_in, console):
    sign_in("admin")
    page.goto(f"{live_server.url}/sop/new/")
    page.get_by_label("名称").fill("新客三连")
    steps = page.get_by_test_id("sop-steps").locator("li")
    expect(steps).to_have_count(2)
    page.get_by_test_id("add-step").click()
    expect(steps).to_have_count(3)
    for row, (day, text) in zip(steps.all(), [(0, "欢迎加入"), (3, "新品试饮邀请"), (7, "会员日提醒")]):
        row.get_by_label("第几天").fill(str(day))
        row.get_by_label("时间").fill("10:00")
        row.get_by_label("内容").fill(text)
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_role("heading", name="SOP")).to_be_visible()
    sop = Sop.objects.for_org(world.org).get(name="新客三连")
    assert list(SopStep.objects.for_org(world.org).filter(sop=sop).order_by("day_offset")
                .values_list("day_offset", "text")) == [(0, "欢迎加入"), (3, "新品试饮邀请"), (7, "会员日提醒")]
    assert not console.problems
