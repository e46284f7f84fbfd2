"""The channel statistics page and its exports: who may open them and see what, bad input, CSV, Excel, audit,
and large exports as a job."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.urls import reverse

from siyu.analytics import exports, queries
from siyu.analytics.queries import ChannelInfo
from siyu.core.models import Job
from siyu.customers.models import Customer, Relation
from siyu.orgs.models import AuditEntry, Staff
from tests.factories import client_for

SH = ZoneInfo("Asia/Shanghai")
URL = "/analytics/channels/"


@pytest.fixture
def brand(world):
    """Alice (store E1, guide_e1's WeCom account) and Bob (store S1) with channel adds over three days."""
    alice = Staff.objects.create(org=world.org, userid="alice", name="Alice", store=world.e1, membership=world.guide_e1)
    bob = Staff.objects.create(org=world.org, userid="bob", name="Bob", store=world.s1)
    start = datetime.now(SH).replace(hour=10, minute=0, second=0, microsecond=0) - timedelta(days=3)
    n = 0
    for staff, adds in ((alice, 3), (bob, 2)):
        for i in range(adds):
            n += 1
            customer = Customer.objects.create(org=world.org, external_userid=f"wm{n}")
            Relation.objects.create(org=world.org, customer=customer, staff=staff, state="tea" if i % 2 else "poster",
                                    added_at=start + timedelta(days=i))
    Relation.objects.for_org(world.org).filter(staff=bob, state="poster").update(
        status=Relation.Status.DELETED_BY_CUSTOMER, deleted_at=start + timedelta(days=1))
    return {"alice": alice, "bob": bob}


def test_every_role_finds_the_page_in_the_menu(world, brand):
    for member in (world.owner, world.admin, world.east_manager, world.guide_e1):
        response = client_for(member).get(reverse("console:dashboard"))
        assert URL in response.content.decode(), member.role
        assert client_for(member).get(URL).status_code == 200
    assert client_for(world.other_admin).get(URL).context["total"].adds == 0


def test_the_page_shows_figures_charts_table_and_definitions(world, brand):
    response = client_for(world.admin).get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    total = response.context["total"]
    assert (total.adds, total.deleted_by_customer, total.net) == (5, 1, 4)
    assert 'data-figure="adds"' in page and 'data-testid="stats-total"' in page
    assert page.count('data-testid="stats-row"') == len(response.context["page"].object_list) > 0
    assert page.count('data-col="adds"') == page.count('data-testid="stats-row"') + 1  # and the totals row
    assert 'id="trend-chart-data"' in page and 'id="channel-chart-data"' in page
    assert "echarts-5.6.0.min.js" in page
    assert "添加已满 7（30）天的新增客户中" in page  # the retention definition is on the page
    assert "客户添加后在单聊中首次发来消息" in page
    for group in ("channel", "staff", "day"):
        response = client_for(world.admin).get(URL, {"group": group})
        assert response.status_code == 200 and response.context["by"] == group
        assert sum(r.adds for r in response.context["page"].object_list) == 5


def test_a_guide_sees_only_their_own_figures(world, brand):
    client = client_for(world.guide_e1)
    response = client.get(URL)
    assert response.status_code == 200
    assert response.context["total"].adds == 3
    assert {r.staff.userid for r in response.context["stats"].rows} == {"alice"}
    assert list(response.context["form"].fields["staff"].queryset) == [brand["alice"]]
    assert "你看到的是自己的客户" in response.content.decode()
    # Naming someone else's staff member or store is a form error, not their figures.
    for params in ({"staff": brand["bob"].pk}, {"store": world.s1.pk}):
        response = client.get(URL, params)
        assert response.status_code == 400 and "stats" not in response.context
    exported = client.post(reverse("analytics:export"), {"format": "csv"})
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert {r[4] for r in rows[1:-1]} == {"alice"}


def test_a_guide_is_offered_only_their_own_channels(world, brand):
    from siyu.channels.models import ChannelCode, ChannelStaff, ChannelState

    for name, state, staff in (("门店海报", "poster", brand["alice"]), ("直播间", "live", brand["bob"])):
        code = ChannelCode.objects.create(org=world.org, name=name, state=state, public_id=state)
        ChannelState.objects.create(org=world.org, code=code, state=state)
        ChannelStaff.objects.create(org=world.org, code=code, staff=staff)
    guide = client_for(world.guide_e1).get(URL).context["form"]
    assert {value for value, _label in guide.fields["state"].choices} == {"", "poster", "tea"}
    admin = client_for(world.admin).get(URL).context["form"]
    assert {value for value, _label in admin.fields["state"].choices} == {"", "poster", "tea", "live"}


def test_a_store_manager_sees_their_stores_staff(world, brand):
    response = client_for(world.s1_manager).get(URL)
    assert {r.staff.userid for r in response.context["stats"].rows} == {"bob"}
    assert client_for(world.s1_manager).get(URL, {"store": world.e1.pk}).status_code == 400
    response = client_for(world.east_manager).get(URL, {"store": world.e1.pk})
    assert response.status_code == 200 and response.context["total"].adds == 3


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "2024-06-10", "end": "2024-06-01"}, "结束日期不能早于开始日期"),
        ({"start": "yesterday"}, "有效的日期"),
        ({"start": "2024-02-30"}, "有效的日期"),
        ({"end": "0001-01-01"}, "日期需在"),
        ({"start": "9999-12-31", "end": "9999-12-31"}, "日期需在"),
        ({"start": "2023-01-01", "end": "2024-06-01"}, "一次最多统计 366 天"),
        ({"state": "no-such-channel"}, "“no-such-channel”不在可选范围内，请重新选择。"),
        ({"staff": "abc"}, "所选项已不可用，请重新选择。"),
        ({"staff": "999999"}, "所选项已不可用，请重新选择。"),
        ({"partner": "x"}, "“x”不在可选范围内，请重新选择。"),
        ({"group": "everything"}, "“everything”不在可选范围内，请重新选择。"),
        ({"start": "2024-06-01\x00"}, "有效的日期"),
    ],
)
def test_bad_filters_are_form_errors_never_500(world, brand, params, message):
    client = client_for(world.admin)
    response = client.get(URL, params)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert 'data-testid="filter-errors"' in response.content.decode()
    exported = client.post(reverse("analytics:export"), {**params, "format": "csv"})
    assert exported.status_code == 400
    assert not AuditEntry.objects.for_org(world.org).filter(action="analytics.exported").exists()


def test_missing_dates_default_to_the_last_30_days_and_junk_pages_are_harmless(world, brand):
    client = client_for(world.admin)
    response = client.get(URL)
    filters = response.context["stats"].filters
    assert (filters.end - filters.start).days == 29 and filters.end == datetime.now(SH).date()
    response = client.get(URL, {"start": "2024-06-01"})
    assert response.context["stats"].filters.end == date(2024, 6, 30)
    assert client.get(URL, {"page": "zzz"}).status_code == 200
    assert client.post(reverse("analytics:export"), {"format": "pdf"}).status_code == 400
    assert client.get(reverse("analytics:export")).status_code == 405


def test_csv_export_has_a_bom_totals_and_an_audit_entry(world, brand, monkeypatch):
    monkeypatch.setattr(queries, "channel_directory", lambda org: {
        "tea": ChannelInfo("tea", "=HYPERLINK(\"http://evil\")", "", 5, "茶饮品牌"),
    })
    response = client_for(world.admin).post(reverse("analytics:export"), {"format": "csv", "group": "channel"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="channel-stats-')
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["渠道参数", "渠道名称", "合作方", "新增客户"]
    by_state = {r[0]: r for r in rows[1:-1]}
    assert by_state["tea"][1] == "'=HYPERLINK(\"http://evil\")"  # text, never a formula in Excel
    assert by_state["tea"][2] == "茶饮品牌" and by_state["tea"][3] == "2"
    assert rows[-1][0] == "合计" and rows[-1][3] == "5"
    entry = AuditEntry.objects.for_org(world.org).get(action="analytics.exported")
    assert entry.actor == world.admin.user
    assert entry.details["format"] == "csv" and entry.details["group"] == "channel" and entry.details["rows"] == 2
    assert entry.details["filters"]["start"] and entry.details["friendships"] == 5


def test_excel_export_is_a_real_xlsx(world, brand):
    response = client_for(world.admin).post(reverse("analytics:export"), {"format": "xlsx", "group": "staff"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response["Content-Disposition"].endswith('.xlsx"')
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["渠道统计"]
    sheet = book["渠道统计"]
    assert sheet.freeze_panes == "A2" and sheet["A1"].font.b
    assert sheet.column_dimensions["A"].width >= 8  # fits "员工账号": four wide characters
    cells = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert cells[0][0] == "员工账号" and cells[0][3] == "新增客户"
    by_staff = {row[0]: row for row in cells[1:-1]}
    assert by_staff["alice"][3] == 3 and by_staff["bob"][3] == 2 and by_staff["bob"][4] == 1
    assert cells[-1][0] == "合计" and cells[-1][3] == 5
    assert AuditEntry.objects.for_org(world.org).get(action="analytics.exported").details["format"] == "xlsx"


def test_excel_export_by_day_has_real_dates(world, brand):
    response = client_for(world.admin).post(reverse("analytics:export"), {"format": "xlsx", "group": "day"})
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    days = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)][:-1]
    assert days and all(isinstance(day, datetime) for day in days)
    assert sheet.cell(row=2, column=1).number_format == "yyyy-mm-dd"


def test_a_large_export_is_a_job_with_progress_and_a_download(world, brand, monkeypatch, settings, tmp_path,
                                                              django_capture_on_commit_callbacks):
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(exports, "INLINE_LIMIT", 2)
    client = client_for(world.east_manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("analytics:export"), {"format": "csv"})
    job = Job.objects.for_org(world.org).get(kind=exports.JOB_KIND)
    assert response.status_code == 302 and response["Location"] == reverse("analytics:export_status", args=[job.pk])
    assert job.status == Job.Status.SUCCEEDED and job.created_by == world.east_manager.user
    assert job.result["rows"] == 3  # alice's three adds on three days (bob is not in the region)
    entry = AuditEntry.objects.for_org(world.org).get(action="analytics.exported")
    assert entry.object_id == str(job.pk) and entry.details["friendships"] == 3

    status = client.get(response["Location"])
    assert status.status_code == 200 and 'data-testid="export-download"' in status.content.decode()
    partial = client.get(response["Location"], headers={"HX-Request": "true"})
    assert partial.content.decode().lstrip().startswith('<div id="export-status"')
    download = client.get(reverse("analytics:export_download", args=[job.pk]))
    assert download.status_code == 200
    content = download.content
    assert content.startswith(b"\xef\xbb\xbf")
    [stored] = tmp_path.rglob("*.csv")
    assert content[:40] not in stored.read_bytes()  # kept encrypted until downloaded
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert {r[4] for r in rows[1:-1]} == {"alice"} and rows[-1][7] == "3"

    # Someone else's export is not theirs to see or fetch.
    other = client_for(world.s1_manager)
    assert other.get(reverse("analytics:export_status", args=[job.pk])).status_code == 404
    assert other.get(reverse("analytics:export_download", args=[job.pk])).status_code == 404
    assert client_for(world.other_admin).get(reverse("analytics:export_download", args=[job.pk])).status_code == 404


def test_an_export_job_refuses_a_member_who_lost_access(world, brand, monkeypatch, settings, tmp_path,
                                                       django_capture_on_commit_callbacks):
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(exports, "INLINE_LIMIT", 0)
    client = client_for(world.admin)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        client.post(reverse("analytics:export"), {"format": "xlsx"})
    world.admin.is_active = False
    world.admin.save()
    for callback in queued:
        callback()
    job = Job.objects.for_org(world.org).get(kind=exports.JOB_KIND)
    assert job.status == Job.Status.FAILED and "analytics.view" in job.error
    assert exports.export_file(job) is None and not list(tmp_path.rglob("*.xlsx"))
