"""The demo brand's SOPs: a new-customer SOP under way for a guide's customers (tasks overdue, today and to come,
one done) and a group SOP not yet switched on. Idempotent: skipped once the brand has an SOP."""

from __future__ import annotations

from datetime import time, timedelta

from django.utils import timezone

from siyu.content.models import Script
from siyu.core import clock
from siyu.customers.models import Relation
from siyu.orgs.models import Membership
from siyu.sop import enrollment, services
from siyu.sop.models import Sop, SopTask
from siyu.sop.services import StepInput

CUSTOMERS = 4


def load_sop_demo(org) -> None:
    if Sop.objects.for_org(org).exists():
        return
    hq = Membership.objects.for_org(org).get(user__username="demo_hq")
    guide = Membership.objects.for_org(org).get(user__username="demo_guide_sh01")
    welcome = Script.objects.for_org(org).filter(title="欢迎语", status=Script.Status.APPROVED).first()
    sop = services.save_sop(org, by=hq, name="新客 7 天", trigger=Sop.Trigger.ADDED, steps=[
        StepInput(0, time(20, 0), script=welcome, text="" if welcome else "{客户称呼}您好，欢迎礼包已为您准备好"),
        StepInput(3, time(10, 0), text="{客户称呼}，分享一个小技巧：羊毛衫冷水手洗、平铺晾干，不容易变形。"),
        StepInput(7, time(10, 0), text="{客户称呼}，送您一张 50 元新客券，本周内到{门店}使用。"),
    ])
    services.set_active(sop, True, by=hq)
    services.save_sop(org, by=hq, name="新群三天", trigger=Sop.Trigger.GROUP_CREATED, steps=[
        StepInput(0, time(10, 0), text="欢迎大家进群！群公告里有新人福利，有问题随时@我。"),
        StepInput(2, time(20, 0), text="今晚八点群内直播新品，记得来看看～"),
    ])
    relations = (Relation.objects.for_org(org).filter(staff__membership=guide, status=Relation.Status.ACTIVE)
                 .select_related("customer", "staff").order_by("pk")[:CUSTOMERS])
    now = clock.now()
    for n, relation in enumerate(relations):
        # Added 0, 3, 5 and 8 days ago: the calendar has something every few days and the guide has tasks today.
        anchor = now - timedelta(days=(0, 3, 5, 8)[n], hours=1)
        enrollment.start_run(sop, key=f"demo:{relation.pk}", staff=relation.staff, anchor_at=anchor,
                             customer=relation.customer)
    first = SopTask.objects.for_org(org).filter(sop=sop, due_at__lte=now).order_by("due_at").first()
    if first is not None:
        services.complete_task(first, by=guide)
    SopTask.objects.for_org(org).filter(sop=sop, due_at__lte=now).update(notified_at=timezone.now())
