"""The archive pages: who may read which chats, an audit entry per view, search through encrypted text, personal
data masked for roles without ``pii.view``, and alerts reviewed once, audited; bad filters change nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from siyu.conversations import watch
from siyu.conversations.models import ChatAlert
from siyu.customers.models import Customer, Relation
from siyu.orgs.models import AuditEntry, Staff
from siyu.wecom.models import ChatMessage
from tests.factories import client_for

PHONE = "13912345678"


class Chats:
    def __init__(self, world):
        self.org = world.org
        self.e1_guide = Staff.objects.create(org=world.org, userid="zhangsan", name="张三", store=world.e1,
                                             membership=world.guide_e1)
        self.s1_guide = Staff.objects.create(org=world.org, userid="lisi", name="李四", store=world.s1,
                                             membership=world.guide_s1)
        self.wang = Customer.objects.create(org=world.org, external_userid="wmWang", name="王女士")
        self.zhao = Customer.objects.create(org=world.org, external_userid="wmZhao", name="赵先生")
        Relation.objects.create(org=world.org, customer=self.wang, staff=self.e1_guide)
        # 赵先生 is a friend of both guides: visible in the east, but his chat with 李四 in S1 is not.
        Relation.objects.create(org=world.org, customer=self.zhao, staff=self.s1_guide)
        Relation.objects.create(org=world.org, customer=self.zhao, staff=self.e1_guide)
        self.seq = 0
        now = timezone.now()
        self.asked = self.say(self.wang, self.e1_guide, f"我的新号码是 {PHONE}，香薰到了请通知我", now - timedelta(hours=3), True)
        self.answer = self.say(self.wang, self.e1_guide, "好的，到货第一时间联系您", now - timedelta(hours=2), False)
        self.other = self.say(self.zhao, self.s1_guide, "这个理财产品保本保收益", now - timedelta(hours=1), False)

    def say(self, customer, staff, text, at, from_customer) -> ChatMessage:
        self.seq += 1
        return ChatMessage.objects.create(
            org=self.org, msgid=f"m{self.seq}", seq=self.seq, sender=customer.external_userid if from_customer else staff.userid,
            receivers=[staff.userid if from_customer else customer.external_userid], msgtype="text", text=text,
            content={"text": {"content": text}}, sent_at=at, customer=customer, staff=staff, from_customer=from_customer)


@pytest.fixture
def chats(world):
    return Chats(world)


def views(org) -> int:
    return AuditEntry.objects.for_org(org).filter(action="conversations.viewed").count()


def test_hq_reads_every_chat_and_each_view_is_audited(world, chats):
    client = client_for(world.admin)
    page = client.get("/conversations/").content.decode()
    assert "王女士" in page and "赵先生" in page
    before = views(world.org)

    thread = client.get(f"/conversations/customer/{chats.wang.pk}/").content.decode()

    assert PHONE in thread and "到货第一时间联系您" in thread  # HQ holds pii.view
    assert thread.index("我的新号码") < thread.index("到货第一时间")  # a page reads like a chat, oldest first
    assert views(world.org) == before + 1
    entry = AuditEntry.objects.for_org(world.org).filter(action="conversations.viewed").latest("pk")
    assert entry.object_id == str(chats.wang.pk) and entry.actor == world.admin.user


def test_a_store_manager_reads_only_their_stores_chats_masked(world, chats):
    client = client_for(world.east_manager)
    listing = client.get("/conversations/").content.decode()
    assert "王女士" in listing and "赵先生" not in listing  # his only chat is with 李四 in S1

    thread = client.get(f"/conversations/customer/{chats.wang.pk}/").content.decode()
    assert "139****5678" in thread and PHONE not in thread
    assert client.get(f"/conversations/staff/{chats.s1_guide.pk}/").status_code == 404
    hidden = client.get(f"/conversations/customer/{chats.zhao.pk}/")
    assert hidden.status_code == 200 and "保本" not in hidden.content.decode()  # the customer may be visible, the other store's chat is not


def test_guides_and_other_brands_cannot_read_the_archive(world, chats):
    assert client_for(world.guide_e1).get("/conversations/").status_code == 403
    assert client_for(world.guide_e1).get(f"/conversations/customer/{chats.wang.pk}/").status_code == 403
    assert client_for(world.other_admin).get(f"/conversations/customer/{chats.wang.pk}/").status_code == 404
    assert "王女士" not in client_for(world.other_admin).get("/conversations/").content.decode()


def test_search_reads_through_the_encryption_and_is_audited(world, chats):
    client = client_for(world.admin)
    before = views(world.org)
    page = client.get("/conversations/", {"q": "香薰"}).content.decode()
    assert "找到 1 条消息" in page and '<mark class="finding finding-flag"' in page and "保本" not in page
    assert views(world.org) == before + 1
    entry = AuditEntry.objects.for_org(world.org).filter(action="conversations.viewed").latest("pk")
    assert entry.details["searched"] is True and "香薰" not in str(entry.details)


def test_bad_filters_are_a_form_error_and_read_nothing(world, chats):
    client = client_for(world.admin)
    before = views(world.org)
    answer = client.get(f"/conversations/customer/{chats.wang.pk}/", {"start": "2026-12-05", "end": "2026-12-01"})
    assert answer.status_code == 400 and "结束日期不能早于开始日期" in answer.content.decode()
    assert "香薰" not in answer.content.decode() and views(world.org) == before
    assert client.get("/conversations/", {"start": "not-a-date"}).status_code == 400


def test_an_alert_is_reviewed_once_by_a_manager_of_its_store_and_audited(world, chats):
    alert = watch.raise_alert(chats.other)  # 李四 in S1 promised returns
    assert alert.kind == ChatAlert.Kind.STAFF and alert.store == world.s1
    assert "保本" not in client_for(world.east_manager).get("/conversations/alerts/").content.decode()
    assert client_for(world.east_manager).post(f"/conversations/alerts/{alert.pk}/review/",
                                               {"decision": "confirmed"}).status_code == 404

    manager = client_for(world.s1_manager)
    page = manager.get("/conversations/alerts/").content.decode()
    assert 'data-rule="financial_claim">保本</mark>' in page
    manager.post(f"/conversations/alerts/{alert.pk}/review/", {"decision": "sideways", "note": "x"})
    assert ChatAlert.objects.for_org(world.org).get(pk=alert.pk).review == ChatAlert.Review.OPEN

    manager.post(f"/conversations/alerts/{alert.pk}/review/", {"decision": "confirmed", "note": "已约谈"})
    manager.post(f"/conversations/alerts/{alert.pk}/review/", {"decision": "dismissed"})

    alert.refresh_from_db()
    assert (alert.review, alert.review_note, alert.reviewed_by) == (ChatAlert.Review.CONFIRMED, "已约谈", world.s1_manager.user)
    [entry] = AuditEntry.objects.for_org(world.org).filter(action="conversations.alert_reviewed")
    assert entry.details == {"decision": "confirmed", "kind": "staff"}


def test_the_customer_page_links_to_the_archive_only_for_those_who_may_read_it(world, chats):
    Relation.objects.create(org=world.org, customer=chats.wang, staff=Staff.objects.create(
        org=world.org, userid="guide_e1_wecom", name="导购", store=world.e1))
    link = f'href="/conversations/customer/{chats.wang.pk}/"'
    assert link in client_for(world.admin).get(f"/customers/{chats.wang.pk}/").content.decode()
    guide_page = client_for(world.guide_e1).get(f"/customers/{chats.wang.pk}/")
    assert guide_page.status_code == 200 and link not in guide_page.content.decode()
