"""Sign in with WeCom in Chromium: the console's sign-in page, the simulator's QR page, and back signed in."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from siyu.orgs.models import AuditEntry
from tests.wecom.signin_support import SignInCorp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def corp(world, settings, live_server):
    corp = SignInCorp(world.org, settings, public_url=live_server.url)
    yield corp
    corp.close()


def test_a_guide_signs_in_by_scanning_in_the_simulator_and_lands_signed_in(page, live_server, world, corp, console):
    corp.staff("zhangxiao", "张晓", world.guide_e1)
    corp.staff("lihua", "李华")  # in WeCom, without a console account

    page.goto(f"{live_server.url}/login/?org=brand-a&next=/settings/wecom/events/")
    expect(page.get_by_label("用户名")).to_be_visible()  # the password stays for admins who are not staff
    page.get_by_role("button", name="企业微信扫码登录").click()
    expect(page.get_by_role("heading", name="企业微信扫码登录（模拟）")).to_be_visible()
    assert page.url.startswith(f"{corp.base}/wwlogin/sso/login?")
    page.get_by_role("button", name="扫码登录：李华（lihua）").click()
    expect(page.get_by_role("alert")).to_have_text("你的企业微信账号还没有关联后台成员账号，请联系品牌管理员开通。")

    page.get_by_role("link", name="返回登录页").click()
    page.goto(f"{live_server.url}/login/?org=brand-a")
    page.get_by_role("button", name="企业微信扫码登录").click()
    page.get_by_role("button", name="扫码登录：张晓（zhangxiao）").click()
    expect(page.get_by_role("heading", name="数据总览")).to_be_visible()
    assert page.url == f"{live_server.url}/"
    expect(page.locator(".topbar .who")).to_contain_text("导购")
    assert AuditEntry.objects.filter(action="login.wecom_succeeded", actor=world.guide_e1.user).count() == 1
    assert AuditEntry.objects.filter(action="login.wecom_refused", details__userid="lihua").count() == 1
    assert console.problems == [], console.problems


def test_inside_the_wecom_app_a_menu_link_signs_in_through_the_authorize_page(page, live_server, world, corp, console):
    corp.staff("zhangxiao", "张晓", world.guide_e1)
    # The app's menu entry in WeCom points here (README: Signing in with WeCom).
    page.goto(f"{live_server.url}/wecom/oauth/start/?org=brand-a&flow=app&next=/customers/")
    expect(page.get_by_role("heading", name="企业微信网页授权（模拟）")).to_be_visible()
    assert page.url.startswith(f"{corp.base}/connect/oauth2/authorize?")
    page.get_by_role("button", name="以此身份访问：张晓（zhangxiao）").click()
    expect(page.get_by_role("heading", name="客户列表")).to_be_visible()
    # Browsers keep a URL's fragment across redirects that name none: the authorize link's #wechat_redirect.
    assert page.url.split("#")[0] == f"{live_server.url}/customers/"
    expect(page.locator(".topbar .who")).to_contain_text("导购")
    assert console.problems == [], console.problems
