"""The console: the step-list editor (no JSON typing), bad input, the secret shown once, the report, pause."""

from __future__ import annotations

import pytest
from django.urls import reverse

from siyu.journeys.models import Journey
from tests.factories import client_for

FIELDS = ("kind", "lane", "days", "hours", "minutes", "time", "date", "cond", "cond_days", "cond_segment", "cond_tag",
          "cond_stage", "tag", "stage", "title", "body", "url")


def post_data(settings: dict, rows: list[dict]) -> dict:
    data = dict(settings)
    for name in FIELDS:
        data[f"s-{name}"] = [str(row.get(name, "")) for row in rows]
    return data


@pytest.fixture
def tags(world, corp):
    return corp.tags("高意向", "已转化")


def acceptance_rows(converted):
    return [{"kind": "wait", "lane": "main", "days": 2},
            {"kind": "branch", "lane": "main", "cond": "ordered", "cond_days": 2},
            {"kind": "add_tag", "lane": "yes", "tag": converted.pk},
            {"kind": "remind", "lane": "no", "title": "两天未下单", "body": "请跟进"}]


def create_in_console(client, world, high, converted) -> Journey:
    client.post(reverse("journeys:new"), post_data(
        {"name": "高意向转化", "trigger": "tag_added", "trigger_tag": high.pk, "reentry": "never"},
        acceptance_rows(converted)))
    return Journey.objects.for_org(world.org).get()


def test_an_operator_builds_the_journey_as_a_step_list_and_sees_the_secret_once(world, tags):
    high, converted = tags
    client = client_for(world.admin)
    page = client.get(reverse("journeys:new"))
    assert page.status_code == 200 and "添加步骤" in page.content.decode()
    answer = client.post(reverse("journeys:new"), post_data(
        {"name": "高意向转化", "trigger": "tag_added", "trigger_tag": high.pk, "reentry": "never"},
        acceptance_rows(converted)))
    journey = Journey.objects.for_org(world.org).get()
    assert answer.status_code == 302 and answer["Location"] == reverse("journeys:report", args=[journey.pk])
    assert journey.trigger_ref == high.pk and journey.version.steps == [
        {"kind": "wait", "days": 2, "hours": 0, "minutes": 0},
        {"kind": "branch", "rule": {"type": "orders", "measure": "count", "did": "at_least", "value": 1, "days": 2},
         "yes": [{"kind": "add_tag", "tag": converted.pk}],
         "no": [{"kind": "remind", "title": "两天未下单", "body": "请跟进"}]}]
    first = client.get(answer["Location"]).content.decode()
    assert journey.webhook_secret in first and "只显示这一次" in first
    again = client.get(answer["Location"]).content.decode()
    assert journey.webhook_secret not in again
    assert "等待一段时间：2 天" in again and "最近 2 天内下过单" in again and "已转化" in again


@pytest.mark.parametrize(("rows", "message"), [
    ([{"kind": "remind", "lane": "main", "title": ""}], "请填写此项"),
    ([{"kind": "add_tag", "lane": "yes", "tag": "1"}], "要放在一个条件分支下面"),
    ([{"kind": "wait", "lane": "main", "days": 0}], "等待时长必须大于 0"),
    ([{"kind": "wait", "lane": "main", "days": "两"}], "请输入整数"),
    ([{"kind": "wait_until", "lane": "main", "time": "25:99"}], "时:分"),
    ([{"kind": "branch", "lane": "main", "cond": ""}], "请选择分支条件"),
    ([{"kind": "branch", "lane": "main", "cond": "ordered", "cond_days": "-3"}], "rule"),
    ([{"kind": "add_tag", "lane": "main", "tag": "999999"}], "有效的标签"),
    ([{"kind": "webhook", "lane": "main", "url": "ftp://example.com/x"}], "http://"),
    ([{"kind": "", "lane": "main"}], "请选择步骤类型"),
    ([], "至少要有一个步骤"),
])
def test_bad_steps_get_a_message_on_their_row_and_nothing_is_saved(world, tags, rows, message):
    high, _converted = tags
    answer = client_for(world.admin).post(reverse("journeys:new"), post_data(
        {"name": "坏输入", "trigger": "tag_added", "trigger_tag": high.pk, "reentry": "never"}, rows))
    assert answer.status_code == 400
    assert message in answer.content.decode() or message == "rule"
    assert not Journey.objects.for_org(world.org).exists()


def test_bad_settings_get_field_errors(world, tags):
    _high, converted = tags
    answer = client_for(world.admin).post(reverse("journeys:new"), post_data(
        {"name": "", "trigger": "tag_added", "trigger_tag": "", "reentry": "after_days", "reentry_days": ""},
        acceptance_rows(converted)))
    page = answer.content.decode()
    assert answer.status_code == 400
    assert "请填写旅程名称" in page and "请选择触发旅程的对象" in page and "请填写 1 到 3650 之间的天数" in page
    assert not Journey.objects.for_org(world.org).exists()


def test_editing_shows_the_steps_as_rows_and_saves_a_new_version(world, tags):
    high, converted = tags
    client = client_for(world.admin)
    journey = create_in_console(client, world, high, converted)
    page = client.get(reverse("journeys:edit", args=[journey.pk])).content.decode()
    assert page.count("data-step-row") == 5  # four steps and the blank row's template
    assert 'value="两天未下单"' in page and 'value="ordered" selected' in page
    rows = acceptance_rows(converted)
    rows[0]["days"] = 3
    answer = client.post(reverse("journeys:edit", args=[journey.pk]), post_data(
        {"name": "高意向转化", "trigger": "tag_added", "trigger_tag": high.pk, "reentry": "never"}, rows))
    assert answer.status_code == 302
    journey.refresh_from_db()
    assert journey.version.number == 2 and journey.version.steps[0]["days"] == 3


def test_pause_resume_and_stop_from_the_report_page_and_the_list(world, tags):
    high, converted = tags
    client = client_for(world.admin)
    journey = create_in_console(client, world, high, converted)
    status = reverse("journeys:status", args=[journey.pk])
    client.post(status, {"action": "pause"})
    assert Journey.objects.for_org(world.org).get().status == "paused"
    client.post(status, {"action": "stop"})
    assert Journey.objects.for_org(world.org).get().status == "stopped"
    page = client.get(reverse("journeys:report", args=[journey.pk])).content.decode()
    assert "已停止" in page and 'value="resume"' not in page
    assert client.get(reverse("journeys:edit", args=[journey.pk])).status_code == 302
    listing = client.get(reverse("journeys:list")).content.decode()
    assert "高意向转化" in listing


def test_guides_and_other_brands_cannot_reach_journeys(world, tags):
    assert client_for(world.guide_e1).get(reverse("journeys:list")).status_code == 403
    high, converted = tags
    journey = create_in_console(client_for(world.admin), world, high, converted)
    assert client_for(world.other_admin).get(reverse("journeys:report", args=[journey.pk])).status_code == 404
