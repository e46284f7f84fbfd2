"""企业群发 tasks and receive caps, app messages to staff, moments."""

from __future__ import annotations

import pytest

from siyu.wecom.simulator import SimulatorError

from .support import err, ok, staff

TEXT = {"content": "本周末会员日，全场8折"}


def test_add_msg_template_creates_tasks_and_fail_list(sim, api):
    staff(sim, "zhangsan", "lisi")
    a = sim.add_customer("zhangsan")["external_userid"]
    b = sim.add_customer("lisi")["external_userid"]
    result = ok(api.post("externalcontact/add_msg_template", {
        "chat_type": "single", "external_userid": [a, b, "wmUnknownCustomerXXXXXXXXXXXXXXX"], "text": TEXT}))
    assert result["fail_list"] == ["wmUnknownCustomerXXXXXXXXXXXXXXX"]
    assert result["msgid"].startswith("msg")
    tasks = ok(api.post("externalcontact/get_groupmsg_task", {"msgid": result["msgid"]}))
    assert tasks["task_list"] == [{"userid": "zhangsan", "status": 0}, {"userid": "lisi", "status": 0}]
    assert tasks["next_cursor"] == ""
    pending = ok(api.post("externalcontact/get_groupmsg_send_result", {"msgid": result["msgid"], "userid": "zhangsan"}))
    assert pending["send_list"] == [{"external_userid": a, "userid": "zhangsan", "status": 0}]

    assert sim.confirm_groupmsg(result["msgid"], "zhangsan")["sent"] == 1
    with pytest.raises(SimulatorError):
        sim.confirm_groupmsg(result["msgid"], "zhangsan")
    sent = api.post("externalcontact/get_groupmsg_send_result", {"msgid": result["msgid"], "userid": "zhangsan"})
    assert sent["send_list"] == [{"external_userid": a, "userid": "zhangsan", "status": 1, "send_time": sent["send_list"][0]["send_time"]}]
    tasks = api.post("externalcontact/get_groupmsg_task", {"msgid": result["msgid"]})["task_list"]
    assert tasks[0]["status"] == 2 and tasks[0]["send_time"] and tasks[1] == {"userid": "lisi", "status": 0}


@pytest.mark.parametrize("body, detail", [
    ({"external_userid": [f"wm{n}" for n in range(10001)], "text": TEXT}, "external_userid exceed max size 10000"),
    ({"attachments": [{"msgtype": "image", "image": {"media_id": "M"}}] * 10}, "attachments exceed max count 9"),
    ({"chat_type": "broadcast", "text": TEXT}, "chat_type must be single or group"),
    ({}, "text and attachments cannot both be empty"),
    ({"chat_type": "group", "text": TEXT}, "sender missing"),
    ({"chat_type": "group", "sender": "zhangsan", "chat_id_list": [f"wr{n}" for n in range(2001)], "text": TEXT},
     "chat_id_list exceed max size 2000"),
    ({"tag_filter": {"group_list": [{"tag_list": [f"et{n}" for n in range(101)]}]}, "text": TEXT}, "tag_list exceed max size 100"),
])
def test_add_msg_template_limits_change_nothing(sim, api, body, detail):
    staff(sim, "zhangsan")
    assert detail in err(api.post("externalcontact/add_msg_template", body), 40058)["errmsg"]
    assert sim.state.msg_templates == {}


def test_sender_and_tag_filter_choose_recipients(sim, api):
    staff(sim, "zhangsan", "lisi")
    tags = sim.admin_add_tags(["金卡", "银卡"], group_name="等级")["tags"]
    city = sim.admin_add_tags(["上海"], group_name="城市")["tags"][0]["id"]
    gold, silver = tags[0]["id"], tags[1]["id"]
    a = sim.add_customer("zhangsan")["external_userid"]
    b = sim.add_customer("zhangsan")["external_userid"]
    c = sim.add_customer("lisi")["external_userid"]
    for ext, userid, marks in ((a, "zhangsan", [gold, city]), (b, "zhangsan", [silver]), (c, "lisi", [gold, city])):
        ok(api.post("externalcontact/mark_tag", {"userid": userid, "external_userid": ext, "add_tag": marks}))
    err(api.post("externalcontact/add_msg_template", {"text": TEXT, "tag_filter": {"group_list": [{"tag_list": ["etNo"]}]}}), 40068)

    by_tags = ok(api.post("externalcontact/add_msg_template", {
        "text": TEXT, "tag_filter": {"group_list": [{"tag_list": [gold, silver]}, {"tag_list": [city]}]}}))
    results = sim.state.msg_templates[by_tags["msgid"]].results
    assert sorted((r.userid, r.external_userid) for r in results) == sorted([("zhangsan", a), ("lisi", c)])

    mine = ok(api.post("externalcontact/add_msg_template", {"text": TEXT, "sender": "zhangsan"}))
    assert {r.external_userid for r in sim.state.msg_templates[mine["msgid"]].results} == {a, b}
    other = ok(api.post("externalcontact/add_msg_template", {"text": TEXT, "sender": "lisi", "external_userid": [a, c]}))
    assert other["fail_list"] == [a]


def test_receive_cap_and_unreachable_customers(sim, api):
    staff(sim, "zhangsan")
    a = sim.add_customer("zhangsan")["external_userid"]
    b = sim.add_customer("zhangsan")["external_userid"]
    sim.set_limits(groupmsg_receive_cap="day1")
    first = ok(api.post("externalcontact/add_msg_template", {"external_userid": [a], "text": TEXT}))["msgid"]
    second = ok(api.post("externalcontact/add_msg_template", {"external_userid": [a, b], "text": TEXT}))["msgid"]
    sim.confirm_groupmsg(first, "zhangsan")
    sim.customer_deletes_staff(b, "zhangsan")
    assert sim.confirm_groupmsg(second, "zhangsan") == {"msgid": second, "userid": "zhangsan", "sent": 0,
                                                        "not_friend": 1, "over_cap": 1}
    rows = api.post("externalcontact/get_groupmsg_send_result", {"msgid": second, "userid": "zhangsan"})["send_list"]
    assert [(r["external_userid"], r["status"]) for r in rows] == [(a, 3), (b, 2)]
    sim.advance(86400)
    third = ok(api.post("externalcontact/add_msg_template", {"external_userid": [a], "text": TEXT}))["msgid"]
    assert sim.confirm_groupmsg(third, "zhangsan")["sent"] == 1


def test_monthly_cap_is_the_number_of_days_in_the_month(sim, api):
    staff(sim, "zhangsan")
    a = sim.add_customer("zhangsan")["external_userid"]
    outcomes = []
    for _ in range(31):  # June has 30 days
        msgid = ok(api.post("externalcontact/add_msg_template", {"external_userid": [a], "text": TEXT}))["msgid"]
        outcomes.append(sim.confirm_groupmsg(msgid, "zhangsan")["sent"])
    assert outcomes == [1] * 30 + [0]


def test_group_chat_messages(sim, api):
    staff(sim, "zhangsan", "lisi")
    mine = sim.create_group("zhangsan", "群1")["chat_id"]
    theirs = sim.create_group("lisi", "群2")["chat_id"]
    result = ok(api.post("externalcontact/add_msg_template", {"chat_type": "group", "sender": "zhangsan",
                                                              "chat_id_list": [mine, theirs], "text": TEXT}))
    assert result["fail_list"] == [theirs]
    sim.confirm_groupmsg(result["msgid"], "zhangsan")
    (row,) = api.post("externalcontact/get_groupmsg_send_result", {"msgid": result["msgid"], "userid": "zhangsan"})["send_list"]
    assert row["chat_id"] == mine and row["status"] == 1 and "external_userid" not in row


def test_groupmsg_paging_and_unknown_msgid(sim, api):
    staff(sim, "zhangsan")
    customers = [sim.add_customer("zhangsan")["external_userid"] for _ in range(5)]
    msgid = ok(api.post("externalcontact/add_msg_template", {"external_userid": customers, "text": TEXT}))["msgid"]
    page = ok(api.post("externalcontact/get_groupmsg_send_result", {"msgid": msgid, "userid": "zhangsan", "limit": 3}))
    rest = ok(api.post("externalcontact/get_groupmsg_send_result",
                       {"msgid": msgid, "userid": "zhangsan", "limit": 3, "cursor": page["next_cursor"]}))
    assert len(page["send_list"]) == 3 and len(rest["send_list"]) == 2 and rest["next_cursor"] == ""
    err(api.post("externalcontact/get_groupmsg_task", {"msgid": "msgNope"}), 40058)
    err(api.post("externalcontact/get_groupmsg_task", {"msgid": msgid, "limit": 1001}), 40058)


# --- message/send -----------------------------------------------------------------------------------


def test_message_send_records_app_messages(sim, api):
    staff(sim, "zhangsan", "lisi")
    result = ok(api.post("message/send", {"touser": "zhangsan|ghost", "msgtype": "textcard", "agentid": 1000002,
                                          "textcard": {"title": "跟进提醒", "description": "王姐三天未回复",
                                                       "url": "https://siyu.test/c/1", "btntxt": "查看"}}))
    assert result["invaliduser"] == "ghost" and result["msgid"]
    ok(api.post("message/send", {"touser": "@all", "msgtype": "text", "agentid": 1000002, "text": {"content": "早会"}}))
    ok(api.post("message/send", {"toparty": "1", "msgtype": "markdown", "agentid": 1000002,
                                 "markdown": {"content": "**今日待办** 3 条"}}))
    assert [(m["msgtype"], m["touser"]) for m in sim.messages()] == [
        ("textcard", ["zhangsan"]), ("text", ["zhangsan", "lisi"]), ("markdown", ["zhangsan", "lisi"])]
    assert sim.messages(touser="zhangsan")[0]["content"]["title"] == "跟进提醒"


@pytest.mark.parametrize("body, code", [
    ({"touser": "zhangsan", "msgtype": "text", "agentid": 42, "text": {"content": "x"}}, 40056),
    ({"touser": "zhangsan", "msgtype": "voice", "agentid": 1000002}, 40008),
    ({"touser": "zhangsan", "msgtype": "text", "agentid": 1000002, "text": {"content": "字" * 683}}, 40058),
    ({"touser": "zhangsan", "msgtype": "textcard", "agentid": 1000002, "textcard": {"title": "t", "description": "d"}}, 40058),
    ({"touser": "ghost", "msgtype": "text", "agentid": 1000002, "text": {"content": "x"}}, 81013),
])
def test_message_send_errors(sim, api, body, code):
    staff(sim, "zhangsan")
    err(api.post("message/send", body), code)
    assert sim.messages() == []


# --- moments ------------------------------------------------------------------------------------------


def test_moment_task_is_asynchronous_and_reports_invalid_targets(sim, api):
    staff(sim, "zhangsan")
    tag = sim.admin_add_tags(["金卡"], group_name="等级")["tags"][0]["id"]
    jobid = ok(api.post("externalcontact/add_moment_task", {
        "text": {"content": "新品上市"},
        "attachments": [{"msgtype": "image", "image": {"media_id": "M1"}}],
        "visible_range": {"sender_list": {"user_list": ["zhangsan", "ghost"], "department_list": [1, 99]},
                          "external_contact_list": {"tag_list": [tag, "etGone"]}},
    }))["jobid"]
    assert ok(api.get("externalcontact/get_moment_task_result", jobid=jobid)) == {
        "errcode": 0, "errmsg": "ok", "status": 2, "type": "add_moment_task"}
    sim.advance(2)
    result = ok(api.get("externalcontact/get_moment_task_result", jobid=jobid))
    assert result["status"] == 3 and result["result"]["moment_id"].startswith("mom")
    assert result["result"]["invalid_sender_list"] == {"user_list": ["ghost"], "department_list": [99]}
    assert result["result"]["invalid_external_contact_list"] == {"tag_list": ["etGone"]}
    sim.advance(86400)
    err(api.get("externalcontact/get_moment_task_result", jobid=jobid), 40058)


@pytest.mark.parametrize("body", [
    {},
    {"text": {"content": "字" * 2001}},
    {"attachments": [{"msgtype": "image", "image": {"media_id": "M"}}] * 10},
    {"attachments": [{"msgtype": "video", "video": {"media_id": "V"}}, {"msgtype": "image", "image": {"media_id": "M"}}]},
    {"attachments": [{"msgtype": "link", "link": {"title": "t", "media_id": "M"}}]},
])
def test_moment_task_validation(api, body):
    err(api.post("externalcontact/add_moment_task", body), 40058)


def test_moment_tasks_are_limited_to_10_a_minute(sim, api):
    body = {"text": {"content": "早安"}}
    for _ in range(10):
        ok(api.post("externalcontact/add_moment_task", body))
    err(api.post("externalcontact/add_moment_task", body), 45009)
    sim.advance(60)
    ok(api.post("externalcontact/add_moment_task", body))
