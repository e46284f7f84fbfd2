"""Order import in a real browser: HQ uploads a Youzan export and reads the bad rows; a queued import's page shows
its progress and turns into the report by itself once the job has run."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from siyu.cdp.models import OrderImport
from siyu.cdp.order_import import start_import
from siyu.core.jobs import run_job

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FILES = Path(__file__).parents[1] / "cdp" / "files"


def test_hq_uploads_an_export_and_sees_progress_and_the_report(page, live_server, world, sign_in, console):
    sign_in("admin")
    page.get_by_role("link", name="订单导入").click()
    expect(page.get_by_role("heading", name="订单导入")).to_be_visible()
    form = page.get_by_test_id("import-form")
    form.get_by_label("订单文件").set_input_files(str(FILES / "youzan_3_bad.csv"))
    form.get_by_label("导入模板").select_option(label="有赞")
    form.get_by_label("只导入无误的订单").check()
    form.get_by_role("button", name="开始导入").click()

    status = page.get_by_test_id("import-status")
    expect(status).to_have_attribute("data-status", "succeeded")
    expect(status.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    rows = page.get_by_test_id("import-errors").locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("订单实付金额")
    expect(rows.nth(1)).to_contain_text("下单时间")
    expect(rows.nth(2)).to_contain_text("商品数量")
    expect(page.get_by_test_id("import-report")).to_contain_text("4")
    assert console.problems == []


@pytest.fixture
def queue_only():
    """Huey queues tasks instead of running them at once (tests run it immediate): a job waits for a worker."""
    from huey.contrib.djhuey import HUEY

    HUEY.immediate = False
    try:
        yield
    finally:
        HUEY.flush()
        HUEY.immediate = True


def test_a_running_import_page_follows_the_job_until_the_report(page, live_server, world, sign_in, console, queue_only):
    batch = start_import(world.org, (FILES / "taobao_gbk.csv").read_bytes(), filename="taobao_gbk.csv",
                         mode=OrderImport.Mode.ALL_OR_NOTHING, preset="taobao", by=world.admin.user)
    sign_in("admin")
    page.goto(f"{live_server.url}/orders/imports/{batch.pk}/")
    status = page.get_by_test_id("import-status")
    expect(status).to_have_attribute("data-status", "queued")
    expect(page.get_by_test_id("import-report")).to_have_count(0)
    run_job(batch.job_id)
    expect(page.get_by_test_id("import-status")).to_have_attribute("data-status", "succeeded")
    expect(page.get_by_test_id("import-report")).to_contain_text("2")
    expect(page.get_by_text("没有错误行。")).to_be_visible()
    assert console.problems == []
