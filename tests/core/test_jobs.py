"""Jobs: long work with progress, errors recorded on the row, the stale-job sweeper and the console component."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from siyu.core import jobs
from siyu.core.models import Job
from siyu.core.tenancy import request_guard
from tests.factories import client_for, make_org

calls: list[int] = []


@jobs.job_handler("test.count")
def count_things(job: Job, progress: jobs.Progress) -> dict:
    """Counts to params["n"], reporting as it goes, and checks that what it reported reached the database."""
    calls.append(job.pk)
    n = job.params["n"]
    progress.set_total(n)
    row = Job.objects.get(pk=job.pk)
    assert (row.status, row.total) == (Job.Status.RUNNING, n)
    for i in range(n):
        # Pretend the last write was long ago, so this report is written (reports are throttled by time).
        progress._last_write -= timedelta(seconds=1)
        progress.advance(message=f"第 {i + 1} 个")
        row = Job.objects.get(pk=job.pk)
        assert (row.done, row.message) == (i + 1, f"第 {i + 1} 个")
    return {"counted": n}


@jobs.job_handler("test.explode")
def explode(job: Job, progress: jobs.Progress) -> dict:
    progress.set_total(10)
    progress.advance(3)
    raise ValueError("数据第 3 行格式错误")


@pytest.fixture(autouse=True)
def _reset_calls():
    calls.clear()


@pytest.fixture
def org(db):
    return make_org()


def test_handler_reports_progress_and_succeeds_with_its_result(org, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        job = jobs.start_job(org=org, kind="test.count", title="数一数", params={"n": 3})
    assert job.status == Job.Status.QUEUED
    assert len(queued) == 1, "the job is queued once the transaction commits"

    job = jobs.run_job(job.pk)

    assert job.status == Job.Status.SUCCEEDED
    assert job.result == {"counted": 3}
    assert (job.done, job.total, job.percent) == (3, 3, 100)
    assert job.message == "第 3 个"
    assert job.error == ""
    assert job.started_at and job.heartbeat_at and job.finished_at
    assert job.finished


def test_start_job_runs_it_after_commit(org, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = jobs.start_job(org=org, kind="test.count", title="数一数", params={"n": 2})
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert calls == [job.pk]


def test_a_job_started_while_serving_a_request_runs_like_in_a_worker(org, django_capture_on_commit_callbacks):
    # With huey in immediate mode (tests, debugging) the job runs inside the request that queued it, where the
    # tenant guard is armed; it must still run as it would in a worker.
    token = request_guard.set(True)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            job = jobs.start_job(org=org, kind="test.count", title="数一数", params={"n": 2})
    finally:
        request_guard.reset(token)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED


def test_unknown_kind_is_refused(org):
    with pytest.raises(KeyError):
        jobs.start_job(org=org, kind="test.nope", title="?")
    assert not Job.objects.exists()


def test_failing_handler_records_the_error(org):
    job = Job.objects.create(org=org, kind="test.explode", title="导入")
    job = jobs.run_job(job.pk)
    assert job.status == Job.Status.FAILED
    assert job.error == "ValueError: 数据第 3 行格式错误"
    assert (job.done, job.total) == (3, 10)
    assert job.finished_at is not None
    assert job.result == {}


def test_run_job_is_idempotent(org):
    job = Job.objects.create(org=org, kind="test.count", title="数一数", params={"n": 1})
    first = jobs.run_job(job.pk)
    second = jobs.run_job(job.pk)
    assert calls == [job.pk]
    assert first.status == second.status == Job.Status.SUCCEEDED
    assert second.finished_at == first.finished_at

    running = Job.objects.create(org=org, kind="test.count", title="别人在跑", params={"n": 1},
                                 status=Job.Status.RUNNING, heartbeat_at=timezone.now())
    assert jobs.run_job(running.pk).status == Job.Status.RUNNING
    assert calls == [job.pk], "a job another worker is running is not run twice"


def test_sweep_fails_only_stale_running_jobs(org):
    old = timezone.now() - jobs.STALE_AFTER - timedelta(minutes=1)
    recent = timezone.now() - timedelta(seconds=5)

    def make(status, heartbeat):
        return Job.objects.create(org=org, kind="test.count", title=status, status=status, heartbeat_at=heartbeat)

    stale = make(Job.Status.RUNNING, old)
    alive = make(Job.Status.RUNNING, recent)
    queued = make(Job.Status.QUEUED, None)
    done = make(Job.Status.SUCCEEDED, old)
    failed = make(Job.Status.FAILED, old)

    assert jobs.sweep_stale_jobs.call_local() == 1

    stale.refresh_from_db()
    assert stale.status == Job.Status.FAILED
    assert stale.error == "worker stopped responding"
    assert stale.finished_at is not None
    for job, status in [(alive, Job.Status.RUNNING), (queued, Job.Status.QUEUED), (done, Job.Status.SUCCEEDED),
                        (failed, Job.Status.FAILED)]:
        job.refresh_from_db()
        assert job.status == status
        assert job.error == ""


# -- the console progress component -----------------------------------------------------------------------------
def progress_url(job: Job) -> str:
    return reverse("core:job_progress", args=[job.pk])


def test_progress_component_polls_until_the_job_has_finished(world):
    job = Job.objects.create(org=world.org, kind="test.count", title="数一数", params={"n": 4},
                             created_by=world.admin.user)
    client = client_for(world.admin)
    url = progress_url(job)

    html = client.get(url).content.decode()
    assert 'data-status="queued"' in html and "排队中" in html
    assert f'hx-get="{url}"' in html and 'hx-trigger="every 1s"' in html

    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, total=4, done=1, message="处理中…")
    html = client.get(url).content.decode()
    assert 'data-status="running"' in html and "进行中" in html
    assert 'aria-valuenow="25"' in html and "1/4" in html and "处理中…" in html
    assert f'hx-get="{url}"' in html

    Job.objects.filter(pk=job.pk).update(status=Job.Status.QUEUED, total=None, done=0, message="")
    jobs.run_job(job.pk)
    html = client.get(url).content.decode()
    assert 'data-status="succeeded"' in html and "已完成" in html
    assert "hx-get" not in html and "hx-trigger" not in html

    failed = Job.objects.create(org=world.org, kind="test.explode", title="导入", created_by=world.admin.user)
    jobs.run_job(failed.pk)
    html = client.get(progress_url(failed)).content.decode()
    assert 'data-status="failed"' in html and "数据第 3 行格式错误" in html
    assert "hx-get" not in html


def test_a_guide_sees_only_their_own_jobs(world):
    mine = Job.objects.create(org=world.org, kind="test.count", title="我的", created_by=world.guide_e1.user)
    theirs = Job.objects.create(org=world.org, kind="test.count", title="别人的", created_by=world.guide_e2.user)
    hq = Job.objects.create(org=world.org, kind="test.count", title="总部的", created_by=world.admin.user)

    guide = client_for(world.guide_e1)
    assert guide.get(progress_url(mine)).status_code == 200
    assert guide.get(progress_url(theirs)).status_code == 404
    assert guide.get(progress_url(hq)).status_code == 404

    # HQ sees every job of its own brand, none of another brand's.
    admin = client_for(world.admin)
    assert all(admin.get(progress_url(job)).status_code == 200 for job in (mine, theirs, hq))
    assert client_for(world.other_admin).get(progress_url(mine)).status_code == 404


def test_a_store_manager_sees_the_jobs_they_started(world):
    from siyu.core.models import Job

    own = Job.objects.create(org=world.org, kind="k", title="mine", created_by=world.east_manager.user)
    Job.objects.create(org=world.org, kind="k", title="someone else's", created_by=world.admin.user)
    assert list(Job.objects.visible_to(world.east_manager)) == [own]
