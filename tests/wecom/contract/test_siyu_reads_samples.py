"""Siyu's readers fed WeCom's official response samples (reference Appendix A): every field Siyu keeps is read
from the name WeCom uses, optional fields may be missing, and rule-group or personal tags stay out."""

from __future__ import annotations

import json

from siyu.customers import services as customer_services
from siyu.customers.models import Tag
from siyu.groups import services as group_services
from siyu.groups.models import GroupMember

from tests.factories import make_org

from .shapes import SAMPLES


class Replay:
    """WeCom's side of a call, answering with the official sample (the external system, not Siyu, is replayed)."""

    def post(self, path: str, body: dict) -> dict:
        return json.loads(json.dumps(SAMPLES[path.removeprefix("externalcontact/")]["response"]))


def test_externalcontact_get_sample(db):
    org = make_org()
    sample = SAMPLES["get"]["response"]
    customer = customer_services.upsert_customer(org, sample["external_contact"])
    rocky, _ = customer_services.apply_follow_info(org, customer, sample["follow_user"][0])
    tommy, _ = customer_services.apply_follow_info(org, customer, sample["follow_user"][1])
    assert (customer.name, customer.type, customer.corp_name) == ("李四", 2, "腾讯")
    assert (rocky.remark, rocky.description, rocky.add_way, rocky.oper_userid) == ("李部长", "对接采购事务", 1, "rocky")
    assert json.loads(rocky.remark_mobiles) == ["13800000001", "13000000002"]
    # one corp tag (type 1); the personal (type 2) and rule-group (type 3, st…) tags are not corp tags
    assert list(rocky.relation_tags.values_list("tag__wecom_id", flat=True)) == ["etAJ2GCAAAXtWyujaWJHDDGi0mACHAAA"]
    assert (tommy.state, tommy.add_way, tommy.relation_tags.count()) == ("外联二维码1", 3, 0)  # no "tags" key


def test_batch_get_by_user_sample(db):
    org = make_org()
    for item in SAMPLES["batch/get_by_user"]["response"]["external_contact_list"]:
        customer = customer_services.upsert_customer(org, item["external_contact"])
        customer_services.apply_follow_info(org, customer, item["follow_info"])
    assert not Tag.objects.for_org(org).filter(wecom_id__startswith="st").exists()
    assert Tag.objects.for_org(org).filter(wecom_id__startswith="et").exists()


def test_groupchat_get_sample(db):
    org = make_org()
    group = group_services.refresh_group(org, "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA", Replay())
    assert (group.name, group.owner_userid, group.notice, group.admin_userids) == (
        "销售客服群", "ZhuShengBen", "文明沟通，拒绝脏话", ["sam", "pony"])
    members = {m.userid: m for m in GroupMember.objects.for_org(org).filter(group=group)}
    assert (members["abel"].type, members["abel"].invitor_userid, members["abel"].group_nickname) == (1, "jack", "客服小张")
    customer = members["wmOgQhDgAAuXFJGwbve4g4iXknfOAAAA"]
    assert (customer.type, customer.unionid, customer.name) == (2, "ozynqsulJFCZ2z1aYeS8h-nuasdAAA", "王语嫣")


def test_get_corp_tag_list_sample(db):
    org = make_org()
    customer_services.upsert_tag_groups(org, SAMPLES["get_corp_tag_list"]["response"]["tag_group"])
    tags = dict(Tag.objects.for_org(org).values_list("wecom_id", "deleted"))
    assert tags == {"TAG_ID1": False, "TAG_ID2": True}
