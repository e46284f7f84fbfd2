"""The channel on the customer list: a filter offering the viewer's codes, a column, and the Excel export with
channel, stage, store and tags columns (read back with openpyxl)."""

from __future__ import annotations

import io
from datetime import datetime

import openpyxl
from django.urls import reverse

from siyu.channels import services
from siyu.core.models import Job
from siyu.customers import bulk
from siyu.lifecycle import stages
from siyu.customers.models import Customer
from tests.factories import client_for


def came_through_two_channels(world, corp):
    alice, bob = corp.staff("alice", store=world.e1), corp.staff("bob", store=world.s1)
    tea, = corp.tags("奶茶爱好者")
    poster = services.create_channel_code(world.org, by=world.admin, name="门店海报", staff=[alice], tags=[tea])
    live = services.create_channel_code(world.org, by=world.admin, name="直播间", staff=[bob])
    corp.scan(poster, name="王小姐")
    corp.scan(live, name="李先生")
    return poster, live


def test_the_list_filters_by_channel_and_shows_the_channel_column(world, corp):
    poster, live = came_through_two_channels(world, corp)
    client = client_for(world.admin)
    page = client.get(reverse("customers:list"), {"channel": poster.pk}).content.decode()
    assert "王小姐" in page and "李先生" not in page
    assert '<td data-col="channel">门店海报' in page
    page = client.get(reverse("customers:list"), {"channel": live.pk}).content.decode()
    assert "李先生" in page and "王小姐" not in page
    response = client.get(reverse("customers:list"), {"channel": "junk"})
    assert response.status_code == 400 and "李先生" not in response.content.decode()


def test_the_channel_filter_offers_only_codes_the_viewer_may_see(world, corp):
    poster, live = came_through_two_channels(world, corp)
    form = client_for(world.s1_manager).get(reverse("customers:list")).context["form"]
    assert list(form.fields["channel"].queryset) == [live]  # bob works in S1; the poster is E1's


def test_columns_can_be_chosen_and_the_page_size_set(world, corp):
    came_through_two_channels(world, corp)
    page = client_for(world.admin).get(reverse("customers:list"), {"cols": ["channel", "tags"], "size": "20"})
    html = page.content.decode()
    assert 'data-col="channel"' in html and 'data-col="tags"' in html and 'data-col="remark"' not in html
    assert page.context["page_size"] == 20
    assert client_for(world.admin).get(reverse("customers:list"), {"size": "100000"}).context["page_size"] == 50


def test_the_export_has_channel_stage_store_and_tags_and_real_dates(world, corp, django_capture_on_commit_callbacks):
    poster, _live = came_through_two_channels(world, corp)
    wang = Customer.objects.for_org(world.org).get(name="王小姐")
    stages.move_customer(wang, stages.stages_of(world.org)[1], source="manual", by=world.admin)
    client = client_for(world.admin)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("customers:bulk") + f"?channel={poster.pk}", {"action": "export", "scope": "filter"})
    job = Job.objects.for_org(world.org).get(kind=bulk.EXPORT)
    assert job.status == Job.Status.SUCCEEDED, job.error
    response = client.get(reverse("customers:export_download", args=[job.pk]))
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    header, *rows = sheet.iter_rows(values_only=True)
    assert len(rows) == 1
    row = dict(zip(header, rows[0]))
    assert row["昵称"] == "王小姐" and row["渠道"] == "门店海报" and row["门店"] == world.e1.name
    assert row["客户阶段"] == stages.stages_of(world.org)[1].name and row["标签"] == "奶茶爱好者"
    assert isinstance(row["首次添加时间"], datetime)
    assert sheet.freeze_panes == "A2" and sheet["A1"].font.b
