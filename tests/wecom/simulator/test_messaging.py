"""企业群发 tasks and receive caps, app messages to staff, moments."""

from __future__ import annotations

import pytest

from siyu.wecom.simulator import SimulatorError

from .support import err, media_id, moment_media, ok, staff

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
        "attachments": [{"msgtype": "image", "image": {"media_id": moment_media(api)}}],
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


# --- 企业群发: list, remind, cancel, the corp's receive rule -----------------------------------------------


def _template(api, customers, **fields) -> str:
    return ok(api.post("externalcontact/add_msg_template", {"external_userid": customers, "text": TEXT, **fields}))["msgid"]


def test_groupmsg_list_v2_filters_and_pages(sim, api):
    staff(sim, "zhangsan", "lisi")
    a = sim.add_customer("zhangsan")["external_userid"]
    group = sim.create_group("lisi", "会员群")["chat_id"]
    first = _template(api, [a], sender="zhangsan")
    sim.advance(60)
    second = _template(api, [a])
    grouped = ok(api.post("externalcontact/add_msg_template", {"chat_type": "group", "sender": "lisi",
                                                               "chat_id_list": [group], "text": TEXT}))["msgid"]
    window = {"start_time": 1_717_200_000 - 10, "end_time": 1_717_200_000 + 3600}
    listed = ok(api.post("externalcontact/get_groupmsg_list_v2", {"chat_type": "single", **window}))
    assert [m["msgid"] for m in listed["group_msg_list"]] == [first, second] and listed["next_cursor"] == ""
    row = listed["group_msg_list"][0]
    assert row == {"msgid": first, "creator": "zhangsan", "create_time": "1717200000", "create_type": 0, "text": TEXT}
    by_creator = ok(api.post("externalcontact/get_groupmsg_list_v2", {"chat_type": "single", "creator": "zhangsan", **window}))
    assert [m["msgid"] for m in by_creator["group_msg_list"]] == [first]
    groups = ok(api.post("externalcontact/get_groupmsg_list_v2", {"chat_type": "group", **window}))
    assert [m["msgid"] for m in groups["group_msg_list"]] == [grouped]
    personal = ok(api.post("externalcontact/get_groupmsg_list_v2", {"chat_type": "single", "filter_type": 1, **window}))
    assert personal["group_msg_list"] == []
    page = ok(api.post("externalcontact/get_groupmsg_list_v2", {"chat_type": "single", "limit": 1, **window}))
    rest = ok(api.post("externalcontact/get_groupmsg_list_v2",
                       {"chat_type": "single", "limit": 1, "cursor": page["next_cursor"], **window}))
    assert [m["msgid"] for m in page["group_msg_list"] + rest["group_msg_list"]] == [first, second]
    assert rest["next_cursor"] == ""


@pytest.mark.parametrize("body", [
    {"chat_type": "single", "end_time": 1_717_200_000},
    {"chat_type": "single", "start_time": 1_717_200_000, "end_time": 1_717_100_000},
    # 2024-06-01 08:00 → 2024-07-01 08:00 is one month; a second more is over it
    {"chat_type": "single", "start_time": 1_717_200_000, "end_time": 1_717_200_000 + 30 * 86400 + 1},
    {"chat_type": "single", "start_time": 1_717_200_000, "end_time": 1_717_200_100, "limit": 101},
    {"chat_type": "single", "start_time": 1_717_200_000, "end_time": 1_717_200_100, "filter_type": 3},
])
def test_groupmsg_list_v2_refuses_bad_windows_and_limits(api, body):
    err(api.post("externalcontact/get_groupmsg_list_v2", body), 40058)


def test_a_month_window_is_a_calendar_month(api):
    ok(api.post("externalcontact/get_groupmsg_list_v2",
                {"chat_type": "single", "start_time": 1_717_200_000, "end_time": 1_717_200_000 + 30 * 86400}))


def test_remind_at_most_three_times_a_day(sim, api):
    staff(sim, "zhangsan")
    msgid = _template(api, [sim.add_customer("zhangsan")["external_userid"]])
    for _ in range(3):
        ok(api.post("externalcontact/remind_groupmsg_send", {"msgid": msgid}))
    assert "at most 3 times in 24 hours" in err(api.post("externalcontact/remind_groupmsg_send", {"msgid": msgid}), 40058)["errmsg"]
    sim.advance(86400)
    ok(api.post("externalcontact/remind_groupmsg_send", {"msgid": msgid}))
    err(api.post("externalcontact/remind_groupmsg_send", {"msgid": "msgNope"}), 40058)


def test_cancel_stops_members_who_have_not_sent(sim, api):
    staff(sim, "zhangsan", "lisi")
    a = sim.add_customer("zhangsan")["external_userid"]
    b = sim.add_customer("lisi")["external_userid"]
    msgid = _template(api, [a, b])
    sim.confirm_groupmsg(msgid, "zhangsan")
    ok(api.post("externalcontact/cancel_groupmsg_send", {"msgid": msgid}))
    with pytest.raises(SimulatorError, match="cancelled"):
        sim.confirm_groupmsg(msgid, "lisi")
    tasks = {t["userid"]: t["status"] for t in api.post("externalcontact/get_groupmsg_task", {"msgid": msgid})["task_list"]}
    assert tasks == {"zhangsan": 2, "lisi": 0}
    (sent,) = api.post("externalcontact/get_groupmsg_send_result", {"msgid": msgid, "userid": "zhangsan"})["send_list"]
    (unsent,) = api.post("externalcontact/get_groupmsg_send_result", {"msgid": msgid, "userid": "lisi"})["send_list"]
    assert (sent["status"], unsent["status"]) == (1, 0)
    err(api.post("externalcontact/remind_groupmsg_send", {"msgid": msgid}), 40058)
    ok(api.post("externalcontact/cancel_groupmsg_send", {"msgid": msgid}))


def test_the_corps_rule_of_seven_a_week(sim, api):
    """2024-06-03 is a Monday: seven messages that week, the eighth over the cap; the next Monday starts anew."""
    staff(sim, "zhangsan")
    a = sim.add_customer("zhangsan")["external_userid"]
    assert sim.set_groupmsg_rule("week7") == {"groupmsg_receive_cap": "week7"}
    sim.advance(2 * 86400)  # Monday 2024-06-03 08:00 Beijing
    outcomes = []
    for day in range(7):
        for _ in range(2 if day == 6 else 1):
            msgid = _template(api, [a])
            outcomes.append(sim.confirm_groupmsg(msgid, "zhangsan")["over_cap"])
        sim.advance(86400)
    assert outcomes == [0] * 7 + [1]
    assert sim.confirm_groupmsg(_template(api, [a]), "zhangsan")["sent"] == 1  # Monday 2024-06-10
    with pytest.raises(SimulatorError):
        sim.set_groupmsg_rule("twice-a-day")


# --- media/upload_attachment --------------------------------------------------------------------------


def test_upload_attachment_types_and_limits(sim, api):
    image = ok(api.upload("media/upload_attachment", media_type="image", attachment_type=1))
    assert image["type"] == "image" and image["created_at"] == "1717200000"
    ok(api.upload("media/upload_attachment", filename="clip.mp4", media_type="video", attachment_type=1))
    ok(api.upload("media/upload_attachment", media_type="image", attachment_type=2))
    err(api.upload("media/upload_attachment", filename="clip.mp4", media_type="video", attachment_type=2), 40005)
    err(api.upload("media/upload_attachment", media_type="voice", attachment_type=1), 40005)
    err(api.upload("media/upload_attachment", media_type="image", attachment_type=3), 40058)
    err(api.upload("media/upload_attachment", filename="photo.gif", media_type="image", attachment_type=1), 40004)
    err(api.upload("media/upload_attachment", media_type="image", attachment_type=1,
                   data=b"0" * (10 * 1024 * 1024 + 1)), 40006)


def test_moments_take_only_fresh_moment_attachments(sim, api):
    def post(media: str, kind: str = "image") -> dict:
        payload = {"media_id": media, **({"url": "https://brand.test/p/1", "title": "新品"} if kind == "link" else {})}
        return api.post("externalcontact/add_moment_task", {"attachments": [{"msgtype": kind, kind: payload}]})

    err(post(media_id(api)), 40007)  # media/upload is not for moments
    err(post(ok(api.upload("media/upload_attachment", media_type="image", attachment_type=2))["media_id"]), 40007)
    err(post(moment_media(api), "video"), 40007)  # an image where a video belongs
    ok(post(moment_media(api, "video", "clip.mp4"), "video"))
    ok(post(moment_media(api), "link"))  # a link's media_id is its cover image
    stale = moment_media(api)
    sim.advance(3 * 86400)
    err(post(stale), 40007)


# --- moments: publishing, audience, likes and comments -------------------------------------------------


@pytest.fixture
def posted(sim, api):
    """zhangsan (a gold and a silver customer) and lisi (a gold customer); a moment for gold customers."""
    staff(sim, "zhangsan", "lisi", "wangwu")
    gold = sim.admin_add_tags(["金卡"], group_name="等级")["tags"][0]["id"]
    a = sim.add_customer("zhangsan")["external_userid"]
    b = sim.add_customer("zhangsan")["external_userid"]
    c = sim.add_customer("lisi")["external_userid"]
    for userid, ext in (("zhangsan", a), ("lisi", c)):
        ok(api.post("externalcontact/mark_tag", {"userid": userid, "external_userid": ext, "add_tag": [gold]}))
    images = [{"msgtype": "image", "image": {"media_id": moment_media(api)}} for _ in range(2)]
    jobid = ok(api.post("externalcontact/add_moment_task", {
        "text": {"content": "金卡会员专享"}, "attachments": images,
        "visible_range": {"external_contact_list": {"tag_list": [gold]}}}))["jobid"]
    sim.advance(2)
    moment_id = ok(api.get("externalcontact/get_moment_task_result", jobid=jobid))["result"]["moment_id"]
    return {"moment": moment_id, "a": a, "b": b, "c": c, "gold": gold}


def test_moment_tasks_go_to_the_members_of_the_tagged_customers(sim, api, posted):
    moment = posted["moment"]
    tasks = ok(api.post("externalcontact/get_moment_task", {"moment_id": moment}))
    assert sorted(tasks["task_list"], key=lambda t: t["userid"]) == [
        {"userid": "lisi", "publish_status": 0}, {"userid": "zhangsan", "publish_status": 0}]
    audience = ok(api.post("externalcontact/get_moment_customer_list", {"moment_id": moment, "userid": "zhangsan"}))
    assert audience["customer_list"] == [{"userid": "zhangsan", "external_userid": posted["a"]}]  # not the silver one
    # nobody sees it before the member publishes
    assert ok(api.post("externalcontact/get_moment_send_result",
                       {"moment_id": moment, "userid": "zhangsan"}))["customer_list"] == []
    sim.publish_moment(moment, "zhangsan")
    seen = ok(api.post("externalcontact/get_moment_send_result", {"moment_id": moment, "userid": "zhangsan"}))
    assert seen == {"errcode": 0, "errmsg": "ok", "next_cursor": "", "customer_list": [{"external_userid": posted["a"]}]}
    tasks = {t["userid"]: t["publish_status"]
             for t in api.post("externalcontact/get_moment_task", {"moment_id": moment})["task_list"]}
    assert tasks == {"zhangsan": 1, "lisi": 0}
    err(api.post("externalcontact/get_moment_customer_list", {"moment_id": moment, "userid": "wangwu"}), 40003)
    err(api.post("externalcontact/get_moment_task", {"moment_id": "momNope"}), 40058)


def test_customers_like_and_comment_on_what_they_can_see(sim, api, posted):
    moment, a, b = posted["moment"], posted["a"], posted["b"]
    with pytest.raises(SimulatorError, match="not published"):
        sim.like_moment(moment, "zhangsan", a)
    sim.publish_moment(moment, "zhangsan")
    sim.advance(30)
    sim.like_moment(moment, "zhangsan", a)
    sim.comment_moment(moment, "zhangsan", a)
    sim.comment_moment(moment, "zhangsan", a)
    with pytest.raises(SimulatorError, match="once"):
        sim.like_moment(moment, "zhangsan", a)
    with pytest.raises(SimulatorError, match="cannot see"):
        sim.comment_moment(moment, "zhangsan", b)  # the silver customer is outside the moment's range
    answer = ok(api.post("externalcontact/get_moment_comments", {"moment_id": moment, "userid": "zhangsan"}))
    at = 1_717_200_000 + 2 + 30
    assert answer["like_list"] == [{"external_userid": a, "create_time": at}]
    assert answer["comment_list"] == [{"external_userid": a, "create_time": at}] * 2
    assert ok(api.post("externalcontact/get_moment_comments", {"moment_id": moment, "userid": "lisi"}))["like_list"] == []


def test_moment_list_and_cancel(sim, api, posted):
    window = {"start_time": 1_717_200_000 - 10, "end_time": 1_717_200_000 + 600}
    (row,) = ok(api.post("externalcontact/get_moment_list", window))["moment_list"]
    assert row["moment_id"] == posted["moment"] and row["create_type"] == 0 and row["visible_type"] == 0
    assert "creator" not in row and row["text"] == {"content": "金卡会员专享"}
    assert len(row["image"]) == 2 and all(i["media_id"].startswith("WWCISP_") for i in row["image"])
    assert ok(api.post("externalcontact/get_moment_list", {**window, "filter_type": 1}))["moment_list"] == []
    err(api.post("externalcontact/get_moment_list", {**window, "limit": 21}), 40058)
    err(api.post("externalcontact/get_moment_list", {"start_time": 0, "end_time": 31 * 86400}), 40058)

    sim.publish_moment(posted["moment"], "zhangsan")
    ok(api.post("externalcontact/cancel_moment_task", {"moment_id": posted["moment"]}))
    with pytest.raises(SimulatorError, match="cancelled"):
        sim.publish_moment(posted["moment"], "lisi")
    assert ok(api.post("externalcontact/get_moment_send_result",
                       {"moment_id": posted["moment"], "userid": "zhangsan"}))["customer_list"] != []


def test_a_moment_is_not_listed_while_being_created(sim, api):
    ok(api.post("externalcontact/add_moment_task", {"text": {"content": "早安"}}))
    window = {"start_time": 1_717_200_000 - 10, "end_time": 1_717_200_000 + 600}
    assert ok(api.post("externalcontact/get_moment_list", window))["moment_list"] == []
    sim.advance(2)
    assert len(ok(api.post("externalcontact/get_moment_list", window))["moment_list"]) == 1


@pytest.mark.parametrize("kind, filename, limit", [
    ("image", "a.png", 10 * 1024 * 1024), ("voice", "a.amr", 2 * 1024 * 1024),
    ("video", "a.mp4", 10 * 1024 * 1024), ("file", "a.pdf", 20 * 1024 * 1024),
])
def test_media_upload_size_limits_per_type(api, kind, filename, limit):
    """DOC 90253: image 10 MB, voice 2 MB, video 10 MB, file 20 MB, each more than 5 bytes."""
    assert ok(api.upload(type=kind, filename=filename, data=b"0" * limit))["type"] == kind
    err(api.upload(type=kind, filename=filename, data=b"0" * (limit + 1)), 40006)
    err(api.upload(type=kind, filename=filename, data=b"0" * 5), 40006)


def test_the_control_api_sets_the_rule_and_drives_moments(sim, api, posted):
    http = api.http
    assert http.post("/sim/set-groupmsg-rule", json={"rule": "day1"}).json() == {"groupmsg_receive_cap": "day1"}
    assert sim.limits.groupmsg_receive_cap == "day1"
    assert http.post("/sim/set-groupmsg-rule", json={"rule": "hourly"}).status_code == 400
    moment, a = posted["moment"], posted["a"]
    assert http.post("/sim/like-moment", json={"moment_id": moment, "userid": "zhangsan", "external_userid": a}).status_code == 400
    assert http.post("/sim/publish-moment", json={"moment_id": moment, "userid": "zhangsan"}).json()["visible_to"] == 1
    assert http.post("/sim/like-moment", json={"moment_id": moment, "userid": "zhangsan", "external_userid": a}).status_code == 200
    assert http.post("/sim/comment-moment", json={"moment_id": moment, "userid": "zhangsan", "external_userid": a}).status_code == 200
    assert http.post("/sim/publish-moment", json={"moment_id": "momNope", "userid": "zhangsan"}).status_code == 404
    (shown,) = http.get("/sim/moments").json()
    assert shown["moment_id"] == moment and shown["tasks"]["zhangsan"] and len(shown["comments"]["zhangsan"]) == 1


def test_the_unverified_daily_moment_cap_is_a_switch(sim, api):
    staff(sim, "zhangsan")
    a = sim.add_customer("zhangsan")["external_userid"]

    def moment() -> str:
        jobid = ok(api.post("externalcontact/add_moment_task", {"text": {"content": "早安"}}))["jobid"]
        sim.advance(2)
        return ok(api.get("externalcontact/get_moment_task_result", jobid=jobid))["result"]["moment_id"]

    def seen(moment_id: str) -> list:
        return ok(api.post("externalcontact/get_moment_send_result",
                           {"moment_id": moment_id, "userid": "zhangsan"}))["customer_list"]

    first, second = moment(), moment()
    for moment_id in (first, second):  # off by default: every published moment is seen
        sim.publish_moment(moment_id, "zhangsan")
        assert seen(moment_id) == [{"external_userid": a}]
    sim.set_limits(moment_customer_daily_cap=2)
    third = moment()
    assert sim.publish_moment(third, "zhangsan") == {"moment_id": third, "userid": "zhangsan", "visible_to": 0,
                                                     "over_daily_cap": 1}
    assert seen(third) == []
    with pytest.raises(SimulatorError, match="cannot see"):
        sim.like_moment(third, "zhangsan", a)
    sim.advance(86400)
    fourth = moment()
    sim.publish_moment(fourth, "zhangsan")
    assert seen(fourth) == [{"external_userid": a}]
