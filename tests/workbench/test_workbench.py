"""The guide's workbench: signing in through WeCom inside the app lands on it; a guide sees only their own
customers, tasks and figures, a store manager their stores'; today's tasks are the due, undone reminders and
follow-ups; the customer list searches and filters."""

import datetime as dt
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from siyu.cdp.models import Order
from siyu.customers.models import FollowUp
from siyu.lifecycle.models import Reminder
from siyu.sop.models import Sop, SopRun, SopStep, SopTask
from siyu.workbench import queries
from tests.customers.test_list import make_customer, make_staff
from tests.factories import client_for
from tests.wecom.signin_support import SignInCorp
from tests.wecom.test_signin import come_back, start


class Shop:
    def __init__(self, world):
        now = timezone.now()
        self.now = now
        self.zhang = make_staff(world.org, "zhangxiao", world.e1, world.guide_e1)
        self.li = make_staff(world.org, "lisi", world.e2, world.guide_e2)
        self.wang = make_customer(world.org, "王女士", self.zhang, added_at=now - timedelta(hours=2))
        self.chen = make_customer(world.org, "陈先生", self.zhang, added_at=now - timedelta(days=40), is_friend=False)
        self.zhao = make_customer(world.org, "赵小姐", self.li, added_at=now - timedelta(hours=3))
        self.due = Reminder.objects.create(org=world.org, kind=Reminder.Kind.REPURCHASE, customer=self.wang,
                                           staff=self.zhang, title="提醒王女士复购", due_at=now - timedelta(hours=1),
                                           idempotency_key="r1")
        Reminder.objects.create(org=world.org, kind=Reminder.Kind.BIRTHDAY, customer=self.wang, staff=self.zhang,
                                title="下周生日", due_at=now + timedelta(days=8), idempotency_key="r2")
        Reminder.objects.create(org=world.org, kind=Reminder.Kind.REPURCHASE, customer=self.wang, staff=self.zhang,
                                title="已完成的提醒", due_at=now - timedelta(hours=5), completed_at=now,
                                idempotency_key="r3")
        Reminder.objects.create(org=world.org, kind=Reminder.Kind.REPURCHASE, customer=self.zhao, staff=self.li,
                                title="李四的提醒", due_at=now - timedelta(hours=1), idempotency_key="r4")
        FollowUp.objects.create(org=world.org, customer=self.chen, assignee=self.zhang, text="回访陈先生",
                                due_at=now - timedelta(days=1))
        sop = Sop.objects.create(org=world.org, name="新客三步")
        step = SopStep.objects.create(org=world.org, sop=sop, day_offset=3, time_of_day=dt.time(10), text="护肤小贴士")
        run = SopRun.objects.create(org=world.org, sop=sop, customer=self.wang, staff=self.zhang, anchor_at=now, key="w")
        SopTask.objects.create(org=world.org, run=run, step=step, sop=sop, staff=self.zhang, customer=self.wang,
                               content="护肤小贴士", due_at=now - timedelta(minutes=30), idempotency_key="s1")
        Order.objects.create(org=world.org, customer=self.wang, staff=self.zhang, order_no="W-1", ordered_at=now,
                             total=Decimal("88.00"))
        Order.objects.create(org=world.org, customer=self.zhao, staff=self.li, order_no="W-2", ordered_at=now,
                             total=Decimal("50.00"))


@pytest.fixture
def shop(world):
    return Shop(world)


def test_inside_wecom_a_guide_signs_in_and_lands_on_their_own_workbench(world, shop, settings):
    corp = SignInCorp(world.org, settings)
    try:
        corp.staff("zhangxiao", "张晓", world.guide_e1)
        client = Client(HTTP_USER_AGENT="Mozilla/5.0 (iPhone) wxwork/4.1.20 MicroMessenger/7.0.1")
        landing = come_back(client, corp.choose(start(client, flow="app"), userid="zhangxiao"))
        assert landing["Location"] == "/w/"
        page = client.get("/w/").content.decode()
    finally:
        corp.close()
    assert "王女士" in page and "陈先生" in page and "赵小姐" not in page
    assert "提醒王女士复购" in page and "回访陈先生" in page and "已逾期" in page
    assert "李四的提醒" not in page and "下周生日" not in page and "已完成的提醒" not in page


def test_a_guide_cannot_reach_another_guides_customers_through_the_list(world, shop):
    client = client_for(world.guide_e1)
    listing = client.get("/w/customers/", {"q": "赵"}).content.decode()
    assert "赵小姐" not in listing and "共 0 位" in listing
    assert client.get(f"/customers/{shop.zhao.pk}/").status_code == 404


def test_the_list_searches_and_filters(world, shop):
    client = client_for(world.guide_e1)
    assert "陈先生" not in client.get("/w/customers/", {"show": "friends"}).content.decode()
    new = client.get("/w/customers/", {"show": "new"}).content.decode()
    assert "王女士" in new and ("陈先生" in new) is False
    found = client.get("/w/customers/", {"q": "王"}).content.decode()
    assert "王女士" in found and "陈先生" not in found


def test_tasks_and_figures_are_the_guides_own_and_a_manager_sees_the_stores(world, shop):
    tasks = queries.today_tasks(world.guide_e1)
    assert [t.title for t in tasks] == ["跟进 陈先生", "提醒王女士复购", "SOP：新客三步 · 王女士"]
    assert tasks[-1].url == "/m/sop/"  # one's own SOP step is sent and ticked off on the SOP phone page
    week = queries.this_week(world.guide_e1)
    assert (week.orders, week.sales) == (1, Decimal("88.00"))
    monday = queries.week_start(timezone.localtime(shop.now).date())
    assert week.adds == (1 if timezone.localtime(shop.wang.first_added_at).date() >= monday else 0)  # not 陈先生
    assert queries.this_week(world.east_manager).adds == week.adds + (
        1 if timezone.localtime(shop.zhao.first_added_at).date() >= monday else 0)

    east = queries.today_tasks(world.east_manager)
    assert {t.title for t in east} == {"跟进 陈先生", "提醒王女士复购", "李四的提醒", "SOP：新客三步 · 王女士"}
    assert {t.url for t in east} == {""}  # a manager opens the customer, not a guide's phone page
    assert queries.this_week(world.east_manager).orders == 2
    assert queries.this_week(world.s1_manager).orders == 0
