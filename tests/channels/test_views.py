"""The console pages: list and filters, the create form with its field errors, QR and poster downloads,
pause/resume/delete, welcome messages, who may see and do what, and the public landing page."""

from __future__ import annotations

import io

import pytest
import segno
from django.urls import reverse
from PIL import Image

from siyu.channels import qr, services
from siyu.channels.models import ChannelCode, WelcomeMessage
from siyu.orgs.models import Staff
from tests.factories import client_for


@pytest.fixture
def team(world, corp):
    alice, bob = corp.staff("alice", "张晓", store=world.e1), corp.staff("bob", "周婷", store=world.s1)
    alice.membership = world.guide_e1
    alice.save(update_fields=["membership"])
    tea, afternoon = corp.tags("奶茶爱好者", "下午茶")
    return alice, bob, tea, afternoon


def form_data(team, **changes) -> dict:
    alice, bob, tea, afternoon = team
    data = {
        "name": "南京路店海报", "state": "", "folder_name": "门店海报", "partner_name": "", "owner": "",
        "staff": [alice.pk, bob.pk], "backup_staff": [], "policy": "round_robin", "daily_cap": "",
        "skip_verify": "on", "tags": [tea.pk, afternoon.pk], "remark_template": "", "welcome_enabled": "on",
        "welcome_text": "你好 {customer_nickname}", "red_packet_mode": "fixed", "red_packet_amount": "", "red_packet_min": "",
        "red_packet_max": "", "red_packet_budget": "", "red_packet_wishing": "",
        "att-TOTAL_FORMS": "2", "att-INITIAL_FORMS": "0", "att-MIN_NUM_FORMS": "0", "att-MAX_NUM_FORMS": "9",
        "att-0-kind": "image", "att-0-pic_url": "https://img.example.com/a.png",
        "att-1-kind": "miniprogram", "att-1-title": "山茶商城", "att-1-appid": "wx8bd80126147df0a1",
        "att-1-page": "pages/index/index.html", "att-1-media_id": "MEDIA_COVER",
        "slot-TOTAL_FORMS": "0", "slot-INITIAL_FORMS": "0", "slot-MIN_NUM_FORMS": "0", "slot-MAX_NUM_FORMS": "50",
    }
    data.update(changes)
    return data


def make_code(world, team, **changes) -> ChannelCode:
    alice, bob, tea, afternoon = team
    return services.create_channel_code(world.org, by=world.admin, **{"name": "海报", "staff": [alice, bob], **changes})


# -- create through the console -------------------------------------------------------------------------------
def test_the_form_creates_a_code_with_staff_tags_and_welcome_attachments(world, corp, team):
    client = client_for(world.admin)
    assert client.get(reverse("channels:new")).status_code == 200
    response = client.post(reverse("channels:new"), form_data(team))
    code = ChannelCode.objects.for_org(world.org).get()
    assert response.status_code == 302 and response["Location"] == reverse("channels:detail", args=[code.pk])
    welcome = WelcomeMessage.objects.for_org(world.org).get(code=code)
    assert [a["msgtype"] for a in welcome.attachments] == ["image", "miniprogram"]
    assert sorted(corp.way(code)["user"]) == ["alice", "bob"]
    page = client.get(response["Location"]).content.decode()
    assert "南京路店海报" in page and "奶茶爱好者" in page and "门店海报" in page


@pytest.mark.parametrize(("case", "where"), [
    ("state_31", "state"),
    ("staff_101", "staff"),
    ("attachment_10", "attachments"),
    ("page_without_html", "att-1-page"),
    ("deleted_tag", "tags"),
])
def test_invalid_input_shows_a_field_error_and_changes_nothing(world, corp, team, case, where):
    alice, bob, tea, afternoon = team
    data = form_data(team)
    if case == "state_31":
        data["state"] = "s" * 31
    elif case == "staff_101":
        Staff.objects.bulk_create([Staff(org=world.org, userid=f"bulk{i:03d}", name=f"员工{i}") for i in range(101)])
        data["staff"] = list(Staff.objects.for_org(world.org).filter(userid__startswith="bulk").values_list("pk", flat=True))
    elif case == "attachment_10":
        data["att-TOTAL_FORMS"] = "10"
        for i in range(10):
            data[f"att-{i}-kind"], data[f"att-{i}-pic_url"] = "image", f"https://img.example.com/{i}.png"
    elif case == "page_without_html":
        data["att-1-page"] = "pages/index/index"
    elif case == "deleted_tag":
        corp.sim.admin_delete_tags(tag_ids=[tea.wecom_id])
        corp.run()
    response = client_for(world.admin).post(reverse("channels:new"), data)
    assert response.status_code == 400
    form = response.context["form"]
    messages = {
        "state": lambda: form.errors.get("state"),
        "staff": lambda: form.errors.get("staff"),
        "tags": lambda: form.errors.get("tags"),
        "attachments": lambda: response.context["attachments"].non_form_errors(),
        "att-1-page": lambda: response.context["attachments"].forms[1].errors.get("page"),
    }[where]()
    assert messages, (where, form.errors)
    expected = {"state_31": "最多 30 个字符", "staff_101": "最多 100 位员工", "attachment_10": "最多 9 个附件",
                "page_without_html": ".html 结尾", "deleted_tag": "标签不存在或已删除"}[case]
    assert expected in " ".join(messages) and expected in response.content.decode()
    assert not ChannelCode.objects.for_org(world.org).exists() and corp.sim.state.contact_ways == {}
    assert corp.calls("externalcontact/add_contact_way") == 0


def test_a_wecom_refusal_is_shown_on_the_form(world, corp, team):
    corp.sim.fail_next("externalcontact/add_contact_way", 48002)
    response = client_for(world.admin).post(reverse("channels:new"), form_data(team))
    assert response.status_code == 400 and "企业微信未能创建联系我二维码" in response.content.decode()
    assert not ChannelCode.objects.for_org(world.org).exists()


def test_the_edit_form_shows_and_keeps_the_current_settings(world, corp, team):
    alice, bob, tea, afternoon = team
    code = make_code(world, team, tags=[tea], welcome_text="欢迎", welcome_attachments=[
        {"msgtype": "link", "link": {"title": "菜单", "url": "https://example.com/menu"}}], policy="time_slots",
        time_slots=[{"days": [0, 1], "start": "09:00", "end": "24:00", "staff": [alice.pk]}])
    client = client_for(world.admin)
    page = client.get(reverse("channels:edit", args=[code.pk]))
    assert page.status_code == 200
    slots, attachments = page.context["slots"], page.context["attachments"]
    assert len(slots.forms) == 1 and slots.forms[0].initial["end"] == "00:00"
    assert attachments.forms[0].initial["title"] == "菜单"
    # Post back what the page showed, changing only the name.
    data = form_data(team, name="海报二期", tags=[tea.pk], welcome_text="欢迎", policy="time_slots", **{
        "att-TOTAL_FORMS": "1", "att-INITIAL_FORMS": "1", "att-0-kind": "link", "att-0-title": "菜单",
        "att-0-url": "https://example.com/menu", "att-0-pic_url": "", "slot-TOTAL_FORMS": "1", "slot-INITIAL_FORMS": "1",
        "slot-0-days": ["0", "1"], "slot-0-start": "09:00", "slot-0-end": "00:00", "slot-0-staff": [alice.pk]})
    for key in ("att-1-kind", "att-1-title", "att-1-appid", "att-1-page", "att-1-media_id"):
        data.pop(key)
    response = client.post(reverse("channels:edit", args=[code.pk]), data)
    assert response.status_code == 302, response.context and (response.context["form"].errors, response.context["slots"].errors)
    code.refresh_from_db()
    assert code.name == "海报二期" and code.time_slots == [{"days": [0, 1], "start": "09:00", "end": "24:00", "staff": [alice.pk]}]
    assert services.code_values(code)["welcome_attachments"] == [{"msgtype": "link", "link": {"title": "菜单", "url": "https://example.com/menu"}}]


# -- list, detail, downloads, actions --------------------------------------------------------------------------
def test_list_filters_and_counts(world, corp, team):
    alice, bob, *_ = team
    poster = make_code(world, team, name="门店海报", staff=[alice], folder_name="门店")
    live = make_code(world, team, name="直播间", staff=[bob])
    corp.scan(poster)
    corp.scan(poster)
    services.pause_channel_code(live, by=world.admin)
    client = client_for(world.admin)
    page = client.get(reverse("channels:list"))
    assert page.status_code == 200
    rows = {c.name: c for c in page.context["page"]}
    assert (rows["门店海报"].adds_today, rows["门店海报"].adds_total, rows["直播间"].adds_total) == (2, 2, 0)
    names = lambda **q: [c.name for c in client.get(reverse("channels:list"), q).context["page"]]  # noqa: E731
    assert names(staff=bob.pk) == ["直播间"]
    assert names(folder=poster.folder_id) == ["门店海报"]
    assert names(status="paused") == ["直播间"]
    assert names(q="海报") == ["门店海报"]
    services.delete_channel_code(live, by=world.admin)
    assert names() == ["门店海报"] and names(status="deleted") == ["直播间"]
    assert client.get(reverse("channels:list"), {"staff": "nonsense"}).status_code == 200


def test_qr_png_svg_and_poster_downloads(world, corp, team, settings):
    settings.PUBLIC_URL = "https://scrm.example.com"
    code = make_code(world, team)
    client = client_for(world.admin)
    png = client.get(reverse("channels:qr_png", args=[code.pk]), {"download": "1"})
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    assert png["Content-Disposition"] == f'attachment; filename="channel-{code.state.replace("_", "_")}.png"'
    url = f"https://scrm.example.com/c/{world.org.slug}/{code.public_id}/"
    assert qr.landing_url(code) == url
    expected = io.BytesIO()
    segno.make(url, error="m").save(expected, kind="png", scale=10, border=2)
    assert png.content == expected.getvalue()  # the QR encodes the landing page, nothing else
    svg = client.get(reverse("channels:qr_svg", args=[code.pk]))
    assert svg["Content-Type"] == "image/svg+xml" and b"<svg" in svg.content
    poster = client.get(reverse("channels:poster", args=[code.pk]), {"download": "1"})
    image = Image.open(io.BytesIO(poster.content))
    assert image.format == "PNG" and image.size == qr.POSTER_SIZE


def test_poster_degrades_without_a_cjk_font(world, corp, team, monkeypatch):
    code = make_code(world, team)
    qr.font_path.cache_clear()
    monkeypatch.setattr(qr, "FONT_CANDIDATES", ())
    monkeypatch.delenv("SIYU_POSTER_FONT", raising=False)
    try:
        assert Image.open(io.BytesIO(qr.poster_png(code))).size == qr.POSTER_SIZE
    finally:
        qr.font_path.cache_clear()


def test_pause_resume_delete_buttons(world, corp, team):
    code = make_code(world, team)
    client = client_for(world.admin)
    for action, status in (("pause", "paused"), ("resume", "active"), ("delete", "deleted")):
        response = client.post(reverse("channels:action", args=[code.pk, action]))
        assert response.status_code == 302
        code.refresh_from_db()
        assert code.status == status
    response = client.post(reverse("channels:action", args=[code.pk, "pause"]), follow=True)
    assert "只有使用中的渠道活码可以暂停" in response.content.decode()
    assert client.post(reverse("channels:action", args=[code.pk, "explode"])).status_code == 404
    assert client.get(reverse("channels:action", args=[code.pk, "pause"])).status_code == 405
    assert client.get(reverse("channels:edit", args=[code.pk])).status_code == 302  # deleted: not editable


# -- who sees what -----------------------------------------------------------------------------------------------
def test_guides_see_their_own_codes_managers_their_stores_and_nobody_another_brand(world, corp, team):
    alice, bob, *_ = team
    mine = make_code(world, team, name="张晓的码", staff=[alice])
    others = make_code(world, team, name="周婷的码", staff=[bob])
    guide = client_for(world.guide_e1)
    assert [c.name for c in guide.get(reverse("channels:list")).context["page"]] == ["张晓的码"]
    assert guide.get(reverse("channels:detail", args=[mine.pk])).status_code == 200
    assert guide.get(reverse("channels:detail", args=[others.pk])).status_code == 404
    assert guide.get(reverse("channels:new")).status_code == 403
    assert guide.post(reverse("channels:action", args=[mine.pk, "pause"])).status_code == 403
    assert guide.get(reverse("channels:welcome")).status_code == 403
    manager = client_for(world.s1_manager)
    assert [c.name for c in manager.get(reverse("channels:list")).context["page"]] == ["周婷的码"]
    stranger = client_for(world.other_admin)
    assert stranger.get(reverse("channels:detail", args=[mine.pk])).status_code == 404
    assert stranger.get(reverse("channels:qr_png", args=[mine.pk])).status_code == 404
    assert [c.name for c in stranger.get(reverse("channels:list")).context["page"]] == []


# -- welcome messages page -------------------------------------------------------------------------------------
def test_welcome_messages_can_be_created_edited_and_deleted(world, corp, team):
    alice, *_ = team
    client = client_for(world.admin)
    management = {"att-TOTAL_FORMS": "1", "att-INITIAL_FORMS": "0", "att-MIN_NUM_FORMS": "0", "att-MAX_NUM_FORMS": "9"}
    response = client.post(reverse("channels:welcome_new"), {
        "scope": "default", "text": "你好 {customer_nickname}", **management,
        "att-0-kind": "link", "att-0-title": "菜单", "att-0-url": "https://example.com/menu"})
    assert response.status_code == 302
    default = WelcomeMessage.objects.for_org(world.org).get()
    assert default.scope == "default" and default.attachments[0]["link"]["title"] == "菜单"
    response = client.post(reverse("channels:welcome_new"), {"scope": "staff", "text": "x", **management, "att-TOTAL_FORMS": "0"})
    assert response.status_code == 400 and "请选择员工" in response.content.decode()
    response = client.post(reverse("channels:welcome_new"), {
        "scope": "staff", "staff": alice.pk, "text": "下班了", "window_days": ["0", "1"], "window_start": "21:00",
        **management, "att-TOTAL_FORMS": "0"})
    assert response.status_code == 302
    response = client.post(reverse("channels:welcome_new"), {
        "scope": "default", "text": "", **management, "att-0-kind": "miniprogram", "att-0-title": "商城",
        "att-0-appid": "wx8bd80126147df0a1", "att-0-page": "pages/index", "att-0-media_id": "M"})
    assert response.status_code == 400 and ".html 结尾" in response.content.decode()
    listing = client.get(reverse("channels:welcome")).content.decode()
    assert "下班了" in listing and "周一、周二 21:00–24:00" in listing
    response = client.post(reverse("channels:welcome_edit", args=[default.pk]), {
        "scope": "default", "text": "新的默认", **management, "att-TOTAL_FORMS": "0"})
    assert response.status_code == 302
    default.refresh_from_db()
    assert default.text == "新的默认" and default.attachments == []
    assert client.post(reverse("channels:welcome_delete", args=[default.pk])).status_code == 302
    assert WelcomeMessage.objects.for_org(world.org).count() == 1


# -- the public landing page -----------------------------------------------------------------------------------
def test_the_landing_page_shows_wecoms_code_to_anyone(world, corp, team):
    from django.test import Client

    code = make_code(world, team)
    anonymous = Client()
    url = reverse("channels:landing", args=[world.org.slug, code.public_id])
    page = anonymous.get(url)
    assert page.status_code == 200 and code.qr_code in page.content.decode()
    assert "https://wework.qpic.cn" in page["Content-Security-Policy"]
    assert anonymous.get(reverse("channels:landing", args=[world.org.slug, "nope"])).status_code == 404
    assert anonymous.get(reverse("channels:landing", args=["no-such-brand", code.public_id])).status_code == 404
    assert anonymous.get(reverse("channels:landing", args=[world.other_org.slug, code.public_id])).status_code == 404
    services.delete_channel_code(code, by=world.admin)
    assert anonymous.get(url).status_code == 404


def test_every_page_renders_in_english_too(world, corp, team):
    from django.conf import settings

    alice, *_ = team
    code = make_code(world, team, policy="time_slots", backup_staff=[],
                     time_slots=[{"days": [0], "start": "09:00", "end": "18:00", "staff": [alice.pk]}],
                     red_packet={"enabled": True, "mode": "fixed", "amount_fen": 100, "budget_fen": 1000})
    corp.scan(code)
    client = client_for(world.admin)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    for name, args in (("channels:list", []), ("channels:new", []), ("channels:detail", [code.pk]),
                       ("channels:edit", [code.pk]), ("channels:welcome", []), ("channels:welcome_new", [])):
        response = client.get(reverse(name, args=args))
        assert response.status_code == 200, name
        assert 'lang="en"' in response.content.decode()
