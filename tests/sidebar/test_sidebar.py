"""The chat sidebar's pages: sign-in with WeCom on the way in, what a guide sees of the customer of the open chat
(and only their own), edits through the services, one-tap send of approved content only, and the group screen."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from siyu.cdp.models import Order

from siyu.content.models import ScriptUse
from siyu.customers.models import FollowUp, Note, RelationTag
from siyu.groups.models import CustomerGroup, GroupTag, GroupTagging
from siyu.lifecycle import stages
from siyu.lifecycle.models import StageChange
from siyu.orgs.models import AuditEntry, Staff
from siyu.sop.models import Sop, SopRun, SopStep, SopTask
from tests.factories import client_for
from tests.wecom.test_signin import come_back

pytestmark = pytest.mark.django_db


def inlined_config(page: str) -> dict:
    found = re.search(r'<script id="wecom-config" type="application/json">(.*?)</script>', page, re.S)
    return json.loads(found.group(1))


def test_signed_out_inside_wecom_the_sidebar_signs_in_with_wecom_and_comes_back(shop):
    client = Client()
    first = client.get("/s/?org=brand-a")
    assert first.status_code == 302 and first["Location"].startswith("/wecom/oauth/start/?")
    to_wecom = client.get(first["Location"])
    assert to_wecom["Location"].startswith(f"{shop.corp.base}/connect/oauth2/authorize?")
    landing = come_back(client, shop.corp.choose(to_wecom["Location"], userid="zhangxiao"))
    assert landing["Location"] == "/s/?org=brand-a"
    entry = client.get(landing["Location"])
    assert entry.status_code == 200 and 'data-userid="zhangxiao"' in entry.content.decode()


def test_the_customer_screen_is_one_response_with_the_profile_masked_and_the_signatures_inlined(shop, world):
    Order.objects.create(org=world.org, customer=shop.customer(shop.wang), order_no="W-0001", ordered_at=timezone.now(),
                         total=Decimal("88.00"))
    Order.objects.create(org=world.org, customer=shop.customer(shop.zhao), order_no="Z-0002", ordered_at=timezone.now(),
                         total=Decimal("50.00"))
    page = client_for(world.guide_e1).get(f"/s/c/{shop.wang}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "王女士" in html and "王姐" in html and "138****5678" in html and "13812345678" not in html
    assert "到店邀请" in html and "未审核话术" not in html  # only approved content is offered
    assert "W-0001" in html and "¥88.00" in html and "Z-0002" not in html
    assert page["X-Frame-Options"] == "SAMEORIGIN"  # the harness may frame it, nobody else
    config = inlined_config(html)
    url = f"http://testserver/s/c/{shop.wang}/"
    for kind, signed in (("corp", config["config"]), ("agent", config["agentConfig"])):
        assert shop.sim.check_jsapi_signature(kind, url, signed["timestamp"], signed["nonceStr"],
                                              signed["signature"]) == {"ok": True}
    # An administrator who may see personal data sees the number itself.
    assert "13812345678" in client_for(world.owner).get(f"/s/c/{shop.wang}/").content.decode()


CUSTOMER_PATHS = ["", "library/", "tags/", "tags/1/remove/", "stage/", "notes/", "follow-ups/", "send/"]


@pytest.mark.parametrize("suffix", CUSTOMER_PATHS)
def test_another_guides_customer_by_address_is_not_found(shop, world, suffix):
    client = client_for(world.guide_e1)
    method = client.get if suffix in ("", "library/") else client.post
    assert method(f"/s/c/{shop.zhao}/{suffix}").status_code == 404
    assert method(f"/s/c/no-such-customer/{suffix}").status_code == 404
    # A store manager reaches their stores' customers, not another region's.
    assert client_for(world.east_manager).get(f"/s/c/{shop.zhao}/").status_code == 200
    assert client_for(world.s1_manager).get(f"/s/c/{shop.zhao}/").status_code == 404


def test_tags_stage_notes_and_follow_ups_go_through_the_services(shop, world):
    client = client_for(world.guide_e1)
    base = f"/s/c/{shop.wang}/"
    wang, keen = shop.customer(shop.wang), shop.tag("高意向")
    assert client.post(base + "tags/", {"tags": keen.pk})["Location"] == base + "#tags"
    assert RelationTag.objects.filter(relation__customer=wang, tag=keen).count() == 1
    assert keen.wecom_id in shop.sim.state.relations[f"zhangxiao|{shop.wang}"].tag_ids  # marked in WeCom too

    target = stages.stages_of(world.org)[2]
    client.post(base + "stage/", {"stage": target.pk})
    assert stages.stage_of(wang) == target
    assert AuditEntry.objects.filter(action="customer.stage_changed", actor=world.guide_e1.user).count() == 1
    assert StageChange.objects.filter(customer=wang, to_stage=target, source="manual").count() == 1

    client.post(base + "notes/", {"text": "想要秋冬新品的试用装"})
    client.post(base + "follow-ups/", {"text": "周五回访", "due_at": "2030-01-04T10:00",
                                       "assignee": wang.relations.get().staff_id})
    page = client.get(base).content.decode()
    assert "想要秋冬新品的试用装" in page and "周五回访" in page and "高意向" in page

    assert client.post(base + f"tags/{keen.pk}/remove/")["Location"] == base + "#tags"
    assert not RelationTag.objects.filter(relation__customer=wang, tag=keen).exists()
    assert keen.wecom_id not in shop.sim.state.relations[f"zhangxiao|{shop.wang}"].tag_ids


BAD_POSTS = [
    ("tags/", {}, "tags"), ("tags/", {"tags": "999999"}, "tags"), ("tags/", {"tags": "abc"}, "tags"),
    ("stage/", {"stage": "0"}, "stage"), ("stage/", {}, "stage"),
    ("notes/", {"text": ""}, "text"), ("notes/", {"text": "长" * 2001}, "text"),
    ("follow-ups/", {"text": "回访", "due_at": "not a date", "assignee": ""}, "due_at"),
    ("follow-ups/", {"text": "", "due_at": "2030-01-04T10:00"}, "text"),
]


@pytest.mark.parametrize(("suffix", "data", "field"), BAD_POSTS)
def test_bad_input_to_a_form_is_a_400_with_the_field_error_and_changes_nothing(shop, world, suffix, data, field):
    wang = shop.customer(shop.wang)
    before = (RelationTag.objects.count(), StageChange.objects.count(), Note.objects.count(), FollowUp.objects.count())
    page = client_for(world.guide_e1).post(f"/s/c/{shop.wang}/{suffix}", data)
    assert page.status_code == 400
    assert page.context[{"tags/": "tag_form", "stage/": "stage_form", "notes/": "note_form",
                         "follow-ups/": "follow_up_form"}[suffix]].errors[field]
    assert 'role="alert"' in page.content.decode()
    after = (RelationTag.objects.count(), StageChange.objects.count(), Note.objects.count(), FollowUp.objects.count())
    assert after == before and stages.stage_of(wang) == stages.first_stage(world.org)


@pytest.mark.parametrize(("data", "field"), [
    ({}, "__all__"), ({"script": "abc"}, "script"), ({"script": "-1"}, "script"), ({"material": ""}, "material"),
    ({"material": "999999"}, "material"),
    ({"script": str(2**63)}, "script"),
])
def test_bad_input_to_send_is_a_400_naming_the_field(shop, world, data, field):
    answer = client_for(world.guide_e1).post(f"/s/c/{shop.wang}/send/", data)
    assert answer.status_code == 400 and field in answer.json()["errors"]
    assert ScriptUse.objects.count() == 0


def test_a_script_is_sent_as_text_with_its_variables_filled_and_counted(shop, world):
    answer = client_for(world.guide_e1).post(f"/s/c/{shop.wang}/send/", {"script": shop.script.pk})
    assert answer.status_code == 200
    text = f"王姐您好，我是{world.e1.name}的张晓，新品已到店。"
    assert answer.json() == {"message": {"msgtype": "text", "text": {"content": text}}}
    assert list(ScriptUse.objects.values_list("script_id", "membership_id")) == [(shop.script.pk, world.guide_e1.pk)]


def test_an_unapproved_script_cannot_be_sent(shop, world):
    answer = client_for(world.guide_e1).post(f"/s/c/{shop.wang}/send/", {"script": shop.draft_script.pk})
    assert answer.status_code == 400 and "script" in answer.json()["errors"]
    assert ScriptUse.objects.count() == 0


def test_the_library_searches_by_chinese_and_pinyin_initials(shop, world):
    client = client_for(world.guide_e1)
    assert "到店邀请" in client.get(f"/s/c/{shop.wang}/library/", {"q": "邀请"}).content.decode()
    assert "到店邀请" in client.get(f"/s/c/{shop.wang}/library/", {"q": "ddyq"}).content.decode()
    assert "到店邀请" not in client.get(f"/s/c/{shop.wang}/library/", {"q": "生日"}).content.decode()


def test_the_group_screen_shows_members_tags_and_only_to_its_own_guide(shop, world):
    group = CustomerGroup.objects.get(org=world.org, chat_id=shop.chat_id)
    tag = GroupTag.objects.create(org=world.org, name="香薰爱好者")
    GroupTagging.objects.create(org=world.org, group=group, tag=tag)
    zhang = Staff.objects.get(org=world.org, userid="zhangxiao")
    sop = Sop.objects.create(org=world.org, name="群早安")
    step = SopStep.objects.create(org=world.org, sop=sop, day_offset=0, time_of_day=dt.time(9), text="早安问候")
    run = SopRun.objects.create(org=world.org, sop=sop, group=group, staff=zhang, anchor_at=timezone.now(), key="g")
    for content, done in (("发早安问候", None), ("已经做完的", timezone.now())):
        SopTask.objects.create(org=world.org, run=run, step=step, sop=sop, staff=zhang, group=group, content=content,
                               due_at=timezone.now(), completed_at=done, idempotency_key=content)
    page = client_for(world.guide_e1).get(f"/s/g/{shop.chat_id}/")
    html = page.content.decode()
    assert page.status_code == 200 and "香薰群" in html and "王女士" in html and "香薰爱好者" in html
    assert "发早安问候" in html and "已经做完的" not in html
    assert client_for(world.guide_e2).get(f"/s/g/{shop.chat_id}/").status_code == 404


def test_the_library_previews_each_script_as_this_customer_would_receive_it(shop, world):
    text = f"王姐您好，我是{world.e1.name}的张晓，新品已到店。"
    client = client_for(world.guide_e1)
    screen = client.get(f"/s/c/{shop.wang}/").content.decode()
    found = client.get(f"/s/c/{shop.wang}/library/", {"q": "ddyq"}).content.decode()
    for page in (screen, found):
        assert text in page and "{客户称呼}" not in page
