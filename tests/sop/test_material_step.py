"""A step may carry a material from the library: its tasks get the material's WeCom attachment beside the text
(a customer's task their own tracked link);
a material withdrawn before a customer enters is left out; the editor offers only HQ's approved materials."""

from __future__ import annotations

from datetime import UTC, datetime, time

from django.conf import settings

from siyu.content.models import Material, Scope
from siyu.sop.forms import approved_materials
from siyu.sop.models import SopTask
from siyu.sop.services import StepInput
from siyu.tracking.models import TrackedLink
from tests.sop.helpers import make_sop


def link_material(org, title: str, **fields) -> Material:
    return Material.objects.create(org=org, kind=Material.Kind.LINK, title=title, url="https://shop.example.com/new",
                                   summary="秋冬新品", **{"status": Material.Status.APPROVED, "scope": Scope.HQ, **fields})


def test_the_task_carries_the_materials_attachment_until_the_material_is_withdrawn(world, corp, commit, clock):
    clock.attach(corp.sim)
    clock.set(datetime(2027, 3, 1, 1, 0, tzinfo=UTC))  # 09:00 in Beijing: day 0's 20:00 step is still ahead
    alice = corp.staff("alice", world.e1, world.guide_e1)
    guide = link_material(world.org, "秋冬新品上市")
    make_sop(world.org, world.admin, steps=[StepInput(0, time(20, 0), text="欢迎！看看新品", material=guide)])
    clock.advance(minutes=1)  # customers added after the SOP was switched on enter it
    with commit():
        first = corp.customer(alice, "陈女士")
    [task] = SopTask.objects.for_org(world.org).filter(customer=first)
    # The customer's own tracked link, made for this SOP send; opening it leads on to the material's address.
    tracked = TrackedLink.objects.for_org(world.org).get(material=guide, customer=first, staff=alice, channel="sop")
    assert [(a["msgtype"], a["link"]["title"], a["link"]["url"]) for a in task.attachments] == [
        ("link", "秋冬新品上市", f"{settings.PUBLIC_URL.rstrip('/')}/t/{tracked.token}/")]

    Material.objects.for_org(world.org).filter(pk=guide.pk).update(status=Material.Status.WITHDRAWN)
    with commit():
        second = corp.customer(alice, "李先生")
    assert SopTask.objects.for_org(world.org).get(customer=second).attachments == []


def test_the_editor_offers_only_hqs_approved_materials(world):
    approved = link_material(world.org, "总部已通过")
    link_material(world.org, "草稿", status=Material.Status.DRAFT)
    link_material(world.org, "导购自己的", scope=Scope.PERSONAL, owner=world.guide_e1)
    assert list(approved_materials(world.admin)) == [approved]
