"""Welcome messages: WeCom's limits, which message applies, and sending within the 20-second window — once."""

from __future__ import annotations

import time
from datetime import time as clock_time
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from siyu.channels import services, welcome
from siyu.channels.models import WelcomeMessage, WelcomeSend
from siyu.core.durable import PermanentFailure
from siyu.customers.models import TimelineEvent
from siyu.wecom.simulator import SimClock
from tests.channels.conftest import Corp
from tests.wecom.files import serving

IMAGE = {"msgtype": "image", "image": {"pic_url": "https://img.example.com/a.png"}}
LINK = {"msgtype": "link", "link": {"title": "新品菜单", "url": "https://example.com/menu", "desc": "第二杯半价"}}
MINI = {"msgtype": "miniprogram", "miniprogram": {
    "title": "山茶商城", "pic_media_id": "MEDIA_COVER", "appid": "wx8bd80126147df0a1", "page": "pages/index.html?from=welcome"}}
FILE = {"msgtype": "file", "file": {"media_id": "MEDIA_FILE"}}
VIDEO = {"msgtype": "video", "video": {"media_id": "MEDIA_VIDEO"}}


# -- WeCom's limits -------------------------------------------------------------------------------------------
def test_valid_messages_come_back_in_wecoms_shape():
    text, attachments = welcome.clean_welcome("  你好 {customer_nickname}  ", [IMAGE, LINK, MINI, FILE, VIDEO])
    assert text == "你好 {customer_nickname}" and attachments == [IMAGE, LINK, MINI, FILE, VIDEO]
    assert welcome.clean_welcome("", [IMAGE])[1] == [IMAGE]


@pytest.mark.parametrize(("text", "attachments", "field", "fragment"), [
    ("", [], "text", "不能都为空"),
    ("字" * 1334, [], "text", "4000 字节"),
    ("你好 {name}", [], "text", "未知的变量：{name}"),
    ("hi", [IMAGE] * 10, "attachments", "最多 9 个附件"),
    ("hi", [{"msgtype": "miniprogram", "miniprogram": {**MINI["miniprogram"], "page": "pages/index"}}], "attachments", ".html 结尾"),
    ("hi", [{"msgtype": "miniprogram", "miniprogram": {**MINI["miniprogram"], "appid": "wx123"}}], "attachments", "AppID"),
    ("hi", [{"msgtype": "miniprogram", "miniprogram": {**MINI["miniprogram"], "title": "标" * 22}}], "attachments", "64 字节"),
    ("hi", [{"msgtype": "miniprogram", "miniprogram": {**MINI["miniprogram"], "pic_media_id": ""}}], "attachments", "media_id"),
    ("hi", [{"msgtype": "link", "link": {"title": "标" * 43, "url": "https://a.example"}}], "attachments", "128 字节"),
    ("hi", [{"msgtype": "link", "link": {"title": "t", "url": "javascript:alert(1)"}}], "attachments", "http(s)"),
    ("hi", [{"msgtype": "link", "link": {"title": "t", "url": "https://a.example", "desc": "述" * 171}}], "attachments", "512 字节"),
    ("hi", [{"msgtype": "image", "image": {}}], "attachments", "pic_url"),
    ("hi", [{"msgtype": "file", "file": {}}], "attachments", "media_id"),
    ("hi", [{"msgtype": "voice", "voice": {}}], "attachments", "附件类型"),
])
def test_messages_over_wecoms_limits_are_refused(text, attachments, field, fragment):
    with pytest.raises(ValidationError) as caught:
        welcome.clean_welcome(text, attachments)
    assert any(fragment in m for m in caught.value.message_dict[field]), caught.value.message_dict


def test_text_is_rendered_and_never_over_4000_bytes():
    class Someone:
        name, userid = "张晓", "zhangxiao"

    rendered = welcome.render("你好 {customer_nickname}，我是{staff_name}{unknown}", nickname="小" * 2000, staff=Someone(), code=None)
    assert len(rendered.encode()) <= 4000 and rendered.startswith("你好 小")
    assert welcome.render("{staff_name}/{channel}", nickname="", staff=Someone(), code=None) == "张晓/"


# -- which message applies ------------------------------------------------------------------------------------
def test_priority_is_code_and_staff_then_code_then_staff_then_default(world, corp):
    alice, bob = corp.staff("alice"), corp.staff("bob")
    code = services.create_channel_code(world.org, by=world.admin, name="海报", staff=[alice, bob])
    other = services.create_channel_code(world.org, by=world.admin, name="直播", staff=[alice])
    save = lambda text, **scope: services.save_welcome_message(world.org, by=world.admin, text=text, **scope)  # noqa: E731
    assert welcome.resolve(world.org, code=code, staff=alice) is None
    save("默认")
    save("员工 alice", staff=alice)
    save("渠道 海报", code=code)
    save("渠道 海报 + alice", code=code, staff=alice)
    pick = lambda c, s: welcome.resolve(world.org, code=c, staff=s).text  # noqa: E731
    assert pick(code, alice) == "渠道 海报 + alice"
    assert pick(code, bob) == "渠道 海报"
    assert pick(other, alice) == "员工 alice"
    assert pick(other, bob) == "默认"
    assert pick(None, alice) == "员工 alice"
    with pytest.raises(ValidationError):  # one plain message per scope
        save("又一条默认")


def test_a_time_slot_variant_replaces_the_plain_message_inside_its_window(world, corp):
    alice = corp.staff("alice")
    services.save_welcome_message(world.org, text="营业时间欢迎语")
    services.save_welcome_message(world.org, text="已下班，明早 9 点回复您", window_days=list(range(7)),
                                  window_start=clock_time(21, 0))
    services.save_welcome_message(world.org, text="凌晨好", window_days=list(range(7)), window_start=clock_time(0, 0),
                                  window_end=clock_time(9, 0))
    day = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    at = lambda h, m=0: welcome.resolve(world.org, code=None, staff=alice, at=day + timedelta(hours=h, minutes=m)).text  # noqa: E731
    assert (at(8, 59), at(9), at(20, 59), at(21), at(23, 59)) == ("凌晨好", "营业时间欢迎语", "营业时间欢迎语", "已下班，明早 9 点回复您", "已下班，明早 9 点回复您")
    with pytest.raises(ValidationError) as caught:
        services.save_welcome_message(world.org, text="x", window_days=[0], window_start=clock_time(10), window_end=clock_time(9))
    assert "window_end" in caught.value.message_dict


# -- sending --------------------------------------------------------------------------------------------------
def sent(corp) -> list[dict]:
    return corp.sim.welcomes()


def test_each_new_customer_is_welcomed_once_with_the_right_attachments(world, corp):
    alice, bob = corp.staff("alice", "张晓"), corp.staff("bob", "周婷")
    with serving() as files:  # the poster and the mini-program cover are uploaded to WeCom before the sends
        image = {"msgtype": "image", "image": {"pic_url": f"{files}/poster.jpg"}}
        mini = {"msgtype": "miniprogram", "miniprogram": {**MINI["miniprogram"], "pic_media_id": f"{files}/cover.png"}}
        code = services.create_channel_code(world.org, by=world.admin, name="海报", staff=[alice, bob],
                                            welcome_text="你好 {customer_nickname}，我是{staff_name}",
                                            welcome_attachments=[image, mini])
        _welcome_four(world, corp, code)


def _welcome_four(world, corp, code):
    corp.sim.set_duplicate_deliveries(True)  # every callback twice, byte for byte
    scans = [corp.scan(code, name=f"客户{i}") for i in range(4)]
    corp.sim.redeliver_all()  # and once more, all of them
    corp.run()
    messages = sent(corp)
    assert len(messages) == 4 and len({m["welcome_code"] for m in messages}) == 4
    for scan, message in zip(scans, messages):
        assert message["external_userid"] == scan["external_userid"] and message["userid"] == scan["userid"]
        name = "张晓" if scan["userid"] == "alice" else "周婷"
        assert message["text"] == {"content": f"你好 {message_name(corp, scan)}，我是{name}"}
        (picture, cover) = message["attachments"]
        assert picture["image"]["pic_url"] in corp.sim.state.uploaded_images
        assert {**cover["miniprogram"], "pic_media_id": ""} == {**MINI["miniprogram"], "pic_media_id": ""}
        assert cover["miniprogram"]["pic_media_id"] in corp.sim.state.media
    rows = WelcomeSend.objects.for_org(world.org)
    assert rows.count() == 4 and set(rows.values_list("outcome", flat=True)) == {"sent"}
    assert corp.calls("externalcontact/send_welcome_msg") == 4
    assert TimelineEvent.objects.for_org(world.org).filter(kind="welcomed").count() == 4


def message_name(corp, scan) -> str:
    return next(c["name"] for c in corp.sim.list_customers() if c["external_userid"] == scan["external_userid"])


def test_41051_is_done_and_not_retried(world, corp):
    corp.staff("alice")
    services.save_welcome_message(world.org, text="默认欢迎语")
    corp.sim.fail_next("externalcontact/send_welcome_msg", 41051)
    corp.sim.add_customer("alice", name="老朋友")
    corp.run()
    row = WelcomeSend.objects.for_org(world.org).get()
    assert (row.status, row.outcome, row.errcode) == ("done", "already_sent", 41051)
    assert corp.calls("externalcontact/send_welcome_msg") == 1 and sent(corp) == []


def test_41096_is_retried_shortly_and_then_sent(world, corp):
    corp.staff("alice")
    services.save_welcome_message(world.org, text="默认欢迎语")
    corp.sim.fail_next("externalcontact/send_welcome_msg", 41096)
    corp.sim.add_customer("alice", name="新朋友")
    corp.run()
    row = WelcomeSend.objects.for_org(world.org).get()
    assert row.status == "pending" and row.due_at <= timezone.now() + timedelta(seconds=welcome.BEING_SENT_RETRY)
    WelcomeSend.objects.for_org(world.org).update(due_at=timezone.now())
    corp.run()
    row.refresh_from_db()
    assert (row.status, row.outcome) == ("done", "sent") and len(sent(corp)) == 1


def test_a_send_that_comes_too_late_expires_with_the_reason_and_calls_nobody(world, settings, django_capture_on_commit_callbacks):
    late = Corp(world.org, clock=SimClock(time.time() - 25), capture=django_capture_on_commit_callbacks)
    try:
        late.staff("alice")
        services.save_welcome_message(world.org, text="默认欢迎语")
        late.sim.add_customer("alice", name="排队的客户")  # CreateTime 25 s ago: past WeCom's 20 s when Siyu sees it
        late.run()
        row = WelcomeSend.objects.for_org(world.org).get()
        assert (row.status, row.outcome, row.attempts) == ("expired", "", 0) and "20s" in row.last_error
        assert late.calls("externalcontact/send_welcome_msg") == 0 and late.sim.welcomes() == []
    finally:
        late.close()


def test_41051_after_the_window_is_recorded_as_expired(world, django_capture_on_commit_callbacks):
    late = Corp(world.org, clock=SimClock(time.time() - 30), capture=django_capture_on_commit_callbacks)
    try:
        late.staff("alice")
        services.save_welcome_message(world.org, text="默认欢迎语")
        late.sim.fail_next("externalcontact/send_welcome_msg", 41051)
        late.sim.add_customer("alice")
        # A send that started in time but whose answer came after the window (the dispatcher would not start it now).
        row = WelcomeSend.objects.for_org(world.org).get()
        with pytest.raises(PermanentFailure, match="有效期已过"):
            welcome.perform_send(row)
        row.refresh_from_db()
        assert (row.outcome, row.errcode) == ("expired", 41051)
    finally:
        late.close()


def test_no_message_configured_or_no_welcome_code_means_no_send(world, corp):
    corp.staff("alice")
    corp.sim.add_customer("alice")
    corp.run()
    row = WelcomeSend.objects.for_org(world.org).get()  # queued when the callback came, settled with no message
    assert (row.status, row.outcome, row.payload) == ("done", "none", {})
    services.save_welcome_message(world.org, text="默认欢迎语")
    corp.sim.update_staff("alice", admin_welcome=True)  # WeCom sends the admin's message: no WelcomeCode
    corp.sim.add_customer("alice")
    corp.run()
    assert WelcomeSend.objects.for_org(world.org).count() == 1 and sent(corp) == []
    assert corp.calls("externalcontact/send_welcome_msg") == 0


def test_a_code_can_turn_welcomes_off_and_a_paused_code_falls_back_to_staff_or_default(world, corp):
    alice = corp.staff("alice")
    services.save_welcome_message(world.org, text="默认欢迎语")
    silent = services.create_channel_code(world.org, by=world.admin, name="静默", staff=[alice], welcome_enabled=False)
    corp.scan(silent)
    assert sent(corp) == []
    paused = services.create_channel_code(world.org, by=world.admin, name="暂停", staff=[alice], welcome_text="渠道欢迎语")
    services.pause_channel_code(paused, by=world.admin)
    customer = corp.sim.scan(config_id=paused.config_id)  # a friend request now: staff accept by hand
    corp.sim.accept("alice", customer["external_userid"])
    corp.run()
    assert [m["text"]["content"] for m in sent(corp)] == ["默认欢迎语"]


def test_a_relation_is_never_welcomed_twice(world, corp):
    corp.staff("alice")
    services.save_welcome_message(world.org, text="默认欢迎语")
    customer = corp.sim.add_customer("alice")
    corp.run()
    first = WelcomeSend.objects.for_org(world.org).get()
    assert first.outcome == "sent" and first.relation.customer.external_userid == customer["external_userid"]
    # Another add callback for the same friendship with a fresh welcome code (WeCom issues none on a re-add today;
    # a relation must stay welcomed once whatever it sends).
    welcome.queue_from_callback(world.org.pk, {"WelcomeCode": "ANOTHER-CODE", "UserID": "alice",
                                               "ExternalUserID": customer["external_userid"]}, timezone.now())
    corp.run()
    again = WelcomeSend.objects.for_org(world.org).exclude(pk=first.pk).get()
    assert (again.status, again.outcome, again.relation_id) == ("done", "none", None)
    assert len(sent(corp)) == 1 and corp.calls("externalcontact/send_welcome_msg") == 1
    assert TimelineEvent.objects.for_org(world.org).filter(kind="welcomed").count() == 1


def test_the_welcome_is_queued_at_receipt_and_sent_before_the_add_is_processed(world, corp):
    from siyu.core.dispatch import dispatch_once
    from siyu.wecom.models import CallbackEvent

    corp.staff("alice", "张晓")
    services.save_welcome_message(world.org, text="你好 {customer_nickname}，我是{staff_name}")
    added = corp.sim.add_customer("alice", name="排队的客户")  # the callback is stored; nothing is processed yet
    row = WelcomeSend.objects.for_org(world.org).get()
    event = CallbackEvent.objects.for_org(world.org).get(change_type="add_external_contact")
    assert (row.status, row.welcome_code, row.userid, row.external_userid) == (
        "pending", added["welcome_code"], "alice", added["external_userid"])
    assert row.deadline - row.event_at == welcome.WINDOW and row.relation_id is None
    # Only the deadline lane runs, as when the add's own processing is stuck behind a backlog.
    dispatch_once(lane0=True)
    event.refresh_from_db()
    row.refresh_from_db()
    assert event.status == "pending" and (row.status, row.outcome) == ("done", "sent")
    assert [m["text"]["content"] for m in sent(corp)] == ["你好 排队的客户，我是张晓"]  # nickname read from WeCom
    assert not TimelineEvent.objects.for_org(world.org).filter(kind="welcomed").exists()  # no relation yet
    corp.run()  # the add catches up: the send is linked to its relation and "welcomed" recorded once
    row.refresh_from_db()
    assert row.relation is not None and row.relation.customer.external_userid == added["external_userid"]
    assert TimelineEvent.objects.for_org(world.org).filter(kind="welcomed").count() == 1
    assert corp.calls("externalcontact/send_welcome_msg") == 1


def test_41050_an_expired_welcome_code_is_recorded_as_expired_not_refused(world, corp):
    corp.staff("alice")
    services.save_welcome_message(world.org, text="默认欢迎语")
    corp.sim.fail_next("externalcontact/send_welcome_msg", 41050)
    corp.sim.add_customer("alice")
    corp.run()
    row = WelcomeSend.objects.for_org(world.org).get()
    assert (row.status, row.outcome, row.errcode) == ("failed", "expired", 41050)
    assert "41050" in row.last_error and corp.calls("externalcontact/send_welcome_msg") == 1
