"""Consent in the console and on the customer's own page: publishing the notice, importing consent lines with a per-row
report, the customer 360's consent section, and the signed H5 page (CSRF on, altered links refused)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse

from siyu.core.models import Job
from siyu.customers.models import Customer, Relation
from siyu.customers.queries import index_customer_phones
from siyu.orgs.models import AuditEntry, Staff
from siyu.privacy import consent
from siyu.privacy.models import ConsentRecord, PrivacyNotice
from tests.factories import client_for

pytestmark = pytest.mark.django_db
BEIJING = dt.timezone(dt.timedelta(hours=8))


def test_hq_publishes_a_notice_and_a_guide_cannot(world):
    admin = client_for(world.admin)
    consent.publish_notice(world.other_org, title="B", body="B", by=None)  # published from a script: no publisher
    assert client_for(world.other_admin).get(reverse("privacy:notices")).status_code == 200
    assert admin.post(reverse("privacy:notices"), {"title": "", "body": ""}).status_code == 400
    response = admin.post(reverse("privacy:notices"), {"title": "隐私政策", "body": "我们如何使用你的信息"})
    assert response.status_code == 302
    notice = PrivacyNotice.objects.for_org(world.org).get()
    assert (notice.version, notice.title, notice.published_by) == (1, "隐私政策", world.admin.user)
    page = admin.get(reverse("privacy:notices")).content.decode()
    assert "隐私政策" in page and "生物识别" in page
    assert AuditEntry.objects.filter(org=world.org, action="privacy.notice_published").count() == 1
    assert client_for(world.guide_e1).get(reverse("privacy:notices")).status_code == 403
    assert client_for(world.guide_e1).post(reverse("privacy:notices"), {"title": "x", "body": "y"}).status_code == 403
    assert PrivacyNotice.objects.for_org(world.org).count() == 1


CSV = """external_userid,phone,purpose,state,time
wm-ann,,marketing,granted,2026-01-10 20:00:00
,138 0013 8000,profiling,同意,2026-01-11 09:00:00
wm-ann,,biometric,granted,2026-01-10 20:00:00
wm-ann,,marketing,maybe,2026-01-10 20:00:00
wm-nobody,,marketing,granted,2026-01-10 20:00:00
wm-ann,,location,withdrawn,yesterday
,12ab,marketing,granted,2026-01-10 20:00:00
wm-ann,,marketing,withdrawn,2026-01-12 08:00:00
"""


def test_importing_consent_lines_reports_every_bad_row_and_records_the_rest_once(world, settings, tmp_path,
                                                                                 django_capture_on_commit_callbacks):
    settings.DATA_DIR = tmp_path
    ann = Customer.objects.create(org=world.org, external_userid="wm-ann", name="Ann")
    bob = Customer.objects.create(org=world.org, external_userid="wm-bob", name="Bob")
    staff = Staff.objects.create(org=world.org, userid="u1", name="员工")
    index_customer_phones(Relation.objects.create(org=world.org, customer=bob, staff=staff,
                                                  remark_mobiles='["13800138000"]'))
    admin = client_for(world.admin)

    def upload():
        from django.core.files.uploadedfile import SimpleUploadedFile

        with django_capture_on_commit_callbacks(execute=True):  # the import job runs when the upload commits
            queued = admin.post(reverse("privacy:consent_import"),
                                {"file": SimpleUploadedFile("consent.csv", CSV.encode(), content_type="text/csv")})
        assert queued.status_code == 302
        job = Job.objects.for_org(world.org).filter(kind="privacy.consent_import").latest("pk")
        assert queued["Location"] == reverse("privacy:consent_import_report", args=[job.pk])
        assert not list(tmp_path.rglob("*.upload"))  # the file is gone once read
        return admin.get(queued["Location"])

    response = upload()
    assert response.status_code == 200
    report = response.context["report"]
    assert (report["rows"], report["recorded"], report["existing"], report["problem_count"]) == (8, 3, 0, 5)
    assert [(p["line"], p["column"]) for p in report["problems"]] == [
        (4, "purpose"), (5, "state"), (6, "external_userid"), (7, "time"), (8, "phone")]
    records = ConsentRecord.objects.for_org(world.org).order_by("at")
    assert [(r.customer, r.purpose, r.granted, r.source, r.evidence["line"]) for r in records] == [
        (ann, "marketing", True, "import", 2), (bob, "profiling", True, "import", 3), (ann, "marketing", False, "import", 9)]
    assert records[0].at == dt.datetime(2026, 1, 10, 20, 0, tzinfo=BEIJING)
    page = response.content.decode()
    assert "找不到这位客户" in page and "用途须为" in page

    again = upload().context["report"]
    assert (again["recorded"], again["existing"]) == (0, 3)
    assert ConsentRecord.objects.for_org(world.org).count() == 3
    assert client_for(world.guide_e1).post(reverse("privacy:consent_import")).status_code == 403
    # The report is its uploader's: another admin of the brand does not get it.
    job = Job.objects.for_org(world.org).filter(kind="privacy.consent_import").latest("pk")
    assert client_for(world.owner).get(reverse("privacy:consent_import_report", args=[job.pk])).status_code == 404


def test_an_empty_upload_is_a_form_error_and_queues_nothing(world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client_for(world.admin).post(reverse("privacy:consent_import"),
                                            {"file": SimpleUploadedFile("consent.csv", b"", content_type="text/csv")})
    assert response.status_code == 400 and response.context["form"].errors["file"]
    assert not Job.objects.for_org(world.org).exists()


def test_the_waiting_upload_is_encrypted(world, settings, tmp_path):
    from siyu.privacy.consent_import import start_import

    settings.DATA_DIR = tmp_path
    start_import(world.org, CSV.replace("138 0013 8000", "13800138000").encode(), by=world.admin)
    [waiting] = tmp_path.rglob("*.upload")
    assert b"13800138000" not in waiting.read_bytes() and b"wm-ann" not in waiting.read_bytes()


def test_a_file_without_the_columns_is_one_clear_problem(world):
    from siyu.privacy.consent_import import import_consents

    report = import_consents(world.org, b"name,purpose\nAnn,marketing\n", by=world.admin)
    assert [(p.line, p.column) for p in report.problems] == [(1, "")]
    assert "external_userid / phone" in report.problems[0].reason and "state" in report.problems[0].reason
    assert not ConsentRecord.objects.for_org(world.org).exists()


def test_the_customer_360_shows_the_consent_history_and_the_link(world):
    ann = Customer.objects.create(org=world.org, external_userid="wm-ann", name="Ann")
    consent.grant_consent(ann, "marketing", by=None, source="h5", at=dt.datetime(2026, 1, 10, 12, tzinfo=dt.UTC))
    consent.withdraw_consent(ann, "marketing", by=None, source="chat_stopword",
                             at=dt.datetime(2026, 1, 11, 12, tzinfo=dt.UTC))
    page = client_for(world.admin).get(reverse("customers:detail", args=[ann.pk])).content.decode()
    assert 'data-testid="consent-history"' in page
    assert "2026-01-11 20:00" in page and "聊天退订" in page and "已撤回" in page
    # The link is signed with the second it is issued, so the page's own link is checked, not a new one.
    [token] = re.findall(r'/h5/consent/([^/"]+)/', page)
    assert consent.consent_link(ann).split("/h5/consent/")[0] + f"/h5/consent/{token}/" in page
    assert consent.customer_for_token(token) == ann
    assert "撤回了“营销消息”的授权（来源：聊天退订）" in page  # the timeline, in words


def test_the_h5_page_grants_and_withdraws_and_refuses_altered_links(world):
    ann = Customer.objects.create(org=world.org, external_userid="wm-ann", name="Ann")
    notice = consent.publish_notice(world.org, title="山茶隐私政策", body="正文第一段", by=None)
    url = reverse("privacy:consent_page", args=[consent.link_token(ann)])
    browser = Client(enforce_csrf_checks=True, HTTP_USER_AGENT="Mozilla/5.0 (iPhone)", REMOTE_ADDR="203.0.113.77")
    page = browser.get(url)
    assert page.status_code == 200
    assert "山茶隐私政策" in page.content.decode() and "生物识别" in page.content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)

    assert browser.post(url, {"purpose": "marketing", "action": "grant"}).status_code == 403  # no CSRF token
    assert not ConsentRecord.objects.for_org(world.org).exists()

    assert browser.post(url, {"purpose": "marketing", "action": "grant", "csrfmiddlewaretoken": token}).status_code == 302
    record = ConsentRecord.objects.for_org(world.org).get()
    assert (record.granted, record.source, record.notice_version) == (True, "h5", notice.version)
    assert record.evidence == {"ip": "203.0.*.*", "user_agent": "Mozilla/5.0 (iPhone)"}
    assert consent.consenting(world.org, [ann.pk], "marketing") == {ann.pk}

    assert browser.post(url, {"purpose": "marketing", "action": "withdraw", "csrfmiddlewaretoken": token}).status_code == 302
    assert consent.consenting(world.org, [ann.pk], "marketing") == set()
    assert browser.post(url, {"purpose": "biometric", "action": "grant", "csrfmiddlewaretoken": token}).status_code == 400
    assert ConsentRecord.objects.for_org(world.org).count() == 2

    altered = url.replace(url.rstrip("/")[-3:], "xyz")
    assert browser.get(altered).status_code == 404


def test_before_any_notice_the_page_lets_a_customer_withdraw_but_not_grant(world):
    ann = Customer.objects.create(org=world.org, external_userid="wm-ann", name="Ann")
    url = reverse("privacy:consent_page", args=[consent.link_token(ann)])
    browser = Client()
    assert browser.post(url, {"purpose": "marketing", "action": "grant"}).status_code == 400
    assert browser.post(url, {"purpose": "marketing", "action": "withdraw"}).status_code == 302
    assert [r.granted for r in ConsentRecord.objects.for_org(world.org)] == [False]


def test_a_link_stops_working_after_its_days_and_says_how_to_opt_out(world, clock, settings):
    ann = Customer.objects.create(org=world.org, external_userid="wm-ann", name="Ann")
    consent.publish_notice(world.org, title="山茶隐私政策", body="正文", by=None)
    url = reverse("privacy:consent_page", args=[consent.link_token(ann)])
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(url)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)

    clock.advance(days=settings.CONSENT_LINK_DAYS, hours=-1)
    assert browser.get(url).status_code == 200  # still within its days
    clock.advance(hours=2)
    expired = browser.get(url)
    assert expired.status_code == 410 and "回复“退订”" in expired.content.decode() and "山茶隐私政策" not in expired.content.decode()
    assert browser.post(url, {"purpose": "marketing", "action": "grant", "csrfmiddlewaretoken": token}).status_code == 410
    assert not ConsentRecord.objects.for_org(world.org).exists()
    assert browser.get(reverse("privacy:consent_page", args=[consent.link_token(ann)])).status_code == 200  # a new link works
