"""Callback XML, encryption, signing and WeCom-style delivery (5 s timeout, 3 attempts)."""

from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from defusedxml.ElementTree import fromstring

from siyu.wecom.simulator import SimClock, Simulator

from .support import AES_KEY, AGENT_ID, CALLBACK_URL, CORP_ID, SECRET, START, TOKEN, Receiver, contact_way, ok, staff


def test_scan_sends_an_encrypted_signed_add_external_contact(sim, api, receiver):
    staff(sim, "zhangsan")
    way = contact_way(api, state="store_sh_01")
    receiver.clear()
    result = sim.scan(config_id=way)

    url, params, body = receiver.calls[-1]
    assert url == CALLBACK_URL
    assert set(params) == {"msg_signature", "timestamp", "nonce"}
    assert params["timestamp"] == str(START)
    envelope = fromstring(body)
    assert [child.tag for child in envelope] == ["ToUserName", "AgentID", "Encrypt"]
    assert envelope.findtext("ToUserName") == CORP_ID
    assert envelope.findtext("AgentID") == str(AGENT_ID)
    assert receiver.crypt.signature(params["timestamp"], params["nonce"], envelope.findtext("Encrypt")) == params["msg_signature"]

    event = fromstring(receiver.xml())
    assert [child.tag for child in event] == [
        "ToUserName", "FromUserName", "CreateTime", "MsgType", "Event", "ChangeType",
        "UserID", "ExternalUserID", "State", "WelcomeCode",
    ]
    assert event.findtext("ToUserName") == CORP_ID
    assert event.findtext("FromUserName") == "sys"
    assert event.findtext("CreateTime") == str(START)
    assert event.findtext("MsgType") == "event"
    assert event.findtext("Event") == "change_external_contact"
    assert event.findtext("ChangeType") == "add_external_contact"
    assert event.findtext("UserID") == "zhangsan"
    assert event.findtext("ExternalUserID") == result["external_userid"]
    assert event.findtext("State") == "store_sh_01"
    assert event.findtext("WelcomeCode") == result["welcome_code"]
    assert "<![CDATA[add_external_contact]]>" in receiver.xml()


def test_ids_look_like_wecom(sim, api):
    staff(sim, "zhangsan")
    way = contact_way(api, state="s")
    assert len(way) == 32 and int(way, 16) >= 0
    result = sim.scan(config_id=way)
    assert result["external_userid"].startswith("wm") and len(result["external_userid"]) == 32
    assert len(result["welcome_code"]) == 43
    group = sim.create_group("zhangsan", "VIP群")
    assert group["chat_id"].startswith("wr") and len(group["chat_id"]) == 32
    tags = sim.admin_add_tags(["高意向"], group_name="意向")
    assert tags["group_id"].startswith("et") and tags["tags"][0]["id"].startswith("et")


def test_state_and_welcome_code_are_absent_when_they_should_be(sim, api, receiver):
    staff(sim, "zhangsan")
    sim.add_staff("lisi", "李四", admin_welcome=True)
    no_state = contact_way(api)
    admin_welcome = contact_way(api, type=1, user=["lisi"], state="x")

    sim.scan(config_id=no_state)
    first = receiver.events()[-1]
    assert "State" not in first and first["WelcomeCode"]
    assert "<State>" not in receiver.xml()

    sim.scan(config_id=admin_welcome)
    second = receiver.events()[-1]
    assert second["State"] == "x" and "WelcomeCode" not in second

    # The customer deleted the member and adds them again: they were already chatting, no WelcomeCode.
    sim.customer_deletes_staff(first["ExternalUserID"], "zhangsan")
    sim.scan(config_id=no_state, external_userid=first["ExternalUserID"])
    again = receiver.events()[-1]
    assert again["ChangeType"] == "add_external_contact" and "WelcomeCode" not in again


def test_retries_until_200_and_records_every_attempt(sim, api, receiver):
    staff(sim, "zhangsan")
    way = contact_way(api, state="s")
    receiver.clear()
    receiver.statuses = [500, TimeoutError("read timed out")]
    sim.scan(config_id=way)
    assert len(receiver.calls) == 3
    assert receiver.calls[0] == receiver.calls[1] == receiver.calls[2]  # the same request, re-sent
    delivery = sim.deliveries[-1]
    assert delivery.status == "delivered"
    assert [a["status"] for a in delivery.attempts] == [500, None, 200]
    assert delivery.attempts[1]["error"] == "timeout"


def test_gives_up_after_three_attempts(sim, api, receiver):
    staff(sim, "zhangsan")
    receiver.clear()
    receiver.statuses = [503, 503, 503, 503]
    sim.add_staff("lisi", "李四")
    assert len(receiver.calls) == 3
    assert sim.deliveries[-1].status == "failed"
    assert receiver.statuses == [503]


def test_without_callback_url_events_are_recorded_not_sent(receiver):
    sim = Simulator(CORP_ID, SECRET, AGENT_ID, TOKEN, AES_KEY, clock=SimClock(START, frozen=True), deliver=receiver)
    sim.add_staff("zhangsan", "张三")
    assert receiver.calls == []
    assert sim.delivery_log()[-1]["status"] == "skipped"
    assert "<ChangeType>create_user</ChangeType>" in sim.delivery_log()[-1]["xml"]


def test_duplicate_deliveries_and_redeliver_all(sim, api, receiver):
    staff(sim, "zhangsan")
    receiver.clear()
    sim.set_duplicate_deliveries(True)
    sim.add_staff("lisi", "李四")
    assert len(receiver.calls) == 2 and receiver.calls[0] == receiver.calls[1]
    assert sim.deliveries[-1].copy_of == sim.deliveries[-2].id
    sim.set_duplicate_deliveries(False)
    receiver.clear()
    originals = [d for d in sim.deliveries if d.copy_of is None]
    assert sim.redeliver_all() == {"redelivered": len(originals)}
    assert [body for _u, _p, body in receiver.calls] == [d.body for d in originals]


def test_api_changes_make_no_callback(sim, api, receiver):
    staff(sim, "zhangsan")
    way = contact_way(api, state="s")
    ext = sim.scan(config_id=way)["external_userid"]
    group = ok(api.post("externalcontact/add_corp_tag", {"group_name": "意向", "tag": [{"name": "高"}]}))["tag_group"]
    receiver.clear()
    ok(api.post("externalcontact/remark", {"userid": "zhangsan", "external_userid": ext, "remark": "王姐"}))
    ok(api.post("externalcontact/mark_tag", {"userid": "zhangsan", "external_userid": ext,
                                             "add_tag": [group["tag"][0]["id"]]}))
    ok(api.post("externalcontact/edit_corp_tag", {"id": group["tag"][0]["id"], "name": "很高"}))
    ok(api.post("externalcontact/add_corp_tag", {"group_id": group["group_id"], "tag": [{"name": "中"}]}))
    ok(api.post("externalcontact/update_contact_way", {"config_id": way, "remark": "新备注"}))
    ok(api.post("externalcontact/del_corp_tag", {"group_id": [group["group_id"]]}))
    assert receiver.calls == []


def test_client_side_edit_calls_back_but_remark_mobiles_alone_do_not(sim, api, receiver):
    staff(sim, "zhangsan")
    ext = sim.add_customer("zhangsan")["external_userid"]
    receiver.clear()
    sim.staff_edits_customer("zhangsan", ext, remark_mobiles=["13800000001"])
    assert receiver.calls == []
    sim.staff_edits_customer("zhangsan", ext, remark="老客户")
    assert receiver.changes() == [("change_external_contact", "edit_external_contact")]


def test_delete_events(sim, receiver):
    staff(sim, "zhangsan", "lisi")
    a = sim.add_customer("zhangsan")["external_userid"]
    b = sim.add_customer("lisi")["external_userid"]
    receiver.clear()
    sim.customer_deletes_staff(a, "zhangsan")
    sim.staff_deletes_customer("lisi", b)
    follow, external = receiver.events()
    assert (follow["ChangeType"], follow["UserID"], follow["ExternalUserID"]) == ("del_follow_user", "zhangsan", a)
    assert (external["ChangeType"], external["UserID"], external["ExternalUserID"]) == ("del_external_contact", "lisi", b)
    assert "Source" not in external


def test_group_events_carry_member_versions(sim, receiver):
    staff(sim, "zhangsan")
    receiver.clear()
    group = sim.create_group("zhangsan", "香薰爱好者")
    joined = sim.join_group(chat_id=group["chat_id"], via="qr")
    sim.leave_group(group["chat_id"], joined["external_userid"], kicked=True)
    sim.rename_group(group["chat_id"], "香薰爱好者2群")
    sim.dismiss_group(group["chat_id"])
    create, add, remove, rename, dismiss = receiver.events()
    assert (create["Event"], create["ChangeType"], create["ChatId"]) == ("change_external_chat", "create", group["chat_id"])
    assert add["UpdateDetail"] == "add_member" and add["JoinScene"] == "3" and "QuitScene" not in add
    assert add["MemChangeCnt"] == "1" and add["MemChangeList"] == [joined["external_userid"]]
    assert add["LastMemVer"] == group["member_version"] and add["CurMemVer"] != add["LastMemVer"]
    assert remove["UpdateDetail"] == "del_member" and remove["QuitScene"] == "1" and "JoinScene" not in remove
    assert remove["LastMemVer"] == add["CurMemVer"] and remove["CurMemVer"] == group["member_version"]
    assert rename["UpdateDetail"] == "change_name" and "MemChangeCnt" not in rename
    assert dismiss["ChangeType"] == "dismiss"
    assert "<ChatId><![CDATA[" in receiver.xml(0)


def test_tag_events_from_the_admin_console(sim, receiver):
    created = sim.admin_add_tags(["金卡", "银卡"], group_name="会员等级")
    more = sim.admin_add_tags(["铜卡"], group_id=created["group_id"])
    gold, silver = (t["id"] for t in created["tags"])
    sim.admin_edit_tag(gold, name="金卡会员")
    sim.admin_reorder_tags(created["group_id"], [more["tags"][0]["id"], silver, gold])
    sim.admin_delete_tags(tag_ids=[gold])
    sim.admin_delete_tags(group_ids=[created["group_id"]])
    events = receiver.events()
    assert [(e["ChangeType"], e["Id"], e.get("TagType")) for e in events] == [
        ("create", created["group_id"], "tag_group"),
        ("create", more["tags"][0]["id"], "tag"),
        ("update", gold, "tag"),
        ("shuffle", created["group_id"], None),
        ("delete", gold, "tag"),
        ("delete", created["group_id"], "tag_group"),  # one callback for the group, none per tag
    ]
    assert all(e["Event"] == "change_external_tag" for e in events)


def test_deleting_the_last_tag_deletes_its_group(sim, receiver):
    created = sim.admin_add_tags(["唯一"], group_name="单标签组")
    receiver.clear()
    sim.admin_delete_tags(tag_ids=[created["tags"][0]["id"]])
    assert [(e["ChangeType"], e["TagType"]) for e in receiver.events()] == [("delete", "tag"), ("delete", "tag_group")]


def test_contact_events(sim, receiver):
    sim.set_limits(callback_set_after_2022_08_15=False)  # a callback URL configured before 2022-08-15
    dept = sim.add_department("上海门店", parentid=1, order=5)
    sim.add_staff("zhangsan", "张三", [dept["id"]], mobile="13800000000", position="店长")
    sim.update_staff("zhangsan", position="区域经理")
    sim.remove_staff("zhangsan")
    sim.update_department(dept["id"], name="上海一店")
    sim.delete_department(dept["id"])
    events = receiver.events()
    assert [e["ChangeType"] for e in events] == [
        "create_party", "create_user", "update_user", "delete_user", "update_party", "delete_party",
    ]
    party, user, update, delete, _, gone = events
    assert (party["Id"], party["Name"], party["ParentId"], party["Order"]) == (str(dept["id"]), "上海门店", "1", "5")
    assert (user["UserID"], user["Name"], user["Department"], user["Mobile"], user["Position"]) == (
        "zhangsan", "张三", str(dept["id"]), "13800000000", "店长")
    assert update["Position"] == "区域经理"
    assert set(delete) == {"ToUserName", "FromUserName", "CreateTime", "MsgType", "Event", "ChangeType", "UserID"}
    assert set(gone) - {"ToUserName", "FromUserName", "CreateTime", "MsgType", "Event", "ChangeType"} == {"Id"}
    assert "<ChangeType>create_user</ChangeType>" in receiver.xml(1)  # bare text, as in WeCom's sample


def test_member_events_carry_only_userid_and_department_for_new_callback_urls(sim, receiver):
    # Doc 90970: for callback URLs set after 2022-08-15 (the default), members carry only UserID and Department.
    sim.add_staff("lisi", "李四", mobile="13900000000", position="导购")
    sim.update_staff("lisi", position="店长")
    base = {"ToUserName", "FromUserName", "CreateTime", "MsgType", "Event", "ChangeType"}
    assert [set(e) - base for e in receiver.events()] == [{"UserID", "Department"}] * 2


def test_async_delivery_keeps_order(receiver):
    sim = Simulator(CORP_ID, SECRET, AGENT_ID, TOKEN, AES_KEY, CALLBACK_URL, clock=SimClock(START, frozen=True),
                    deliver=receiver, async_delivery=True)
    for n in range(20):
        sim.add_staff(f"u{n:02d}", f"员工{n}")
    assert sim.flush(timeout=10)
    assert [e["UserID"] for e in receiver.events()] == [f"u{n:02d}" for n in range(20)]
    sim.close()


def test_default_transport_posts_over_http():
    """The httpx transport against a real socket, answering like Siyu's view (empty 200)."""
    received = []

    def app(environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        received.append((environ["QUERY_STRING"], environ["wsgi.input"].read(length)))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b""]

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = make_server("127.0.0.1", 0, app, handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/wecom/callback?org=1"
        sim = Simulator(CORP_ID, SECRET, AGENT_ID, TOKEN, AES_KEY, url, clock=SimClock(START, frozen=True))
        sim.add_staff("zhangsan", "张三")
    finally:
        server.shutdown()
        server.server_close()
    assert sim.deliveries[-1].status == "delivered"
    query, body = received[0]
    assert query.startswith("org=1&msg_signature=")
    params = dict(p.split("=", 1) for p in query.split("&"))
    plain = Receiver().crypt.decrypt_message(params["msg_signature"], params["timestamp"], params["nonce"], body)
    assert b"<UserID><![CDATA[zhangsan]]></UserID>" in plain


@pytest.mark.parametrize("status", [404, 500])
def test_non_200_answers_are_failures(sim, receiver, status):
    receiver.statuses = [status] * 3
    sim.add_staff("zhangsan", "张三")
    assert sim.deliveries[-1].status == "failed"
    assert [a["status"] for a in sim.deliveries[-1].attempts] == [status] * 3


def test_several_senders_deliver_side_by_side_and_keep_each_members_order(receiver):
    gate = threading.Event()

    def deliver(url, params, body):
        status = receiver(url, params, body)
        if "u00" in receiver.xml(len(receiver.calls) - 1):
            assert gate.wait(10)  # WeCom is slow to reach us about u00; the others must not wait behind it
        return status

    sim = Simulator(CORP_ID, SECRET, AGENT_ID, TOKEN, AES_KEY, CALLBACK_URL, clock=SimClock(START, frozen=True),
                    deliver=deliver, async_delivery=True, callback_senders=4)
    members = [f"u{n:02d}" for n in range(8)]
    for userid in members:
        sim.add_staff(userid, f"员工{userid}")
        sim.update_staff(userid, position="导购")
        sim.update_staff(userid, position="店长")
    others = [m for m in members if hash(m) % 4 != hash("u00") % 4]
    deadline = threading.Event()
    for _ in range(100):  # every member on another sender is delivered while u00's sender is held
        if {e["UserID"] for e in receiver.events()} >= set(others):
            break
        deadline.wait(0.05)
    assert {e["UserID"] for e in receiver.events()} >= set(others)
    gate.set()
    assert sim.flush(timeout=10)
    events = receiver.events()
    assert len(events) == 3 * len(members)
    for userid in members:
        assert [e["ChangeType"] for e in events if e["UserID"] == userid] == ["create_user", "update_user", "update_user"]
    sim.close()
