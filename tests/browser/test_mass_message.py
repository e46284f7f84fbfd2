"""In Chromium, against the simulator: an operator composes a mass message with an uploaded image, sees the dry
run, fixes the blocked word, schedules it, and once it is due and sent sees the results page."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from playwright.sync_api import expect

from siyu.messaging.models import MassMessage
from tests.messaging.mass_helpers import Corp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_an_operator_composes_fixes_a_blocked_word_schedules_and_reads_the_results(
        page, live_server, world, sign_in, console, clock, settings, tmp_path):
    settings.PUBLIC_URL = live_server.url  # where WeCom's upload (media.py) fetches the uploaded image from
    settings.MEDIA_ROOT = tmp_path / "media"
    corp = Corp(world.org)
    try:
        ann, bob = corp.staff(2, store=world.e1)
        corp.customers(ann, 3)
        corp.customers(bob, 2)
        corp.customers(bob, 1, consent=False)
        picture = tmp_path / "poster.png"
        Image.new("RGB", (60, 40), (20, 120, 200)).save(picture)

        sign_in("admin")
        page.get_by_role("link", name="客户群发").click()
        page.get_by_role("link", name="新建群发").first.click()
        page.get_by_label("标题").fill("春季上新")
        page.get_by_label("消息内容").fill("全网最低价，春季新品到店")
        page.get_by_label("上传图片").set_input_files(str(picture))
        page.get_by_label("定时发送").check()
        due = (clock.now() + timedelta(days=1)).astimezone(SHANGHAI).replace(hour=10, minute=0, second=0, microsecond=0)
        page.get_by_label("定时", exact=True).fill(due.strftime("%Y-%m-%dT%H:%M"))
        page.get_by_role("button", name="保存并试算").click()

        dry = page.get_by_test_id("dry-run")
        expect(dry).to_contain_text("内容违规，不能发送")
        expect(page.get_by_test_id("dry-run-text").locator("mark.finding-block")).to_have_text("全网最低价")
        expect(page.get_by_test_id("mass-send")).to_be_disabled()
        image = page.get_by_test_id("mass-image")
        expect(image).to_be_visible()
        assert image.evaluate("img => img.naturalWidth") == 60  # the stored copy is served back

        page.get_by_label("消息内容").fill("春季新品到店，欢迎来看看")
        page.get_by_role("button", name="保存并重新试算").click()
        expect(page.get_by_test_id("dry-run-included")).to_have_text("5")
        expect(page.get_by_test_id("dry-run-reasons")).to_contain_text("未授权该用途")
        expect(page.get_by_test_id("mass-send")).to_be_enabled()
        page.get_by_test_id("mass-send").click()

        expect(page.get_by_test_id("mass-status")).to_have_text("待发送")
        message = MassMessage.objects.for_org(world.org).get()
        assert message.scheduled_at == due and message.status == MassMessage.Status.SCHEDULED

        clock.set(due + timedelta(minutes=1))  # later: the send is due and the worker runs it
        corp.run()
        # The page polls its progress while the send is planned: it shows the tasks without a reload.
        expect(page.get_by_test_id("mass-status")).to_have_text("发送中")
        expect(page.get_by_test_id("mass-tasks")).to_contain_text("2 / 2")
        for msgid, (sender, _ids) in corp.recipients().items():
            corp.sim.confirm_groupmsg(msgid, sender)
        page.reload()  # the operator comes back to the results page later
        page.get_by_role("button", name="刷新结果").click()
        counts = page.get_by_test_id("mass-counts")
        expect(counts.locator("[data-count=delivered]")).to_have_text("5")
        expect(counts.locator("[data-count=planned]")).to_have_text("6")
        expect(page.get_by_test_id("mass-by-store")).to_contain_text(world.e1.name)
        [image_url] = {a["image"]["pic_url"] for t in corp.sim.state.msg_templates.values() for a in t.attachments}
        assert image_url.startswith("http://p.qpic.cn/")  # uploaded through media/uploadimg before the call
        assert console.problems == [], console.problems
    finally:
        corp.stop()
