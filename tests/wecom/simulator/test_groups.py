"""Customer groups: list/get shapes and paging, join ways, QR caps and auto-created groups, group transfers."""

from __future__ import annotations

import pytest

from siyu.wecom.simulator import SimulatorError

from .support import err, ok, staff


def test_groupchat_list_requires_limit_and_pages(sim, api):
    staff(sim, "zhangsan", "lisi")
    made = [sim.create_group("zhangsan" if n % 2 else "lisi", f"群{n}")["chat_id"] for n in range(5)]
    for body in ({}, {"limit": 0}, {"limit": 1001}, {"limit": 10, "status_filter": 4},
                 {"limit": 10, "owner_filter": {"userid_list": [f"u{n}" for n in range(101)]}}):
        err(api.post("externalcontact/groupchat/list", body), 40058)
    seen, cursor = [], ""
    while True:
        page = ok(api.post("externalcontact/groupchat/list", {"limit": 2, "cursor": cursor}))
        assert all(set(g) == {"chat_id", "status"} for g in page["group_chat_list"])
        seen += [g["chat_id"] for g in page["group_chat_list"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == made
    owned = ok(api.post("externalcontact/groupchat/list", {"limit": 10, "owner_filter": {"userid_list": ["lisi"]}}))
    assert [g["chat_id"] for g in owned["group_chat_list"]] == made[0::2]


def test_groupchat_get_shape(sim, api):
    staff(sim, "zhangsan", "lisi")
    customer = sim.add_customer("zhangsan", name="王语嫣")["external_userid"]
    group = sim.create_group("zhangsan", "销售客服群", members=[customer], staff=["lisi"])
    sim.set_group_notice(group["chat_id"], "文明沟通，拒绝脏话")
    result = ok(api.post("externalcontact/groupchat/get", {"chat_id": group["chat_id"], "need_name": 1}))["group_chat"]
    assert set(result) == {"chat_id", "name", "owner", "create_time", "notice", "member_list", "admin_list", "member_version"}
    assert (result["name"], result["owner"], result["notice"]) == ("销售客服群", "zhangsan", "文明沟通，拒绝脏话")
    owner, lisi, guest = result["member_list"]
    assert owner == {"userid": "zhangsan", "type": 1, "join_time": owner["join_time"], "join_scene": 1,
                     "group_nickname": "", "name": "Zhangsan"}
    assert lisi["invitor"] == {"userid": "zhangsan"} and lisi["type"] == 1
    assert guest["userid"] == customer and guest["type"] == 2 and guest["name"] == "王语嫣"
    assert result["member_version"] == group["member_version"] and len(result["member_version"]) == 32
    unnamed = api.post("externalcontact/groupchat/get", {"chat_id": group["chat_id"]})["group_chat"]
    assert all("name" not in m for m in unnamed["member_list"])
    err(api.post("externalcontact/groupchat/get", {"chat_id": "wrNoSuchChat"}), 90501)
    sim.dismiss_group(group["chat_id"])
    err(api.post("externalcontact/groupchat/get", {"chat_id": group["chat_id"]}), 90501)


def _join_way(api, chats, **fields):
    return api.post("externalcontact/groupchat/add_join_way", {"scene": 2, "chat_id_list": chats, **fields})


def test_join_way_limits_and_shape(sim, api):
    staff(sim, "zhangsan")
    chats = [sim.create_group("zhangsan", f"群{n}")["chat_id"] for n in range(6)]
    err(_join_way(api, chats), 41091)  # doc 92229: at most 5 groups (41091, doc 90313)
    assert "state exceed max length 30" in err(_join_way(api, chats[:1], state="s" * 31), 40058)["errmsg"]
    err(_join_way(api, chats[:1], remark="r" * 31), 40058)
    err(_join_way(api, chats[:1], room_base_name="名" * 41), 40058)
    err(_join_way(api, []), 40058)
    err(_join_way(api, ["wrNoSuchChat"]), 90501)
    assert sim.state.join_ways == {}
    config_id = ok(_join_way(api, chats[:2], state="klsdup3kj3s1", remark="aa_remark", auto_create_room=1,
                             room_base_name="销售客服群", room_base_id=10))["config_id"]
    way = ok(api.post("externalcontact/groupchat/get_join_way", {"config_id": config_id}))["join_way"]
    assert way == {"config_id": config_id, "scene": 2, "remark": "aa_remark", "auto_create_room": 1,
                   "room_base_name": "销售客服群", "room_base_id": 10, "chat_id_list": chats[:2],
                   "qr_code": way["qr_code"], "state": "klsdup3kj3s1"}
    ok(api.post("externalcontact/groupchat/update_join_way", {"config_id": config_id, "scene": 2,
                                                               "chat_id_list": chats[2:4], "state": "v2"}))
    way = api.post("externalcontact/groupchat/get_join_way", {"config_id": config_id})["join_way"]
    assert (way["chat_id_list"], way["state"]) == (chats[2:4], "v2")
    ok(api.post("externalcontact/groupchat/del_join_way", {"config_id": config_id}))
    err(api.post("externalcontact/groupchat/get_join_way", {"config_id": config_id}), 40058)


def test_450_joins_with_a_200_cap_fill_three_groups(sim, api, receiver):
    staff(sim, "zhangsan")
    first = sim.create_group("zhangsan", "香薰群")["chat_id"]
    config_id = ok(_join_way(api, [first], state="live", room_base_name="香薰群", room_base_id=2))["config_id"]
    receiver.clear()
    for _ in range(450):
        sim.join_group(config_id=config_id)
    groups = [g for g in sim.list_groups()]
    assert [len(g["members"]) for g in groups] == [200, 200, 53]  # the owner plus 199, 199, 52 customers
    assert [g["name"] for g in groups] == ["香薰群", "香薰群2", "香薰群3"]
    assert all(m["state"] == "live" and m["join_scene"] == 3 for g in groups for m in g["members"][1:])
    creates = [e for e in receiver.events() if e["ChangeType"] == "create"]
    assert [e["ChatId"] for e in creates] == [g["chat_id"] for g in groups[1:]]
    way = api.post("externalcontact/groupchat/get_join_way", {"config_id": config_id})["join_way"]
    assert way["chat_id_list"] == [g["chat_id"] for g in groups]
    member = api.post("externalcontact/groupchat/get", {"chat_id": groups[2]["chat_id"]})["group_chat"]["member_list"][1]
    assert member["state"] == "live" and member["join_scene"] == 3 and "invitor" not in member


def test_join_way_without_auto_create_stops_when_full(sim, api):
    staff(sim, "zhangsan")
    sim.set_limits(group_qr_cap=3)
    chat = sim.create_group("zhangsan", "小群")["chat_id"]
    config_id = ok(_join_way(api, [chat], auto_create_room=0))["config_id"]
    sim.join_group(config_id=config_id)
    sim.join_group(config_id=config_id)
    with pytest.raises(SimulatorError, match="full"):
        sim.join_group(config_id=config_id)
    assert len(sim.list_groups()) == 1


def test_qr_joins_stop_at_200_invitations_at_500(sim):
    staff(sim, "zhangsan")
    sim.set_limits(group_qr_cap=4, group_max_members=6)
    chat = sim.create_group("zhangsan", "群", new_members=3)["chat_id"]
    with pytest.raises(SimulatorError, match="qr"):
        sim.join_group(chat_id=chat, via="qr")
    sim.join_group(chat_id=chat, via="invite")
    sim.join_group(chat_id=chat, via="invite")
    with pytest.raises(SimulatorError, match="invite"):
        sim.join_group(chat_id=chat, via="invite")
    with pytest.raises(SimulatorError, match="at most 6"):
        sim.create_group("zhangsan", "太大", new_members=6)


def test_customer_join_leave_and_owner_rules(sim, receiver):
    staff(sim, "zhangsan", "lisi")
    customer = sim.add_customer("zhangsan")["external_userid"]
    chat = sim.create_group("zhangsan", "群")["chat_id"]
    sim.join_group(chat_id=chat, external_userid=customer, via="invite")
    assert receiver.events()[-1]["JoinScene"] == "0"
    with pytest.raises(SimulatorError, match="already"):
        sim.join_group(chat_id=chat, external_userid=customer)
    with pytest.raises(SimulatorError, match="owner cannot leave"):
        sim.leave_group(chat, "zhangsan")
    sim.leave_group(chat, customer)
    assert receiver.events()[-1]["QuitScene"] == "0"
    sim.change_group_owner(chat, "lisi")
    assert receiver.events()[-1]["UpdateDetail"] == "change_owner"
    assert sim.list_groups()[0]["owner"] == "lisi"


def test_group_transfers(sim, api, receiver):
    staff(sim, "zhangsan", "lisi", "wangwu")
    kept = sim.create_group("zhangsan", "在职群")["chat_id"]
    orphan = sim.create_group("lisi", "离职群")["chat_id"]
    sim.remove_staff("lisi")
    # Doc 92120: a departed owner's groups are listed only with owner_filter naming that owner.
    assert api.post("externalcontact/groupchat/list", {"limit": 10, "status_filter": 1})["group_chat_list"] == []
    listed = api.post("externalcontact/groupchat/list", {"limit": 10, "status_filter": 1,
                                                         "owner_filter": {"userid_list": ["lisi"]}})["group_chat_list"]
    assert listed == [{"chat_id": orphan, "status": 1}]
    receiver.clear()

    err(api.post("externalcontact/groupchat/transfer", {"chat_id_list": [f"wr{n}" for n in range(101)],
                                                       "new_owner": "wangwu"}), 40058)
    result = ok(api.post("externalcontact/groupchat/transfer", {"chat_id_list": [kept, orphan, "wrGone"],
                                                               "new_owner": "wangwu"}))
    assert result["failed_chat_list"] == [
        {"chat_id": kept, "errcode": 90500, "errmsg": "the owner of this chat is not resigned"},
        {"chat_id": "wrGone", "errcode": 90501, "errmsg": "chat is not external group chat"},
    ]
    got = api.post("externalcontact/groupchat/get", {"chat_id": orphan})["group_chat"]
    assert got["owner"] == "wangwu"
    assert api.post("externalcontact/groupchat/list", {"limit": 10, "status_filter": 3})["group_chat_list"] == [
        {"chat_id": orphan, "status": 3}]

    result = ok(api.post("externalcontact/groupchat/onjob_transfer", {"chat_id_list": [kept], "new_owner": "wangwu"}))
    assert result["failed_chat_list"] == []
    assert api.post("externalcontact/groupchat/get", {"chat_id": kept})["group_chat"]["owner"] == "wangwu"
    assert receiver.calls == []  # API transfers do not call back


def test_listing_without_owner_filter_is_81017_on_large_visible_ranges(sim, api):
    # Doc 92120: more than 1,000 people in the app's visible range need owner_filter.
    sim.set_limits(groupchat_list_unfiltered_max=2)
    staff(sim, "a", "b", "c")
    chat = sim.create_group("a", "群")["chat_id"]
    err(api.post("externalcontact/groupchat/list", {"limit": 10}), 81017)
    listed = ok(api.post("externalcontact/groupchat/list", {"limit": 10, "owner_filter": {"userid_list": ["a", "b"]}}))
    assert listed["group_chat_list"] == [{"chat_id": chat, "status": 0}]


@pytest.mark.parametrize("errcode", [90501, 49008])
def test_a_dismissed_group_answers_the_configured_code(sim, api, errcode):
    # Unverified which of the two WeCom gives; a switch lets Siyu be tested against both.
    sim.set_limits(dismissed_group_errcode=errcode)
    staff(sim, "a")
    chat = sim.create_group("a", "群")["chat_id"]
    sim.dismiss_group(chat)
    err(api.post("externalcontact/groupchat/get", {"chat_id": chat}), errcode)
    err(api.post("externalcontact/groupchat/get", {"chat_id": "wrNeverExisted"}), 90501)
