"""Siyu against the parts of WeCom that differ from a naive reading of the API: tag lists without a "tags" key,
rule-group tag ids, a shuffle of every tag group, and member callbacks that carry only UserID/Department."""

import time

import pytest

from siyu.customers.models import Relation, RelationTag, Tag, TagGroup
from siyu.customers import services as customer_services
from siyu.orgs.models import Staff
from siyu.wecom.simulator import SimClock
from tests.factories import make_org
from tests.wecom.live import siyu_view, sim_view, wire


@pytest.fixture
def wired(db, settings):
    settings.WECOM_BACKOFF_BASE, settings.WECOM_BACKOFF_MAX = 0.001, 0.01
    wiring, stop = wire(make_org())
    yield wiring
    stop()


def test_removing_a_customers_last_tag_in_wecom_reaches_siyu(wired):
    sim, org = wired.sim, wired.org
    sim.add_staff("zhangsan", "张三")
    ext = sim.add_customer("zhangsan", name="王女士")["external_userid"]
    vip = sim.admin_add_tags(["VIP"], group_name="等级")["tags"][0]["id"]
    sim.staff_edits_customer("zhangsan", ext, add_tags=[vip])
    wired.process()
    relation = Relation.objects.for_org(org).get(customer__external_userid=ext)
    assert list(relation.relation_tags.values_list("tag__wecom_id", flat=True)) == [vip]

    sim.staff_edits_customer("zhangsan", ext, remove_tags=[vip])  # the follow_user now has no "tags" key
    wired.process()

    assert not RelationTag.objects.for_org(org).filter(relation=relation).exists()
    assert siyu_view(org) == sim_view(sim)


def test_rule_group_ids_are_not_made_into_corp_tags(db):
    org = make_org()
    # Appendix A batch/get_by_user.response: tag_id lists hold rule-group (st…) ids next to corp tags.
    contact = {"external_userid": "wmAAAA", "name": "李四", "type": 1}
    customer = customer_services.upsert_customer(org, contact)
    info = {"userid": "rocky", "createtime": 1525779812, "add_way": 1,
            "tag_id": ["etAJ2GCAAAXtWyujaWJHDDGi0mACHAAA", "stJHDDGi0mAGi0mACHBBByujaW"]}
    relation, _ = customer_services.apply_follow_info(org, customer, info)
    assert list(relation.relation_tags.values_list("tag__wecom_id", flat=True)) == ["etAJ2GCAAAXtWyujaWJHDDGi0mACHAAA"]
    assert not Tag.objects.for_org(org).filter(wecom_id__startswith="st").exists()


def test_a_shuffle_without_id_rereads_every_tag_group(wired):
    sim, org = wired.sim, wired.org
    first = sim.admin_add_tags(["a"], group_name="甲")["group_id"]
    second = sim.admin_add_tags(["b"], group_name="乙")["group_id"]
    wired.process()
    sim.admin_reorder_tag_groups([second, first])  # one shuffle callback with an empty Id
    wired.process()
    orders = dict(TagGroup.objects.for_org(org).values_list("wecom_id", "order"))
    assert orders[second] > orders[first]


def test_member_callbacks_with_only_userid_and_department_keep_what_siyu_knows(wired):
    sim, org = wired.sim, wired.org
    sim.set_limits(callback_set_after_2022_08_15=False)
    sim.add_staff("zhangsan", "张三", position="店长")
    wired.process()
    sim.set_limits(callback_set_after_2022_08_15=True)  # doc 90970: UserID and Department only
    shop = sim.add_department("门店")["id"]
    sim.update_staff("zhangsan", department=[shop], position="区域经理")
    wired.process()
    staff = Staff.objects.for_org(org).get(userid="zhangsan")
    assert (staff.name, staff.position, staff.department_ids) == ("张三", "店长", [shop])


def test_a_brief_84061_right_after_an_add_is_retried_within_the_welcome_window(db, settings):
    settings.WECOM_BACKOFF_BASE, settings.WECOM_BACKOFF_MAX = 0.001, 0.01
    wired, stop = wire(make_org(), clock=SimClock(frozen=True))  # WeCom's time moves only when told to
    sim, org = wired.sim, wired.org
    sim.set_limits(not_contact_after_add=1)  # unverified community report, modelled as a switch
    sim.add_staff("zhangsan", "张三")
    ext = sim.add_customer("zhangsan", name="王女士")["external_userid"]
    wired.process()
    assert not Relation.objects.for_org(org).filter(customer__external_userid=ext).exists()
    sim.advance(1)
    time.sleep(1.1)  # the retry is due a second later on the dispatcher's clock
    wired.process()
    assert Relation.objects.for_org(org).get(customer__external_userid=ext).status == Relation.Status.ACTIVE
    stop()
