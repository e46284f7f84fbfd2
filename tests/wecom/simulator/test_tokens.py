"""Access tokens, tickets, the error envelope, rate limits and injected failures."""

from __future__ import annotations

import threading

from .support import CORP_ID, SECRET, Api, err, ok


def test_gettoken_returns_a_token_valid_for_7200_seconds(sim, api):
    result = ok(api.gettoken())
    assert result["expires_in"] == 7200
    assert 0 < len(result["access_token"]) <= 512
    ok(api.get("externalcontact/get_follow_user_list"))


def test_gettoken_errors(api):
    err(api.gettoken(corpid="wwwrong"), 40013)
    err(api.gettoken(secret="wrong"), 40001)
    err(api.http.get("/cgi-bin/gettoken", params={"corpsecret": SECRET}).json(), 41002)
    err(api.http.get("/cgi-bin/gettoken", params={"corpid": CORP_ID}).json(), 41004)


def test_token_lifecycle_missing_unknown_expired(sim, api):
    api.auto_refresh = False
    err(api.http.get("/cgi-bin/externalcontact/get_follow_user_list").json(), 41001)
    err(api.http.get("/cgi-bin/externalcontact/get_follow_user_list", params={"access_token": "nope"}).json(), 40014)
    sim.advance(7199)
    ok(api.get("externalcontact/get_follow_user_list"))
    sim.advance(1)
    err(api.get("externalcontact/get_follow_user_list"), 42001)
    api.token = ok(api.gettoken())["access_token"]  # what a client does on 42001
    ok(api.get("externalcontact/get_follow_user_list"))


def test_expire_tokens_invalidates_issued_tokens_early(sim, api):
    api.auto_refresh = False
    old = api.token
    assert sim.expire_tokens() == {"expired": 1}
    err(api.get("externalcontact/get_follow_user_list"), 42001)
    api.token = ok(api.gettoken())["access_token"]
    assert api.token != old
    ok(api.get("externalcontact/get_follow_user_list"))


def test_tickets(api):
    ticket = ok(api.get("get_jsapi_ticket"))
    assert ticket["expires_in"] == 7200 and ticket["ticket"]
    assert ok(api.get("ticket/get", type="agent_config"))["ticket"]
    err(api.get("ticket/get", type="other"), 40058)


def test_errors_are_http_200_with_wecom_errmsg(api):
    response = api.http.get("/cgi-bin/externalcontact/get", params={"access_token": api.token, "external_userid": "wmX"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = err(response.json(), 40096)
    assert body["errmsg"].startswith("invalid external userid, hint: [")
    assert body["follow_user"] == []  # WeCom keeps the empty list field on errors


def test_wrong_method_and_bad_json_and_unknown_endpoint(api):
    err(api.get("externalcontact/add_contact_way"), 43002)
    response = api.http.post("/cgi-bin/externalcontact/add_contact_way", params={"access_token": api.token},
                             content=b"{not json")
    err(response.json(), 47001)
    response = api.http.get("/cgi-bin/externalcontact/no_such_api", params={"access_token": api.token})
    assert response.status_code == 404
    err(response.json(), 48001)


def test_rate_limit_45009_then_recovery_after_the_window(sim, api):
    sim.set_limits(api_per_minute=3)
    for _ in range(3):
        ok(api.get("externalcontact/get_follow_user_list"))
    err(api.get("externalcontact/get_follow_user_list"), 45009)
    ok(api.get("get_jsapi_ticket"))  # limits are per API
    sim.advance(60)
    ok(api.get("externalcontact/get_follow_user_list"))


def test_hourly_limit_blocks_the_rest_of_the_hour(sim, api):
    sim.set_limits(api_per_hour=2)
    ok(api.get("get_jsapi_ticket"))
    ok(api.get("get_jsapi_ticket"))
    sim.advance(60)
    err(api.get("get_jsapi_ticket"), 45009)
    sim.advance(3600)
    ok(api.get("get_jsapi_ticket"))


def test_fail_next_injects_errors_then_recovers(sim, api):
    sim.fail_next("externalcontact/get_follow_user_list", 45033, times=2)
    sim.fail_next("/cgi-bin/get_jsapi_ticket", -1)
    err(api.get("externalcontact/get_follow_user_list"), 45033)
    body = err(api.get("externalcontact/get_follow_user_list"), 45033)
    assert body["errmsg"].startswith("api concurrent out of limit")
    ok(api.get("externalcontact/get_follow_user_list"))
    assert err(api.get("get_jsapi_ticket"), -1)["errmsg"].startswith("system busy")
    ok(api.get("get_jsapi_ticket"))


def test_fail_next_any_path_and_custom_errmsg(sim, api):
    sim.fail_next("*", 60020, errmsg="not allow to access from your ip")
    assert "from ip: 127.0.0.1" in err(api.gettoken(), 60020)["errmsg"]
    ok(api.gettoken())
    sim.fail_next("externalcontact/list", 48002)
    err(api.get("externalcontact/list", userid="x"), 48002)


def test_concurrent_requests_are_safe(sim):
    sim.add_staff("zhangsan", "张三")
    clients = [Api(sim) for _ in range(4)]
    way = ok(clients[0].post("externalcontact/add_contact_way",
                             {"type": 1, "scene": 2, "user": ["zhangsan"], "state": "c"}))["config_id"]
    errors = []

    def worker(client):
        try:
            for _ in range(20):
                sim.scan(config_id=way)
                ok(client.get("externalcontact/list", userid="zhangsan"))
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(clients[0].get("externalcontact/list", userid="zhangsan")["external_userid"]) == 80
