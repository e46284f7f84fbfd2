"""Sign-in with WeCom in the simulator: the authorize and web-login pages, auth/getuserinfo, JS-SDK tickets."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from siyu.wecom.crypto import jsapi_signature
from siyu.wecom.simulator import SimulatorError

from .support import AGENT_ID, CORP_ID, err, ok, staff

CALLBACK = "https://scrm.example.com/wecom/oauth/callback/"


def authorize_query(**changes) -> dict:
    query = {"appid": CORP_ID, "redirect_uri": CALLBACK, "response_type": "code", "scope": "snsapi_base",
             "state": "s7a7e", "agentid": str(AGENT_ID)}
    return {k: v for k, v in {**query, **changes}.items() if v is not None}


def web_login_query(**changes) -> dict:
    query = {"login_type": "CorpApp", "appid": CORP_ID, "agentid": str(AGENT_ID), "redirect_uri": CALLBACK,
             "state": "s7a7e"}
    return {k: v for k, v in {**query, **changes}.items() if v is not None}


@pytest.fixture
def corp(sim):
    staff(sim, "zhangxiao")
    sim.set_trusted_domains(["scrm.example.com"])
    return sim


def sign_in_code(api, path: str, query: dict, form: dict) -> str:
    response = api.http.post(path, params=query, data=form)
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    params = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    assert params["state"] == [query["state"]]
    return params["code"][0]


@pytest.mark.parametrize("path, query", [("/connect/oauth2/authorize", authorize_query()),
                                         ("/wwlogin/sso/login", web_login_query())])
def test_a_member_chosen_on_either_page_is_who_getuserinfo_names_once(corp, api, path, query):
    page = api.http.get(path, params=query)
    assert page.status_code == 200 and "zhangxiao" in page.text
    code = sign_in_code(api, path, query, {"userid": "zhangxiao"})
    assert ok(api.get("auth/getuserinfo", code=code)) == {"errcode": 0, "errmsg": "ok", "userid": "zhangxiao"}
    err(api.get("auth/getuserinfo", code=code), 40029)  # single use


def test_codes_expire_after_five_minutes(corp, api):
    code = sign_in_code(api, "/connect/oauth2/authorize", authorize_query(), {"userid": "zhangxiao"})
    corp.advance(300)
    err(api.get("auth/getuserinfo", code=code), 40029)
    code = sign_in_code(api, "/connect/oauth2/authorize", authorize_query(), {"userid": "zhangxiao"})
    corp.advance(299)
    assert ok(api.get("auth/getuserinfo", code=code))["userid"] == "zhangxiao"


def test_unknown_and_missing_codes(corp, api):
    err(api.get("auth/getuserinfo", code="not-a-code"), 40029)
    err(api.get("auth/getuserinfo"), 41008)


def test_a_wechat_user_outside_the_corp_gets_an_openid_not_a_userid(corp, api):
    code = sign_in_code(api, "/connect/oauth2/authorize", authorize_query(), {"outsider": "1"})
    answer = ok(api.get("auth/getuserinfo", code=code))
    assert "userid" not in answer and answer["openid"].startswith("o")


def test_web_login_is_for_members_only_and_departed_members_cannot_sign_in(corp, api):
    assert api.http.post("/wwlogin/sso/login", params=web_login_query(), data={"outsider": "1"}).status_code == 400
    corp.remove_staff("zhangxiao")
    response = api.http.post("/connect/oauth2/authorize", params=authorize_query(), data={"userid": "zhangxiao"})
    assert response.status_code == 400 and "location" not in response.headers


@pytest.mark.parametrize("path, query, errcode", [
    ("/connect/oauth2/authorize", authorize_query(redirect_uri="https://evil.example.net/cb"), 50001),
    ("/connect/oauth2/authorize", authorize_query(appid="wwsomeoneelse"), 40013),
    ("/connect/oauth2/authorize", authorize_query(state="has-dash"), 40058),
    ("/connect/oauth2/authorize", authorize_query(state="a" * 129), 40058),
    ("/connect/oauth2/authorize", authorize_query(response_type="token"), 40058),
    ("/connect/oauth2/authorize", authorize_query(scope="snsapi_userinfo"), 40058),
    ("/wwlogin/sso/login", web_login_query(agentid="1000999"), 40056),
    ("/wwlogin/sso/login", web_login_query(redirect_uri="https://evil.example.net/cb"), 50001),
])
def test_the_pages_refuse_what_wecom_refuses(corp, api, path, query, errcode):
    for response in (api.http.get(path, params=query), api.http.post(path, params=query, data={"userid": "zhangxiao"})):
        assert response.status_code == 400 and "location" not in response.headers
        assert f"错误码 {errcode}" in response.text
    assert not corp.state.oauth_codes


def test_no_trusted_domain_configured_means_no_redirect(sim, api):
    staff(sim, "zhangxiao")
    assert "错误码 50001" in api.http.get("/connect/oauth2/authorize", params=authorize_query()).text
    with pytest.raises(SimulatorError):
        sim.set_trusted_domains("scrm.example.com")


def test_tickets_live_7200_seconds_and_only_live_tickets_sign(corp, api):
    url, nonce, timestamp = "https://scrm.example.com/h5/sidebar/?a=1", "Wm3WZYTPz0wzccnW", "1414587457"
    corp_ticket = ok(api.get("get_jsapi_ticket"))
    agent_ticket = ok(api.get("ticket/get", type="agent_config"))
    assert corp_ticket["expires_in"] == agent_ticket["expires_in"] == 7200
    signature = jsapi_signature(corp_ticket["ticket"], nonce, timestamp, url)
    assert corp.check_jsapi_signature("corp", url, timestamp, nonce, signature) == {"ok": True}
    with pytest.raises(SimulatorError, match="agentConfig:invalid signature"):
        corp.check_jsapi_signature("agent", url, timestamp, nonce, signature)  # signed with the wrong ticket
    with pytest.raises(SimulatorError, match="config:invalid signature"):
        corp.check_jsapi_signature("corp", url + "&b=2", timestamp, nonce, signature)
    corp.advance(7199)
    assert corp.check_jsapi_signature("corp", url, timestamp, nonce, signature) == {"ok": True}
    corp.advance(1)
    with pytest.raises(SimulatorError, match="config:invalid signature"):
        corp.check_jsapi_signature("corp", url, timestamp, nonce, signature)
    assert corp.summary()["jsapi_tickets_issued"] == 1 and corp.summary()["agent_tickets_issued"] == 1


def test_ticket_quotas_per_hour(corp, api):
    """DOC 90506: the corp ticket 400 an hour per corp and 100 per app; the app ticket 100 an hour per app."""
    for _ in range(100):
        ok(api.get("get_jsapi_ticket"))
        ok(api.get("ticket/get", type="agent_config"))
    err(api.get("get_jsapi_ticket"), 45009)
    err(api.get("ticket/get", type="agent_config"), 45009)
    corp.advance(3600)
    ok(api.get("get_jsapi_ticket"))
    ok(api.get("ticket/get", type="agent_config"))
