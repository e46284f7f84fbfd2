"""The console's source pages (数据源): HQ only, the key shown once, the debugger's counts, rejects and masked
events, and key rotation and revocation."""

import base64
import json
import re

from django.test import Client

from siyu.cdp import sources
from siyu.cdp.models import Source, WriteKey
from tests.factories import client_for, drain


def _send(key, payload, path="/v1/batch"):
    return Client().post(path, json.dumps(payload), content_type="application/json",
                         HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{key}:".encode()).decode())


def _shown_key(html: str) -> str:
    return re.search(r'data-testid="key-value">([^<]+)<', html).group(1)


def test_only_hq_manages_sources(world):
    assert client_for(world.admin).get("/cdp/sources/").status_code == 200
    assert client_for(world.guide_e1).get("/cdp/sources/").status_code == 403
    assert client_for(world.east_manager).get("/cdp/sources/new/").status_code == 403
    other = sources.create_source(world.other_org, name="B", kind="web", by=None)
    assert client_for(world.admin).get(f"/cdp/sources/{other.pk}/").status_code == 404


def test_creating_a_source_shows_its_key_once_and_the_key_works(world):
    client = client_for(world.admin)
    response = client.post("/cdp/sources/new/", {"name": "官网", "kind": "web"})
    assert response.status_code == 200
    key = _shown_key(response.content.decode())
    source = Source.objects.for_org(world.org).get(name="官网")
    assert _send(key, {"batch": [{"type": "track", "event": "Tap", "userId": "u"}]}).status_code == 200
    page = client.get(f"/cdp/sources/{source.pk}/").content.decode()
    assert key not in page and WriteKey.objects.for_org(world.org).get().prefix in page
    listing = client.get("/cdp/sources/").content.decode()
    assert "官网" in listing


def test_a_bad_source_form_is_a_form_error_and_creates_nothing(world):
    sources.create_source(world.org, name="官网", kind="web", by=None)
    response = client_for(world.admin).post("/cdp/sources/new/", {"name": "官网", "kind": "web"})
    assert response.status_code == 400 and "已有同名数据源" in response.content.decode()
    response = client_for(world.admin).post("/cdp/sources/new/", {"name": "X", "kind": "tv"})
    assert response.status_code == 400
    assert Source.objects.for_org(world.org).count() == 1


def test_the_debugger_shows_counts_rejects_and_masked_events(world):
    source = sources.create_source(world.org, name="App", kind="app", by=None)
    key = sources.create_write_key(source, by=None)[1]
    batch = [{"type": "identify", "userId": "u-1", "messageId": "id-1",
              "context": {"ip": "203.0.113.77", "traits": {"phone": "13812345678"}}},
             {"type": "track", "event": "Coupon Used", "userId": "u-1", "messageId": "t-1"}]
    assert _send(key, {"batch": batch}).status_code == 200
    assert _send(key, {"batch": [{"type": "track", "userId": "u"}]}).status_code == 400
    assert _send(key, {"batch": [{"type": "track", "userId": "u"}]}).status_code == 400
    drain()
    page = client_for(world.admin).get(f"/cdp/sources/{source.pk}/").content.decode()
    assert re.search(r'data-testid="today">2<', page)
    assert "行为事件缺少事件名" in page and re.search(r"track_without_event</code></td><td>[^<]+</td><td class=\"num\">2", page)
    assert "Coupon Used" in page
    assert "203.0.113.77" not in page and "13812345678" not in page
    assert "138****5678" in page


def test_rotate_keeps_the_old_key_for_the_grace_period_and_revoke_stops_it(world):
    source = sources.create_source(world.org, name="POS", kind="pos", by=None)
    old_row, old_key = sources.create_write_key(source, by=None)
    client = client_for(world.admin)
    response = client.post(f"/cdp/sources/{source.pk}/keys/{old_row.pk}/rotate/")
    new_key = _shown_key(response.content.decode())
    track = {"batch": [{"type": "track", "event": "Paid", "userId": "u"}]}
    assert _send(old_key, track).status_code == 200
    assert _send(new_key, track).status_code == 200
    client.post(f"/cdp/sources/{source.pk}/keys/{old_row.pk}/revoke/")
    assert _send(old_key, track).json()["error"] == "revoked_write_key"
    assert _send(new_key, track).status_code == 200
    assert client_for(world.guide_e1).post(f"/cdp/sources/{source.pk}/keys/{old_row.pk}/revoke/").status_code == 403
