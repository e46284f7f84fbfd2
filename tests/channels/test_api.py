"""The channel code API: the same rules and field errors as the console, visibility, and no 500s."""

from __future__ import annotations

import json

import pytest

from siyu.channels.models import ChannelCode
from tests.factories import client_for


@pytest.fixture
def team(world, corp):
    alice, bob = corp.staff("alice", store=world.e1), corp.staff("bob", store=world.s1)
    alice.membership = world.guide_e1
    alice.save(update_fields=["membership"])
    tea, = corp.tags("奶茶爱好者")
    return alice, bob, tea


def post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


def test_create_read_patch_pause_resume_delete(world, corp, team):
    alice, bob, tea = team
    api = client_for(world.admin)
    response = post(api, "/api/v1/channels", {
        "name": "API 活码", "staff": [alice.pk, bob.pk], "tags": [tea.pk], "folder": "线上", "policy": "daily_cap",
        "daily_cap": 5, "welcome_text": "你好", "welcome_attachments": [{"msgtype": "image", "image": {"pic_url": "https://a.example/x.png"}}],
        "red_packet": {"mode": "fixed", "amount_fen": 100, "budget_fen": 1000},
    })
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["staff"], body["tags"], body["folder"], body["current_staff"]) == (["alice", "bob"], ["奶茶爱好者"], "线上", ["alice", "bob"])
    code_id = body["id"]
    assert api.get(f"/api/v1/channels/{code_id}").json()["welcome_text"] == "你好"
    assert [c["name"] for c in api.get("/api/v1/channels").json()["items"]] == ["API 活码"]

    patched = api.patch(f"/api/v1/channels/{code_id}", json.dumps({"name": "API 活码 2", "staff": [bob.pk]}), content_type="application/json")
    assert patched.status_code == 200, patched.content
    assert (patched.json()["name"], patched.json()["staff"], patched.json()["tags"], patched.json()["folder"]) == ("API 活码 2", ["bob"], ["奶茶爱好者"], "线上")
    assert corp.way(ChannelCode.objects.for_org(world.org).get())["user"] == ["bob"]

    assert api.post(f"/api/v1/channels/{code_id}/pause").json()["status"] == "paused"
    assert api.post(f"/api/v1/channels/{code_id}/resume").json()["status"] == "active"
    assert api.delete(f"/api/v1/channels/{code_id}").json()["status"] == "deleted"
    assert api.get("/api/v1/channels").json()["items"] == []
    assert [c["name"] for c in api.get("/api/v1/channels", {"status": "deleted"}).json()["items"]] == ["API 活码 2"]


@pytest.mark.parametrize(("change", "field"), [
    ({"state": "s" * 31}, "state"),
    ({"welcome_attachments": [{"msgtype": "image", "image": {"pic_url": "https://a.example/x.png"}}] * 10}, "welcome_attachments"),
    ({"welcome_attachments": [{"msgtype": "miniprogram", "miniprogram": {"title": "t", "appid": "wx8bd80126147df0a1", "page": "index", "pic_media_id": "m"}}]}, "welcome_attachments"),
    ({"staff": [999999]}, "staff"),
    ({"tags": [999999]}, "tags"),
])
def test_bad_input_is_a_422_with_the_field_and_changes_nothing(world, corp, team, change, field):
    alice, bob, tea = team
    response = post(client_for(world.admin), "/api/v1/channels", {"name": "坏", "staff": [alice.pk], **change})
    assert response.status_code == 422 and field in response.json()["errors"], response.content
    assert not ChannelCode.objects.for_org(world.org).exists() and corp.sim.state.contact_ways == {}


def test_guides_read_their_own_codes_and_cannot_write(world, corp, team):
    alice, bob, tea = team
    admin = client_for(world.admin)
    mine = post(admin, "/api/v1/channels", {"name": "张的码", "staff": [alice.pk]}).json()["id"]
    other = post(admin, "/api/v1/channels", {"name": "周的码", "staff": [bob.pk]}).json()["id"]
    guide = client_for(world.guide_e1)
    assert [c["name"] for c in guide.get("/api/v1/channels").json()["items"]] == ["张的码"]
    assert guide.get(f"/api/v1/channels/{other}").status_code == 404
    assert post(guide, "/api/v1/channels", {"name": "x", "staff": [alice.pk]}).status_code == 403
    assert guide.post(f"/api/v1/channels/{mine}/pause").status_code == 403
    assert client_for(world.other_admin).get(f"/api/v1/channels/{mine}").status_code == 404


def test_customers_of_a_code(world, corp, team):
    alice, bob, tea = team
    admin = client_for(world.admin)
    code_id = post(admin, "/api/v1/channels", {"name": "海报", "staff": [alice.pk]}).json()["id"]
    code = ChannelCode.objects.for_org(world.org).get(pk=code_id)
    scanned = corp.scan(code)["external_userid"]
    items = admin.get(f"/api/v1/channels/{code_id}/customers").json()["items"]
    assert [c["external_userid"] for c in items] == [scanned]
