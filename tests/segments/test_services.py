"""Segment services: field-level validation, membership history across refreshes, the Excel export, and the sync
to a WeCom corp tag against the simulator (members tagged, leavers untagged)."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from openpyxl import load_workbook

from siyu.cdp.models import Person
from siyu.core.jobs import run_job
from siyu.customers.models import Relation, Tag
from siyu.segments import services
from siyu.segments.models import Segment, SegmentMembership
from tests.customers.test_tags import corp  # noqa: F401  (the simulator-connected brand fixture)
from tests.factories import client_for

pytestmark = pytest.mark.django_db


def vip_rule(amount=100):
    return {"op": "and", "rules": [{"type": "trait", "field": "total_spend", "operator": "gt", "value": amount}]}


def test_bad_rules_are_refused_field_by_field_and_nothing_is_saved(world):
    tag = Tag.objects.create(org=world.other_org, name="别家的标签")
    bad = {"op": "and", "rules": [
        {"type": "trait", "field": "total_spend", "operator": "contains", "value": "x"},
        {"op": "or", "rules": [{"type": "event", "event": "", "did": "at_least", "count": -1, "days": 7}]},
        {"type": "tags", "match": "any", "tags": [tag.pk]},
    ]}
    with pytest.raises(ValidationError) as caught:
        services.create_segment(world.org, name="坏条件", rule=bad, by=world.admin)
    errors = caught.value.message_dict
    assert set(errors) == {"rule.rules.0.operator", "rule.rules.1.rules.0.event", "rule.rules.1.rules.0.count",
                           "rule.rules.2.tags"}
    assert not Segment.objects.filter(org=world.org).exists()


def test_a_guide_may_not_create_segments(world):
    with pytest.raises(Exception) as caught:
        services.create_segment(world.org, name="导购的人群", rule=vip_rule(), by=world.guide_e1)
    assert "segments.manage" in str(caught.value)


def test_refresh_keeps_who_entered_and_left_and_when(world):
    rich = Person.objects.create(org=world.org, total_spend=500)
    poor = Person.objects.create(org=world.org, total_spend=50)
    Person.objects.create(org=world.org, total_spend=900, merged_into=rich)
    segment = services.create_segment(world.org, name="高消费", rule=vip_rule(), by=world.admin)
    assert set(services.current_members(segment).values_list("pk", flat=True)) == {rich.pk}

    Person.objects.filter(pk=poor.pk).update(total_spend=200)
    Person.objects.filter(pk=rich.pk).update(total_spend=10)
    assert services.refresh_segment(segment) == {"entered": 1, "left": 1, "members": 1}
    Person.objects.filter(pk=rich.pk).update(total_spend=1000)
    services.refresh_segment(segment)

    spans = list(SegmentMembership.objects.filter(segment=segment).order_by("pk").values_list("person_id", "left_at"))
    assert [(p, left is not None) for p, left in spans] == [(rich.pk, True), (poor.pk, False), (rich.pk, False)]
    segment.refresh_from_db()
    assert segment.member_count == 2


def test_a_segment_of_a_segment_reads_its_saved_members(world):
    rich = Person.objects.create(org=world.org, total_spend=500, traits={"city": "上海"})
    Person.objects.create(org=world.org, total_spend=500, traits={"city": "北京"})
    vip = services.create_segment(world.org, name="高消费", rule=vip_rule(), by=world.admin)
    shanghai = services.create_segment(world.org, name="上海高消费", by=world.admin, rule={"op": "and", "rules": [
        {"type": "segment", "segment": vip.pk},
        {"type": "trait", "field": "traits.city", "operator": "eq", "value": "上海"}]})
    assert list(services.current_members(shanghai).values_list("pk", flat=True)) == [rich.pk]
    with pytest.raises(ValidationError):
        services.delete_segment(vip, by=world.admin)  # still referred to
    with pytest.raises(ValidationError):
        services.update_segment(vip, name="高消费", refresh="daily", by=world.admin,
                                rule={"op": "and", "rules": [{"type": "segment", "segment": vip.pk}]})


def test_export_writes_the_current_members(world, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    Person.objects.create(org=world.org, total_spend=500, name="张三丰")
    Person.objects.create(org=world.org, total_spend=5, name="李四")
    segment = services.create_segment(world.org, name="高消费", rule=vip_rule(), by=world.admin)
    job = run_job(services.start_export(segment, by=world.admin).pk)
    assert job.status == "succeeded", job.error
    assert not zipfile.is_zipfile(services.export_path(job))  # encrypted at rest: an .xlsx in the clear is a ZIP
    download = client_for(world.admin).get(reverse("segments:export_download", args=[job.pk]))
    sheet = load_workbook(io.BytesIO(download.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 2 and rows[1][1] == "张三丰" and rows[1][4] == "500.00"  # HQ may see personal data
    assert job.result["names_masked"] is False


def test_sync_tags_members_in_wecom_and_untags_leavers(world, corp):
    zhang, li = corp.staff("zhang", world.e1), corp.staff("li", world.s1)
    buyer, other = corp.customer(zhang, name="林小姐"), corp.customer(zhang, name="王先生")
    buyer_li = corp.customer(li, name="赵女士")
    rich = Person.objects.create(org=world.org, customer=buyer, total_spend=500)
    rich_li = Person.objects.create(org=world.org, customer=buyer_li, total_spend=800)
    Person.objects.create(org=world.org, customer=other, total_spend=1)
    segment = services.create_segment(world.org, name="高消费客户", rule=vip_rule(), by=world.admin)

    job = run_job(services.start_sync(segment, by=world.admin).pk)
    assert job.status == "succeeded", job.error
    assert job.result == {"tag": "高消费客户", "tagged": 2, "untagged": 0, "failed": 0}
    segment.refresh_from_db()
    tag_id = segment.wecom_tag.wecom_id
    assert corp.wecom_tags()[tag_id] == "高消费客户"
    assert corp.sim.state.relation("zhang", buyer.external_userid).tag_ids == [tag_id]
    assert corp.sim.state.relation("li", buyer_li.external_userid).tag_ids == [tag_id]
    assert corp.sim.state.relation("zhang", other.external_userid).tag_ids == []

    Person.objects.filter(pk=rich_li.pk).update(total_spend=0)  # leaves the segment
    services.refresh_segment(segment)
    job = run_job(services.start_sync(segment, by=world.admin).pk)
    assert job.result == {"tag": "高消费客户", "tagged": 0, "untagged": 1, "failed": 0}
    assert corp.sim.state.relation("li", buyer_li.external_userid).tag_ids == []
    assert corp.sim.state.relation("zhang", buyer.external_userid).tag_ids == [tag_id]
    assert Relation.objects.get(customer=buyer).relation_tags.get().source == "segment"
    assert rich.pk in set(services.current_members(segment).values_list("pk", flat=True))
