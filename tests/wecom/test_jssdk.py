"""JS-SDK signatures: the official vector J, one ticket fetch for a burst of page loads, and the config endpoint."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection

from siyu.wecom import jssdk
from tests.factories import client_for
from tests.wecom.signin_support import CORP_ID, SignInCorp

VECTOR_J = json.loads((Path(__file__).parent / "vectors.json").read_text())["J"]
PAGE = "http://testserver/h5/sidebar/?entry=single_chat_tools"


@pytest.mark.parametrize("url, expected", [(VECTOR_J["url"], VECTOR_J["signature"]),
                                           (VECTOR_J["url2"], VECTOR_J["signature2"])])
def test_signature_matches_the_official_vector_j(url, expected):
    signed = jssdk.sign(VECTOR_J["jsapi_ticket"], url, timestamp=int(VECTOR_J["timestamp"]), nonce=VECTOR_J["noncestr"])
    assert signed.signature == expected
    assert signed.as_dict() == {"timestamp": 1414587457, "nonceStr": "Wm3WZYTPz0wzccnW", "signature": expected}
    # The page's #fragment is not part of what WeCom signs.
    assert jssdk.sign(VECTOR_J["jsapi_ticket"], url + "#/chat", timestamp=int(VECTOR_J["timestamp"]),
                      nonce=VECTOR_J["noncestr"]).signature == expected


@pytest.fixture
def corp(world, settings):
    corp = SignInCorp(world.org, settings)
    yield corp
    corp.close()


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_page_loads_fetch_each_ticket_once(corp, world):
    loads = 50
    barrier = threading.Barrier(loads)

    def page_load(_):
        barrier.wait(10)  # all at once, as when a campaign opens fifty sidebars in the same second
        try:
            return jssdk.config(world.org, PAGE)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=loads) as pool:
        answers = list(pool.map(page_load, range(loads)))  # a failed load raises here
    summary = corp.sim.summary()
    assert (summary["jsapi_tickets_issued"], summary["agent_tickets_issued"]) == (1, 1)
    # Every page got signatures WeCom's client accepts: config with the corp ticket, agentConfig with the app's.
    for answer in answers[:5]:
        for kind, part in (("corp", answer["config"]), ("agent", answer["agentConfig"])):
            assert corp.sim.check_jsapi_signature(kind, PAGE, part["timestamp"], part["nonceStr"],
                                                  part["signature"]) == {"ok": True}
    assert {a["corpid"] for a in answers} == {CORP_ID} and {a["agentid"] for a in answers} == {"1000002"}


@pytest.mark.django_db
def test_the_config_endpoint_signs_siyu_pages_for_members_only(corp, world):
    client = client_for(world.guide_e1)
    response = client.get("/wecom/jssdk/config/", {"url": PAGE + "#top"})
    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == {"corpid", "agentid", "config", "agentConfig"}
    assert corp.sim.check_jsapi_signature("agent", PAGE, answer["agentConfig"]["timestamp"],
                                          answer["agentConfig"]["nonceStr"], answer["agentConfig"]["signature"])
    for foreign in ("https://evil.example.net/h5/", "javascript:alert(1)", "", "http://testserver.evil.net/",
                    "http://testserver/" + "a" * 2100):
        response = client.get("/wecom/jssdk/config/", {"url": foreign})
        assert response.status_code == 400 and "url" in response.json()["errors"]
    assert corp.sim.summary()["jsapi_tickets_issued"] == 1  # the refusals fetched nothing
    anonymous = client.__class__().get("/wecom/jssdk/config/", {"url": PAGE})
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")


@pytest.mark.django_db
def test_a_brand_without_wecom_gets_a_clear_error(world):
    response = client_for(world.other_admin).get("/wecom/jssdk/config/", {"url": PAGE})
    assert response.status_code == 409 and response.json()["errors"]["__all__"]
