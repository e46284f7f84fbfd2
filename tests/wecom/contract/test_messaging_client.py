"""Siyu's typed functions for group messages, uploads and moments, against the simulator: what they send is
what WeCom takes, and what they return is what WeCom answered (read back from the simulator's own records)."""

import pytest

from siyu.wecom import messaging_endpoints as wm
from siyu.wecom.errors import WeComError
from tests.wecom.simulator.support import START

JPEG = b"\xff\xd8\xff" + b"0" * 64


def test_a_group_message_from_creation_to_results(sim, client):
    a = sim.add_customer("zhangsan")["external_userid"]
    b = sim.add_customer("lisi")["external_userid"]
    picture = wm.upload_media(client, kind="image", filename="poster.jpg", data=JPEG)
    assert picture.media_id in sim.state.media and (picture.type, picture.created_at) == ("image", START)
    content = {"text": {"content": "会员日 8 折"}, "attachments": [{"msgtype": "image", "image": {"media_id": picture.media_id}}]}

    made = wm.add_msg_template(client, content=content, external_userids=[a, b, "wmGone"])

    assert made.fail_list == ["wmGone"]
    stored = sim.state.msg_templates[made.msgid]
    assert stored.text == content["text"] and stored.attachments == content["attachments"]
    (listed,) = wm.group_messages(client, start=START - 60, end=START + 60)
    assert (listed.msgid, listed.create_time, listed.create_type, listed.attachments) == (made.msgid, START, 0, content["attachments"])
    sim.advance(600)
    sim.confirm_groupmsg(made.msgid, "zhangsan")
    tasks = {t.userid: t for t in wm.group_message_tasks(client, made.msgid)}
    assert (tasks["zhangsan"].sent, tasks["zhangsan"].send_time, tasks["lisi"].sent) == (True, START + 600, False)
    (row,) = wm.group_message_results(client, made.msgid, "zhangsan")
    assert (row.external_userid, row.status, row.send_time) == (a, wm.SendStatus.SENT, START + 600)
    assert [r.status for r in wm.group_message_results(client, made.msgid, "lisi")] == [wm.SendStatus.UNSENT]

    wm.remind_group_message(client, made.msgid)
    assert len(sim.state.msg_templates[made.msgid].reminders) == 1
    wm.cancel_group_message(client, made.msgid)
    assert sim.state.msg_templates[made.msgid].cancelled


def test_group_chats_and_tag_filters(sim, client):
    chat = sim.create_group("lisi", "会员群")["chat_id"]
    made = wm.add_msg_template(client, content={"text": {"content": "群公告"}}, chat_ids=[chat, "wrNotHers"], sender="lisi")
    assert made.fail_list == ["wrNotHers"]
    assert [(r.userid, r.chat_id) for r in sim.state.msg_templates[made.msgid].results] == [("lisi", chat)]
    with pytest.raises(WeComError) as refused:
        wm.add_msg_template(client, content={"text": {"content": "x"}}, tag_groups=[["etNoSuchTag"]])
    assert refused.value.errcode == 40068
    with pytest.raises(ValueError):
        wm.add_msg_template(client, content={"text": {"content": "x"}}, external_userids=["wm1"], chat_ids=[chat])


def test_batches_split_recipients_to_what_one_call_takes():
    ids = [f"wm{n}" for n in range(20_001)]
    parts = list(wm.batches(ids))
    assert [len(p) for p in parts] == [10_000, 10_000, 1]
    assert [i for p in parts for i in p] == ids
    assert list(wm.batches([])) == []


def test_more_than_one_call_takes_is_refused_before_calling(sim, client):
    with pytest.raises(ValueError):
        wm.add_msg_template(client, content={"text": {"content": "x"}}, external_userids=[f"wm{n}" for n in range(10_001)])
    assert sim.state.msg_templates == {}


def test_a_moment_from_upload_to_likes(sim, client):
    gold = sim.admin_add_tags(["金卡"], group_name="等级")["tags"][0]["id"]
    a = sim.add_customer("zhangsan")["external_userid"]
    sim.add_customer("zhangsan")
    client.post("externalcontact/mark_tag", {"userid": "zhangsan", "external_userid": a, "add_tag": [gold]})
    photo = wm.upload_attachment(client, media_type="image", filename="new.jpg", data=JPEG)
    assert sim.state.media[photo.media_id].attachment_type == 1
    album = wm.upload_attachment(client, media_type="image", filename="sku.jpg", data=JPEG, for_moments=False)
    assert sim.state.media[album.media_id].attachment_type == 2

    jobid = wm.add_moment_task(client, text="新品上市", senders=["zhangsan", "ghost"], tags=[gold],
                               attachments=[{"msgtype": "image", "image": {"media_id": photo.media_id}}])
    assert wm.moment_task_result(client, jobid).status == wm.MomentJob.CREATING
    sim.advance(2)
    result = wm.moment_task_result(client, jobid)
    assert result.done and result.moment_id in sim.state.moments and result.invalid_users == ["ghost"]
    moment = result.moment_id

    (summary,) = wm.moments(client, start=START - 60, end=START + 60)
    assert (summary.moment_id, summary.text, summary.visible_type, summary.creator) == (moment, "新品上市", 0, "")
    assert len(summary.image_ids) == 1
    assert wm.moment_tasks(client, moment) == {"zhangsan": False}
    assert wm.moment_customers(client, moment, "zhangsan") == [a]
    assert wm.moment_seen_by(client, moment, "zhangsan") == []
    sim.publish_moment(moment, "zhangsan")
    assert wm.moment_tasks(client, moment) == {"zhangsan": True}
    assert wm.moment_seen_by(client, moment, "zhangsan") == [a]
    sim.like_moment(moment, "zhangsan", a)
    reactions = wm.moment_reactions(client, moment, "zhangsan")
    assert reactions.likes == [wm.Reaction(START + 2, external_userid=a)] and reactions.comments == []
    wm.cancel_moment_task(client, moment)
    assert sim.state.moments[moment].cancelled


def test_a_moment_with_a_plain_upload_is_refused(sim, client):
    temporary = wm.upload_media(client, kind="image", filename="a.jpg", data=JPEG)
    with pytest.raises(WeComError) as refused:
        wm.add_moment_task(client, attachments=[{"msgtype": "image", "image": {"media_id": temporary.media_id}}])
    assert refused.value.errcode == 40007
    assert sim.state.moments == {}
