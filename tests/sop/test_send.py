"""One-click send from the mobile task page: the policy guard decides first (consent, quiet hours), and only an
included customer gets a WeCom group message, from the task's staff member, once."""

from __future__ import annotations

from datetime import UTC, datetime

from siyu.messaging.models import Decision, Send
from siyu.privacy.consent import grant_consent
from siyu.sop.models import SopTask
from tests.sop.helpers import make_sop, sign_in_with_wecom

LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)


def test_send_goes_through_the_guard_and_makes_one_group_message_from_the_guide(
        world, corp, commit, clock, settings):
    clock.attach(corp.sim)
    clock.set(datetime(2027, 3, 1, 14, 0, tzinfo=UTC))  # 22:00 in Beijing: quiet hours
    alice = corp.staff("alice", world.e1, world.guide_e1)
    make_sop(world.org, world.admin)
    clock.advance(minutes=1)
    with commit():
        customer = corp.customer(alice, "陈女士")
    task = SopTask.objects.for_org(world.org).get(customer=customer, step__day_offset=0)
    phone = sign_in_with_wecom(corp, settings, "alice", "/m/sop/?org=brand-a")
    send = f"/m/sop/tasks/{task.pk}/send/"

    page = phone.post(send, follow=True).content.decode()
    assert "未发送：未授权该用途" in page  # the guard's reason, shown to the guide
    assert corp.sim.state.msg_templates == {}

    grant_consent(customer, "marketing", by=None, source="import", at=LONG_AGO)
    page = phone.post(send, follow=True).content.decode()
    assert "免打扰时段，暂缓发送：09:00 之后再发送" in page
    assert corp.sim.state.msg_templates == {}
    decision = Decision.objects.for_org(world.org).get(customer=customer)
    assert decision.outcome == "held" and decision.send.channel == "sop"

    clock.set(datetime(2027, 3, 2, 1, 30, tzinfo=UTC))  # 09:30 in Beijing
    page = phone.post(send, follow=True).content.decode()
    assert "已创建群发" in page
    (template,) = corp.sim.state.msg_templates.values()
    assert template.sender == "alice" and template.text == {"content": "陈女士您好，欢迎礼包已为您准备好"}
    assert [r.external_userid for r in template.results] == [customer.external_userid]
    task.refresh_from_db()
    assert task.sent_at is not None and task.msgid == template.msgid
    assert Send.objects.for_org(world.org).get(kind="sop.soptask", ref_id=task.pk).sent_at is not None

    phone.post(send)  # a second tap
    assert len(corp.sim.state.msg_templates) == 1


def test_a_call_whose_answer_is_lost_is_looked_up_so_a_second_tap_makes_no_second_message(
        world, corp, commit, clock, settings):
    clock.attach(corp.sim)
    clock.set(datetime(2027, 3, 2, 2, 0, tzinfo=UTC))  # 10:00 in Beijing
    alice = corp.staff("alice", world.e1, world.guide_e1)
    make_sop(world.org, world.admin)
    clock.advance(minutes=1)
    with commit():
        customer = corp.customer(alice, "陈女士")
    grant_consent(customer, "marketing", by=None, source="import", at=LONG_AGO)
    task = SopTask.objects.for_org(world.org).get(customer=customer, step__day_offset=0)
    phone = sign_in_with_wecom(corp, settings, "alice", "/m/sop/?org=brand-a")
    # WeCom makes the message but its answer never arrives: the phone page's call times out.
    settings.WECOM_TIMEOUT = 0.5
    stall = corp.sim.stall_next("externalcontact/add_msg_template", timeout=30)
    try:
        page = phone.post(f"/m/sop/tasks/{task.pk}/send/", follow=True).content.decode()
    finally:
        stall.release.set()
    (template,) = corp.sim.state.msg_templates.values()
    assert "已创建群发" in page  # found in WeCom's list: the guide is told it was made
    task.refresh_from_db()
    assert task.sent_at is not None and task.msgid == template.msgid
    phone.post(f"/m/sop/tasks/{task.pk}/send/")  # the guide taps again
    assert len(corp.sim.state.msg_templates) == 1
