"""「联系我」 codes, scanning, customer reads and edits, and the 20-second welcome code."""

from __future__ import annotations

import pytest

from siyu.wecom.simulator import NotFound, SimulatorError

from .support import START, contact_way, err, image_url, media_id, ok, staff


# --- contact ways ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fields, detail", [
    ({"state": "s" * 31}, "state exceed max length 30"),
    ({"remark": "备" * 31}, "remark exceed max length 30"),
    ({"type": 1, "user": ["zhangsan", "lisi"]}, "exactly one user"),
    ({"is_temp": True}, "is_temp is only allowed for type 1"),
    ({"type": 1, "user": ["zhangsan"], "is_temp": True, "expires_in": 15 * 86400}, "expires_in must be between"),
])
def test_add_contact_way_limits_return_40058_and_change_nothing(sim, api, fields, detail):
    staff(sim, "zhangsan", "lisi")
    body = {"type": 2, "scene": 2, "user": ["zhangsan"], **fields}
    result = err(api.post("externalcontact/add_contact_way", {k: v for k, v in body.items() if v is not None}), 40058)
    assert detail in result["errmsg"]
    assert sim.state.contact_ways == {}


def test_add_contact_way_with_unknown_member_is_40003(sim, api):
    err(api.post("externalcontact/add_contact_way", {"type": 1, "scene": 2, "user": ["ghost"]}), 40003)


@pytest.mark.parametrize("fields, errcode", [
    ({"type": None}, 41037), ({"scene": None}, 41038), ({"type": 3}, 41039), ({"scene": 0}, 41040),
])
def test_contact_way_type_and_scene_have_their_own_errcodes(sim, api, fields, errcode):
    # Doc 90313: 41037/41038 missing type/scene, 41039/41040 invalid type/scene.
    staff(sim, "zhangsan")
    body = {"type": 2, "scene": 2, "user": ["zhangsan"], **fields}
    err(api.post("externalcontact/add_contact_way", {k: v for k, v in body.items() if v is not None}), errcode)
    assert sim.state.contact_ways == {}


def test_contact_way_members_must_be_eligible(sim, api):
    # Doc 95724: members must be activated (41054) and have 客户联系 (84074).
    sim.add_staff("fresh", "新人", activated=False)
    sim.add_staff("backoffice", "后勤", external_contact=False)
    sim.add_staff("ok", "导购")
    for userid, errcode in (("fresh", 41054), ("backoffice", 84074)):
        err(api.post("externalcontact/add_contact_way", {"type": 1, "scene": 2, "user": [userid]}), errcode)
    ok(api.post("externalcontact/add_contact_way", {"type": 1, "scene": 2, "user": ["ok"]}))


def test_a_member_outside_the_visible_range_is_refused_with_60011(sim, api):
    shop = sim.add_department("门店")["id"]
    hq = sim.add_department("总部")["id"]
    sim.add_staff("guide", "导购", [shop])
    sim.set_visible_range(departments=[hq])
    err(api.post("externalcontact/add_contact_way", {"type": 1, "scene": 2, "user": ["guide"]}), 60011)
    assert api.get("externalcontact/get_follow_user_list")["follow_user"] == []
    sim.set_visible_range(departments=[hq], users=["guide"])
    ok(api.post("externalcontact/add_contact_way", {"type": 1, "scene": 2, "user": ["guide"]}))


def test_a_contact_way_counts_department_members_towards_100(sim, api):
    # 41041: "默认限制不超过100人(包括部门展开后的人数)" (doc 90313).
    shop = sim.add_department("门店")["id"]
    for n in range(100):
        sim.add_staff(f"g{n:03d}", f"导购{n}", [shop])
    sim.add_staff("boss", "店长")
    err(api.post("externalcontact/add_contact_way", {"type": 2, "scene": 2, "user": ["boss"], "party": [shop]}), 41041)
    ok(api.post("externalcontact/add_contact_way", {"type": 2, "scene": 2, "party": [shop]}))


def test_contact_way_crud_shapes(sim, api):
    staff(sim, "zhangsan", "lisi")
    result = ok(api.post("externalcontact/add_contact_way", {
        "type": 2, "scene": 2, "remark": "渠道客户", "skip_verify": True, "state": "teststate",
        "user": ["zhangsan", "lisi"], "party": [1],
    }))
    assert set(result) == {"errcode", "errmsg", "config_id", "qr_code"}
    way = ok(api.post("externalcontact/get_contact_way", {"config_id": result["config_id"]}))["contact_way"]
    assert way == {
        "config_id": result["config_id"], "type": 2, "scene": 2, "remark": "渠道客户", "skip_verify": True,
        "state": "teststate", "qr_code": result["qr_code"], "user": ["zhangsan", "lisi"], "party": [1], "is_temp": False,
    }
    ok(api.post("externalcontact/update_contact_way", {"config_id": result["config_id"], "state": "new", "skip_verify": False}))
    way = api.post("externalcontact/get_contact_way", {"config_id": result["config_id"]})["contact_way"]
    assert (way["state"], way["skip_verify"], way["user"]) == ("new", False, ["zhangsan", "lisi"])
    err(api.post("externalcontact/update_contact_way", {"config_id": result["config_id"], "state": "x" * 31}), 40058)
    assert api.post("externalcontact/get_contact_way", {"config_id": result["config_id"]})["contact_way"]["state"] == "new"
    ok(api.post("externalcontact/del_contact_way", {"config_id": result["config_id"]}))
    err(api.post("externalcontact/get_contact_way", {"config_id": result["config_id"]}), 41044)


def test_mini_program_contact_way_has_no_qr_code(sim, api):
    staff(sim, "zhangsan")
    result = ok(api.post("externalcontact/add_contact_way", {"type": 1, "scene": 1, "style": 1, "user": ["zhangsan"]}))
    assert "qr_code" not in result


def test_list_contact_way_cursor_paging_ends_with_empty_cursor(sim, api):
    staff(sim, "zhangsan")
    made = [contact_way(api, state=f"s{n}") for n in range(5)]
    seen, cursor, pages = [], "", 0
    while True:
        page = ok(api.post("externalcontact/list_contact_way", {"limit": 2, "cursor": cursor}))
        seen += [w["config_id"] for w in page["contact_way"]]
        cursor, pages = page["next_cursor"], pages + 1
        if not cursor:
            break
    assert sorted(seen) == sorted(made) and pages == 3
    err(api.post("externalcontact/list_contact_way", {"limit": 1001}), 40058)
    err(api.post("externalcontact/list_contact_way", {"cursor": "garbage!"}), 40058)


# --- scanning --------------------------------------------------------------------------------------


def test_scan_rotates_round_robin_over_the_ways_users(sim, api):
    staff(sim, "zhangsan", "lisi", "wangwu")
    way = contact_way(api, user=["zhangsan", "lisi", "wangwu"], state="rr")
    assert [sim.scan(state="rr")["userid"] for _ in range(7)] == [
        "zhangsan", "lisi", "wangwu", "zhangsan", "lisi", "wangwu", "zhangsan"]
    sim.remove_staff("lisi")
    assert {sim.scan(config_id=way)["userid"] for _ in range(4)} == {"zhangsan", "wangwu"}


def test_scan_errors(sim, api):
    staff(sim, "zhangsan")
    with pytest.raises(NotFound):
        sim.scan(state="nope")
    with pytest.raises(SimulatorError):
        sim.scan()
    contact_way(api, state="solo", type=1, user=["zhangsan"])
    sim.remove_staff("zhangsan")
    with pytest.raises(SimulatorError, match="no active member"):
        sim.scan(state="solo")


def test_verification_required_waits_for_accept(sim, api, receiver):
    staff(sim, "zhangsan")
    contact_way(api, state="verify", skip_verify=False)
    receiver.clear()
    result = sim.scan(state="verify")
    assert result["status"] == "pending" and receiver.calls == []
    err(api.get("externalcontact/get", external_userid=result["external_userid"]), 84061)
    accepted = sim.accept("zhangsan", result["external_userid"])
    event = receiver.events()[-1]
    assert (event["ChangeType"], event["State"], event["WelcomeCode"]) == (
        "add_external_contact", "verify", accepted["welcome_code"])
    ok(api.get("externalcontact/get", external_userid=result["external_userid"]))


def test_half_added_then_confirmed(sim, api, receiver):
    staff(sim, "zhangsan")
    contact_way(api, state="half")
    receiver.clear()
    result = sim.scan(state="half", half=True)
    sim.accept("zhangsan", result["external_userid"])
    half, added = receiver.events()
    assert (half["ChangeType"], half["State"], half["WelcomeCode"]) == (
        "add_half_external_contact", "half", result["welcome_code"])
    # The welcome code went out with add_half: the add event carries none.
    assert added["ChangeType"] == "add_external_contact" and added["State"] == "half" and "WelcomeCode" not in added


# --- reading customers -----------------------------------------------------------------------------


def test_externalcontact_get_shape(sim, api):
    staff(sim, "zhangsan", "lisi")
    contact_way(api, state="门店A", type=1, user=["zhangsan"])
    ext = sim.scan(state="门店A", name="王语嫣")["external_userid"]
    sim.advance(10)
    sim.add_customer("lisi", external_userid=ext)
    tags = sim.admin_add_tags(["高意向"], group_name="意向")
    ok(api.post("externalcontact/mark_tag", {"userid": "zhangsan", "external_userid": ext,
                                             "add_tag": [tags["tags"][0]["id"]]}))
    result = ok(api.get("externalcontact/get", external_userid=ext))
    contact = result["external_contact"]
    assert contact["external_userid"] == ext and contact["name"] == "王语嫣" and contact["type"] == 1
    assert "gender" in contact and contact["avatar"]
    first, second = result["follow_user"]
    assert first == {
        "userid": "zhangsan", "remark": "", "description": "", "createtime": 1717200000,
        "tags": [{"group_name": "意向", "tag_name": "高意向", "tag_id": tags["tags"][0]["id"], "type": 1}],
        "remark_mobiles": [], "oper_userid": ext, "add_way": 1, "state": "门店A",
    }
    assert second["userid"] == "lisi" and second["add_way"] == 2 and second["oper_userid"] == "lisi"
    assert "state" not in second and second["createtime"] == 1717200010
    assert "next_cursor" not in result


def test_externalcontact_get_errors(sim, api):
    err(api.get("externalcontact/get"), 41035)
    err(api.get("externalcontact/get", external_userid="wmUnknownUnknownUnknownUnknown00"), 40096)
    staff(sim, "zhangsan")
    ext = sim.add_customer("zhangsan")["external_userid"]
    sim.staff_deletes_customer("zhangsan", ext)
    assert err(api.get("externalcontact/get", external_userid=ext), 84061)["follow_user"] == []


def test_list_and_follow_users(sim, api):
    staff(sim, "zhangsan", "lisi")
    sim.add_staff("wangwu", "王五", external_contact=False)
    assert ok(api.get("externalcontact/get_follow_user_list"))["follow_user"] == ["zhangsan", "lisi"]
    assert err(api.get("externalcontact/list", userid="zhangsan"), 84061)["external_userid"] == []
    err(api.get("externalcontact/list", userid="ghost"), 40003)
    a = sim.add_customer("zhangsan")["external_userid"]
    b = sim.add_customer("zhangsan")["external_userid"]
    sim.customer_deletes_staff(b, "zhangsan")  # the member still sees a customer who deleted them
    assert ok(api.get("externalcontact/list", userid="zhangsan"))["external_userid"] == [a, b]


def test_batch_get_by_user_pages_to_an_empty_cursor(sim, api):
    staff(sim, "zhangsan", "lisi")
    made = [sim.add_customer(u)["external_userid"] for u in ["zhangsan"] * 4 + ["lisi"] * 3]
    seen, cursor = [], ""
    while True:
        page = ok(api.post("externalcontact/batch/get_by_user",
                           {"userid_list": ["zhangsan", "lisi"], "limit": 3, "cursor": cursor}))
        seen += [(item["follow_info"]["userid"], item["external_contact"]["external_userid"])
                 for item in page["external_contact_list"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [ext for _u, ext in seen] == made
    item = page["external_contact_list"][0]
    assert set(item["follow_info"]) == {"userid", "remark", "description", "createtime", "tag_id", "remark_mobiles",
                                        "oper_userid", "add_way"}
    default = ok(api.post("externalcontact/batch/get_by_user", {"userid_list": ["zhangsan", "lisi"]}))
    assert len(default["external_contact_list"]) == 7 and default["next_cursor"] == ""


@pytest.mark.parametrize("body, code", [
    ({"userid_list": [f"u{n}" for n in range(101)]}, 40058),
    ({"userid_list": ["zhangsan"], "limit": 101}, 40058),
    ({"userid_list": []}, 40058),
    ({"userid_list": ["ghost"]}, 40003),
])
def test_batch_get_by_user_limits(sim, api, body, code):
    staff(sim, "zhangsan")
    err(api.post("externalcontact/batch/get_by_user", body), code)


# --- editing through the API -----------------------------------------------------------------------


@pytest.mark.parametrize("field, value", [
    ("remark", "备" * 21), ("description", "述" * 151), ("remark_company", "司" * 21),
])
def test_remark_length_limits(sim, api, field, value):
    staff(sim, "zhangsan")
    ext = sim.add_customer("zhangsan")["external_userid"]
    result = err(api.post("externalcontact/remark", {"userid": "zhangsan", "external_userid": ext, field: value}), 40058)
    assert field in result["errmsg"]
    assert sim.state.relation("zhangsan", ext).remark == ""


def test_remark_updates_only_given_fields(sim, api):
    staff(sim, "zhangsan")
    ext = sim.add_customer("zhangsan")["external_userid"]
    ok(api.post("externalcontact/remark", {"userid": "zhangsan", "external_userid": ext, "remark": "王姐",
                                           "description": "老客户", "remark_mobiles": ["13800000001"]}))
    ok(api.post("externalcontact/remark", {"userid": "zhangsan", "external_userid": ext, "remark_mobiles": [""]}))
    follow = api.get("externalcontact/get", external_userid=ext)["follow_user"][0]
    assert (follow["remark"], follow["description"], follow["remark_mobiles"]) == ("王姐", "老客户", [])
    err(api.post("externalcontact/remark", {"userid": "zhangsan", "external_userid": "wmNotMine", "remark": "x"}), 84061)


def test_mark_tag_errors_change_nothing(sim, api):
    staff(sim, "zhangsan")
    ext = sim.add_customer("zhangsan")["external_userid"]
    tag = sim.admin_add_tags(["高意向"], group_name="意向")["tags"][0]["id"]
    err(api.post("externalcontact/mark_tag", {"userid": "zhangsan", "external_userid": ext}), 40058)
    err(api.post("externalcontact/mark_tag", {"userid": "zhangsan", "external_userid": ext,
                                              "add_tag": [tag, "etNoSuchTag"]}), 40068)
    err(api.post("externalcontact/mark_tag", {"userid": "zhangsan", "external_userid": "wmStranger",
                                              "add_tag": [tag]}), 84061)
    assert sim.state.relation("zhangsan", ext).tag_ids == []
    ok(api.post("externalcontact/mark_tag", {"userid": "zhangsan", "external_userid": ext, "add_tag": [tag]}))
    assert sim.state.relation("zhangsan", ext).tag_ids == [tag]
    ok(api.post("externalcontact/mark_tag", {"userid": "zhangsan", "external_userid": ext, "remove_tag": [tag]}))
    assert sim.state.relation("zhangsan", ext).tag_ids == []


# --- welcome messages ------------------------------------------------------------------------------


def _welcome_code(sim, api):
    staff(sim, "zhangsan")
    contact_way(api, state="w")
    return sim.scan(state="w")["welcome_code"]


def test_welcome_code_is_single_use(sim, api):
    code = _welcome_code(sim, api)
    body = {"welcome_code": code, "text": {"content": "您好，欢迎关注～"},
            "attachments": [{"msgtype": "link", "link": {"title": "新人礼", "url": "https://example.com/gift"}}]}
    ok(api.post("externalcontact/send_welcome_msg", body))
    err(api.post("externalcontact/send_welcome_msg", body), 41051)
    (sent,) = sim.welcomes()
    assert sent["welcome_code"] == code and sent["text"] == {"content": "您好，欢迎关注～"}
    assert sent["attachments"][0]["link"]["title"] == "新人礼"


def test_welcome_code_expires_after_20_seconds(sim, api):
    code = _welcome_code(sim, api)
    sim.advance(20)
    ok(api.post("externalcontact/send_welcome_msg", {"welcome_code": code, "text": {"content": "hi"}}))
    code = sim.scan(state="w")["welcome_code"]
    sim.advance(21)
    err(api.post("externalcontact/send_welcome_msg", {"welcome_code": code, "text": {"content": "hi"}}), 41050)
    assert len(sim.welcomes()) == 1


def _image(n):
    return {"msgtype": "image", "image": {"media_id": f"MEDIA_{n}"}}


def test_welcome_media_must_be_uploaded_and_expires_after_three_days(sim, api):
    # Doc 90313 (40007: "上传临时素材生成的media_id，有效期是3天") and doc 92137 (pic_url from media/uploadimg).
    media, url = media_id(api), image_url(api)
    code = _welcome_code(sim, api)
    for attachment in ({"media_id": "never-uploaded"}, {"pic_url": "https://example.com/a.png"}):
        err(api.post("externalcontact/send_welcome_msg", {"welcome_code": code, "attachments": [
            {"msgtype": "image", "image": attachment}]}), 40007 if "media_id" in attachment else 40058)
    ok(api.post("externalcontact/send_welcome_msg", {"welcome_code": code, "attachments": [
        {"msgtype": "image", "image": {"media_id": media}}, {"msgtype": "image", "image": {"pic_url": url}}]}))
    sim.advance(3 * 86400)
    code = sim.scan(state="w")["welcome_code"]
    err(api.post("externalcontact/send_welcome_msg", {"welcome_code": code, "attachments": [
        {"msgtype": "image", "image": {"media_id": media}}]}), 40007)
    ok(api.post("externalcontact/send_welcome_msg", {"welcome_code": code, "attachments": [
        {"msgtype": "image", "image": {"pic_url": url}}]}))  # uploadimg URLs do not expire


def test_uploads_are_checked_like_wecom_checks_them(api):
    assert ok(api.upload(type="image"))["type"] == "image"
    err(api.upload(type="gif"), 40005)
    err(api.upload(type="image", filename="a.gif"), 40004)
    err(api.upload(type="image", data=b"1234"), 40006)
    err(api.upload("media/uploadimg", data=b"0" * (2 * 1024 * 1024 + 1)), 40006)


@pytest.mark.parametrize("body, detail", [
    ({}, "text and attachments cannot both be empty"),
    ({"attachments": [_image(n) for n in range(10)]}, "attachments exceed max count 9"),
    ({"text": {"content": "字" * 1334}}, "content exceed max length 4000 bytes"),
    ({"attachments": [{"msgtype": "link", "link": {"title": "标" * 43, "url": "https://e.com"}}]}, "title exceed max length 128 bytes"),
    ({"attachments": [{"msgtype": "link", "link": {"title": "t", "url": "https://e.com", "desc": "述" * 171}}]}, "desc exceed"),
    ({"attachments": [{"msgtype": "link", "link": {"title": "t"}}]}, "url missing"),
    ({"attachments": [{"msgtype": "miniprogram", "miniprogram": {
        "title": "t", "pic_media_id": "M", "appid": "wx1", "page": "/pages/index"}}]}, "page must end with .html"),
    ({"attachments": [{"msgtype": "miniprogram", "miniprogram": {
        "title": "标" * 22, "pic_media_id": "M", "appid": "wx1", "page": "/a.html"}}]}, "title exceed max length 64 bytes"),
    ({"attachments": [{"msgtype": "image", "image": {}}]}, "needs media_id or pic_url"),
    ({"attachments": [{"msgtype": "voice", "voice": {"media_id": "M"}}]}, "msgtype must be one of"),
])
def test_welcome_content_limits_keep_the_code_usable(sim, api, body, detail):
    code = _welcome_code(sim, api)
    result = err(api.post("externalcontact/send_welcome_msg", {"welcome_code": code, **body}), 40058)
    assert detail in result["errmsg"]
    image = {"msgtype": "image", "image": {"media_id": media_id(api)}}
    ok(api.post("externalcontact/send_welcome_msg", {"welcome_code": code, "attachments": [image] * 9}))


def test_unknown_welcome_code(api):
    err(api.post("externalcontact/send_welcome_msg", {"welcome_code": "nope", "text": {"content": "hi"}}), 41050)
    err(api.post("externalcontact/send_welcome_msg", {"text": {"content": "hi"}}), 41049)


@pytest.mark.parametrize("keeps, expected", [(True, False), (False, True)])
def test_update_contact_way_without_skip_verify_follows_the_switch(sim, api, keeps, expected):
    # Unverified whether WeCom keeps an omitted skip_verify: a Limits switch, documented in docs/simulator.md.
    sim.set_limits(update_keeps_skip_verify=keeps)
    staff(sim, "zhangsan")
    config_id = contact_way(api, skip_verify=False)
    ok(api.post("externalcontact/update_contact_way", {"config_id": config_id, "remark": "新备注"}))
    assert ok(api.post("externalcontact/get_contact_way", {"config_id": config_id}))["contact_way"]["skip_verify"] is expected


def test_get_may_answer_84061_right_after_an_add_when_switched_on(sim, api):
    sim.set_limits(not_contact_after_add=2)  # community reports, unverified
    staff(sim, "zhangsan")
    ext = sim.add_customer("zhangsan")["external_userid"]
    err(api.get("externalcontact/get", external_userid=ext), 84061)
    sim.advance(2)
    ok(api.get("externalcontact/get", external_userid=ext))


# --- a corp's past --------------------------------------------------------------------------------


def test_imported_contacts_are_listed_as_they_were_without_callbacks(sim, api, receiver):
    staff(sim, "zhangsan")
    sent = len(receiver.events())
    past = START - 30 * 86400
    contacts = [
        {"external_userid": "wmpast1", "name": "老客", "userid": "zhangsan", "createtime": past, "state": "poster"},
        {"external_userid": "wmpast2", "name": "走了", "userid": "zhangsan", "createtime": past + 60,
         "status": "deleted_by_customer", "avatar": "http://siyu.test/static/demo/avatar-1.png"},
    ]
    assert sim.import_contacts(contacts) == {"imported": 2}
    assert sim.import_contacts(contacts) == {"imported": 0}
    assert len(receiver.events()) == sent  # what happened before the app listened never calls back
    listed = ok(api.post("externalcontact/batch/get_by_user", {"userid_list": ["zhangsan"], "limit": 100}))
    got = {i["external_contact"]["external_userid"]: i for i in listed["external_contact_list"]}
    assert got["wmpast1"]["follow_info"]["createtime"] == past and got["wmpast1"]["follow_info"]["state"] == "poster"
    assert got["wmpast2"]["external_contact"]["avatar"] == "http://siyu.test/static/demo/avatar-1.png"
    with pytest.raises(SimulatorError):
        sim.import_contacts([{"external_userid": "wmpast5", "name": "新", "userid": "zhangsan", "createtime": past},
                             {"external_userid": "wmpast3", "name": "删", "userid": "zhangsan", "createtime": past,
                              "status": "deleted_by_staff"}])
    with pytest.raises(NotFound):
        sim.import_contacts([{"external_userid": "wmpast4", "name": "无", "userid": "ghost", "createtime": past}])
    assert "wmpast3" not in sim.state.customers and "wmpast5" not in sim.state.customers
