"""Siyu's outbound-messaging readers fed WeCom's official response samples (reference Appendix A and DOC 93333):
every value they return is read from the field WeCom names, and the doc's odd rows (a member's own like, a
moment with every kind of content) are read, not dropped."""

from __future__ import annotations

import json

from siyu.wecom import messaging_endpoints as wm
from siyu.wecom.client import WeComClient

from .shapes import SAMPLES

# The doc prints placeholders where WeCom sends epoch seconds (as a string).
PLACEHOLDER_TIME = "1605172726"


class Replay:
    """WeCom's side, answering every call with the official sample of its path (one page: the sample's
    ``CURSOR`` is a placeholder, not a next page). Paging goes through the real client's ``iter_cursor``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def post(self, path: str, body: dict | None = None) -> dict:
        self.calls.append((path, dict(body or {})))
        answer = json.loads(json.dumps(SAMPLES[path.removeprefix("externalcontact/")]["response"]))
        if "next_cursor" in answer:
            answer["next_cursor"] = ""
        for row in answer.get("group_msg_list", []) + answer.get("moment_list", []):
            row["create_time"] = PLACEHOLDER_TIME
        return answer

    def get(self, path: str, **params) -> dict:
        return self.post(path, params)

    iter_cursor = WeComClient.iter_cursor


def test_add_msg_template_sample():
    made = wm.add_msg_template(Replay(), content={"text": {"content": "文本消息内容"}}, external_userids=["wm1"])
    assert made == wm.MsgTemplate("msgGCAAAXtWyujaWJHDDGi0mAAAA", ["wmqfasd1e1927831123109rBAAAA"])


def test_group_message_list_sample():
    wecom = Replay()
    (msg,) = wm.group_messages(wecom, start=1605171726, end=1605172726, creator="zhangshan", filter_type=1)
    assert (msg.msgid, msg.creator, msg.create_time, msg.create_type) == ("msgGCAAAXtWyujaWJHDDGi0mAAAA", "xxxx", 1605172726, 1)
    assert msg.text == {"content": "文本消息内容"}
    assert [a["msgtype"] for a in msg.attachments] == ["image", "link", "miniprogram", "video", "file"]
    assert wecom.calls[0][1] == {"chat_type": "single", "start_time": 1605171726, "end_time": 1605172726,
                                 "filter_type": 1, "limit": 100, "creator": "zhangshan"}


def test_group_message_task_and_result_samples():
    (task,) = wm.group_message_tasks(Replay(), "msgGCAAAXtWyujaWJHDDGi0mACAAAA")
    assert task == wm.GroupMsgTask("zhangsan", True, 1552536375)
    (row,) = wm.group_message_results(Replay(), "msgGCAAAXtWyujaWJHDDGi0mACAAAA", "zhangsan")
    assert row == wm.GroupMsgResult("zhangsan", wm.SendStatus.SENT, "wmqfasd1e19278asdasAAAA",
                                    "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA", 1552536375)


def test_remind_cancel_and_add_moment_samples():
    wecom = Replay()
    wm.remind_group_message(wecom, "msg1")
    wm.cancel_group_message(wecom, "msg1")
    assert wm.add_moment_task(wecom, text="文本消息内容", senders=["zhangshan", "lisi"], departments=[2, 3],
                              tags=["etXXXXXXXXXX", "etYYYYYYYYYY"]) == "xxxx"
    # the request Siyu sends has the official request's shape
    body = wecom.calls[-1][1]
    assert body["visible_range"] == SAMPLES["add_moment_task"]["request"]["visible_range"]
    assert body["text"] == SAMPLES["add_moment_task"]["request"]["text"]


def test_moment_list_sample():
    (moment,) = wm.moments(Replay(), start=1605000000, end=1605172726)
    assert (moment.moment_id, moment.creator, moment.create_time, moment.create_type, moment.visible_type) == (
        "momxxx", "xxxx", 1605172726, 1, 1)
    assert (moment.text, moment.image_ids) == ("test", ["WWCISP_xxxxx"])
    assert moment.video == {"media_id": "WWCISP_xxxxx", "thumb_media_id": "WWCISP_xxxxx"}
    assert moment.link == {"title": "腾讯网-QQ.COM", "url": "https://www.qq.com"}


def test_moment_read_samples():
    assert wm.moment_tasks(Replay(), "momxxx") == {"zhangsan": True}
    assert wm.moment_customers(Replay(), "momxxx", "xxx") == ["woAJ2GCAAAXtWyujaWJHDDGi0mACCCC  "]
    assert wm.moment_seen_by(Replay(), "momxxx", "xxx") == ["woAJ2GCAAAXtWyujaWJHDDGi0mACCCC"]
    reactions = wm.moment_reactions(Replay(), "momxxx", "xxx")
    assert reactions.comments == [wm.Reaction(1605172726, external_userid="woAJ2GCAAAXtWyujaWJHDDGi0mACAAAA "),
                                  wm.Reaction(1605172729, userid="zhangshan ")]
    assert reactions.likes == [wm.Reaction(1605172726, external_userid="woAJ2GCAAAXtWyujaWJHDDGi0mACBBBB "),
                               wm.Reaction(1605172720, userid="zhangshan ")]
