"""继承: resigned and on-job transfers, their 24-hour wait, refusals and the 2-per-90-days rule."""

from __future__ import annotations

import pytest

from siyu.wecom.simulator import NotFound

from .support import START, err, ok, staff

DAY = 86400


def _customers(sim, userid, n):
    return [sim.add_customer(userid)["external_userid"] for _ in range(n)]


def test_resigned_transfer_flow(sim, api, receiver):
    staff(sim, "zhangsan", "lisi")
    customers = _customers(sim, "zhangsan", 120)
    sim.advance(100)
    sim.remove_staff("zhangsan")

    unassigned, cursor = [], ""
    while True:
        page = ok(api.post("externalcontact/get_unassigned_list", {"page_size": 50, "cursor": cursor}))
        unassigned += page["info"]
        cursor = page["next_cursor"]
        assert page["is_last"] == (cursor == "")
        if not cursor:
            break
    assert [row["external_userid"] for row in unassigned] == customers
    assert unassigned[0] == {"handover_userid": "zhangsan", "external_userid": customers[0], "dimission_time": START + 100}

    too_many = {"handover_userid": "zhangsan", "takeover_userid": "lisi", "external_userid": customers[:101]}
    assert "external_userid exceed max size 100" in err(api.post("externalcontact/resigned/transfer_customer", too_many), 40058)["errmsg"]
    assert sim.state.transfers == []

    receiver.clear()
    result = ok(api.post("externalcontact/resigned/transfer_customer",
                         {"handover_userid": "zhangsan", "takeover_userid": "lisi",
                          "external_userid": customers[:99] + ["wmNotACustomerOfAnyoneAtAllXXXXX"]}))
    assert result["customer"][:2] == [{"external_userid": customers[0], "errcode": 0},
                                      {"external_userid": customers[1], "errcode": 0}]
    assert result["customer"][-1] == {"external_userid": "wmNotACustomerOfAnyoneAtAllXXXXX", "errcode": 40096}
    assert receiver.calls == []
    left = api.post("externalcontact/get_unassigned_list", {})["info"]
    assert [row["external_userid"] for row in left] == customers[99:]

    waiting = ok(api.post("externalcontact/resigned/transfer_result",
                          {"handover_userid": "zhangsan", "takeover_userid": "lisi"}))
    assert waiting["next_cursor"] == "" and len(waiting["customer"]) == 99
    assert waiting["customer"][0] == {"external_userid": customers[0], "status": 2, "takeover_time": START + 100 + DAY}

    sim.advance(DAY - 1)
    assert api.post("externalcontact/resigned/transfer_result",
                    {"handover_userid": "zhangsan", "takeover_userid": "lisi"})["customer"][0]["status"] == 2
    sim.advance(1)
    done = api.post("externalcontact/resigned/transfer_result", {"handover_userid": "zhangsan", "takeover_userid": "lisi"})
    assert {row["status"] for row in done["customer"]} == {1}
    assert done["customer"][0]["takeover_time"] == START + 100 + DAY
    assert len(api.get("externalcontact/list", userid="lisi")["external_userid"]) == 99
    follow = api.get("externalcontact/get", external_userid=customers[0])["follow_user"]
    assert [(f["userid"], f["add_way"]) for f in follow] == [("lisi", 202)]
    # The takeover member is told about each new customer; the resigned member gets nothing.
    assert receiver.changes() == [("change_external_contact", "add_external_contact")] * 99
    assert {e["UserID"] for e in receiver.events()} == {"lisi"}


def test_resigned_transfer_needs_a_resigned_handover(sim, api):
    staff(sim, "zhangsan", "lisi")
    (ext,) = _customers(sim, "zhangsan", 1)
    err(api.post("externalcontact/resigned/transfer_customer",
                 {"handover_userid": "zhangsan", "takeover_userid": "lisi", "external_userid": [ext]}), 40097)
    sim.remove_staff("zhangsan")
    err(api.post("externalcontact/resigned/transfer_customer",
                 {"handover_userid": "zhangsan", "takeover_userid": "ghost", "external_userid": [ext]}), 40003)
    err(api.post("externalcontact/resigned/transfer_customer",
                 {"handover_userid": "zhangsan", "takeover_userid": "lisi", "external_userid": []}), 41035)


def test_resigned_refusal_has_no_callback(sim, api, receiver):
    staff(sim, "zhangsan", "lisi")
    (ext,) = _customers(sim, "zhangsan", 1)
    sim.remove_staff("zhangsan")
    ok(api.post("externalcontact/resigned/transfer_customer",
                {"handover_userid": "zhangsan", "takeover_userid": "lisi", "external_userid": [ext]}))
    receiver.clear()
    sim.refuse_transfer(ext)
    assert receiver.calls == []
    sim.advance(2 * DAY)
    (row,) = api.post("externalcontact/resigned/transfer_result",
                      {"handover_userid": "zhangsan", "takeover_userid": "lisi"})["customer"]
    assert row == {"external_userid": ext, "status": 3, "takeover_time": 0}


def _onjob(api, customers, handover="zhangsan", takeover="lisi"):
    return api.post("externalcontact/transfer_customer", {
        "handover_userid": handover, "takeover_userid": takeover, "external_userid": customers,
        "transfer_success_msg": "您好，您的服务已升级，后续将由我的同事接替我的工作，继续为您服务。",
    })


def test_onjob_transfer_completes_with_delete_by_transfer(sim, api, receiver):
    staff(sim, "zhangsan", "lisi")
    (ext,) = _customers(sim, "zhangsan", 1)
    assert ok(_onjob(api, [ext]))["customer"] == [{"external_userid": ext, "errcode": 0}]
    assert _onjob(api, [ext])["customer"] == [{"external_userid": ext, "errcode": 40129}]  # already transferring
    receiver.clear()
    sim.advance(DAY)
    added, deleted = receiver.events()
    assert (added["ChangeType"], added["UserID"], added["ExternalUserID"]) == ("add_external_contact", "lisi", ext)
    assert "WelcomeCode" not in added and "State" not in added
    assert (deleted["ChangeType"], deleted["UserID"], deleted["Source"]) == ("del_external_contact", "zhangsan",
                                                                             "DELETE_BY_TRANSFER")
    assert added["CreateTime"] == str(START + DAY)
    rows = api.post("externalcontact/transfer_result", {"handover_userid": "zhangsan", "takeover_userid": "lisi"})
    assert rows["customer"] == [{"external_userid": ext, "status": 1, "takeover_time": START + DAY}]


def test_onjob_refusal_calls_back_transfer_fail(sim, api, receiver):
    staff(sim, "zhangsan", "lisi")
    (ext,) = _customers(sim, "zhangsan", 1)
    ok(_onjob(api, [ext]))
    receiver.clear()
    assert sim.refuse_transfer(ext)["status"] == 3
    (event,) = receiver.events()
    assert (event["ChangeType"], event["FailReason"], event["UserID"], event["ExternalUserID"]) == (
        "transfer_fail", "customer_refused", "lisi", ext)
    assert "<FailReason><![CDATA[customer_refused]]></FailReason>\n\t<UserID>" in receiver.xml()
    sim.advance(DAY)
    assert [f["userid"] for f in api.get("externalcontact/get", external_userid=ext)["follow_user"]] == ["zhangsan"]
    with pytest.raises(NotFound):
        sim.refuse_transfer(ext)


def test_a_customer_is_transferred_at_most_twice_in_90_days(sim, api):
    staff(sim, "zhangsan", "lisi")
    (ext,) = _customers(sim, "zhangsan", 1)
    ok(_onjob(api, [ext]))
    sim.advance(DAY)
    ok(_onjob(api, [ext], handover="lisi", takeover="zhangsan"))
    sim.advance(DAY)
    third = ok(_onjob(api, [ext]))
    assert third["customer"] == [{"external_userid": ext, "errcode": 40128}]
    sim.advance(88 * DAY)  # 90 days after the first transfer
    assert ok(_onjob(api, [ext]))["customer"] == [{"external_userid": ext, "errcode": 0}]


def test_onjob_transfer_request_limits(sim, api):
    staff(sim, "zhangsan", "lisi")
    customers = _customers(sim, "zhangsan", 2)
    err(_onjob(api, [f"wm{n}" for n in range(101)]), 40058)
    err(api.post("externalcontact/transfer_customer", {"handover_userid": "zhangsan", "takeover_userid": "lisi",
                                                       "external_userid": customers,
                                                       "transfer_success_msg": "字" * 201}), 40058)
    err(_onjob(api, customers, takeover="zhangsan"), 40130)
    err(_onjob(api, customers, takeover="ghost"), 40003)
    assert sim.state.transfers == []
    result = ok(_onjob(api, customers + ["wmSomeoneElse"], handover="lisi", takeover="zhangsan"))
    assert [c["errcode"] for c in result["customer"]] == [40131, 40131, 40096]  # 40131: not lisi's customers


def test_transfer_to_an_existing_friend_adds_no_callback(sim, api, receiver):
    staff(sim, "zhangsan", "lisi")
    (ext,) = _customers(sim, "zhangsan", 1)
    sim.add_customer("lisi", external_userid=ext)
    ok(_onjob(api, [ext]))
    receiver.clear()
    sim.advance(DAY)
    assert receiver.changes() == [("change_external_contact", "del_external_contact")]
