"""A group SOP: a customer group created in WeCom starts it, its steps go to the group's owner, the one-click send
makes a group message to that group, and dismissing the group stops it."""

from __future__ import annotations

from datetime import time

from siyu.core.dispatch import dispatch_once
from siyu.groups import services as group_services
from siyu.sop import enrollment
from siyu.sop.models import SopRun, SopTask
from siyu.sop.services import StepInput
from tests.sop.helpers import make_sop, sign_in_with_wecom

STEPS = [StepInput(0, time(10, 0), text="欢迎大家进群，群公告里有新人福利"), StepInput(1, time(10, 0), text="今晚八点群内直播")]


def test_a_new_group_gives_its_owner_the_steps_and_sends_to_the_group(world, corp, commit, clock, settings):
    clock.attach(corp.sim)
    alice = corp.staff("alice", world.e1, world.guide_e1)
    corp.staff("bob", world.e2, world.guide_e2)
    with commit():
        customer = corp.customer(alice, "群成员")
    make_sop(world.org, world.admin, name="新群三天", trigger="group_created", steps=STEPS)
    clock.advance(minutes=1)
    chat_id = corp.sim.create_group("alice", name="VIP 福利群", members=[customer.external_userid], staff=["bob"])["chat_id"]
    with commit(), corp.client() as client:
        group = group_services.refresh_group(world.org, chat_id, client)
    tasks = list(SopTask.objects.for_org(world.org).order_by("due_at"))
    assert [(t.group, t.staff, t.customer) for t in tasks] == [(group, alice, None)] * 2
    clock.advance(days=2)
    dispatch_once()
    cards = [m for m in corp.sim.messages("alice") if m["content"]["title"].startswith("SOP")]
    assert len(cards) == 2 and "VIP 福利群" in cards[0]["content"]["description"]
    assert not [m for m in corp.sim.messages("bob") if m["content"]["title"].startswith("SOP")]

    phone = sign_in_with_wecom(corp, settings, "alice", "/m/sop/?org=brand-a")
    assert "VIP 福利群" in phone.get("/m/sop/").content.decode()
    phone.post(f"/m/sop/tasks/{tasks[0].pk}/send/")
    (template,) = corp.sim.state.msg_templates.values()
    assert template.chat_type == "group" and template.sender == "alice"
    assert template.text == {"content": "欢迎大家进群，群公告里有新人福利"}

    group_services.dismiss_group(world.org, chat_id)
    enrollment.sweep(world.org)
    assert SopRun.objects.for_org(world.org).get().stop_reason == "group_dismissed"
    assert "VIP 福利群" not in phone.get("/m/sop/").content.decode()
