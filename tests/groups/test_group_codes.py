"""Group live codes against the simulator: 450 joins through one code with WeCom's 200 cap end in 3 groups, all
attributed to the code; create, edit, pause, resume and delete reach WeCom; the 入群欢迎语 is a WeCom template
the simulator sends on joins; invalid input is refused with field errors and changes nothing anywhere."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from siyu.groups import codes
from siyu.groups.models import CustomerGroup, GroupCode, GroupCodeSync, GroupMember
from siyu.orgs.models import AuditEntry
from siyu.orgs.staff import upsert_staff
from siyu.wecom.models import ApiCall
from tests.factories import client_for
from tests.wecom.live import siyu_view, sim_view, wire

LINK = {"msgtype": "link", "link": {"title": "入群福利：新人券", "url": "https://example.com/gift", "desc": "限时领取"}}


@pytest.fixture
def wired(world, settings):
    settings.WECOM_BACKOFF_BASE, settings.WECOM_BACKOFF_MAX = 0.001, 0.01
    wiring, stop = wire(world.org)
    yield wiring
    stop()
    wiring.sim.close()


def owner(wired, userid="zhangsan", name="张三", store=None):
    staff = upsert_staff(wired.org, wired.sim.add_staff(userid, name))
    staff.store, staff.is_customer_contact = store, True
    staff.save(update_fields=["store", "is_customer_contact"])
    return staff


def make_group(wired, owner_userid="zhangsan", name="山茶福利群1") -> CustomerGroup:
    chat_id = wired.sim.create_group(owner_userid, name=name)["chat_id"]
    wired.process()
    return CustomerGroup.objects.for_org(wired.org).get(chat_id=chat_id)


def nothing_changed(wired):
    org = wired.org
    assert not GroupCode.objects.for_org(org).exists()
    assert not AuditEntry.objects.for_org(org).filter(action__startswith="groupcode.").exists()
    assert wired.sim.state.join_ways == {} and wired.sim.state.group_welcome_templates == {}


# -- the acceptance test ---------------------------------------------------------------------------------------
def test_450_joins_through_one_code_with_a_200_cap_end_in_3_groups_all_attributed(world, wired):
    sim, org = wired.sim, wired.org
    owner(wired, store=world.e1)
    first = make_group(wired, name="山茶福利群1")
    code = codes.create_group_code(org, by=world.admin, name="南京路店福利群", groups=[first], store=world.e1,
                                   room_base_name="山茶福利群", room_base_id=2, welcome_text="欢迎{customer_nickname}入群～")
    assert sim.limits.group_qr_cap == 200
    joined = []
    for n in range(450):
        joined.append(sim.join_group(config_id=code.config_id, name=f"顾客{n}")["external_userid"])
        if n % 50 == 49:
            wired.process()
    wired.process()

    way = sim.state.join_ways[code.config_id]
    live = [g for g in sim.list_groups() if not g["dismissed"]]
    assert len(live) == 3 and len(way.chat_id_list) == 3
    assert sorted(len(g["members"]) for g in live) == [53, 200, 200]  # the owner counts toward the 200
    assert [sim.state.groups[c].name for c in way.chat_id_list] == ["山茶福利群1", "山茶福利群2", "山茶福利群3"]

    code.refresh_from_db()
    assert code.chat_ids == way.chat_id_list  # Siyu followed the rooms WeCom created
    assert siyu_view(org)["groups"] == sim_view(sim)["groups"]
    customers = GroupMember.objects.for_org(org).filter(type=GroupMember.Type.EXTERNAL)
    assert customers.count() == 450 and set(customers.values_list("userid", flat=True)) == set(joined)
    assert set(customers.values_list("state", flat=True)) == {code.state}
    assert set(customers.values_list("group__chat_id", flat=True)) == set(code.chat_ids)
    figures = codes.join_counts([code], members=GroupMember.objects.for_org(org), groups=CustomerGroup.objects.for_org(org))
    assert figures[code.pk] == {"joins_today": 450, "joins_total": 450, "members": 453, "groups": 3}
    assert not GroupCodeSync.objects.for_org(org).exclude(status="done").exists()

    page = client_for(world.admin).get(reverse("groups:codes"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="joins-total">450<' in html and 'data-testid="members">453<' in html
    assert 'data-testid="groups-count">3<' in html


# -- create, welcome, edit, pause, resume, delete --------------------------------------------------------------
def test_create_sends_the_join_way_and_the_welcome_template(world, wired):
    sim, org = wired.sim, wired.org
    owner(wired)
    group = make_group(wired)
    code = codes.create_group_code(org, by=world.admin, name="会员福利群", groups=[group.pk], state="vip_group",
                                   auto_create_room=True, room_base_name="会员福利群", room_base_id=10,
                                   welcome_text="欢迎{customer_nickname}！", welcome_attachment=LINK)
    way = sim.state.join_ways[code.config_id]
    assert (way.scene, way.remark, way.state, way.auto_create_room) == (2, "会员福利群", "vip_group", 1)
    assert (way.room_base_name, way.room_base_id, way.chat_id_list) == ("会员福利群", 10, [group.chat_id])
    assert code.qr_code == way.qr_code and code.qr_code.startswith("https://")
    template = sim.state.group_welcome_templates[code.welcome_template_id]
    assert template.text == {"content": "欢迎%NICKNAME%！"} and template.attachment == LINK and template.notify == 1
    assert AuditEntry.objects.for_org(org).filter(action="groupcode.created", object_id=str(code.pk)).exists()

    sim.set_group_welcome(group.chat_id, code.welcome_template_id)  # the owner applies it in the client
    joined = sim.join_group(config_id=code.config_id, name="王女士")
    wired.process()
    [welcome] = sim.group_welcomes()
    assert (welcome["external_userid"], welcome["text"]) == (joined["external_userid"], {"content": "欢迎王女士！"})
    member = GroupMember.objects.for_org(org).get(userid=joined["external_userid"])
    assert member.state == "vip_group" and member.join_scene == 3


def test_edit_pause_resume_delete(world, wired):
    sim, org = wired.sim, wired.org
    owner(wired)
    one, two = make_group(wired, name="一群"), make_group(wired, name="二群")
    code = codes.create_group_code(org, by=world.admin, name="福利群", groups=[one], state="g_one")
    assert code.welcome_template_id == ""

    code = codes.update_group_code(code, by=world.admin, name="福利群·新", groups=[one, two], state="g_two",
                                   auto_create_room=False, welcome_text="欢迎！")
    way = sim.state.join_ways[code.config_id]
    assert (way.chat_id_list, way.state, way.auto_create_room, way.remark) == ([one.chat_id, two.chat_id], "g_two", 0, "福利群·新")
    assert code.chat_ids == [one.chat_id, two.chat_id] and code.past_states == ["g_one"]
    assert sim.state.group_welcome_templates[code.welcome_template_id].text == {"content": "欢迎！"}
    template_id = code.welcome_template_id
    code = codes.update_group_code(code, by=world.admin, **{**codes.code_values(code), "groups": [two], "welcome_text": "新的欢迎语"})
    assert code.welcome_template_id == template_id  # edited in place
    assert sim.state.group_welcome_templates[template_id].text == {"content": "新的欢迎语"}
    with pytest.raises(ValidationError) as error:  # the old state stays the code's: nobody else may take it
        codes.create_group_code(org, name="别的码", groups=[one], state="g_one")
    assert "state" in error.value.message_dict

    config_id = code.config_id
    codes.pause_group_code(code, by=world.admin)
    assert config_id not in sim.state.join_ways and code.status == GroupCode.Status.PAUSED and code.config_id == ""
    landing = reverse("groups:group_landing", args=[org.slug, code.public_id])
    assert "活动已暂停" in client_for(world.admin).get(landing).content.decode()

    codes.resume_group_code(code, by=world.admin)
    assert code.status == GroupCode.Status.ACTIVE and code.config_id in sim.state.join_ways and code.config_id != config_id
    assert sim.state.join_ways[code.config_id].state == "g_two"
    page = client_for(world.admin).get(landing)
    assert code.qr_code in page.content.decode() and "wework.qpic.cn" in page["Content-Security-Policy"]

    codes.update_group_code(code, by=world.admin, **{**codes.code_values(code), "welcome_text": ""})
    assert sim.state.group_welcome_templates == {}
    codes.delete_group_code(code, by=world.admin)
    assert sim.state.join_ways == {} and code.status == GroupCode.Status.DELETED
    assert client_for(world.admin).get(landing).status_code == 404


def test_a_new_room_is_followed_even_when_a_callback_is_missed(world, wired):
    sim, org = wired.sim, wired.org
    owner(wired)
    sim.set_limits(group_qr_cap=3)
    group = make_group(wired)
    code = codes.create_group_code(org, name="小群", groups=[group])
    for n in range(3):
        sim.join_group(config_id=code.config_id, name=f"客{n}")
    assert len(sim.state.join_ways[code.config_id].chat_id_list) == 2
    code.refresh_from_db()
    assert len(code.chat_ids) == 1  # Siyu has not processed the callbacks yet
    assert codes.sync_all_codes() == 1  # the periodic check
    code.refresh_from_db()
    assert code.chat_ids == sim.state.join_ways[code.config_id].chat_id_list
    assert CustomerGroup.objects.for_org(org).filter(chat_id=code.chat_ids[1]).exists()


# -- invalid input ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["six_groups", "long_state", "unknown_group", "dismissed_group", "state_taken_by_nobody_else"])
def test_invalid_input_is_refused_with_field_errors_and_changes_nothing(world, wired, case):
    sim, org = wired.sim, wired.org
    owner(wired)
    groups = [make_group(wired, name=f"群{n}") for n in range(6)]
    data = {"name": "福利群", "groups": groups[:2], "state": "ok_state"}
    field = "groups"
    if case == "six_groups":
        data["groups"] = groups
    elif case == "long_state":
        data["state"], field = "s" * 31, "state"
    elif case == "unknown_group":
        data["groups"] = [groups[0], 999_999]
    elif case == "dismissed_group":
        sim.dismiss_group(groups[1].chat_id)
        wired.process()
    else:
        data["state"], data["name"], field = "bad state!", "名" * 31, "state"
    calls = ApiCall.objects.for_org(org).count()
    with pytest.raises(ValidationError) as error:
        codes.create_group_code(org, by=world.admin, **data)
    assert field in error.value.message_dict
    if case == "state_taken_by_nobody_else":
        assert "name" in error.value.message_dict
    nothing_changed(wired)
    assert ApiCall.objects.for_org(org).count() == calls  # nothing invalid reached WeCom


def test_the_console_form_refuses_six_groups_a_long_state_and_an_unknown_group(world, wired):
    owner(wired)
    groups = [make_group(wired, name=f"群{n}") for n in range(6)]
    client = client_for(world.admin)
    url = reverse("groups:code_new")
    base = {"name": "福利群", "auto_create_room": "on", "room_base_id": "1"}
    response = client.post(url, {**base, "groups": [g.pk for g in groups]})
    assert response.status_code == 400
    assert "最多关联 5 个群" in response.context["form"].errors["groups"][0]
    response = client.post(url, {**base, "groups": [groups[0].pk], "state": "s" * 31})
    assert response.status_code == 400 and "最多 30 个字符" in response.context["form"].errors["state"][0]
    response = client.post(url, {**base, "groups": [groups[0].pk, 999_999]})
    assert response.status_code == 400 and response.context["form"].errors["groups"]
    response = client.post(url, {**base, "groups": [groups[0].pk], "att_kind": "link", "att_title": "无链接"})
    assert response.status_code == 400 and response.context["form"].errors["att_kind"]
    nothing_changed(wired)
    response = client.post(url, {**base, "groups": [groups[0].pk], "state": "poster_a"})
    code = GroupCode.objects.for_org(world.org).get()
    assert response.status_code == 302 and response["Location"] == reverse("groups:code_detail", args=[code.pk])
    assert code.state == "poster_a" and wired.sim.state.join_ways[code.config_id].state == "poster_a"


def test_a_wecom_refusal_leaves_nothing_behind(world, wired):
    sim, org = wired.sim, wired.org
    owner(wired)
    group = make_group(wired)
    sim.fail_next("externalcontact/groupchat/add_join_way", 40058, errmsg="invalid parameter")
    with pytest.raises(ValidationError) as error:
        codes.create_group_code(org, name="福利群", groups=[group], welcome_text="欢迎")
    assert "企业微信未能创建加入群聊二维码" in error.value.messages[0]
    nothing_changed(wired)  # the welcome template made first was taken back


def test_views_by_role(world, wired):
    owner(wired, store=world.e1)
    group = make_group(wired)
    mine = codes.create_group_code(world.org, name="E1 福利群", groups=[group], store=world.e1)
    other = codes.create_group_code(world.org, name="S1 福利群", groups=[group], store=world.s1)
    for member, visible in ((world.admin, {mine, other}), (world.east_manager, {mine}), (world.guide_e1, {mine}),
                            (world.guide_s1, {other}), (world.s1_manager, {other})):
        client = client_for(member)
        listing = client.get(reverse("groups:codes")).content.decode()
        for code in (mine, other):
            assert (code.name in listing) == (code in visible), (member, code)
            detail = client.get(reverse("groups:code_detail", args=[code.pk]))
            assert detail.status_code == (200 if code in visible else 404)
        assert client.get(reverse("groups:code_new")).status_code == (200 if member == world.admin else 403)
    qr = client_for(world.guide_e1).get(reverse("groups:code_qr", args=[mine.pk]) + "?download=1")
    assert qr["Content-Type"] == "image/png" and qr.content.startswith(b"\x89PNG") and "attachment" in qr["Content-Disposition"]
    poster = client_for(world.admin).get(reverse("groups:code_poster", args=[mine.pk]))
    assert poster.status_code == 200 and poster.content.startswith(b"\x89PNG")
    response = client_for(world.admin).post(reverse("groups:code_action", args=[mine.pk, "pause"]))
    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.status == GroupCode.Status.PAUSED
    assert client_for(world.guide_e1).post(reverse("groups:code_action", args=[mine.pk, "resume"])).status_code == 403


def test_the_demo_loader_gives_seeded_groups_codes_and_the_stores_a_store_code(db, settings):
    from siyu import demo
    from siyu.groups import storecodes
    from siyu.groups.models import StoreCode
    from siyu.orgs.models import Store
    from siyu.wecom.demo import seed_simulator

    settings.WECOM_BACKOFF_BASE, settings.WECOM_BACKOFF_MAX = 0.001, 0.01
    org = demo.load_demo().org
    assert Store.objects.for_org(org).filter(kind="store").exclude(latitude=None).count() == 6
    wiring, stop = wire(org)
    try:
        seed_simulator(wiring.sim, org)
        demo.load_group_code_demo(org)
        demo.load_group_code_demo(org)  # idempotent
        made = GroupCode.objects.for_org(org).order_by("id")
        assert made.count() == 2 and all(c.store_id and c.config_id in wiring.sim.state.join_ways for c in made)
        assert {c.store.code for c in made} == {"GZ01", "HZ01"}
        store_code = StoreCode.objects.for_org(org).get()
        assert store_code.fallback_code == made.first()
        guangzhou = next(c for c in made if c.store.code == "GZ01")
        [target] = storecodes.targets_for(store_code, guangzhou.store)
        assert target.qr_image == guangzhou.qr_code
    finally:
        stop()
        wiring.sim.close()


def test_an_image_group_welcome_is_uploaded_before_the_template_is_created(world, wired):
    # Doc 92366: a group welcome image's pic_url must come from media/uploadimg; the simulator refuses others.
    from tests.wecom.files import serving

    sim, org = wired.sim, wired.org
    owner(wired)
    group = make_group(wired)
    with serving() as files:
        source = f"{files}/poster.jpg"
        code = codes.create_group_code(org, by=world.admin, name="晒单群", groups=[group.pk],
                                       welcome_text="欢迎！", welcome_attachment={"msgtype": "image", "image": {"pic_url": source}})
    template = sim.state.group_welcome_templates[code.welcome_template_id]
    uploaded = template.attachment["image"]["pic_url"]
    assert uploaded != source and uploaded in sim.state.uploaded_images
    assert ApiCall.objects.for_org(org).filter(endpoint="media/uploadimg", errcode=0).count() == 1
    assert code.welcome_attachment["image"]["pic_url"] == source  # Siyu keeps the operator's source
