"""Every endpoint Siyu calls, replayed against the simulator with the official request sample (ids swapped for
the simulated corp's), answers with the official response sample's shape: the same field names, nothing
invented, nothing dropped but the fields the doc marks optional. A renamed field on either side fails here."""

from __future__ import annotations

import pytest

import json

from tests.wecom.simulator.support import AGENT_ID, START, image_url, media_id, moment_media, ok

from .shapes import SAMPLES, assert_shape, shape_drift


@pytest.fixture
def corp(sim, api):
    """rocky and tommy with customers, tags, a group, a contact way and a group message."""
    for userid in ("rocky", "tommy", "zhangsan", "lisi"):
        sim.add_staff(userid, userid.title())
    tags = ok(api.post("externalcontact/add_corp_tag", {"group_name": "等级", "tag": [{"name": "VIP"}]}))["tag_group"]
    first = sim.add_customer("rocky", name="李四")["external_userid"]
    sim.add_customer("tommy", external_userid=first)
    second = sim.add_customer("zhangsan", name="王五")["external_userid"]
    ok(api.post("externalcontact/mark_tag", {"userid": "rocky", "external_userid": first, "add_tag": [tags["tag"][0]["id"]]}))
    ok(api.post("externalcontact/remark", {"userid": "rocky", "external_userid": first, "remark": "李部长",
                                           "description": "对接采购事务", "remark_company": "腾讯科技",
                                           "remark_mobiles": ["13800000001"]}))
    chat = sim.create_group("zhangsan", "销售客服群", members=[second], staff=["lisi"], new_members=1)["chat_id"]
    sim.state.groups[chat].admin_list = ["lisi"]
    return {"first": first, "second": second, "chat": chat, "tag": tags["tag"][0]["id"], "group": tags["group_id"]}


def replay(api, name: str, overrides: dict | None = None) -> dict:
    """POST the official request sample of ``name`` (under externalcontact/) with ``overrides``; None drops a key."""
    body = {**SAMPLES[name].get("request", {}), **(overrides or {})}
    return ok(api.post(f"externalcontact/{name}", {k: v for k, v in body.items() if v is not None}))


# name -> fields the doc marks optional (present only in some states), as key paths of the sample
OPTIONAL = {
    "get": {"external_contact.position", "external_contact.corp_name", "external_contact.corp_full_name",
            "external_contact.unionid", "external_contact.external_profile", "external_contact.external_profile.external_attr",
            "external_contact.external_profile.external_attr[].type", "external_contact.external_profile.external_attr[].name",
            "external_contact.external_profile.external_attr[].text", "external_contact.external_profile.external_attr[].text.value",
            "external_contact.external_profile.external_attr[].web", "external_contact.external_profile.external_attr[].web.url",
            "external_contact.external_profile.external_attr[].web.title",
            "external_contact.external_profile.external_attr[].miniprogram",
            "external_contact.external_profile.external_attr[].miniprogram.appid",
            "external_contact.external_profile.external_attr[].miniprogram.pagepath",
            "external_contact.external_profile.external_attr[].miniprogram.title",
            "follow_user[].state", "next_cursor"},
    "groupchat/get": {"group_chat.member_list[].unionid"},
}


def test_externalcontact_get(api, corp):
    answer = ok(api.get("externalcontact/get", external_userid=corp["first"]))
    assert_shape(answer, SAMPLES["get"]["response"], optional=OPTIONAL["get"])


def test_batch_get_by_user(api, corp):
    answer = replay(api, "batch/get_by_user", {"userid_list": ["rocky", "tommy"]})
    optional = {p.replace("follow_user", "external_contact_list[].follow_info").replace("follow_info[]", "follow_info")
                for p in OPTIONAL["get"]} | {p.replace("external_contact.", "external_contact_list[].external_contact.")
                                            for p in OPTIONAL["get"] if p.startswith("external_contact")}
    assert_shape(answer, SAMPLES["batch/get_by_user"]["response"], optional=optional)


def test_follow_user_list_and_customer_list(api, corp):
    assert_shape(ok(api.get("externalcontact/get_follow_user_list")), SAMPLES["get_follow_user_list"]["response"])
    assert_shape(ok(api.get("externalcontact/list", userid="rocky")), SAMPLES["list"]["response"])


def test_corp_tags(api, corp):
    added = replay(api, "add_corp_tag", {"group_id": corp["group"], "group_name": "", "agentid": int(AGENT_ID)})
    assert_shape(added, SAMPLES["add_corp_tag"]["response"])
    listed = replay(api, "get_corp_tag_list", {"tag_id": [], "group_id": [corp["group"]]})
    assert_shape(listed, SAMPLES["get_corp_tag_list"]["response"])
    new_tag = added["tag_group"]["tag"][0]["id"]
    assert_shape(replay(api, "edit_corp_tag", {"id": new_tag, "agentid": int(AGENT_ID)}), SAMPLES["edit_corp_tag"]["response"])
    assert_shape(replay(api, "mark_tag", {"userid": "rocky", "external_userid": corp["first"], "add_tag": [new_tag],
                                          "remove_tag": []}), SAMPLES["mark_tag"]["response"])
    assert_shape(replay(api, "del_corp_tag", {"tag_id": [new_tag], "group_id": [], "agentid": int(AGENT_ID)}),
                 SAMPLES["del_corp_tag"]["response"])


def test_remark(api, corp):
    answer = replay(api, "remark", {"userid": "tommy", "external_userid": corp["first"], "remark_pic_mediaid": None,
                                    "remark_company": None})
    assert_shape(answer, SAMPLES["remark"]["response"])


def test_contact_way_lifecycle(api, corp):
    request = {"user": ["rocky"], "party": [], "unionid": None, "conclusions": {"text": {"content": "文本消息内容"}}}
    added = replay(api, "add_contact_way", {**request, "type": 1, "scene": 2})
    assert_shape(added, SAMPLES["add_contact_way"]["response"])
    got = replay(api, "get_contact_way", {"config_id": added["config_id"]})
    # The sample shows a scene-1 temp way with every optional field; the simulator answers the fields it keeps.
    drift = shape_drift(got, SAMPLES["get_contact_way"]["response"], optional={
        "contact_way.style", "contact_way.unionid", "contact_way.conclusions.image", "contact_way.conclusions.image.pic_url",
        "contact_way.conclusions.link", "contact_way.conclusions.link.title", "contact_way.conclusions.link.picurl",
        "contact_way.conclusions.link.desc", "contact_way.conclusions.link.url", "contact_way.conclusions.miniprogram",
        "contact_way.conclusions.miniprogram.title", "contact_way.conclusions.miniprogram.pic_media_id",
        "contact_way.conclusions.miniprogram.appid", "contact_way.conclusions.miniprogram.page"})
    assert drift == {"unknown": [], "missing": []}, drift
    updated = replay(api, "update_contact_way", {"config_id": added["config_id"], "user": ["rocky"], "party": [],
                                                 "unionid": None, "conclusions": None, "style": None})
    assert_shape(updated, SAMPLES["update_contact_way"]["response"])
    assert_shape(replay(api, "del_contact_way", {"config_id": added["config_id"]}), SAMPLES["del_contact_way"]["response"])


def test_send_welcome_msg(sim, api, corp):
    code = sim.add_customer("lisi")["welcome_code"]
    attachments = [{"msgtype": "image", "image": {"pic_url": image_url(api)}},
                   {"msgtype": "file", "file": {"media_id": media_id(api, "file", "a.pdf")}}]
    answer = replay(api, "send_welcome_msg", {"welcome_code": code, "attachments": attachments})
    assert_shape(answer, SAMPLES["send_welcome_msg"]["response"])


def test_group_messages(sim, api, corp):
    picture = {"msgtype": "image", "image": {"media_id": media_id(api)}}
    sent = replay(api, "add_msg_template", {"external_userid": [corp["first"], "wmNotACustomer"], "chat_id_list": [],
                                            "tag_filter": {}, "sender": "rocky", "attachments": [picture]})
    assert_shape(sent, SAMPLES["add_msg_template"]["response"])
    sim.confirm_groupmsg(sent["msgid"], "rocky")
    tasks = replay(api, "get_groupmsg_task", {"msgid": sent["msgid"], "cursor": ""})
    assert_shape(tasks, SAMPLES["get_groupmsg_task"]["response"])
    result = replay(api, "get_groupmsg_send_result", {"msgid": sent["msgid"], "userid": "rocky", "cursor": ""})
    # single-chat rows carry external_userid, group rows chat_id (the sample shows both in one row)
    assert_shape(result, SAMPLES["get_groupmsg_send_result"]["response"], optional={"send_list[].chat_id"})


def test_group_message_list_remind_and_cancel(sim, api, corp):
    # the official request's five attachment kinds, each with a media id the simulator issued
    request = json.loads(json.dumps(SAMPLES["add_msg_template"]["request"]).replace('"MEDIA_ID"', json.dumps(media_id(api))))
    sent = replay(api, "add_msg_template", {"external_userid": [corp["first"]], "chat_id_list": [], "tag_filter": {},
                                            "sender": "rocky", "attachments": request["attachments"]})
    listed = replay(api, "get_groupmsg_list_v2", {"start_time": START - 60, "end_time": START + 60, "creator": "rocky",
                                                  "filter_type": 0, "cursor": ""})
    assert [m["msgid"] for m in listed["group_msg_list"]] == [sent["msgid"]]
    assert_shape(listed, SAMPLES["get_groupmsg_list_v2"]["response"])
    assert_shape(replay(api, "remind_groupmsg_send", {"msgid": sent["msgid"]}), SAMPLES["remind_groupmsg_send"]["response"])
    assert_shape(replay(api, "cancel_groupmsg_send", {"msgid": sent["msgid"]}), SAMPLES["cancel_groupmsg_send"]["response"])


def test_moments(sim, api, corp):
    """One moment of each kind (the official request mixes them, which WeCom refuses), then every read API."""
    kinds = [{"msgtype": "image", "image": {"media_id": moment_media(api)}},
             {"msgtype": "video", "video": {"media_id": moment_media(api, "video", "clip.mp4")}},
             {"msgtype": "link", "link": {"title": "消息标题", "url": "https://example.link.com/path",
                                          "media_id": moment_media(api)}}]
    for attachment in kinds:
        added = replay(api, "add_moment_task", {"attachments": [attachment],
                                                "visible_range": {"sender_list": {"user_list": ["rocky"]}}})
        assert_shape(added, SAMPLES["add_moment_task"]["response"])
    sim.advance(2)
    listed = replay(api, "get_moment_list", {"start_time": START - 60, "end_time": START + 60, "creator": None,
                                             "filter_type": 0, "cursor": "", "limit": 20})
    assert len(listed["moment_list"]) == 3
    # 企业发表 moments carry no creator (DOC 93333); the simulator posts no location
    assert_shape(listed, SAMPLES["get_moment_list"]["response"], optional={
        "moment_list[].creator", "moment_list[].location", "moment_list[].location.latitude",
        "moment_list[].location.longitude", "moment_list[].location.name"})
    moment = listed["moment_list"][0]["moment_id"]
    sim.publish_moment(moment, "rocky")
    sim.like_moment(moment, "rocky", corp["first"])
    sim.comment_moment(moment, "rocky", corp["first"])
    who = {"moment_id": moment, "userid": "rocky", "cursor": ""}
    assert_shape(replay(api, "get_moment_task", {"moment_id": moment, "cursor": ""}), SAMPLES["get_moment_task"]["response"])
    assert_shape(replay(api, "get_moment_customer_list", who), SAMPLES["get_moment_customer_list"]["response"])
    assert_shape(replay(api, "get_moment_send_result", who), SAMPLES["get_moment_send_result"]["response"])
    # the sample also shows a member's own like and comment; simulated reactions are customers'
    assert_shape(replay(api, "get_moment_comments", {"moment_id": moment, "userid": "rocky"}),
                 SAMPLES["get_moment_comments"]["response"], optional={"comment_list[].userid", "like_list[].userid"})


def test_customer_groups(sim, api, corp):
    listed = replay(api, "groupchat/list", {"owner_filter": {"userid_list": ["zhangsan"]}, "cursor": ""})
    assert_shape(listed, SAMPLES["groupchat/list"]["response"])
    got = replay(api, "groupchat/get", {"chat_id": corp["chat"]})
    # member_version is in the current doc page (reference §3.7) but not in the older sample.
    assert_shape(got, SAMPLES["groupchat/get"]["response"], optional=OPTIONAL["groupchat/get"],
                 extra={"group_chat.member_version"})
    way = replay(api, "groupchat/add_join_way", {"chat_id_list": [corp["chat"]]})
    assert_shape(way, SAMPLES["groupchat/add_join_way"]["response"])


def test_transfers(sim, api, corp):
    onjob = replay(api, "transfer_customer", {"handover_userid": "rocky", "takeover_userid": "lisi",
                                              "external_userid": [corp["first"]]})
    assert_shape(onjob, SAMPLES["transfer_customer"]["response"])
    result = replay(api, "transfer_result", {"handover_userid": "rocky", "takeover_userid": "lisi", "cursor": ""})
    assert_shape(result, SAMPLES["transfer_result"]["response"])
    sim.remove_staff("zhangsan")
    unassigned = ok(api.post("externalcontact/get_unassigned_list", {"page_size": 100}))
    assert_shape(unassigned, SAMPLES["get_unassigned_list"]["response"])
    resigned = replay(api, "resigned/transfer_customer", {"handover_userid": "zhangsan", "takeover_userid": "lisi",
                                                          "external_userid": [corp["second"]]})
    assert_shape(resigned, SAMPLES["resigned/transfer_customer"]["response"])
    assert_shape(replay(api, "resigned/transfer_result", {"handover_userid": "zhangsan", "takeover_userid": "lisi",
                                                          "cursor": ""}), SAMPLES["resigned/transfer_result"]["response"])
    moved = replay(api, "groupchat/transfer", {"chat_id_list": [corp["chat"], "wrNotAGroup"], "new_owner": "lisi"})
    assert_shape(moved, SAMPLES["groupchat/transfer"]["response"])


def test_gettoken(api):
    assert_shape(api.gettoken(), SAMPLES["gettoken"]["response"])


def test_a_renamed_field_in_a_simulator_answer_is_caught(api, corp):
    answer = ok(api.get("externalcontact/get", external_userid=corp["first"]))
    for row in answer["follow_user"]:
        row["create_time"] = row.pop("createtime")  # the drift a hand-written simulator could make
    drift = shape_drift(answer, SAMPLES["get"]["response"], optional=OPTIONAL["get"])
    assert drift == {"unknown": ["follow_user[].create_time"], "missing": ["follow_user[].createtime"]}
    with pytest.raises(AssertionError):
        assert_shape(answer, SAMPLES["get"]["response"], optional=OPTIONAL["get"])
