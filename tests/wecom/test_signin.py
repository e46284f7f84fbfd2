"""Sign in with WeCom, end to end against the simulator: Siyu's start and callback views, the simulator's pages
and auth/getuserinfo over real HTTP."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.test import Client

from siyu.orgs.models import AuditEntry, Staff
from tests.wecom.signin_support import CORP_ID, SignInCorp

pytestmark = pytest.mark.django_db


@pytest.fixture
def corp(world, settings):
    corp = SignInCorp(world.org, settings)
    yield corp
    corp.close()


def start(client: Client, *, flow: str = "qr", next_url: str | None = None, org: str = "brand-a") -> str:
    params = {"org": org, "flow": flow, **({"next": next_url} if next_url is not None else {})}
    response = client.get("/wecom/oauth/start/", params)
    assert response.status_code == 302
    return response["Location"]


def come_back(client: Client, callback_url: str):
    """Follow WeCom's redirect back into Siyu (the test client serves only paths)."""
    parts = urlsplit(callback_url)
    assert f"{parts.scheme}://{parts.netloc}" == "http://testserver"
    return client.get(f"{parts.path}?{parts.query}")


def signed_in_user(client: Client):
    return client.get("/").wsgi_request.user


def test_a_guide_signs_in_by_qr_code_and_lands_where_they_were_going(corp, world):
    corp.staff("zhangxiao", "张晓", world.guide_e1)
    client = Client()
    location = start(client, next_url="/settings/wecom/events/?page=2")
    assert location.startswith(f"{corp.base}/wwlogin/sso/login?")
    query = parse_qs(urlsplit(location).query)
    assert query["appid"] == [CORP_ID] and query["agentid"] == ["1000002"] and query["login_type"] == ["CorpApp"]
    assert query["redirect_uri"] == ["http://testserver/wecom/oauth/callback/"]
    assert query["state"][0].isalnum() and len(query["state"][0]) <= 128  # what WeCom passes back

    response = come_back(client, corp.choose(location, userid="zhangxiao"))
    assert response.status_code == 302 and response["Location"] == "/settings/wecom/events/?page=2"
    assert signed_in_user(client) == world.guide_e1.user
    assert client.session["org_id"] == world.org.pk
    entry = AuditEntry.objects.get(action="login.wecom_succeeded")
    assert (entry.org_id, entry.actor_id) == (world.org.pk, world.guide_e1.user_id)
    assert entry.details == {"userid": "zhangxiao", "flow": "qr"}


def test_inside_the_wecom_app_the_authorize_page_is_used(corp, world):
    corp.staff("zhangxiao", "张晓", world.guide_e1)
    client = Client(HTTP_USER_AGENT="Mozilla/5.0 (iPhone) wxwork/4.1.20 MicroMessenger/7.0.1")
    response = client.get("/wecom/oauth/start/", {"org": "brand-a"})
    location = response["Location"]
    assert location.startswith(f"{corp.base}/connect/oauth2/authorize?") and location.endswith("#wechat_redirect")
    assert parse_qs(urlsplit(location).query)["scope"] == ["snsapi_base"]
    response = come_back(client, corp.choose(location, userid="zhangxiao"))
    assert response["Location"] == "/w/"  # no next: inside WeCom a guide lands on their workbench
    assert signed_in_user(client) == world.guide_e1.user


def test_a_code_works_once(corp, world):
    corp.staff("zhangxiao", "张晓", world.guide_e1)
    client = Client()
    callback = corp.choose(start(client), userid="zhangxiao")
    assert come_back(client, callback).status_code == 302
    client.post("/logout/")
    # The same code again, with a fresh state of this browser: WeCom refuses the code (40029).
    fresh_state = parse_qs(urlsplit(start(client)).query)["state"][0]
    code = parse_qs(urlsplit(callback).query)["code"][0]
    response = client.get("/wecom/oauth/callback/", {"code": code, "state": fresh_state})
    assert response.status_code == 400 and "授权码无效、已使用或已过期" in response.content.decode()
    assert not signed_in_user(client).is_authenticated


def test_a_state_from_another_browser_or_tampered_is_refused_without_asking_wecom(corp, world):
    corp.staff("zhangxiao", "张晓", world.guide_e1)
    attacker, victim = Client(), Client()
    callback = corp.choose(start(attacker), userid="zhangxiao")
    start(victim)  # the victim has a sign-in of their own under way
    response = come_back(victim, callback)  # sign-in CSRF: the attacker's code and state in the victim's browser
    assert response.status_code == 400 and "登录请求已失效" in response.content.decode()
    assert not signed_in_user(victim).is_authenticated

    query = parse_qs(urlsplit(callback).query)
    state = query["state"][0]
    tampered = state[:-1] + ("0" if state[-1] != "0" else "1")
    response = attacker.get("/wecom/oauth/callback/", {"code": query["code"][0], "state": tampered})
    assert response.status_code == 400 and not signed_in_user(attacker).is_authenticated
    assert not AuditEntry.objects.filter(action__startswith="login.wecom").exists()
    # WeCom was never asked, so the code is still good for the browser that started the sign-in... once it
    # starts again: a refused state is spent.
    assert come_back(attacker, callback).status_code == 400


@pytest.mark.parametrize("case", ["no_membership", "inactive_membership", "departed", "not_synced", "outsider"])
def test_people_siyu_does_not_let_in_get_a_clear_page_and_no_account(corp, world, case):
    users_before = world.org.pk and set(world.guide_e1.user.__class__.objects.values_list("pk", flat=True))
    form = {"userid": "lihua"}
    if case == "no_membership":
        corp.staff("lihua", "李华")
    elif case == "inactive_membership":
        corp.staff("lihua", "李华", world.guide_e2)
        world.guide_e2.is_active = False
        world.guide_e2.save(update_fields=["is_active"])
    elif case == "departed":
        staff = corp.staff("lihua", "李华", world.guide_e2)
        Staff.objects.filter(pk=staff.pk).update(status=Staff.Status.DEPARTED)
    elif case == "not_synced":
        corp.sim.add_staff("lihua", "李华")  # in WeCom, not yet in Siyu
    else:
        form = {"outsider": "1"}
    client = Client()
    location = start(client, flow="app")
    response = come_back(client, corp.choose(location, **form))
    assert response.status_code == 403
    assert "无法通过企业微信登录" in response.content.decode()
    assert not signed_in_user(client).is_authenticated
    assert set(world.guide_e1.user.__class__.objects.values_list("pk", flat=True)) == users_before
    entry = AuditEntry.objects.get(action="login.wecom_refused")
    reason = {"no_membership": "no_membership", "inactive_membership": "no_membership", "departed": "staff_inactive",
              "not_synced": "not_staff", "outsider": "not_in_corp"}[case]
    assert entry.org_id == world.org.pk and entry.details["reason"] == reason


@pytest.mark.parametrize("next_url", ["https://evil.example.net/steal", "//evil.example.net/", "http://testserver.evil.net/",
                                      "javascript:alert(1)"])
def test_next_cannot_leave_siyu(corp, world, next_url):
    corp.staff("zhangxiao", "张晓", world.guide_e1)
    client = Client()
    response = come_back(client, corp.choose(start(client, next_url=next_url), userid="zhangxiao"))
    assert response.status_code == 302 and response["Location"] == "/"
    assert signed_in_user(client) == world.guide_e1.user


def test_failed_callbacks_are_throttled_per_address_like_passwords(corp, world, settings):
    settings.LOGIN_IP_MAX_FAILURES = 3
    corp.staff("zhangxiao", "张晓", world.guide_e1)
    client = Client()
    for _ in range(3):
        assert client.get("/wecom/oauth/callback/", {"code": "guess", "state": "guess"}).status_code == 400
    callback = corp.choose(start(client), userid="zhangxiao")
    response = come_back(client, callback)
    assert response.status_code == 429
    assert not signed_in_user(client).is_authenticated


def test_start_refuses_an_unknown_or_unconnected_brand(corp, world):
    for org in ("no-such-brand", "brand-b"):
        response = Client().get("/wecom/oauth/start/", {"org": org})
        assert response.status_code == 400 and "没有找到可用企业微信登录的品牌" in response.content.decode()


def test_the_sign_in_page_offers_wecom_next_to_the_password(corp, world):
    page = Client().get("/login/", {"org": "brand-a", "next": "/customers/"}).content.decode()
    assert "企业微信扫码登录" in page
    assert 'name="org" value="brand-a"' in page and 'name="next" value="/customers/"' in page
    # Two brands on this install and none named: the page asks which, without listing them.
    page = Client().get("/login/").content.decode()
    assert 'id="wecom-org"' in page and "brand-a" not in page
    # A brand without a WeCom connection signs in with passwords only, and so does an install without any.
    assert "企业微信扫码登录" not in Client().get("/login/", {"org": "brand-b"}).content.decode()
    corp.connection.is_active = False
    corp.connection.save(update_fields=["is_active"])
    assert "企业微信扫码登录" not in Client().get("/login/").content.decode()


def test_a_password_lock_does_not_stop_a_wecom_sign_in(corp, world):
    """The lock after wrong passwords stops password guessing; WeCom proves who signs in without a password, so
    a guide whose password someone was guessing can still work from WeCom, and the lock stays for passwords."""
    corp.staff("zhangxiao", "张晓", world.guide_e1)
    user = world.guide_e1.user
    for _attempt in range(settings.LOGIN_MAX_FAILURES):
        Client().post("/login/", {"username": user.username, "password": "wrong-guess"})
    user.refresh_from_db()
    assert user.locked_until is not None

    client = Client()
    come_back(client, corp.choose(start(client), userid="zhangxiao"))

    assert signed_in_user(client) == user
    user.refresh_from_db()
    assert user.locked_until is not None  # still locked for passwords
