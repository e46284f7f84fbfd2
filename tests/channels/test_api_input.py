"""The channel API with input the schema allows but the code once choked on: null lists, lone surrogates."""

import json

from siyu.channels.models import ChannelCode
from tests.channels.test_api import post, team  # noqa: F401  (fixture)
from tests.factories import client_for


def test_null_tags_clear_them_and_lone_surrogates_are_dropped(world, corp, team):  # noqa: F811
    alice, bob, tea = team
    api = client_for(world.admin)
    created = post(api, "/api/v1/channels", {"name": "码\ud8a0一", "staff": [alice.pk], "tags": [tea.pk],
                                             "welcome_text": "你好\ud8a0", "remark_template": "\udfff备注"})
    assert created.status_code == 201, created.content
    assert created.json()["name"] == "码一"
    code_id = created.json()["id"]
    patched = api.patch(f"/api/v1/channels/{code_id}", json.dumps({"tags": None, "partner": "合作\ud8a0方"}),
                        content_type="application/json")
    assert patched.status_code == 200, patched.content
    assert patched.json()["tags"] == []
    assert api.get(f"/api/v1/channels/{code_id}").json()["welcome_text"] == "你好"
    assert ChannelCode.objects.for_org(world.org).get().partner.name == "合作方"
