"""POST /api/v1/content/check: findings with offsets, for callers signed in by key or console session; the
caller's organization's words only; field-level 4xx for bad input, and nothing stored either way."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from siyu.content import services
from siyu.content.models import SensitiveWord
from siyu.orgs.apikeys import create_key
from siyu.orgs.models import AuditEntry
from siyu.orgs.roles import Role
from tests.factories import client_for

URL = "/api/v1/content/check"


def bearer(token: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def post(client: Client, body) -> tuple[int, dict]:
    raw = body if isinstance(body, (str, bytes)) else json.dumps(body)
    response = client.post(URL, raw, content_type="application/json")
    return response.status_code, response.json()


def test_findings_come_back_with_offsets_into_the_text(world):
    _key, token = create_key(world.org, name="商城", role=Role.GUIDE, store=world.e1, by=world.owner.user)
    text = "国家级品质，全网最低价，咨询１３８００１３８０００"
    status, body = post(bearer(token), {"text": text})
    assert status == 200
    assert body == {"findings": [
        {"term": "国家级", "start": 0, "end": 3, "rule": "advertising_law", "severity": "block"},
        {"term": "全网最低价", "start": 6, "end": 11, "rule": "advertising_law", "severity": "block"},
        {"term": "１３８００１３８０００", "start": 14, "end": 25, "rule": "phone_number", "severity": "flag"},
    ]}
    assert all(text[f["start"]:f["end"]] == f["term"] for f in body["findings"])
    assert post(bearer(token), {"text": "最近上新，欢迎选购"}) == (200, {"findings": []})


def test_the_console_session_may_call_it_and_anonymous_callers_may_not(world):
    assert post(client_for(world.guide_s1), {"text": "顶级"})[1]["findings"][0]["term"] == "顶级"
    assert post(Client(), {"text": "顶级"})[0] == 401
    assert post(bearer("siyu_000000000000_nope"), {"text": "顶级"})[0] == 401


def test_each_brand_sees_only_its_own_words(world):
    services.add_word(world.org, word="竞品甲", by=world.admin)
    services.add_word(world.other_org, word="竞品乙", by=world.other_admin)
    _a, token_a = create_key(world.org, name="A", role=Role.HQ_ADMIN, by=world.owner.user)
    _b, token_b = create_key(world.other_org, name="B", role=Role.HQ_ADMIN, by=None)
    text = "竞品甲和竞品乙"
    assert [f["term"] for f in post(bearer(token_a), {"text": text})[1]["findings"]] == ["竞品甲"]
    assert [f["term"] for f in post(bearer(token_b), {"text": text})[1]["findings"]] == ["竞品乙"]
    assert [f["term"] for f in post(client_for(world.other_guide), {"text": text})[1]["findings"]] == ["竞品乙"]


@pytest.mark.parametrize("body, field", [
    ({}, "text"),
    ({"text": 123}, "text"),
    ({"text": None}, "text"),
    ({"text": ["国家级"]}, "text"),
    ({"text": ""}, "text"),
    ({"text": "国" * 20_001}, "text"),
])
def test_bad_input_is_a_field_level_422(world, body, field):
    entries = AuditEntry.objects.for_org(world.org).count()
    status, answer = post(client_for(world.admin), body)
    assert status == 422, answer
    assert field in answer["errors"]
    assert AuditEntry.objects.for_org(world.org).count() == entries
    assert not SensitiveWord.objects.for_org(world.org).exists()


def test_the_longest_text_allowed_is_checked(world):
    status, body = post(client_for(world.admin), {"text": "好" * 19_997 + "国家级"})
    assert status == 200 and body["findings"][0]["start"] == 19_997


@pytest.mark.parametrize("raw", ["{", "not json", b"\xff\xfe"])
def test_a_malformed_body_is_a_400(world, raw):
    assert post(client_for(world.admin), raw)[0] == 400
