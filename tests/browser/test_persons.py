"""Persons in a real browser: the customer 360 shows the 用户画像 panel, which leads to the person page, where a
wrong merge is split."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from siyu.cdp import identity
from siyu.cdp.identity import Ident
from siyu.cdp.models import Person
from siyu.customers.models import Customer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_customer_360_shows_the_person_and_a_wrong_merge_is_split(page, live_server, world, sign_in, console):
    customer = Customer.objects.create(org=world.org, external_userid="wmLIN", name="林小姐")
    person = identity.person_for_customer(customer)
    identity.resolve(world.org, [Ident("external_userid", "wmLIN"), Ident("phone", "13812345678")])
    stranger = identity.resolve(world.org, [Ident("anonymous_id", "anon-1")], source="web")
    identity.resolve(world.org, [Ident("anonymous_id", "anon-1"), Ident("phone", "13812345678")], source="web",
                     evidence="官网登录")

    sign_in("admin")
    page.goto(f"{live_server.url}/customers/{customer.pk}/")
    panel = page.get_by_test_id("customer-person")
    expect(panel).to_be_visible()
    expect(panel.get_by_test_id("person-identifiers")).to_contain_text("138****5678")
    expect(panel).not_to_contain_text("13812345678")
    panel.get_by_role("link", name="查看用户详情").click()
    expect(page.get_by_role("heading", name=f"用户 #{person.pk}")).to_be_visible()
    merges = page.get_by_test_id("person-merges")
    expect(merges).to_contain_text("手机号 138****5678 同时出现在官网登录和企业微信客户 林*")
    if shots := os.environ.get("SIYU_SCREENSHOTS"):
        for width, height in ((1440, 900), (390, 844)):
            page.set_viewport_size({"width": width, "height": height})
            page.screenshot(path=f"{shots}/person-{width}.png", full_page=True)
        page.set_viewport_size({"width": 1280, "height": 800})
    merges.get_by_role("button", name="拆分").click()
    dialog = page.locator("dialog.confirm")
    expect(dialog).to_contain_text("确定拆分")
    with page.expect_navigation():
        dialog.get_by_role("button", name="拆分").click()
    expect(page.locator(".toast")).to_contain_text("恢复为独立用户")
    assert Person.objects.get(pk=stranger.pk).merged_into is None
    assert console.problems == []
