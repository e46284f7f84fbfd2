"""The customer's consent page in Chromium on a 360 px phone: the notice and the three purposes fit the screen, and a
customer who withdraws marketing is out of ``consenting(...)`` for the very next send."""

from __future__ import annotations

import pytest
from django.conf import settings
from playwright.sync_api import expect

from siyu.customers.models import Customer
from siyu.privacy import consent
from tests.browser.conftest import Console

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
OVERFLOW_JS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def test_a_customer_withdraws_marketing_on_the_h5_page(browser, browser_context_args, live_server, world):
    ann = Customer.objects.create(org=world.org, external_userid="wm-ann", name="Ann")
    notice = consent.publish_notice(world.org, title="品牌A隐私政策", body="我们如何使用你的信息。\n\n第二段。", by=None)
    consent.grant_consent(ann, "marketing", by=None, source="h5", notice_version=notice.version)
    assert consent.consenting(world.org, [ann.pk], "marketing") == {ann.pk}

    ctx = browser.new_context(**{**browser_context_args, "viewport": {"width": 360, "height": 740}})
    page = ctx.new_page()
    console = Console(page)
    page.goto(consent.consent_link(ann).replace(settings.PUBLIC_URL, live_server.url))
    expect(page.get_by_role("heading", name="隐私与授权")).to_be_visible()
    expect(page.get_by_test_id("privacy-notice")).to_contain_text("品牌A隐私政策")
    marketing = page.locator("[data-purpose=marketing]")
    expect(marketing).to_have_attribute("data-state", "granted")
    assert page.evaluate(OVERFLOW_JS) <= 0, "the page scrolls sideways at 360 px"

    marketing.get_by_role("button", name="撤回“营销消息”").click()
    expect(page.get_by_test_id("consent-message")).to_contain_text("已撤回")
    expect(page.locator("[data-purpose=marketing]")).to_have_attribute("data-state", "withdrawn")
    assert consent.consenting(world.org, [ann.pk], "marketing") == set()

    page.locator("[data-purpose=location]").get_by_role("button", name="同意“位置信息”").click()
    expect(page.locator("[data-purpose=location]")).to_have_attribute("data-state", "granted")
    assert consent.consenting(world.org, [ann.pk], "location") == {ann.pk}
    assert console.problems == []
    ctx.close()


def test_the_segment_builder_offers_consent(page, live_server, world, sign_in, console):
    from siyu.cdp.identity import person_for_customer
    from siyu.segments.models import Segment

    made = {}
    for name in ("Ann", "Bob", "Cat", "Dan"):
        made[name] = Customer.objects.create(org=world.org, external_userid=f"wm-{name}", name=name)
        person_for_customer(made[name])
    consent.grant_consent(made["Ann"], "marketing", by=None, source="h5")
    consent.grant_consent(made["Bob"], "marketing", by=None, source="h5")
    consent.withdraw_consent(made["Bob"], "marketing", by=None, source="chat_stopword")

    sign_in("admin")
    page.goto(f"{live_server.url}/segments/new/")
    first = page.get_by_test_id("segment-builder").locator(".seg-item").nth(0)
    first.get_by_label("条件类型").select_option("consent")
    first = page.get_by_test_id("segment-builder").locator(".seg-item").nth(0)
    expect(page.get_by_test_id("live-count")).to_have_text("1 人")  # marketing granted: Ann
    first.get_by_label("授权状态").select_option("unknown")
    expect(page.get_by_test_id("live-count")).to_have_text("2 人")  # Cat and Dan never answered
    first.get_by_label("授权状态").select_option("withdrawn")
    expect(page.get_by_test_id("live-count")).to_have_text("1 人")
    expect(page.get_by_test_id("examples")).to_contain_text("Bob")
    page.get_by_label("人群名称").fill("退订的客户")
    with page.expect_navigation():
        page.get_by_role("button", name="保存人群").click()
    assert Segment.objects.get(org=world.org).rule == {
        "op": "and", "rules": [{"type": "consent", "purpose": "marketing", "state": "withdrawn"}]}
    assert console.problems == [], console.problems
