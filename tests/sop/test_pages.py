"""The console pages: the editor (steps as a list form; bad input is a form error and writes nothing), the list,
the calendar of what is due and the completion report, each scoped to what the viewer may see."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from siyu.content.models import Script
from siyu.customers.models import Tag
from siyu.orgs.models import AuditEntry
from siyu.sop import services
from siyu.sop.models import Sop, SopStep, SopTask
from tests.factories import client_for
from tests.sop.helpers import make_sop


def form(name="新客 7 天", trigger="added", steps=(), **extra) -> dict:
    data = {"name": name, "trigger": trigger, "steps-TOTAL_FORMS": str(len(steps) + 1), "steps-INITIAL_FORMS": "0",
            "steps-MIN_NUM_FORMS": "0", "steps-MAX_NUM_FORMS": "20", **extra}
    for n, (day, at, text, *script) in enumerate(steps):
        data.update({f"steps-{n}-day_offset": str(day), f"steps-{n}-time_of_day": at, f"steps-{n}-text": text,
                     f"steps-{n}-script": str(script[0]) if script else ""})
    return data


@pytest.fixture
def approved(world):
    return Script.objects.create(org=world.org, title="使用技巧", body="{客户称呼}，洁面后三分钟内保湿效果最好",
                                 status=Script.Status.APPROVED)


def test_an_sop_is_written_as_a_list_of_steps_with_a_library_script(world, approved):
    client = client_for(world.admin)
    assert client.get("/sop/new/").status_code == 200
    answer = client.post("/sop/new/", form(steps=[(0, "20:00", "欢迎礼包已备好"), (3, "10:00", "", approved.pk),
                                                   (7, "10:00", "专属优惠券")]))
    assert answer.status_code == 302
    sop = Sop.objects.for_org(world.org).get()
    steps = list(SopStep.objects.for_org(world.org).filter(sop=sop).values_list("day_offset", "text", "script"))
    assert steps == [(0, "欢迎礼包已备好", None), (3, "", approved.pk), (7, "专属优惠券", None)]
    assert AuditEntry.objects.filter(org=world.org, action="sop.created").exists()
    page = client.get(f"/sop/{sop.pk}/").content.decode()
    assert "欢迎礼包已备好" in page and "专属优惠券" in page
    assert client.post(f"/sop/{sop.pk}/active/", {"active": "1"}).status_code == 302
    sop.refresh_from_db()
    assert sop.is_active and sop.active_since is not None
    assert "新客 7 天" in client.get("/sop/").content.decode()


@pytest.mark.parametrize(("data", "field_error"), [
    (form(name="", steps=[(0, "10:00", "你好")]), "请填写此项"),
    (form(steps=[]), "至少添加一个步骤"),
    (form(trigger="tag_added", steps=[(0, "10:00", "你好")]), "“打上标签后”需要选择一个标签"),
    (form(trigger="date", steps=[(0, "10:00", "你好")]), "“指定日期”需要填写日期"),
    (form(steps=[(-1, "10:00", "你好")]), "不能小于 0"),
    (form(steps=[(0, "25:00", "你好")]), "请输入有效的时间"),
    (form(steps=[(0, "10:00", "")]), "请选择话术或填写内容"),
    (form(steps=[(0, "10:00", "您的{优惠码}已到账")]), "未知变量：优惠码"),
    (form(steps=[(0, "10:00", "国家级品质，全网最低价")]), "内容含禁用词：国家级、全网最低价"),
    (form(trigger="nonsense", steps=[(0, "10:00", "你好")]), "不在可选范围内"),
])
def test_bad_input_is_a_form_error_and_writes_nothing(world, data, field_error):
    answer = client_for(world.admin).post("/sop/new/", data)
    assert answer.status_code == 400
    assert field_error in answer.content.decode()
    assert not Sop.objects.for_org(world.org).exists() and not SopStep.objects.for_org(world.org).exists()


def test_another_brands_tag_or_an_unapproved_script_cannot_be_chosen(world):
    foreign = Tag.objects.create(org=world.other_org, name="别家标签")
    draft = Script.objects.create(org=world.org, title="草稿", body="未审核的话术")
    client = client_for(world.admin)
    for data in (form(trigger="tag_added", trigger_tag=str(foreign.pk), steps=[(0, "10:00", "你好")]),
                 form(steps=[(0, "10:00", "", draft.pk)])):
        answer = client.post("/sop/new/", data)
        assert answer.status_code == 400 and "所选项已不可用" in answer.content.decode()
    assert not Sop.objects.for_org(world.org).exists()


def test_an_sop_without_steps_cannot_be_switched_on(world):
    sop = make_sop(world.org, world.admin, active=False)
    SopStep.objects.for_org(world.org).delete()
    client_for(world.admin).post(f"/sop/{sop.pk}/active/", {"active": "1"})
    sop.refresh_from_db()
    assert not sop.is_active


def test_guides_cannot_open_the_editor(world):
    client = client_for(world.guide_e1)
    assert client.get("/sop/").status_code == 403
    assert client.post("/sop/new/", form(steps=[(0, "10:00", "你好")])).status_code == 403
    assert not Sop.objects.for_org(world.org).exists()


def test_calendar_and_report_show_what_is_due_to_whom(world, corp, commit, clock):
    clock.attach(corp.sim)
    clock.set(datetime(2027, 3, 1, 1, 0, tzinfo=UTC))  # Monday 09:00 in Beijing
    alice = corp.staff("alice", world.e1, world.guide_e1)
    bob = corp.staff("bob", world.e2, world.guide_e2)
    sop = make_sop(world.org, world.admin)
    clock.advance(minutes=1)
    with commit():
        corp.customer(alice, "A女士")
        corp.customer(bob, "B先生")
    week = client_for(world.admin).get("/sop/calendar/?view=week&start=2027-03-03").content.decode()
    monday = week.split('data-day="2027-03-01"')[1].split("</section>")[0]
    thursday = week.split('data-day="2027-03-04"')[1].split("</section>")[0]
    assert "A女士" in monday and "B先生" in monday and "A女士" in thursday
    month = client_for(world.admin).get("/sop/calendar/?view=month&start=2027-03-01").content.decode()
    assert 'data-day="2027-03-08"' in month and month.count("A女士") == 3
    guide_week = client_for(world.guide_e1).get("/sop/calendar/?view=week&start=2027-03-01").content.decode()
    assert "A女士" in guide_week and "B先生" not in guide_week

    task = SopTask.objects.for_org(world.org).get(staff=alice, step__day_offset=0)
    services.complete_task(task, by=world.guide_e1)
    clock.set(datetime(2027, 3, 4, 3, 0, tzinfo=UTC))
    report = client_for(world.admin).get(f"/sop/{sop.pk}/report/")
    rows = report.content.decode()
    steps = rows.split('data-testid="report-steps"')[1].split("</table>")[0]
    assert "<td>D0 20:00</td><td>2</td><td>1</td><td>0</td><td>1</td><td>0</td><td>50%</td>" in steps
    assert "<td>D3 10:00</td><td>2</td><td>0</td><td>0</td><td>2</td><td>0</td><td>0%</td>" in steps
    staff = rows.split('data-testid="report-staff"')[1].split("</table>")[0]
    assert "<td>员工alice</td><td>3</td><td>1</td>" in staff and "<td>员工bob</td><td>3</td><td>0</td>" in staff
    assert client_for(world.guide_e1).get(f"/sop/{sop.pk}/report/").status_code == 403
    manager = client_for(world.east_manager).get(f"/sop/{sop.pk}/report/").content.decode()
    assert "员工alice" in manager and "员工bob" in manager  # both stores are in the east region


def test_a_step_can_carry_a_link_card_checked_like_every_attachment(world):
    client = client_for(world.admin)
    good = form(steps=[(7, "10:00", "送您一张优惠券")])
    good.update({"steps-0-link_title": "领取优惠券", "steps-0-link_url": "https://shop.example.com/coupon"})
    assert client.post("/sop/new/", good).status_code == 302
    step = SopStep.objects.for_org(world.org).get()
    assert step.attachments == [{"msgtype": "link", "link": {"title": "领取优惠券", "url": "https://shop.example.com/coupon"}}]
    page = client.get(f"/sop/{step.sop_id}/").content.decode()
    assert 'value="https://shop.example.com/coupon"' in page
    bad = form(name="坏链接", steps=[(7, "10:00", "送您一张优惠券")])
    bad.update({"steps-0-link_title": "领取优惠券", "steps-0-link_url": "javascript:alert(1)"})
    answer = client.post("/sop/new/", bad)
    assert answer.status_code == 400 and "跳转地址必须是 http(s) 链接" in answer.content.decode()
    half = form(name="半个链接", steps=[(7, "10:00", "送您一张优惠券")])
    half.update({"steps-0-link_title": "领取优惠券"})
    answer = client.post("/sop/new/", half)
    assert answer.status_code == 400 and "链接的标题和地址要一起填写" in answer.content.decode()
    assert Sop.objects.for_org(world.org).count() == 1
