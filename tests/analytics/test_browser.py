"""The channel statistics page in a real browser (Debian's Chromium through Playwright): menu, figures, both
charts drawn by ECharts under the CSP, a bad range refused, and the CSV download."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from siyu.customers.models import Customer, Relation
from siyu.orgs.models import Staff
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SH = ZoneInfo("Asia/Shanghai")
SCREENSHOT = "/tmp/siyu-channel-stats.png"


@pytest.fixture
def adds(world):
    alice = Staff.objects.create(org=world.org, userid="alice", name="艾丽", store=world.e1)
    start = datetime.now(SH).replace(hour=10, minute=0, second=0, microsecond=0) - timedelta(days=5)
    for i in range(6):
        customer = Customer.objects.create(org=world.org, external_userid=f"wm{i}")
        Relation.objects.create(org=world.org, customer=customer, staff=alice, state=("tea", "poster")[i % 2],
                                added_at=start + timedelta(days=i % 4))
    Relation.objects.for_org(world.org).filter(customer__external_userid="wm0").update(
        status=Relation.Status.DELETED_BY_CUSTOMER, deleted_at=start + timedelta(days=1))


def test_channel_statistics_in_the_browser(page, live_server, world, adds):
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    # A refused filter is answered 400 on purpose; Chromium logs that as "Failed to load resource".
    page.on("console", lambda m: problems.append(f"console.{m.type}: {m.text}")
            if m.type in ("error", "warning") and not m.text.startswith("Failed to load resource") else None)

    page.goto(f"{live_server.url}/login/")
    page.get_by_label("用户名").fill("admin")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page.get_by_role("heading", name="数据总览")).to_be_visible()

    page.locator("nav.nav a", has_text="渠道统计").click()
    expect(page.get_by_role("heading", name="渠道统计", exact=True)).to_be_visible()
    page.wait_for_load_state("load")
    expect(page.locator('[data-figure="adds"] .value')).to_have_text("6")
    expect(page.locator('[data-figure="net"] .value')).to_have_text("5")
    expect(page.locator('[data-chart="trend-chart-data"] canvas')).to_have_count(1)
    expect(page.locator('[data-chart="channel-chart-data"] canvas')).to_have_count(1)
    expect(page.get_by_test_id("stats-total").locator('[data-col="adds"]')).to_have_text("6")
    page.screenshot(path=SCREENSHOT, full_page=True)

    with page.expect_download() as waiting:
        page.get_by_role("button", name="导出 CSV").click()
    download = waiting.value
    assert download.suggested_filename.startswith("channel-stats-") and download.suggested_filename.endswith(".csv")
    with open(download.path(), "rb") as file:
        content = file.read()
    assert content.startswith(b"\xef\xbb\xbf") and "艾丽" in content.decode("utf-8-sig")

    page.get_by_label("开始日期").fill("2024-06-10")
    page.get_by_label("结束日期").fill("2024-06-01")
    # Typing in a date field keeps its calendar open over the controls below it, as for a person; moving on
    # from the field (Tab) closes it, and then 筛选 can be clicked.
    expect(page.locator(".flatpickr-calendar.open")).to_have_count(1)
    page.get_by_label("结束日期").press("Tab")
    expect(page.locator(".flatpickr-calendar.open")).to_have_count(0)
    expect(page.get_by_label("结束日期")).to_have_value("2024-06-01")
    page.get_by_role("button", name="筛选").click()
    expect(page.get_by_test_id("filter-errors")).to_contain_text("结束日期不能早于开始日期")
    assert not problems, problems
