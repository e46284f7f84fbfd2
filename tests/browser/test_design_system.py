"""The design system's components in a real browser: the confirm dialog, the Chinese calendar with quick ranges,
the pager, and the message phone preview (docs/design.md)."""

import datetime as dt

import pytest
from playwright.sync_api import expect

from siyu.orgs import audit
from siyu.orgs.models import AuditEntry, Membership

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_confirm_dialog_replaces_window_confirm(page, live_server, world, sign_in, console):
    page.on("dialog", lambda d: pytest.fail(f"a native {d.type}() dialog opened: {d.message}"))
    sign_in("admin")
    page.goto(f"{live_server.url}/members/{world.guide_e1.pk}/")
    page.get_by_role("button", name="停用").click()
    dialog = page.locator("dialog.confirm")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("确定停用该成员？停用后不能登录本组织。")

    dialog.get_by_role("button", name="取消").click()
    expect(dialog).to_be_hidden()
    assert Membership.objects.get(pk=world.guide_e1.pk).is_active

    page.get_by_role("button", name="停用").click()
    expect(dialog.get_by_role("button", name="停用")).to_have_class("btn primary danger-fill")  # named like the submitter
    dialog.get_by_role("button", name="停用").click()
    expect(page.get_by_role("button", name="启用")).to_be_visible()
    assert not Membership.objects.get(pk=world.guide_e1.pk).is_active
    assert console.problems == [], console.problems


def test_date_range_quick_picks_and_chinese_calendar(page, live_server, world, sign_in, console):
    sign_in("admin")
    page.goto(f"{live_server.url}/audit/")
    start, end = page.get_by_label("开始日期"), page.get_by_label("结束日期")
    page.get_by_role("button", name="近 7 天").click()
    today = dt.date.today()  # the browser runs in Asia/Shanghai like the test machine's calendar day here
    shown_end = dt.date.fromisoformat(end.input_value())
    assert abs((shown_end - today).days) <= 1
    assert (shown_end - dt.date.fromisoformat(start.input_value())).days == 6
    expect(page.get_by_role("button", name="近 7 天")).to_have_class("chip-button on")

    start.click()
    calendar = page.locator(".flatpickr-calendar.open")
    expect(calendar.locator(".flatpickr-weekday").first).to_have_text("周日")
    expect(calendar.locator(".flatpickr-monthDropdown-months option:checked")).to_have_text(f"{'一二三四五六七八九十'[today.month - 1] if today.month <= 10 else '十' + '一二'[today.month - 11]}月")
    expect(calendar.get_by_role("spinbutton", name="年")).to_be_visible()
    assert console.problems == [], console.problems


def test_one_pager_keeps_the_filters(page, live_server, world, sign_in):
    for n in range(60):
        audit.record("member.added", org=world.org, actor=world.admin.user, obj=world.guide_e1, details={"n": n})
    sign_in("admin")
    page.goto(f"{live_server.url}/audit/?action=member.")
    total = AuditEntry.objects.for_org(world.org).filter(action__startswith="member.").count()
    assert total > 50  # two pages of 50
    pager = page.get_by_test_id("pagination")
    expect(pager.locator(".total")).to_have_text(f"共 {total} 条")
    expect(pager.locator(".current")).to_have_text("1")
    pager.get_by_role("link", name="2", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/audit/?action=member.&page=2")
    expect(page.get_by_test_id("pagination").locator(".current")).to_have_text("2")


def test_phone_preview_fills_variables_and_shows_attachments_as_cards(page, live_server, world, sign_in, console):
    sign_in("admin")
    page.goto(f"{live_server.url}/channels/welcome/new/")
    phone = page.get_by_test_id("phone-preview")
    expect(phone).to_contain_text("输入内容后在这里预览")
    page.get_by_label("欢迎语", exact=True).fill("你好 {customer_nickname}，我是{staff_name}")
    expect(phone.locator(".bubble").first).to_have_text(f"你好 林小姐，我是{world.admin.user.name}")

    page.get_by_role("button", name="添加附件").click()
    row = page.locator("[data-testid=attachments] [data-forms] > fieldset").first
    row.locator("select[name$='-kind']").select_option("link")
    row.locator("input[name$='-title']").fill("本周新品：桂花乌龙")
    expect(phone.locator(".card-msg")).to_have_count(1)
    expect(phone.locator(".card-msg strong")).to_have_text("本周新品：桂花乌龙")
    expect(phone.locator(".card-msg em")).to_have_text("链接")
    assert console.problems == [], console.problems
