"""The segment pages: the live count answers with the count or field-level errors, saving a bad rule is a 400 form
error that stores nothing, members are listed through the viewer's visibility, guides are refused."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from siyu.cdp.models import Person
from siyu.customers.models import Customer
from siyu.segments import services
from siyu.segments.models import Segment
from tests.factories import client_for

pytestmark = pytest.mark.django_db

RULE = {"op": "and", "rules": [{"type": "trait", "field": "total_spend", "operator": "gt", "value": 100}]}


def test_live_count_gives_the_count_or_the_errors_by_field(world):
    Person.objects.create(org=world.org, total_spend=500)
    Person.objects.create(org=world.other_org, total_spend=500)
    client = client_for(world.admin)
    answer = client.post(reverse("segments:count"), json.dumps({"rule": RULE}), content_type="application/json")
    assert answer.status_code == 200 and answer.json()["count"] == 1 and len(answer.json()["examples"]) == 1
    bad = {"op": "and", "rules": [{"type": "event", "event": "Material Opened", "did": "at_least", "count": 3, "days": ""}]}
    answer = client.post(reverse("segments:count"), json.dumps({"rule": bad}), content_type="application/json")
    # An incomplete rule is an answer the builder shows, not a failed request.
    assert answer.status_code == 200 and answer.json()["count"] is None
    assert list(answer.json()["errors"]) == ["rule.rules.0.days"]
    answer = client.post(reverse("segments:count"), b"{not json", content_type="application/json")
    assert answer.status_code == 400


def test_saving_a_bad_rule_is_a_form_error_and_saves_nothing(world):
    client = client_for(world.admin)
    bad = {"op": "and", "rules": [{"type": "stage", "ids": [999999]}]}
    answer = client.post(reverse("segments:new"), {"name": "流失客户", "refresh": "daily", "rule": json.dumps(bad)})
    assert answer.status_code == 400
    assert answer.context["rule_errors"] == {"rule.rules.0.ids": ["选择的项目不存在或已删除。"]}
    answer = client.post(reverse("segments:new"), {"name": "", "refresh": "daily", "rule": json.dumps(RULE)})
    assert answer.status_code == 400 and answer.context["form"].errors["name"]
    assert not Segment.objects.filter(org=world.org).exists()


def test_saving_lists_and_shows_the_members(world):
    customer = Customer.objects.create(org=world.org, external_userid="wm1", name="林小姐")
    Person.objects.create(org=world.org, customer=customer, total_spend=500)
    client = client_for(world.admin)
    answer = client.post(reverse("segments:new"), {"name": "高消费", "refresh": "daily", "rule": json.dumps(RULE)})
    segment = Segment.objects.get(org=world.org)
    assert answer.status_code == 302 and answer["Location"] == reverse("segments:detail", args=[segment.pk])
    page = client.get(reverse("segments:detail", args=[segment.pk]))
    assert "林小姐" in page.content.decode() and segment.member_count == 1
    assert "高消费" in client.get(reverse("segments:list")).content.decode()
    assert client.get(reverse("segments:new")).status_code == 200


def test_guides_and_other_brands_are_refused(world):
    segment = services.create_segment(world.org, name="高消费", rule=RULE, by=world.admin)
    assert client_for(world.guide_e1).get(reverse("segments:list")).status_code == 403
    assert client_for(world.other_admin).get(reverse("segments:detail", args=[segment.pk])).status_code == 404
