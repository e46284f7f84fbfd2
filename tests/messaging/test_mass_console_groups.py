"""Mass messages to customer groups (chat_type "group") against the simulator: one task per group owner with
only that owner's groups, WeCom's receive cap counted per group by the guard, and the results per group."""

from __future__ import annotations

import re
from datetime import time, timedelta

import pytest

from siyu.groups.models import CustomerGroup
from siyu.messaging import mass, reasons
from siyu.messaging.models import MassMessage, MassTask, Policy
from tests.factories import client_for
from tests.messaging.helpers import beijing_after, set_policy
from tests.messaging.mass_helpers import Corp

pytestmark = pytest.mark.django_db
FORM = {"title": "群里上新", "text": "本周新品到店", "target": "groups", "purpose": "marketing", "when": "now",
        "audience": "filters", "att-TOTAL_FORMS": "0", "att-INITIAL_FORMS": "0", "att-MIN_NUM_FORMS": "0",
        "att-MAX_NUM_FORMS": "9"}


@pytest.fixture
def corp(world):
    corp = Corp(world.org)
    yield corp
    corp.stop()


def group(corp, owner, name: str) -> CustomerGroup:
    """A customer group in WeCom (the simulator) and in Siyu, owned by ``owner``."""
    chat_id = corp.sim.create_group(owner.userid, name, new_members=2)["chat_id"]
    return CustomerGroup.objects.create(org=corp.org, chat_id=chat_id, name=name, owner=owner,
                                        owner_userid=owner.userid)


def send(client, **fields) -> MassMessage:
    assert client.post("/messaging/mass/new/", {**FORM, **fields}).status_code == 302
    message = MassMessage.objects.for_org(client.org_id).latest("pk")
    assert client.post(f"/messaging/mass/{message.pk}/schedule/").status_code == 302
    return message


@pytest.fixture
def admin(world):
    client = client_for(world.admin)
    client.org_id = world.org.pk
    return client


def test_a_group_send_becomes_one_task_per_owner_with_only_their_groups(world, corp, admin):
    ann, bob, cat = corp.staff(3, store=world.e1)
    ann_groups = [group(corp, ann, f"上海VIP群{i}") for i in range(3)]
    bob_group = group(corp, bob, "北京VIP群")
    group(corp, cat, "员工内部群")  # cat is not chosen
    message = send(admin, group_owners=[ann.pk, bob.pk])
    corp.run()

    templates = list(corp.sim.state.msg_templates.values())
    assert sorted(t.chat_type for t in templates) == ["group", "group"]
    got = {t.sender: sorted(r.chat_id for r in t.results) for t in templates}
    assert got == {ann.userid: sorted(g.chat_id for g in ann_groups), bob.userid: [bob_group.chat_id]}
    assert all(not t.results or not any(r.external_userid for r in t.results) for t in templates)
    tasks = {t.userid: t for t in MassTask.objects.for_org(world.org).filter(message=message)}
    assert set(tasks) == {ann.userid, bob.userid} and all(t.msgid for t in tasks.values())
    assert {userid: sorted(t.chat_ids) for userid, t in tasks.items()} == got  # each names only its owner's groups
    assert all(t.fail_list == [] for t in tasks.values())


def test_the_group_name_narrows_the_groups(world, corp, admin):
    [ann] = corp.staff(1, store=world.e1)
    vip = group(corp, ann, "上海VIP群")
    group(corp, ann, "售后群")
    send(admin, group_name="VIP")
    corp.run()
    [template] = corp.sim.state.msg_templates.values()
    assert [r.chat_id for r in template.results] == [vip.chat_id]


def test_each_group_receives_at_most_its_cap_and_the_results_show_each_group(world, corp, admin):
    ann, bob = corp.staff(2, store=world.e1)
    ann_groups = [group(corp, ann, f"上海群{i}") for i in range(2)]
    bob_group = group(corp, bob, "北京群")
    set_policy(world.org, receive_rule=Policy.ReceiveRule.DAY)
    corp.sim.set_groupmsg_rule("day1")
    first = send(admin)
    corp.run()
    for msgid, template in corp.sim.state.msg_templates.items():
        if template.sender == ann.userid:
            corp.sim.confirm_groupmsg(msgid, ann.userid)
    mass.fetch_results(first)
    page = admin.get(f"/messaging/mass/{first.pk}/results/").content.decode()
    rows = re.findall(r"<tr><td>([^<]+)</td><td class=\"mono\">(\w+)</td><td>([^<]+)</td></tr>", page)
    assert sorted(rows) == sorted([("上海群0", ann.userid, "已发送"), ("上海群1", ann.userid, "已发送"),
                                   ("北京群", bob.userid, "待群主确认")])

    # The same day, a second group send: ann's groups already had their one message, bob's group had none.
    admin.post("/messaging/mass/new/", {**FORM, "title": "第二条"})
    second = MassMessage.objects.for_org(world.org).latest("pk")
    draft = admin.get(f"/messaging/mass/{second.pk}/")
    dry = draft.context["dry"]
    assert (dry.total, dry.included, dry.excluded) == (3, 1, 2)
    [row] = dry.reasons
    assert (row.code, row.count, sorted(row.examples)) == (reasons.WECOM_LIMIT, 2, ["上海群0", "上海群1"])
    admin.post(f"/messaging/mass/{second.pk}/schedule/")
    corp.run()
    made = [t for t in corp.sim.state.msg_templates.values() if t.text == {"content": "本周新品到店"}]
    assert len(made) == 3  # two from the first send, one (bob's) from the second
    second_tasks = MassTask.objects.for_org(world.org).filter(message=second)
    assert [(t.userid, t.chat_ids) for t in second_tasks] == [(bob.userid, [bob_group.chat_id])]
    report = mass.report(MassMessage.objects.for_org(world.org).get(pk=second.pk))
    assert report.excluded == {reasons.WECOM_LIMIT: 2} and report.planned == 3
    assert {c.chat_id for c in ann_groups} <= set(MassMessage.objects.for_org(world.org).get(pk=second.pk).excluded_groups)


def test_in_quiet_hours_a_group_send_waits_for_the_brands_window(world, corp, admin, clock):
    [ann] = corp.staff(1, store=world.e1)
    vip = group(corp, ann, "上海VIP群")
    set_policy(world.org, quiet_start=time(21, 0), quiet_end=time(9, 0), timezone="Asia/Shanghai")
    evening = beijing_after(clock.now(), 22)
    clock.set(evening)
    admin.post("/messaging/mass/new/", FORM)
    message = MassMessage.objects.for_org(world.org).latest("pk")
    dry = admin.get(f"/messaging/mass/{message.pk}/").context["dry"]
    assert (dry.total, dry.included, dry.held, dry.excluded) == (1, 0, 1, 0)
    assert [(row.code, row.outcome) for row in dry.reasons] == [(reasons.QUIET_HOURS, "held")]
    admin.post(f"/messaging/mass/{message.pk}/schedule/")
    corp.run()
    assert not corp.sim.state.msg_templates  # nobody is woken at 22:00
    assert mass.report(message).held == 1
    assert "免打扰" in admin.get(f"/messaging/mass/{message.pk}/results/").content.decode()

    clock.set(evening + timedelta(hours=11))  # 09:00 the next morning
    corp.run()
    [template] = corp.sim.state.msg_templates.values()
    assert (template.sender, [r.chat_id for r in template.results]) == (ann.userid, [vip.chat_id])
    assert mass.report(message).held == 0


def test_a_group_send_that_would_wait_past_the_staleness_limit_is_dropped(world, corp, admin, clock):
    [ann] = corp.staff(1, store=world.e1)
    group(corp, ann, "上海VIP群")
    set_policy(world.org, quiet_start=time(21, 0), quiet_end=time(9, 0), timezone="Asia/Shanghai", stale_after_hours=6)
    clock.set(beijing_after(clock.now(), 22))  # 11 hours before the window opens
    send(admin)
    corp.run()
    assert not corp.sim.state.msg_templates
    message = MassMessage.objects.for_org(world.org).latest("pk")
    assert mass.report(message).excluded == {reasons.STALE: 1}
