"""Every limit WeCom puts on 企业群发, hit through Siyu's own client functions, with WeCom's answer as Siyu reads it:
10,000 customers per call (DOC 92135), and each customer or group receiving at most as many group messages a month
as the month has days, or 7 a week, or 1 a day when the admin chose so (reference §3.6). A recipient over the cap
is not refused when the message is created: the member's send skips them, and get_groupmsg_send_result says 3."""

import pytest

from siyu.wecom import messaging_endpoints as wm
from siyu.wecom.errors import WeComError

S = wm.SendStatus
DAY = 86400
TEXT = {"text": {"content": "本周新品"}}


def send(sim, client, *, to: str = "", chat: str = "") -> int:
    """One group message to one customer of zhangsan (or one of his groups), sent by him; its status for them."""
    if chat:
        made = wm.add_msg_template(client, content=TEXT, chat_ids=[chat], sender="zhangsan")
    else:
        made = wm.add_msg_template(client, content=TEXT, external_userids=[to])
    sim.confirm_groupmsg(made.msgid, "zhangsan")
    (result,) = wm.group_message_results(client, made.msgid, "zhangsan")
    return result.status


def test_ten_thousand_customers_per_call(sim, client):
    unknown = [f"wmNotACustomer{n:05d}" for n in range(10_001)]
    accepted = client.post(wm.ADD_MSG_TEMPLATE, {"external_userid": unknown[:10_000], **TEXT})
    assert len(accepted["fail_list"]) == 10_000  # taken: every id is checked, none is a customer
    with pytest.raises(WeComError) as refused:
        client.post(wm.ADD_MSG_TEMPLATE, {"external_userid": unknown, **TEXT})
    assert refused.value.errcode == 40058 and "external_userid exceed max size 10000" in refused.value.errmsg
    assert len(sim.state.msg_templates) == 1  # the refused call created nothing


def test_as_many_a_month_as_the_month_has_days(sim, client):
    """June has 30 days, July 31 (the simulation starts on 2024-06-01, Beijing time)."""
    customer = sim.add_customer("zhangsan")["external_userid"]
    june = [send(sim, client, to=customer) for _ in range(31)]
    assert june == [S.SENT] * 30 + [S.OVER_CAP]
    sim.advance(30 * DAY)  # 2024-07-01
    july = [send(sim, client, to=customer) for _ in range(32)]
    assert july == [S.SENT] * 31 + [S.OVER_CAP]


def test_one_a_day(sim, client):
    customer = sim.add_customer("zhangsan")["external_userid"]
    other = sim.add_customer("zhangsan")["external_userid"]
    sim.set_groupmsg_rule("day1")
    assert [send(sim, client, to=customer), send(sim, client, to=customer)] == [S.SENT, S.OVER_CAP]
    assert send(sim, client, to=other) == S.SENT  # the cap is per customer
    sim.advance(DAY)
    assert send(sim, client, to=customer) == S.SENT


def test_seven_a_week(sim, client):
    """2024-06-03 is a Monday; the count starts again on Monday 2024-06-10."""
    customer = sim.add_customer("zhangsan")["external_userid"]
    sim.set_groupmsg_rule("week7")
    sim.advance(2 * DAY)
    monday = [send(sim, client, to=customer) for _ in range(4)]
    sim.advance(2 * DAY)
    wednesday = [send(sim, client, to=customer) for _ in range(4)]
    assert monday + wednesday == [S.SENT] * 7 + [S.OVER_CAP]
    sim.advance(5 * DAY)
    assert send(sim, client, to=customer) == S.SENT


def test_customer_groups_have_the_same_cap(sim, client):
    chat = sim.create_group("zhangsan", "会员群")["chat_id"]
    sim.set_groupmsg_rule("day1")
    assert [send(sim, client, chat=chat), send(sim, client, chat=chat)] == [S.SENT, S.OVER_CAP]


def test_a_customer_who_is_no_longer_a_friend(sim, client):
    customer = sim.add_customer("zhangsan")["external_userid"]
    made = wm.add_msg_template(client, content=TEXT, external_userids=[customer])
    sim.customer_deletes_staff(customer, "zhangsan")
    sim.confirm_groupmsg(made.msgid, "zhangsan")
    assert [r.status for r in wm.group_message_results(client, made.msgid, "zhangsan")] == [S.NOT_FRIEND]
