"""The store code's H5 page in Chromium: a customer who shares their location lands on the nearest open store
(a nearer closed store is skipped) and sees its group code; one who declines gets the city picker."""

from __future__ import annotations

import base64
import math
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from siyu.groups import storecodes
from siyu.groups.models import GroupCode, StoreRouting
from siyu.orgs.models import Store
from tests.browser.conftest import Console
from tests.factories import make_store

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HERE = (31.2304, 121.4737)  # People's Square, Shanghai
# A 1×1 PNG stands in for WeCom's QR images (the test machine has no internet).
PIXEL = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
CLOSED_ALL_WEEK = {day: [] for day in Store.WEEKDAYS}


def east_of(km: float) -> tuple[Decimal, Decimal]:
    lng = HERE[1] + math.degrees(km / (storecodes.EARTH_RADIUS_KM * math.cos(math.radians(HERE[0]))))
    return Decimal(f"{HERE[0]:.6f}"), Decimal(f"{lng:.6f}")


@pytest.fixture
def store_code(world):
    def place(code, name, km, city, hours):
        store = make_store(world.org, code, parent=world.east, name=name)
        store.latitude, store.longitude = east_of(km)
        store.city, store.address, store.opening_hours = city, f"{city}{name}地址", hours
        store.save()
        GroupCode.objects.create(org=world.org, public_id=f"gc{code}", name=f"{name}福利群", store=store, state=f"g_{code}",
                                 config_id=f"cfg-{code}", qr_code=f"https://wework.qpic.cn/wwpic/{code}/0")
        return store

    place("SHA", "人民广场店", 0.6, "上海", CLOSED_ALL_WEEK)  # nearest, but closed
    place("SHB", "外滩店", 1.8, "上海", {})  # hours unknown: open
    place("SHC", "陆家嘴店", 3.5, "上海", {})
    hz = place("HZA", "西湖店", 160, "杭州", {})
    hz.latitude, hz.longitude = Decimal("30.274100"), Decimal("120.155100")
    hz.save()
    return storecodes.create_store_code(world.org, by=world.admin, name="全国门店区域码", radius_km="10",
                                        intro="扫码加入离你最近的门店福利群")


def open_page(browser, browser_context_args, live_server, code, **context):
    ctx = browser.new_context(**{**browser_context_args, "viewport": {"width": 390, "height": 844}, **context})
    page = ctx.new_page()
    page.route("https://wework.qpic.cn/**", lambda route: route.fulfill(status=200, content_type="image/png", body=PIXEL))
    console = Console(page)
    page.goto(f"{live_server.url}/h5/store/{code.org.slug}/{code.public_id}/")
    return ctx, page, console


def test_a_customer_who_shares_their_location_lands_on_the_nearest_open_store(browser, browser_context_args, live_server, world, store_code):
    ctx, page, console = open_page(browser, browser_context_args, live_server, store_code,
                                   geolocation={"latitude": HERE[0], "longitude": HERE[1]}, permissions=["geolocation"])
    expect(page.get_by_role("heading", name="全国门店区域码")).to_be_visible()
    expect(page.get_by_text("为什么需要你的位置？")).to_be_visible()
    expect(page.get_by_text("位置只用于这一次查找门店，不会保存")).to_be_visible()
    page.get_by_role("button", name="同意并使用我的位置").click()

    expect(page.get_by_test_id("store-name")).to_have_text("外滩店")  # 人民广场店 is nearer but closed
    expect(page.get_by_test_id("distance")).to_have_text("距你约 1.8 公里")
    qr = page.get_by_test_id("target-group").get_by_role("img")
    expect(qr).to_have_attribute("src", "https://wework.qpic.cn/wwpic/SHB/0")
    expect(qr).to_have_js_property("naturalWidth", 1)  # the image loaded: the page's CSP lets WeCom's host in
    row = StoreRouting.objects.for_org(world.org).get()
    assert (row.store.code, row.method, row.outcome, row.distance_bucket) == ("SHB", "location", "routed", "1-3km")
    assert console.problems == []
    ctx.close()


def test_a_customer_who_declines_picks_a_store_by_city(browser, browser_context_args, live_server, world, store_code):
    ctx, page, console = open_page(browser, browser_context_args, live_server, store_code, permissions=[])
    page.get_by_role("button", name="同意并使用我的位置").click()
    expect(page.get_by_test_id("reason")).to_have_text("你没有允许使用位置信息，请手动选择门店。")
    cities = page.get_by_test_id("cities")
    expect(cities.get_by_role("link")).to_have_text(["上海", "杭州", "其他"])  # stores without a city come last
    cities.get_by_role("link", name="杭州").click()
    stores = page.get_by_test_id("stores")
    expect(stores.get_by_role("button")).to_have_count(1)
    stores.get_by_role("button", name="西湖店").click()
    expect(page.get_by_test_id("store-name")).to_have_text("西湖店")
    expect(page.get_by_test_id("target-group").get_by_role("img")).to_have_attribute("src", "https://wework.qpic.cn/wwpic/HZA/0")
    row = StoreRouting.objects.for_org(world.org).get()
    assert (row.store.code, row.method, row.distance_bucket) == ("HZA", "picker", "")
    assert console.problems == []

    page.goto(f"{live_server.url}/h5/store/{world.org.slug}/{store_code.public_id}/")
    page.get_by_test_id("pick-link").click()  # declining without even being asked works too
    expect(page.get_by_test_id("cities")).to_be_visible()
    ctx.close()
