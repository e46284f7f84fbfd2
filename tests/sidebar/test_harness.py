"""The harness exists only while WeCom is simulated, lists members' chats, and relays exactly the two calls that
need WeCom's side to the simulator."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from siyu.wecom import jssdk

pytestmark = pytest.mark.django_db


def relay(client, action: str, payload) -> tuple[int, dict]:
    answer = client.post(f"/s/harness/sim/{action}/?org=brand-a", json.dumps(payload), content_type="application/json")
    return answer.status_code, answer.json() if answer["Content-Type"] == "application/json" else {}


def test_the_harness_lists_each_members_chats(shop):
    page = Client().get("/s/harness/?org=brand-a")
    html = page.content.decode()
    assert page.status_code == 200
    assert f'data-userid="zhangxiao" data-external-userid="{shop.wang}"' in html and "与 王女士 的聊天" in html
    assert f'data-userid="zhangxiao" data-chat-id="{shop.chat_id}"' in html and "客户群：香薰群" in html
    assert "与 赵小姐 的聊天" in html  # 李四's chat
    assert shop.corp.base in page["Content-Security-Policy"]  # the frame may show the simulator's sign-in page


def test_without_a_simulated_wecom_there_is_no_harness(shop, settings):
    settings.WECOM_LOGIN_BASE = ""
    assert Client().get("/s/harness/?org=brand-a").status_code == 404
    assert relay(Client(), "check-jsapi-signature", {})[0] == 404


def test_the_relay_checks_signatures_and_refuses_other_simulator_routes(shop):
    client = Client()
    url = f"http://testserver/s/c/{shop.wang}/"
    signed = jssdk.config(shop.corp.org, url)["config"]
    good = {"kind": "corp", "url": url, "timestamp": signed["timestamp"], "noncestr": signed["nonceStr"],
            "signature": signed["signature"]}
    assert relay(client, "check-jsapi-signature", good) == (200, {"ok": True})
    status, answer = relay(client, "check-jsapi-signature", {**good, "signature": "0" * 40})
    assert status == 400 and answer["error"] == "config:invalid signature"
    assert relay(client, "add-customer", {"userid": "zhangxiao"})[0] == 404
    assert relay(client, "send-chat-message", ["not", "an", "object"])[0] == 400
    assert shop.sim.chat_tool_messages() == []
