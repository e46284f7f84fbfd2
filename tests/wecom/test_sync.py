"""The full sync and the nightly reconcile, against the real simulator over HTTP: Siyu's rows end up equal to
WeCom's state, a second run changes nothing, cursors page, drift that callbacks missed is repaired, and rate
limits are waited out or fail the job with a clear message."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from siyu.core import jobs
from siyu.core.models import Job
from siyu.customers import services as customer_services
from siyu.customers.models import Customer, Relation, RelationTag, Tag, TagGroup, TimelineEvent, Transfer
from siyu.groups.models import CustomerGroup, GroupMember
from siyu.orgs.models import AuditEntry, Staff
from siyu.wecom import sync, tasks
from siyu.wecom.crypto import generate_encoding_aes_key, generate_token
from siyu.wecom.models import ApiCall, Department, WeComConnection
from siyu.wecom.simulator import SimClock, Simulator, run_in_thread
from tests.factories import client_for
from tests.wecom.live import siyu_view, sim_view

CORP_ID = "ww5b0c1d2e3f4a5b6c"
SECRET = "full-sync-secret"
AGENT_ID = "1000002"


class Corp:
    """An organization connected to a simulator on a loopback port. The simulator has no callback URL, so
    nothing reaches Siyu but what the sync reads: exactly the situation after missed callbacks."""

    def __init__(self, org):
        self.org = org
        self.sim = Simulator(CORP_ID, SECRET, AGENT_ID, generate_token(), generate_encoding_aes_key(),
                             clock=SimClock(frozen=True))
        base_url, self.stop = run_in_thread(self.sim)
        self.connection = WeComConnection.objects.create(
            org=org, corp_id=CORP_ID, agent_id=AGENT_ID, secret=SECRET, callback_token=generate_token(),
            encoding_aes_key=generate_encoding_aes_key(), api_base=f"{base_url}/cgi-bin/",
        )

    def sync(self, capture, by=None) -> Job:
        """Start a full sync and run it to the end (huey runs immediately in tests, after commit)."""
        with capture(execute=True):
            job = sync.start_full_sync(self.org, by)
        job.refresh_from_db()
        return job

    def calls(self, endpoint: str) -> int:
        return ApiCall.objects.for_org(self.org).filter(endpoint=endpoint, errcode=0).count()


@pytest.fixture
def corp(world, settings):
    settings.WECOM_BACKOFF_BASE, settings.WECOM_BACKOFF_MAX = 0.001, 0.01
    corp = Corp(world.org)
    yield corp
    corp.stop()
    corp.sim.close()


def build_world(sim: Simulator) -> dict:
    """3 departments, 5 staff (4 with 客户联系 and customers), 120 customers of whom 30 have two staff,
    2 tag groups with tags, remarks and mobiles on some relations, and 3 groups."""
    sim.add_department("华东区", id=2)
    sim.add_department("华南区", id=3)
    staff = ["zhangsan", "lisi", "wangwu", "zhaoliu"]
    for n, userid in enumerate(staff):
        sim.add_staff(userid, f"员工{n}", department=[2 if n < 2 else 3], position="导购", mobile=f"1380000000{n}")
    sim.add_staff("boss", "老板", department=[1], external_contact=False)
    levels = sim.admin_add_tags(["金卡", "银卡", "普卡"], group_name="会员等级")
    interests = sim.admin_add_tags(["香薰", "护肤"], group_name="兴趣")
    level_ids = [t["id"] for t in levels["tags"]]
    interest_ids = [t["id"] for t in interests["tags"]]
    customers = []
    for n in range(120):
        ext = sim.add_customer(staff[n % 4], name=f"客户{n}")["external_userid"]
        customers.append(ext)
        if n % 4 == 0:  # 30 customers are also friends with the next member
            sim.add_customer(staff[(n + 1) % 4], external_userid=ext)
        if n % 3 == 0:
            sim.staff_edits_customer(
                staff[n % 4], ext, remark=f"备注{n}", description="老客户", remark_mobiles=[f"1390000{n:04d}"],
                add_tags=[level_ids[n % 3], interest_ids[n % 2]],
            )
    groups = [
        sim.create_group("zhangsan", name="香薰爱好者群", members=customers[:10], staff=["lisi"], new_members=2)["chat_id"],
        sim.create_group("wangwu", name="护肤交流群", members=customers[10:25])["chat_id"],
        sim.create_group("zhaoliu", name="金卡会员群", members=customers[40:43], new_members=1)["chat_id"],
    ]
    return {"staff": staff, "customers": customers, "groups": groups, "levels": level_ids, "interests": interest_ids}


def siyu_counts(org) -> dict:
    models = (Customer, Relation, RelationTag, Tag, TagGroup, TimelineEvent, CustomerGroup, GroupMember, Staff, Department)
    return {model.__name__: model.objects.for_org(org).count() for model in models}


def assert_mirrors(corp: Corp) -> None:
    org, sim = corp.org, corp.sim
    assert siyu_view(org) == sim_view(sim)
    assert set(Department.objects.for_org(org).filter(deleted=False).values_list("dept_id", flat=True)) == set(sim.state.departments)
    live_tags = {t.id for t in sim.state.tags.values() if not t.deleted}
    assert set(Tag.objects.for_org(org).filter(deleted=False).values_list("wecom_id", flat=True)) == live_tags
    live_groups = {g.group_id for g in sim.state.tag_groups.values() if not g.deleted}
    assert set(TagGroup.objects.for_org(org).filter(deleted=False).values_list("wecom_id", flat=True)) == live_groups


# -- the full sync ----------------------------------------------------------------------------------------------
def test_full_sync_mirrors_the_simulator_and_a_second_run_changes_nothing(corp, django_capture_on_commit_callbacks):
    world = build_world(corp.sim)
    job = corp.sync(django_capture_on_commit_callbacks)

    assert job.status == Job.Status.SUCCEEDED, job.error
    assert (job.done, job.total, job.percent) == (100, 100, 100)
    assert_mirrors(corp)
    org = corp.org
    result = job.result
    assert (result["departments"], result["staff"], result["follow_users"]) == (3, 5, 4)
    assert (result["customers"], result["relations"], result["groups"]) == (120, 150, 3)
    assert result["pages"]["customers"] == 2  # 150 relations at WeCom's limit of 100 per page
    assert corp.calls("externalcontact/batch/get_by_user") == 2

    # Staff: directory fields, departments and who may have customers.
    boss = Staff.objects.for_org(org).get(userid="boss")
    assert (boss.name, boss.is_customer_contact, boss.department_ids) == ("老板", False, [1])
    assert set(Staff.objects.for_org(org).filter(is_customer_contact=True).values_list("userid", flat=True)) == set(world["staff"])
    assert Staff.objects.for_org(org).get(userid="zhangsan").mobile == ""  # apps created after 2022-06-20 see none
    # Relations: remark, description, encrypted mobiles, add way, time, tags by id.
    ext = world["customers"][3]
    relation = Relation.objects.for_org(org).get(customer__external_userid=ext, staff__userid="zhaoliu")
    upstream = corp.sim.state.relation("zhaoliu", ext)
    assert (relation.remark, relation.description, relation.add_way) == ("备注3", "老客户", 2)
    assert json.loads(relation.remark_mobiles) == ["13900000003"]
    assert int(relation.added_at.timestamp()) == upstream.createtime
    assert set(relation.relation_tags.values_list("tag__wecom_id", flat=True)) == set(upstream.tag_ids)
    assert Tag.objects.for_org(org).get(wecom_id=world["levels"][0]).group.name == "会员等级"
    customer = Customer.objects.for_org(org).get(external_userid=world["customers"][0])
    assert customer.is_friend and customer.first_added_at is not None and customer.name == "客户0"
    group = CustomerGroup.objects.for_org(org).get(chat_id=world["groups"][0])
    assert (group.name, group.owner.userid, group.member_count) == ("香薰爱好者群", "zhangsan", 14)
    assert GroupMember.objects.for_org(org).filter(group=group, customer__isnull=False).count() == 10
    assert TimelineEvent.objects.for_org(org).filter(kind="added").count() == 150
    assert WeComConnection.objects.for_org(org).get().last_full_sync_at is not None

    before = siyu_counts(org)
    again = corp.sync(django_capture_on_commit_callbacks)
    assert again.status == Job.Status.SUCCEEDED, again.error
    assert again.percent == 100
    assert siyu_counts(org) == before, "a second sync adds, removes and re-timelines nothing"
    assert (again.result["relations_started"], again.result["relations_ended"], again.result["groups_dismissed"]) == (0, 0, 0)
    assert_mirrors(corp)


@pytest.mark.parametrize("gone", [90501, 49008])  # which code a dismissed group gives is unverified: both work
def test_a_large_corp_keeps_a_departed_owners_groups_and_lists_them_for_inheritance(corp, django_capture_on_commit_callbacks,
                                                                                   gone):
    # Doc 92120: with more than 1,000 people visible, groupchat/list needs owner_filter (81017 otherwise), and a
    # departed owner's groups are listed only when owner_filter names that owner.
    sim = corp.sim
    # The 1,000-member threshold lowered to 3 stands for a large corp (the simulator's own tests cover 1,000).
    sim.set_limits(groupchat_list_unfiltered_max=3, dismissed_group_errcode=gone)
    for n in range(4):
        sim.add_staff(f"s{n:04d}", f"员工{n}", external_contact=False)
    sim.add_staff("leaver", "离职导购")
    sim.add_staff("stayer", "在职导购")
    orphan = sim.create_group("leaver", "离职导购的群", new_members=2)["chat_id"]
    kept = sim.create_group("stayer", "在职导购的群", new_members=1)["chat_id"]
    first = corp.sync(django_capture_on_commit_callbacks)
    assert first.status == Job.Status.SUCCEEDED, first.error
    sim.remove_staff("leaver")
    dismissed = sim.create_group("stayer", "将解散的群")["chat_id"]
    CustomerGroup.objects.for_org(corp.org).filter(chat_id=kept).update(name="旧名")
    corp.sync(django_capture_on_commit_callbacks)
    sim.dismiss_group(dismissed)

    job = corp.sync(django_capture_on_commit_callbacks)

    assert job.status == Job.Status.SUCCEEDED, job.error
    groups = {g.chat_id: g for g in CustomerGroup.objects.for_org(corp.org)}
    assert groups[orphan].status == CustomerGroup.Status.ACTIVE, "a departed owner's group is not dismissed"
    assert groups[orphan].inheritance == CustomerGroup.Inheritance.WAITING  # listed for 离职继承
    assert (groups[kept].status, groups[kept].name) == (CustomerGroup.Status.ACTIVE, "在职导购的群")
    assert groups[dismissed].status == CustomerGroup.Status.DISMISSED  # confirmed by groupchat/get
    assert job.result["groups_dismissed"] == 1


def test_every_cursor_pages_with_small_limits_and_progress_follows_the_pages(corp, django_capture_on_commit_callbacks,
                                                                            monkeypatch):
    build_world(corp.sim)
    monkeypatch.setattr(sync, "USERIDS_PER_CALL", 3)
    monkeypatch.setattr(sync, "CUSTOMERS_PER_PAGE", 7)
    monkeypatch.setattr(sync, "GROUPS_PER_PAGE", 1)
    reports = []
    advance = jobs.Progress.advance

    def recording(progress, n=1, message=None):
        advance(progress, n, message)
        reports.append((progress.job.done, message))

    monkeypatch.setattr(jobs.Progress, "advance", recording)
    job = corp.sync(django_capture_on_commit_callbacks)

    assert job.status == Job.Status.SUCCEEDED, job.error
    assert_mirrors(corp)
    # Two member chunks (3 members, then 1), each paged by 7 relations; one group per page.
    chunks = [["lisi", "wangwu", "zhangsan"], ["zhaoliu"]]
    relations = [sum(len(corp.sim.state.relations_of_staff(u)) for u in chunk) for chunk in chunks]
    pages = sum(-(-n // 7) for n in relations)
    assert job.result["pages"] == {"customers": pages, "groups": 3}
    assert corp.calls("externalcontact/batch/get_by_user") == pages
    assert corp.calls("externalcontact/groupchat/list") == 3
    assert corp.calls("externalcontact/groupchat/get") == 3
    done = [d for d, _message in reports]
    assert done == sorted(done) and done[-1] == 100, "progress only moves forward, to 100"
    page_reports = [d for d, m in reports if m and m.startswith("客户：已读取")]
    assert len(page_reports) == pages and len(set(page_reports)) > 1, "one report per page of customers"
    assert sum(1 for _d, m in reports if m and m.startswith("客户群：已同步")) == 3


def test_sync_of_an_empty_corp_succeeds(corp, django_capture_on_commit_callbacks):
    job = corp.sync(django_capture_on_commit_callbacks)
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.percent == 100
    assert job.result["customers"] == 0 and job.result["groups"] == 0


# -- drift: what callbacks missed ----------------------------------------------------------------------------------
def test_nightly_reconcile_repairs_what_callbacks_missed(corp, django_capture_on_commit_callbacks):
    world = build_world(corp.sim)
    assert corp.sync(django_capture_on_commit_callbacks).status == Job.Status.SUCCEEDED
    org, sim = corp.org, corp.sim
    first, second, third = world["customers"][1], world["customers"][2], world["customers"][6]
    # None of these reach Siyu: the simulator has no callback URL (a WeCom outage, say).
    sim.staff_deletes_customer("lisi", first)
    sim.admin_delete_tags(tag_ids=[world["interests"][0]])
    sim.dismiss_group(world["groups"][1])
    sim.remove_staff("zhaoliu")
    sim.leave_group(world["groups"][0], world["customers"][4])
    new = sim.add_customer("zhangsan", name="新客户")["external_userid"]
    sim.staff_edits_customer("wangwu", second, remark="改过的备注", add_tags=[world["levels"][1]])
    # A relation moved by a transfer Siyu asked for: it ends as transferred, not as deleted.
    transfer = Transfer.objects.create(
        org=org, kind=Transfer.Kind.ONJOB, customer=Customer.objects.for_org(org).get(external_userid=third),
        handover=Staff.objects.for_org(org).get(userid="wangwu"), takeover=Staff.objects.for_org(org).get(userid="zhangsan"),
        status=Transfer.Status.WAITING,
    )
    sim.staff_deletes_customer("wangwu", third)

    with django_capture_on_commit_callbacks(execute=True):
        started = tasks.nightly_reconcile.call_local()
    job = Job.objects.for_org(org).get(pk=started[0])

    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.params == {"reason": "nightly"} and job.created_by is None
    assert_mirrors(corp)
    ended = Relation.objects.for_org(org).get(customer__external_userid=first, staff__userid="lisi")
    assert ended.status == Relation.Status.DELETED_BY_STAFF and ended.deleted_at is not None
    moved = Relation.objects.for_org(org).get(customer=transfer.customer, staff__userid="wangwu")
    assert moved.status == Relation.Status.TRANSFERRED
    notes = TimelineEvent.objects.for_org(org).filter(kind="reconcile")
    assert {(n.customer.external_userid, n.data["status"]) for n in notes} == {
        (first, "deleted_by_staff"), (third, "transferred")}
    assert all(n.data["job_id"] == job.pk and n.data["note"] for n in notes)
    assert TimelineEvent.objects.for_org(org).filter(customer=ended.customer, kind="deleted_by_staff").count() == 1
    assert Tag.objects.for_org(org).get(wecom_id=world["interests"][0]).deleted
    assert not RelationTag.objects.for_org(org).filter(tag__wecom_id=world["interests"][0]).exists()
    assert CustomerGroup.objects.for_org(org).get(chat_id=world["groups"][1]).status == CustomerGroup.Status.DISMISSED
    assert Staff.objects.for_org(org).get(userid="zhaoliu").status == Staff.Status.DEPARTED
    assert Relation.objects.for_org(org).get(customer__external_userid=new).status == Relation.Status.ACTIVE
    assert Relation.objects.for_org(org).get(customer__external_userid=second, staff__userid="wangwu").remark == "改过的备注"
    assert job.result["relations_ended"] == 2 and job.result["groups_dismissed"] == 1 and job.result["staff_departed"] == 1


def test_a_customer_who_deleted_the_member_stays_ended_until_they_add_again(corp, django_capture_on_commit_callbacks):
    world = build_world(corp.sim)
    assert corp.sync(django_capture_on_commit_callbacks).status == Job.Status.SUCCEEDED
    org, sim, ext = corp.org, corp.sim, world["customers"][5]
    sim.customer_deletes_staff(ext, "lisi")
    # The del_follow_user callback was received and processed.
    customer_services.relation_ended(org, userid="lisi", external_userid=ext, status=Relation.Status.DELETED_BY_CUSTOMER)

    assert corp.sync(django_capture_on_commit_callbacks).status == Job.Status.SUCCEEDED
    relation = Relation.objects.for_org(org).get(customer__external_userid=ext, staff__userid="lisi")
    assert relation.status == Relation.Status.DELETED_BY_CUSTOMER, "WeCom keeps listing them; that is no re-add"
    assert not Customer.objects.for_org(org).get(external_userid=ext).is_friend

    sim.advance(60)
    sim.add_customer("lisi", external_userid=ext)  # they add the member again; that callback is missed
    job = corp.sync(django_capture_on_commit_callbacks)
    relation.refresh_from_db()
    assert relation.status == Relation.Status.ACTIVE and job.result["relations_started"] == 1
    assert Customer.objects.for_org(org).get(external_userid=ext).is_friend
    assert_mirrors(corp)


# -- starting, refusing, failing -----------------------------------------------------------------------------------
def test_start_refuses_while_a_sync_runs_and_without_a_connection(corp, world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        job = sync.start_full_sync(corp.org, world.admin.user)
        with pytest.raises(ValidationError):
            sync.start_full_sync(corp.org, world.admin.user)
    assert Job.objects.for_org(corp.org).filter(kind=sync.JOB_KIND).count() == 1
    entry = AuditEntry.objects.for_org(corp.org).get(action="wecom.full_sync_started")
    assert (entry.actor, entry.object_id, entry.details) == (world.admin.user, str(job.pk), {"reason": "manual"})

    Job.objects.filter(pk=job.pk).update(status=Job.Status.SUCCEEDED)
    with django_capture_on_commit_callbacks(execute=False):
        assert sync.start_full_sync(corp.org, world.admin.user).pk != job.pk

    with pytest.raises(ValidationError):
        sync.start_full_sync(world.other_org, None)


def test_nightly_reconcile_skips_an_organization_whose_sync_is_running(corp, django_capture_on_commit_callbacks):
    running = Job.objects.create(org=corp.org, kind=sync.JOB_KIND, title="x", status=Job.Status.RUNNING)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.nightly_reconcile.call_local() == []
    assert list(Job.objects.for_org(corp.org).filter(kind=sync.JOB_KIND)) == [running]


def test_nightly_reconcile_runs_at_half_past_three_beijing_time():
    check = tasks.shanghai_crontab(minute="30", hour="3")
    # huey hands periodic checks naive UTC: 19:30 UTC is 03:30 in Shanghai.
    assert check(datetime(2026, 3, 1, 19, 30))
    assert not check(datetime(2026, 3, 1, 3, 30))
    assert not check(datetime(2026, 3, 1, 19, 31))


def test_rate_limits_are_waited_out(corp, django_capture_on_commit_callbacks, monkeypatch, settings):
    settings.WECOM_BACKOFF_MAX = 0  # the client gives up at once; the sync waits instead
    build_world(corp.sim)
    waits = []
    monkeypatch.setattr(sync, "_sleep", waits.append)
    corp.sim.fail_next("externalcontact/get_corp_tag_list", 45009, times=2)

    job = corp.sync(django_capture_on_commit_callbacks)

    assert job.status == Job.Status.SUCCEEDED, job.error
    assert waits == [60.0, 60.0]
    assert_mirrors(corp)


def test_a_rate_limit_beyond_the_budget_fails_the_job_with_a_clear_message(corp, django_capture_on_commit_callbacks,
                                                                           monkeypatch, settings):
    settings.WECOM_BACKOFF_MAX = 0
    settings.WECOM_SYNC_MAX_WAIT = 100
    waits = []
    monkeypatch.setattr(sync, "_sleep", waits.append)
    corp.sim.fail_next("externalcontact/batch/get_by_user", 45009, times=5)
    corp.sim.add_staff("zhangsan", "张三")
    corp.sim.add_customer("zhangsan")

    job = corp.sync(django_capture_on_commit_callbacks)

    assert job.status == Job.Status.FAILED
    assert waits == [60.0]
    assert "externalcontact/batch/get_by_user" in job.error and "频率超限" in job.error and "分钟后重新同步" in job.error
    assert job.percent < 100


def test_a_refusal_fails_the_job_with_wecoms_hint(corp, django_capture_on_commit_callbacks):
    corp.sim.fail_next("externalcontact/get_follow_user_list", 48002)
    job = corp.sync(django_capture_on_commit_callbacks)
    assert job.status == Job.Status.FAILED
    assert "可调用接口的应用" in job.error and "48002" in job.error and "get_follow_user_list" in job.error


# -- the console page ----------------------------------------------------------------------------------------------
def test_sync_page_starts_a_sync_and_shows_its_progress(corp, world, django_capture_on_commit_callbacks):
    corp.sim.add_staff("zhangsan", "张三")
    corp.sim.add_customer("zhangsan", name="王女士")
    client = client_for(world.admin)
    page = client.get(reverse("wecom:sync"))
    assert page.status_code == 200 and reverse("wecom:sync_start") in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("wecom:sync_start"))
    assert response.status_code == 302 and response.url == reverse("wecom:sync")
    html = client.get(response.url).content.decode()
    job = Job.objects.for_org(corp.org).get(kind=sync.JOB_KIND)
    assert job.status == Job.Status.SUCCEEDED and job.created_by == world.admin.user
    assert 'data-testid="job-progress" data-status="succeeded"' in html
    assert "全量同步已开始" in html and "客户 1" in html
    assert Customer.objects.for_org(corp.org).filter(name="王女士").exists()

    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING)
    response = client.post(reverse("wecom:sync_start"), follow=True)
    assert "已有一次同步正在进行" in response.content.decode()
    assert Job.objects.for_org(corp.org).filter(kind=sync.JOB_KIND).count() == 1
    assert "disabled" in client.get(reverse("wecom:sync")).content.decode()


def test_sync_pages_are_for_administrators_only(corp, world):
    guide = client_for(world.guide_e1)
    assert guide.get(reverse("wecom:sync")).status_code == 403
    assert guide.post(reverse("wecom:sync_start")).status_code == 403
    manager = client_for(world.s1_manager)
    assert manager.get(reverse("wecom:sync")).status_code == 403
    assert not Job.objects.for_org(corp.org).exists()
