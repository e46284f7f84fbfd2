"""The console in a real browser (Debian's Chromium through Playwright) against the live server."""

import re

import pytest
from playwright.sync_api import expect

from siyu.orgs.models import AuditEntry, Membership, Store, User
from siyu.orgs.roles import Role
from tests.factories import join

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = "/tmp/siyu-dashboard.png"


def nav_entries(page) -> list[str]:
    return [text.strip() for text in page.locator("nav.nav a").all_text_contents()]


def nav_sections(page) -> list[str]:
    return [text.strip() for text in page.locator("nav.nav .nav-section").all_text_contents()]


def in_order(expected: list[str], actual: list[str]) -> bool:
    """``expected`` appears in ``actual`` in this order (the menu grows as capabilities land; these stay)."""
    rest = iter(actual)
    return all(item in rest for item in expected)


def figure(page, label: str):
    return page.get_by_test_id("figure").filter(has=page.locator(".label", has_text=re.compile(f"^{label}$")))


def table_column(page, index: int) -> list[str]:
    return [text.strip() for text in page.locator(f"table.data tbody tr td:nth-child({index})").all_inner_texts()]


def test_sign_in_dashboard_in_chinese_switch_to_english_sign_out(page, live_server, world, sign_in, console):
    org = world.org
    stores = Store.objects.for_org(org).filter(kind=Store.Kind.STORE)
    members = Membership.objects.for_org(org).filter(is_active=True)
    guides, managers = members.filter(role=Role.GUIDE).count(), members.filter(role=Role.STORE_MANAGER).count()
    assert (stores.count(), members.count(), guides, managers) == (4, 7, 3, 2)  # the world, as factories builds it

    sign_in("admin")

    # Chinese: the heading, the menu, the organization and the real figures of brand A.
    assert page.url == f"{live_server.url}/"
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page).to_have_title("数据总览 · 私域 Siyu")
    expect(page.locator(".brand small")).to_have_text("品牌A")
    assert in_order(["数据总览", "门店", "成员", "后台任务", "审计日志"], nav_entries(page)), nav_entries(page)
    assert in_order(["总览", "组织", "系统"], nav_sections(page)), nav_sections(page)
    expect(page.locator("nav.nav a[aria-current=page]")).to_have_text("数据总览")
    expect(figure(page, "门店").locator(".value")).to_have_text(str(stores.count()))
    expect(figure(page, "门店").locator(".hint")).to_have_text(f"营业中 {stores.filter(is_active=True).count()} 家")
    expect(figure(page, "成员").locator(".value")).to_have_text(str(members.count()))
    expect(figure(page, "成员").locator(".hint")).to_have_text(f"导购 {guides} · 店长 {managers}")
    expect(figure(page, "进行中的任务").locator(".value")).to_have_text("0")
    expect(page.locator(".topbar .who strong")).to_have_text("admin")
    expect(page.locator(".topbar .who small")).to_have_text("总部管理员")
    expect(page.get_by_role("heading", name="近 14 天登录与操作")).to_be_visible()
    expect(page.get_by_role("heading", name="每日趋势")).to_be_visible()
    # Both charts (daily adds and losses; sign-ins and actions) are drawn by ECharts from JSON islands (no inline
    # script: the CSP forbids them).
    expect(page.locator(".chart[data-rendered='1'] canvas")).to_have_count(2)
    page.wait_for_timeout(1500)  # let ECharts finish its entry animation before the picture
    page.screenshot(path=SCREENSHOT, full_page=True)
    assert console.problems == [], console.problems

    # English. (The switch is a POST to Django's set_language; the button is the one for "en".)
    switch_to_english = page.locator(".lang-switch button[value='en']")
    expect(switch_to_english).to_have_attribute("lang", "en")
    switch_to_english.click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    assert page.url == f"{live_server.url}/"
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_title("Overview · 私域 Siyu")  # the brand is a fixed logo
    assert in_order(["Overview", "Stores", "Members", "Background jobs", "Audit log"], nav_entries(page)), nav_entries(page)
    assert in_order(["Home", "Organization", "System"], nav_sections(page)), nav_sections(page)
    expect(figure(page, "Stores").locator(".value")).to_have_text(str(stores.count()))
    expect(figure(page, "Stores").locator(".hint")).to_have_text(f"Open: {stores.count()}")
    expect(figure(page, "Members").locator(".value")).to_have_text(str(members.count()))
    expect(figure(page, "Members").locator(".hint")).to_have_text(f"Shop guides: {guides} · Store managers: {managers}")
    expect(figure(page, "Jobs in progress").locator(".value")).to_have_text("0")
    expect(page.locator(".topbar .who small")).to_have_text("HQ admin")
    expect(page.get_by_role("heading", name="Sign-ins and actions, last 14 days")).to_be_visible()
    # The switch back names Chinese in Chinese.
    expect(page.locator(".lang-switch button")).to_have_text(["简体中文"])
    assert [c for c in page.context.cookies() if c["name"] == "siyu_language"][0]["value"] == "en"

    # Sign out: back on the login page, and the console needs signing in again.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    assert page.url == f"{live_server.url}/login/"
    expect(page.get_by_label("Username")).to_be_empty()
    page.goto(f"{live_server.url}/")
    assert page.url == f"{live_server.url}/login/?next=/"
    assert console.problems == [], console.problems


def test_wrong_password_then_lockout_on_the_fifth(page, world, sign_in, settings):
    # A wrong password, an unknown name and a locked account all get the same answer (nothing tells them apart).
    refused = "用户名或密码错误，或尝试次数过多，请稍后再试。"
    assert settings.LOGIN_MAX_FAILURES == 5
    for attempt in range(1, 5):
        sign_in("s1_manager", "wrong password", expect_dashboard=False)
        expect(page.locator(".form-errors")).to_have_text(refused)
        assert User.objects.get(username="s1_manager").failed_logins == attempt
    assert User.objects.get(username="s1_manager").locked_until is None

    sign_in("s1_manager", "wrong password", expect_dashboard=False)
    expect(page.locator(".form-errors")).to_have_text(refused)
    assert User.objects.get(username="s1_manager").locked_until is not None

    # Locked means locked: the right password does not get in either.
    sign_in("s1_manager", expect_dashboard=False)
    expect(page.locator(".form-errors")).to_have_text(refused)
    expect(page.get_by_role("heading", name="数据总览")).to_have_count(0)


def test_guide_sees_no_members_or_audit_and_gets_403_on_audit(page, live_server, world, sign_in):
    sign_in("guide_e1")
    menu = nav_entries(page)
    assert "成员" not in menu and "审计日志" not in menu
    assert in_order(["数据总览", "门店", "后台任务"], menu), menu
    expect(page.locator(".topbar")).to_contain_text("导购")

    response = page.goto(f"{live_server.url}/audit/")
    assert response.status == 403
    expect(page.get_by_role("heading", name="没有权限")).to_be_visible()
    expect(page.get_by_text("你的角色无权访问此页面。")).to_be_visible()
    response = page.goto(f"{live_server.url}/members/")
    assert response.status == 403


def test_user_in_two_organizations_switches_with_the_switcher(page, world, sign_in, console):
    join(world.other_org, User.objects.get(username="admin"), Role.HQ_ADMIN)  # the same person now works for brand B too
    sign_in("admin")
    expect(page.locator(".brand small")).to_have_text("品牌A")
    switcher = page.get_by_test_id("org-switcher").locator("select")
    expect(switcher.locator("option")).to_have_text(["品牌A", "品牌B"])

    switcher.select_option(str(world.other_org.pk))  # submits itself (data-autosubmit)
    expect(page.locator(".brand small")).to_have_text("品牌B")
    expect(switcher.locator("option:checked")).to_have_text("品牌B")
    # The figures are brand B's now: one store; other_admin, other_guide, the owner who invited admin, and admin.
    expect(figure(page, "门店").locator(".value")).to_have_text("1")
    expect(figure(page, "成员").locator(".value")).to_have_text("4")
    assert AuditEntry.objects.for_org(world.other_org).filter(action="org.switched", actor_name="admin").exists()

    page.reload()  # the choice lives in the session
    expect(page.locator(".brand small")).to_have_text("品牌B")
    assert console.problems == [], console.problems


def test_audit_log_lists_the_sign_in(page, live_server, world, sign_in):
    sign_in("admin")
    page.get_by_role("link", name="审计日志").click()
    expect(page.get_by_role("heading", name="审计日志")).to_be_visible()
    sign_ins = page.locator("table.data tbody tr").filter(has_text="登录成功")
    expect(sign_ins).to_have_count(1)
    expect(sign_ins.locator("td").nth(1)).to_have_text("admin")
    expect(sign_ins.locator("td").last).to_have_text("127.0.0.1")

    page.get_by_label("动作").select_option(label="登录")
    page.get_by_role("button", name="筛选").click()
    expect(page).to_have_url(re.compile(r"/audit/\?.*action=login\."))
    assert set(table_column(page, 3)) == {"登录成功"}


def test_members_filter_by_role_narrows_the_table(page, live_server, world, sign_in):
    sign_in("admin")
    page.get_by_role("link", name="成员").click()
    expect(page.get_by_role("heading", name="成员")).to_be_visible()
    rows = page.locator("table.data tbody tr")
    expect(rows).to_have_count(7)

    page.get_by_label("角色").select_option(label="导购")
    page.get_by_role("button", name="筛选").click()
    expect(page).to_have_url(re.compile(r"role=guide"))
    expect(rows).to_have_count(3)
    assert table_column(page, 1) == ["guide_e1", "guide_e2", "guide_s1"]
    assert set(table_column(page, 3)) == {"导购"}
    expect(page.get_by_label("角色")).to_have_value("guide")  # the filter remembers itself


def test_store_with_a_duplicate_code_shows_the_field_error_and_creates_nothing(page, live_server, world, sign_in):
    before = Store.objects.for_org(world.org).count()
    sign_in("admin")
    page.get_by_role("link", name="门店").click()
    page.get_by_role("link", name="新建门店/区域").click()
    expect(page.get_by_role("heading", name="新建门店/区域")).to_be_visible()

    page.get_by_label("编码").fill("E1")
    page.get_by_label("名称").fill("重复编码的门店")
    page.get_by_label("类型").select_option("store")
    page.get_by_label("上级").select_option(str(world.east.pk))
    page.get_by_role("button", name="保存").click()

    code_field = page.locator(".field.has-error").filter(has=page.locator("#id_code"))
    expect(code_field.locator(".errors")).to_have_text("编码已存在。")
    expect(page.locator(".field.has-error")).to_have_count(1)
    assert page.url == f"{live_server.url}/stores/new/"
    expect(page.get_by_label("名称")).to_have_value("重复编码的门店")  # what was typed is kept
    assert Store.objects.for_org(world.org).count() == before
    assert not Store.objects.for_org(world.org).filter(name="重复编码的门店").exists()
