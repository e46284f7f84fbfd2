"""A whole story driven through the simulator: after every step Siyu's rows equal WeCom's state, and
delivering every callback twice changes nothing."""

import pytest

from siyu.customers.models import Customer, Relation, TimelineEvent
from siyu.groups.models import CustomerGroup
from siyu.wecom.client import WeComClient
from siyu.wecom.models import ApiCall, CallbackEvent
from tests.factories import make_org
from tests.wecom.live import siyu_view, sim_view, wire


@pytest.fixture(params=[False, True], ids=["once", "twice"])
def wired(request, db, settings):
    settings.WECOM_BACKOFF_BASE, settings.WECOM_BACKOFF_MAX = 0.001, 0.01
    wiring, stop = wire(make_org(), duplicate_deliveries=request.param)
    yield wiring
    stop()


def step(wired):
    wired.process()
    assert siyu_view(wired.org) == sim_view(wired.sim)


def test_customer_and_group_story(wired):
    sim, org = wired.sim, wired.org
    sim.add_staff("zhangsan", name="张三")
    sim.add_staff("lisi", name="李四")
    step(wired)

    client = WeComClient.for_org(org)
    way = client.post("externalcontact/add_contact_way", {"type": 2, "scene": 2, "state": "poster01", "user": ["zhangsan"]})
    scanned = sim.scan(state="poster01", name="王女士")
    ext = scanned["external_userid"]
    step(wired)
    relation = Relation.objects.for_org(org).get(customer__external_userid=ext)
    assert (relation.staff.userid, relation.state, relation.status) == ("zhangsan", "poster01", "active")
    assert Customer.objects.for_org(org).get(external_userid=ext).name == "王女士"
    assert way["config_id"]

    tags = sim.admin_add_tags(["VIP", "香薰"], group_name="兴趣")
    step(wired)
    sim.staff_edits_customer("zhangsan", ext, remark="老客户", add_tags=[t["id"] for t in tags["tags"]])
    step(wired)
    relation.refresh_from_db()
    assert relation.remark == "老客户"

    second = sim.add_customer("lisi", name="赵先生")["external_userid"]
    step(wired)

    sim.chat(ext, "请问这款香薰还有货吗", userid="zhangsan")  # archived messages are fetched by the archive job
    sim.customer_deletes_staff(ext, "zhangsan")
    step(wired)
    relation.refresh_from_db()
    assert relation.status == Relation.Status.DELETED_BY_CUSTOMER
    assert not Customer.objects.for_org(org).get(external_userid=ext).is_friend

    group = sim.create_group("lisi", name="香薰爱好者群", members=[second])
    step(wired)
    sim.join_group(group["chat_id"], external_userid=ext, via="qr")
    step(wired)
    assert TimelineEvent.objects.for_org(org).filter(customer__external_userid=ext, kind="joined_group").count() == 1
    sim.dismiss_group(group["chat_id"])
    step(wired)
    assert CustomerGroup.objects.for_org(org).get(chat_id=group["chat_id"]).status == CustomerGroup.Status.DISMISSED

    sim.remove_staff("lisi")
    step(wired)

    distinct_events = {d["xml"] for d in sim.delivery_log()}
    assert CallbackEvent.objects.for_org(org).filter(status="done").count() == len(distinct_events)
    assert not CallbackEvent.objects.for_org(org).exclude(status="done").exists()
    kinds = list(TimelineEvent.objects.for_org(org).filter(customer__external_userid=ext).order_by("occurred_at", "id").values_list("kind", flat=True))
    assert kinds.count("added") == 1 and kinds.count("deleted_by_customer") == 1 and kinds.count("tagged") == 2


def test_duplicate_deliveries_are_stored_once(db, settings):
    settings.WECOM_BACKOFF_BASE, settings.WECOM_BACKOFF_MAX = 0.001, 0.01
    wired, stop = wire(make_org(), duplicate_deliveries=True)
    try:
        wired.sim.add_staff("zhangsan")
        for n in range(3):
            wired.sim.add_customer("zhangsan", name=f"客户{n}")
        log = wired.sim.delivery_log()
        assert len(log) == 8 and sum(1 for d in log if d["copy_of"]) == 4  # 4 events, each delivered twice
        assert CallbackEvent.objects.for_org(wired.org).count() == 4
        wired.process()
        assert Relation.objects.for_org(wired.org).filter(status="active").count() == 3
        assert TimelineEvent.objects.for_org(wired.org).filter(kind="added").count() == 3
    finally:
        stop()


def test_token_expiry_mid_run_is_recovered_without_a_failed_event(db, settings):
    settings.WECOM_BACKOFF_BASE, settings.WECOM_BACKOFF_MAX = 0.001, 0.01
    wired, stop = wire(make_org())
    try:
        wired.sim.add_staff("zhangsan")
        wired.sim.add_customer("zhangsan", name="甲")
        wired.process()
        wired.sim.expire_tokens()
        wired.sim.add_customer("zhangsan", name="乙")
        wired.process()
        assert not CallbackEvent.objects.for_org(wired.org).exclude(status="done").exists()
        assert ApiCall.objects.for_org(wired.org).filter(errcode=42001).count() == 1
        assert ApiCall.objects.for_org(wired.org).filter(endpoint="gettoken").count() == 2
        assert siyu_view(wired.org) == sim_view(wired.sim)
    finally:
        stop()


def test_phone_numbers_noted_in_wecom_are_searchable(db, settings):
    from siyu.customers.models import Customer, CustomerPhone
    from siyu.privacy.fields import blind_lookup

    settings.WECOM_BACKOFF_BASE, settings.WECOM_BACKOFF_MAX = 0.001, 0.01
    wired, stop = wire(make_org())
    try:
        wired.sim.add_staff("zhangsan")
        ext = wired.sim.add_customer("zhangsan", name="钱女士")["external_userid"]
        wired.sim.staff_edits_customer("zhangsan", ext, remark="钱女士", remark_mobiles=["13912345678"])
        wired.sim.staff_edits_customer("zhangsan", ext, remark="钱女士 VIP")  # a change that calls back
        wired.process()
        found = CustomerPhone.objects.for_org(wired.org).filter(blind_lookup(CustomerPhone, "phone", "139-1234-5678"))
        assert [p.customer.external_userid for p in found] == [ext]
        assert Customer.objects.for_org(wired.org).get(external_userid=ext).name == "钱女士"
    finally:
        stop()
