"""Loss alerts: who is told, with what history, the console list and its visibility, and the loss report."""

from __future__ import annotations

from decimal import Decimal

from django.urls import reverse
from django.utils import timezone

from siyu.cdp.models import Product
from siyu.cdp.services import Line, record_order
from siyu.core.dispatch import dispatch_once
from siyu.lifecycle import loss
from siyu.lifecycle.models import LossAlert, LossNotice
from siyu.orgs.models import AuditEntry
from tests.factories import client_for


def test_a_customer_deleting_their_guide_alerts_the_guide_and_the_store_manager_with_history(world, corp, commit):
    alice = corp.staff("alice", world.e1, world.guide_e1)
    manager = corp.staff("mgr_east", world.east, world.east_manager)  # manages the east region, e1 included
    corp.staff("mgr_s1", world.s1, world.s1_manager)  # another region's manager: not told
    (vip,) = corp.tags("高价值")
    product = Product.objects.create(org=world.org, sku="P", name="香薰蜡烛", price=Decimal("128"))
    with commit():
        customer = corp.customer(alice, "刘女士")
        record_order(world.org, customer, [Line(product, 2)], timezone.now(), "pos")
    from siyu.customers.models import Relation
    from siyu.customers.tagging import tag_relation

    relation = Relation.objects.for_org(world.org).get(customer=customer)
    with corp.client() as client:
        tag_relation(relation, [vip], source="manual", client=client)
    corp.message(customer, "蜡烛味道太淡了")

    with commit():
        corp.customer_deletes(customer, alice)
    alert = LossAlert.objects.for_org(world.org).get()
    assert alert.reason == "deleted_by_customer" and alert.staff == alice and alert.store == world.e1
    history = alert.history
    assert history["customer"] == "刘女士" and history["orders"] == 1 and history["spent"] == "256.00"
    assert history["tags"] == ["高价值"] and history["messages"][-1]["text"] == "蜡烛味道太淡了"
    assert history["stage"] == "新客户"
    assert set(LossNotice.objects.for_org(world.org).values_list("recipient__userid", flat=True)) == {"alice", "mgr_east"}

    dispatch_once()
    for userid in ("alice", "mgr_east"):
        (message,) = corp.sim.messages(userid)
        assert "刘女士" in message["content"]["title"] and "客户删除员工" in message["content"]["description"]
        assert message["content"]["url"].endswith(reverse("lifecycle:loss_detail", args=[alert.pk]))
    assert corp.sim.messages("mgr_s1") == []

    # The same ending delivered again makes no second alert.
    with commit():
        loss.record_loss(Relation.objects.for_org(world.org).get(pk=relation.pk), "deleted_by_customer")
    assert LossAlert.objects.for_org(world.org).count() == 1


def test_alert_pages_follow_visibility_and_record_the_cause(world, corp, commit):
    alice = corp.staff("alice", world.e1, world.guide_e1)
    sam = corp.staff("sam", world.s1, world.guide_s1)
    with commit():
        a, b = corp.customer(alice, "甲客户"), corp.customer(sam, "乙客户")
        corp.staff_deletes(alice, a)
        corp.customer_deletes(b, sam)
    mine = LossAlert.objects.for_org(world.org).get(customer=a)
    guide = client_for(world.guide_e1)
    page = guide.get(reverse("lifecycle:alerts")).content.decode()
    assert "甲客户" in page and "乙客户" not in page
    theirs = LossAlert.objects.for_org(world.org).get(customer=b)
    assert guide.get(reverse("lifecycle:loss_detail", args=[theirs.pk])).status_code == 404
    assert client_for(world.other_admin).get(reverse("lifecycle:loss_detail", args=[mine.pk])).status_code == 404
    answer = guide.post(reverse("lifecycle:loss_detail", args=[mine.pk]), {"cause": "bogus"})
    assert answer.status_code == 400
    answer = guide.post(reverse("lifecycle:loss_detail", args=[mine.pk]), {"cause": "price", "note": "嫌贵"})
    assert answer.status_code == 302
    mine.refresh_from_db()
    assert mine.cause == "price" and mine.handled_by == world.guide_e1.user
    assert AuditEntry.objects.for_org(world.org).filter(action="loss_alert.handled").count() == 1

    report = loss.report(world.admin)
    assert report["total"] == 2
    assert {r["label"] for r in report["by_reason"]} == {"员工删除客户", "客户删除员工"}
    assert sorted(r["n"] for r in report["by_store"]) == [1, 1] and len(report["by_staff"]) == 2
    assert loss.report(world.east_manager)["total"] == 1
    assert "价格" in {r["label"] for r in report["by_cause"]}


def test_a_transfer_is_not_a_loss(world, corp, commit):
    from siyu.customers import services as customer_services

    alice = corp.staff("alice", world.e1)
    with commit():
        customer = corp.customer(alice)
        customer_services.relation_ended(world.org, userid="alice", external_userid=customer.external_userid,
                                         status="transferred")
    assert not LossAlert.objects.for_org(world.org).exists()
