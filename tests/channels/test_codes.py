"""Channel codes against the simulator: create, edit, pause, resume, delete; invalid input refused with a field
error and nothing changed in Siyu or in WeCom; a WeCom refusal (or a failed save) leaves nothing behind."""

from __future__ import annotations

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from siyu.channels import queries, services
from siyu.channels.models import (
    ChannelCode,
    ChannelCodeTag,
    ChannelFolder,
    ChannelStaff,
    ChannelState,
    Partner,
    RedPacketRule,
    WelcomeMessage,
)
from siyu.orgs.models import AuditEntry, Staff
from siyu.wecom.models import ApiCall

IMAGE = {"msgtype": "image", "image": {"pic_url": "https://img.example.com/welcome.png"}}
MINI = {"msgtype": "miniprogram", "miniprogram": {
    "title": "山茶商城", "appid": "wx8bd80126147df0a1", "page": "pages/index/index.html", "pic_media_id": "MEDIA_COVER_1"}}


def channel_rows(org) -> dict:
    return {
        "codes": ChannelCode.objects.for_org(org).count(), "states": ChannelState.objects.for_org(org).count(),
        "staff": ChannelStaff.objects.for_org(org).count(), "tags": ChannelCodeTag.objects.for_org(org).count(),
        "welcome": WelcomeMessage.objects.for_org(org).count(), "folders": ChannelFolder.objects.for_org(org).count(),
        "partners": Partner.objects.for_org(org).count(), "packets": RedPacketRule.objects.for_org(org).count(),
        "audit": AuditEntry.objects.for_org(org).filter(action__startswith="channel.").count(),
    }


@pytest.fixture
def team(corp):
    alice, bob = corp.staff("alice", "张晓"), corp.staff("bob", "周婷")
    tea, afternoon = corp.tags("奶茶爱好者", "下午茶")
    return alice, bob, tea, afternoon


def make_code(world, team, **changes):
    alice, bob, tea, afternoon = team
    data = {"name": "南京路店海报", "staff": [alice, bob], "tags": [tea, afternoon], "welcome_text": "你好 {customer_nickname}",
            "welcome_attachments": [IMAGE, MINI], **changes}
    return services.create_channel_code(world.org, by=world.admin, **data)


# -- create ---------------------------------------------------------------------------------------------------
def test_create_makes_the_contact_way_and_every_row(world, corp, team):
    alice, bob, tea, afternoon = team
    code = make_code(world, team, folder_name="门店海报", partner_name="柔云纸巾", remark_template="{channel}{date}")
    way = corp.way(code)
    assert (way["type"], way["scene"], way["skip_verify"]) == (2, 2, True)
    assert way["state"] == code.state and len(code.state) <= 30 and code.state.startswith("c_")
    assert way["user"] == ["alice", "bob"] == code.current_userids
    assert way["remark"] == "南京路店海报" and code.qr_code == way["qr_code"] and code.config_id == way["config_id"]
    assert str(code.folder) == "门店海报" and str(code.partner) == "柔云纸巾" and code.owner == world.admin
    assert queries.code_for_state(world.org, code.state) == code
    links = ChannelStaff.objects.for_org(world.org).filter(code=code).select_related("staff").order_by("position")
    assert [(link.staff.userid, link.role) for link in links] == [("alice", "primary"), ("bob", "primary")]
    welcome = WelcomeMessage.objects.for_org(world.org).get(code=code)
    assert welcome.attachments == [IMAGE, MINI] and welcome.scope == "code"
    entry = AuditEntry.objects.for_org(world.org).get(action="channel.created")
    assert entry.actor == world.admin.user and entry.details["tags"] == ["下午茶", "奶茶爱好者"]
    assert AuditEntry.objects.for_org(world.org).filter(action="channel.folder_created").count() == 1


def test_a_chosen_state_is_used_and_must_be_unique_forever(world, corp, team):
    code = make_code(world, team, state="store_sh01")
    assert corp.way(code)["state"] == "store_sh01"
    with pytest.raises(ValidationError) as caught:
        make_code(world, team, name="另一个", state="store_sh01")
    assert "state" in caught.value.message_dict
    services.update_channel_code(code, by=world.admin, **{**services.code_values(code), "state": "store_sh01_v2"})
    # The old state stays reserved for the code: relations added under it still map to it.
    with pytest.raises(ValidationError) as caught:
        make_code(world, team, name="第三个", state="store_sh01")
    assert "渠道参数已被渠道活码“南京路店海报”使用过" in caught.value.message_dict["state"][0]
    assert queries.code_for_state(world.org, "store_sh01") == code == queries.code_for_state(world.org, "store_sh01_v2")


# -- invalid input: a field error, nothing changed in Siyu or the simulator -----------------------------------
def many_staff(org, n: int) -> list[Staff]:
    Staff.objects.bulk_create([Staff(org=org, userid=f"bulk{i:03d}", name=f"员工{i}") for i in range(n)])
    return list(Staff.objects.for_org(org).filter(userid__startswith="bulk").order_by("userid"))


@pytest.mark.parametrize(("case", "field"), [
    ("state_31_chars", "state"),
    ("staff_101", "staff"),
    ("attachment_10", "welcome_attachments"),
    ("miniprogram_page", "welcome_attachments"),
    ("miniprogram_appid", "welcome_attachments"),
    ("deleted_tag", "tags"),
    ("no_staff", "staff"),
    ("cap_without_number", "daily_cap"),
    ("slot_ends_before_it_starts", "time_slots"),
    ("unknown_variable", "welcome_text"),
    ("red_packet_over_budget", "red_packet_budget"),
])
def test_invalid_input_is_refused_with_a_field_error_and_changes_nothing(world, corp, team, case, field):
    alice, bob, tea, afternoon = team
    before, ways_before, calls_before = channel_rows(world.org), dict(corp.sim.state.contact_ways), corp.calls("externalcontact/add_contact_way")
    changes = {
        "state_31_chars": lambda: {"state": "s" * 31},
        "staff_101": lambda: {"staff": many_staff(world.org, 101)},
        "attachment_10": lambda: {"welcome_attachments": [IMAGE] * 10},
        "miniprogram_page": lambda: {"welcome_attachments": [IMAGE, {"msgtype": "miniprogram", "miniprogram": {
            **MINI["miniprogram"], "page": "pages/index/index"}}]},
        "miniprogram_appid": lambda: {"welcome_attachments": [{"msgtype": "miniprogram", "miniprogram": {
            **MINI["miniprogram"], "appid": "not-an-appid"}}]},
        "deleted_tag": lambda: (corp.sim.admin_delete_tags(tag_ids=[tea.wecom_id]), corp.run(), {})[-1],
        "no_staff": lambda: {"staff": []},
        "cap_without_number": lambda: {"policy": "daily_cap", "daily_cap": None},
        "slot_ends_before_it_starts": lambda: {"policy": "time_slots", "time_slots": [
            {"days": [0], "start": "18:00", "end": "09:00", "staff": [alice.pk]}]},
        "unknown_variable": lambda: {"welcome_text": "你好 {nickname}"},
        "red_packet_over_budget": lambda: {"red_packet": {"enabled": True, "mode": "fixed", "amount_fen": 500, "budget_fen": 100}},
    }[case]()
    with pytest.raises(ValidationError) as caught:
        make_code(world, team, folder_name="新分组", **changes)
    assert field in caught.value.message_dict, caught.value.message_dict
    if case == "deleted_tag":
        assert "标签“奶茶爱好者”不存在或已删除" in caught.value.message_dict["tags"][0]
    if case == "miniprogram_page":
        assert "第 2 个附件：小程序页面路径必须以 .html 结尾" in caught.value.message_dict[field][0]
    assert channel_rows(world.org) == before  # not even the new folder
    assert dict(corp.sim.state.contact_ways) == ways_before
    assert corp.calls("externalcontact/add_contact_way") == calls_before


def test_every_bad_field_is_reported_at_once(world, corp, team):
    with pytest.raises(ValidationError) as caught:
        make_code(world, team, name="", state="x" * 31, staff=[], welcome_attachments=[IMAGE] * 10)
    assert {"name", "state", "staff", "welcome_attachments"} <= set(caught.value.message_dict)


def test_invalid_edit_changes_nothing_in_siyu_or_wecom(world, corp, team):
    code = make_code(world, team)
    way_before, rows_before = corp.way(code), channel_rows(world.org)
    values = services.code_values(code)
    for bad in ({"state": "y" * 31}, {"welcome_attachments": [IMAGE] * 10}, {"staff": many_staff(world.org, 101)}):
        with pytest.raises(ValidationError):
            services.update_channel_code(code, by=world.admin, **{**values, **bad})
    code.refresh_from_db()
    assert corp.way(code) == way_before and channel_rows(world.org) == rows_before
    assert corp.calls("externalcontact/update_contact_way") == 0


# -- WeCom refusals and failed saves leave nothing behind -----------------------------------------------------
def test_a_wecom_error_during_create_leaves_nothing_behind(world, corp, team):
    before = channel_rows(world.org)
    corp.sim.fail_next("externalcontact/add_contact_way", 60011)
    with pytest.raises(ValidationError) as caught:
        make_code(world, team, folder_name="新分组")
    message = caught.value.message_dict[NON_FIELD_ERRORS][0]
    assert "企业微信未能创建联系我二维码" in message and "60011" in message
    assert channel_rows(world.org) == before and corp.sim.state.contact_ways == {}


def test_a_failed_save_after_wecom_said_yes_deletes_the_contact_way_again(world, corp, team, monkeypatch):
    before = channel_rows(world.org)

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "_write_links", broken)
    with pytest.raises(RuntimeError):
        make_code(world, team)
    assert channel_rows(world.org) == before
    assert corp.sim.state.contact_ways == {}  # created, then deleted again
    assert corp.calls("externalcontact/del_contact_way", errcode=0) == 1


def test_a_wecom_error_during_edit_keeps_the_code_as_it_was(world, corp, team):
    code = make_code(world, team)
    corp.sim.fail_next("externalcontact/update_contact_way", 40058)
    with pytest.raises(ValidationError):
        services.update_channel_code(code, by=world.admin, **{**services.code_values(code), "name": "新名字"})
    code.refresh_from_db()
    assert code.name == "南京路店海报" and corp.way(code)["remark"] == "南京路店海报"


# -- edit, pause, resume, delete ------------------------------------------------------------------------------
def test_edit_rewrites_the_contact_way_and_audits_what_changed(world, corp, team):
    alice, bob, tea, afternoon = team
    code = make_code(world, team)
    carol = corp.staff("carol", "陈刚")
    code = services.update_channel_code(code, by=world.admin, **{
        **services.code_values(code), "name": "南京路店海报·二期", "staff": [bob, carol], "skip_verify": False, "tags": [tea]})
    way = corp.way(code)
    assert (way["remark"], way["user"], way["skip_verify"]) == ("南京路店海报·二期", ["bob", "carol"], False)
    assert list(ChannelCodeTag.objects.for_org(world.org).filter(code=code).values_list("tag__name", flat=True)) == ["奶茶爱好者"]
    entry = AuditEntry.objects.for_org(world.org).get(action="channel.updated")
    assert entry.details["changed"] == ["name", "skip_verify", "staff", "tags"]


def test_pause_resume_delete(world, corp, team):
    code = make_code(world, team)
    services.pause_channel_code(code, by=world.admin)
    assert code.status == "paused" and corp.way(code)["skip_verify"] is False
    with pytest.raises(ValidationError):
        services.pause_channel_code(code, by=world.admin)
    services.resume_channel_code(code, by=world.admin)
    assert code.status == "active" and corp.way(code)["skip_verify"] is True
    config_id = code.config_id
    services.delete_channel_code(code, by=world.admin)
    assert code.status == "deleted" and config_id not in corp.sim.state.contact_ways
    assert queries.code_for_state(world.org, code.state) == code  # history keeps naming the channel
    with pytest.raises(ValidationError):
        services.update_channel_code(code, by=world.admin, **services.code_values(code))
    actions = list(AuditEntry.objects.for_org(world.org).filter(action__startswith="channel.").order_by("id").values_list("action", flat=True))
    assert actions == ["channel.created", "channel.paused", "channel.resumed", "channel.deleted"]


def test_deleting_a_code_wecom_already_lost_still_deletes_it(world, corp, team):
    code = make_code(world, team)
    del corp.sim.state.contact_ways[code.config_id]
    services.delete_channel_code(code, by=world.admin)
    assert code.status == "deleted"


def test_staff_must_be_active_and_visible(world, corp, team):
    alice, bob, *_ = team
    bob.status = Staff.Status.DEPARTED
    bob.save()
    with pytest.raises(ValidationError) as caught:
        make_code(world, team)
    assert "不是在职状态" in caught.value.message_dict["staff"][0]
    other = Staff.objects.create(org=world.other_org, userid="stranger")
    with pytest.raises(ValidationError) as caught:
        make_code(world, team, staff=[alice, other])
    assert "不存在或不在你的管理范围内" in caught.value.message_dict["staff"][0]


def test_a_member_without_customer_contact_is_refused_before_any_wecom_call(world, corp, team):
    # Doc 95724: WeCom refuses 「联系我」 members without 客户联系 (84074) or outside the app's visible range.
    alice, bob, *_ = team
    bob.is_customer_contact = False
    bob.save(update_fields=["is_customer_contact"])
    with pytest.raises(ValidationError) as caught:
        make_code(world, team)
    message = caught.value.message_dict["staff"][0]
    assert "未开通客户联系功能" in message and "可见范围" in message
    assert not ApiCall.objects.for_org(world.org).filter(endpoint="externalcontact/add_contact_way").exists()
    assert corp.sim.state.contact_ways == {}


def test_a_remark_template_longer_than_wecom_allows_is_refused_before_anything_is_cut(world, corp, team):
    # 南京路店海报 (6) + an 8-digit date + 张晓 (2) + 的专属客户 (5) = 21 > WeCom's 20, before any nickname.
    with pytest.raises(ValidationError) as refused:
        make_code(world, team, remark_template="{channel}{date}{staff_name}的专属客户")
    assert "最长 21 个字" in " ".join(refused.value.message_dict["remark_template"])
    assert not ChannelCode.objects.for_org(world.org).exists()
    code = make_code(world, team, remark_template="{channel}{date}")  # 14: fits
    assert code.remark_template == "{channel}{date}"


def test_a_failed_save_during_edit_gives_wecom_back_the_previous_staff(world, corp, team):
    from django.db import DatabaseError, connection

    alice, bob, tea, afternoon = team
    code = make_code(world, team)
    carol = corp.staff("carol", "陈刚")

    def refuse_code_update(execute, sql, params, many, context):
        if sql.startswith('UPDATE "channels_channelcode"'):
            raise DatabaseError("database went away")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(refuse_code_update), pytest.raises(DatabaseError):
        services.update_channel_code(code, by=world.admin, **{
            **services.code_values(code), "name": "新名字", "staff": [carol]})
    way = corp.way(code)
    assert way["user"] == ["alice", "bob"] and way["remark"] == "南京路店海报"
    code.refresh_from_db()
    assert code.current_userids == ["alice", "bob"]
