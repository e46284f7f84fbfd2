"""入群欢迎语素材 (group_welcome_template/add|edit|get|del, DOC 92366) and the welcome WeCom sends on joins."""

from __future__ import annotations

import pytest

from siyu.wecom.simulator import SimulatorError

from .support import err, image_url, media_id, ok, staff

LINK = {"title": "入群福利", "url": "https://example.com/gift", "desc": "新人券", "picurl": "https://example.com/p.png"}


def _add(api, **body):
    return api.post("externalcontact/group_welcome_template/add", body)


def test_add_get_edit_delete(sim, api):
    template_id = ok(_add(api, text={"content": "欢迎%NICKNAME%入群"}, link=LINK, notify=0))["template_id"]
    assert template_id.startswith("msg")
    got = ok(api.post("externalcontact/group_welcome_template/get", {"template_id": template_id}))
    assert (got["text"], got["link"]) == ({"content": "欢迎%NICKNAME%入群"}, LINK)
    assert "image" not in got and "miniprogram" not in got
    ok(api.post("externalcontact/group_welcome_template/edit", {"template_id": template_id, "text": {"content": "新文案"}}))
    got = ok(api.post("externalcontact/group_welcome_template/get", {"template_id": template_id}))
    assert got["text"] == {"content": "新文案"} and "link" not in got  # edit replaces the whole content
    ok(api.post("externalcontact/group_welcome_template/del", {"template_id": template_id}))
    err(api.post("externalcontact/group_welcome_template/get", {"template_id": template_id}), 40058)
    err(api.post("externalcontact/group_welcome_template/del", {"template_id": template_id}), 40058)


def test_only_one_attachment_is_kept_in_wecom_priority_order(sim, api):
    template_id = ok(_add(api, link=LINK, image={"pic_url": image_url(api)},
                          file={"media_id": media_id(api, "file", "a.pdf")}))["template_id"]
    got = ok(api.post("externalcontact/group_welcome_template/get", {"template_id": template_id}))
    assert set(got) == {"errcode", "errmsg", "image"}


@pytest.mark.parametrize("body, reason", [
    ({}, "cannot all be empty"),
    ({"text": {"content": "字" * 1001}}, "content exceed max length 3000 bytes"),
    ({"link": {"title": "t"}}, "url missing"),
    ({"link": {"title": "标" * 43, "url": "https://example.com"}}, "title exceed max length 128 bytes"),
    ({"miniprogram": {"title": "小程序", "appid": "wx1", "page": "/p/index"}}, "pic_media_id missing"),
    ({"image": {}}, "cannot all be empty"),
    ({"image": {"title": "x"}}, "image needs media_id or pic_url"),
    ({"video": {"title": "x"}}, "media_id missing"),
    ({"text": {"content": "hi"}, "notify": 2}, "notify must be between 0 and 1"),
    ({"text": {"content": "hi"}, "agentid": 1}, "agentid"),
])
def test_invalid_templates_change_nothing(sim, api, body, reason):
    result = api.post("externalcontact/group_welcome_template/add", body)
    assert result["errcode"] in (40058, 40056) and reason in result["errmsg"], result
    assert sim.state.group_welcome_templates == {}


def test_the_library_holds_100_templates(sim, api):
    for n in range(100):
        ok(_add(api, text={"content": f"欢迎 {n}"}))
    assert "max count 100" in err(_add(api, text={"content": "one more"}), 41055)["errmsg"]  # doc 90313


def test_joins_through_a_join_way_are_greeted_and_new_rooms_keep_the_welcome(sim, api):
    staff(sim, "zhangsan")
    sim.set_limits(group_qr_cap=4)  # the owner counts
    first = sim.create_group("zhangsan", "福利群")["chat_id"]
    picture = image_url(api)
    template_id = ok(_add(api, text={"content": "欢迎%NICKNAME%！"}, image={"pic_url": picture}))["template_id"]
    config_id = ok(api.post("externalcontact/groupchat/add_join_way", {
        "scene": 2, "chat_id_list": [first], "state": "g_welcome", "room_base_name": "福利群", "room_base_id": 2}))["config_id"]
    sim.join_group(config_id=config_id, name="未设置欢迎语前")
    assert sim.group_welcomes() == []
    sim.set_group_welcome(first, template_id)  # the owner applies the template in the client
    joined = [sim.join_group(config_id=config_id, name=f"客户{n}") for n in range(4)]
    second = joined[2]["created_chat"]  # the 3rd join found 福利群 full and made 福利群2
    assert [j["created_chat"] for j in joined] == [None, None, second, None] and second
    welcomes = sim.group_welcomes()
    assert [(w["chat_id"], w["external_userid"]) for w in welcomes] == [(j["chat_id"], j["external_userid"]) for j in joined]
    assert welcomes[0]["text"] == {"content": "欢迎客户0！"}
    assert welcomes[0]["attachment"] == {"msgtype": "image", "image": {"pic_url": picture}}
    assert {(w["template_id"], w["config_id"], w["state"]) for w in welcomes} == {(template_id, config_id, "g_welcome")}
    assert sim.group_welcomes(chat_id=second) == welcomes[2:]
    assert sim.state.groups[second].name == "福利群2"
    ok(api.post("externalcontact/group_welcome_template/del", {"template_id": template_id}))
    sim.join_group(config_id=config_id, name="删除素材后")
    assert len(sim.group_welcomes()) == 4


def test_set_group_welcome_needs_a_known_template_and_group(sim):
    staff(sim, "zhangsan")
    chat = sim.create_group("zhangsan", "群")["chat_id"]
    with pytest.raises(SimulatorError):
        sim.set_group_welcome(chat, "msgNoSuchTemplate")
    with pytest.raises(SimulatorError):
        sim.set_group_welcome("wrNoSuchChat", "")
    assert sim.set_group_welcome(chat, "")["welcome_template_id"] == ""


def test_control_routes(sim, api):
    staff(sim, "zhangsan")
    chat = sim.create_group("zhangsan", "群")["chat_id"]
    template_id = ok(_add(api, text={"content": "hi"}))["template_id"]
    response = api.http.post("/sim/set-group-welcome", json={"chat_id": chat, "template_id": template_id})
    assert response.status_code == 200 and response.json()["welcome_template_id"] == template_id
    sim.join_group(chat_id=chat, name="甲")
    listed = api.http.get("/sim/group-welcomes", params={"chat_id": chat}).json()
    assert [w["text"] for w in listed] == [{"content": "hi"}]
