"""The moments flow in Chromium against the simulator: an operator composes a moment with an image, sees the dry
run, fixes a blocked word, schedules it, and later — the member published it, a customer liked it — sees the
results page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from siyu.customers.models import TimelineEvent
from siyu.moments import tasks
from siyu.moments.models import Moment
from tests.messaging.mass_helpers import Corp
from tests.moments.helpers import corp_tag, png, tag

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def corp(world, clock, live_server):
    corp = Corp(world.org)
    clock.attach(corp.sim)
    yield corp
    corp.stop()


def test_compose_dry_run_fix_a_blocked_word_schedule_and_see_the_results(page, live_server, world, corp, clock,
                                                                          sign_in, console):
    [ann] = corp.staff(1)
    ann.name = "张晓"
    ann.save(update_fields=["name"])
    customers = corp.customers(ann, 3)
    gold = corp_tag(corp, "金卡")
    tag(corp, gold, ann, customers[:2])
    image = png()

    sign_in("admin")
    page.get_by_role("link", name="客户朋友圈").click()
    expect(page.get_by_role("heading", name="客户朋友圈")).to_be_visible()
    page.get_by_role("link", name="新建朋友圈").first.click()
    page.get_by_label("内容", exact=True).fill("全网最低价！春季新品到店")
    page.get_by_label("附件类型").select_option(label="图片")
    page.get_by_label("图片或视频").set_input_files([{"name": "poster.png", "mimeType": "image/png", "buffer": image.data}])
    page.locator("select[name=tags]").select_option(label=["金卡组 / 金卡"])
    page.locator("select[name=staff]").select_option(label=[f"张晓（{ann.userid}）"])
    page.get_by_label("营销类内容").check()
    page.get_by_role("button", name="保存草稿并试算").click()

    # The dry run: two customers can see it, one promotional slot today, and the blocked word highlighted.
    dry = page.get_by_test_id("moment-dry-run")
    expect(dry.get_by_text("内容违规，不能发布")).to_be_visible()
    expect(page.get_by_test_id("moment-audience")).to_have_text("2")
    expect(page.get_by_test_id("moment-promo-count")).to_contain_text("已有 0 条，每天最多 1 条")
    expect(page.get_by_test_id("moment-dry-run-text").locator("mark.finding-block")).to_have_text("全网最低价")
    expect(page.locator(".moment-media img")).to_have_count(1)
    page.get_by_role("button", name="立即发布").click()
    expect(page.get_by_test_id("moment-errors")).to_contain_text("内容含禁用词：全网最低价")
    assert Moment.objects.for_org(world.org).get().status == Moment.Status.DRAFT

    page.get_by_role("link", name="修改").click()
    page.get_by_label("内容", exact=True).fill("春季新品到店，欢迎来看看")
    page.get_by_role("button", name="保存草稿并试算").click()
    expect(page.get_by_test_id("moment-dry-run").get_by_text("可以发布")).to_be_visible()
    expect(page.locator(".moment-media img")).to_have_count(1)  # the image was kept
    page.get_by_role("button", name="立即发布").click()
    expect(page.get_by_text("朋友圈已提交发布。")).to_be_visible()

    # The worker makes the WeCom task; WeCom's job finishes; the member publishes; a customer likes it.
    corp.run()
    clock.advance(seconds=corp.sim.limits.moment_task_seconds + 5)
    corp.run()
    moment = Moment.objects.for_org(world.org).get()
    [made] = corp.sim.state.moments.values()
    assert moment.moment_id == made.moment_id and len(made.attachments) == 1
    corp.sim.publish_moment(made.moment_id, ann.userid)
    corp.sim.like_moment(made.moment_id, ann.userid, customers[0].external_userid)
    assert tasks.fetch_moment_results.call_local() == 1

    page.reload()
    page.get_by_role("link", name="发表结果").click()
    expect(page.get_by_role("heading", name="朋友圈发表结果")).to_be_visible()
    row = page.get_by_test_id("moment-results").locator(f"tr[data-userid='{ann.userid}']")
    expect(row).to_contain_text("张晓")
    expect(row).to_contain_text("已发表")
    expect(row.get_by_test_id("visible")).to_have_text("2")
    expect(row.get_by_test_id("likes")).to_have_text("1")
    assert TimelineEvent.objects.for_org(world.org).filter(kind="moment_liked", customer=customers[0]).count() == 1
    assert not console.problems
