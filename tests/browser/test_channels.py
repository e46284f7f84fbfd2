"""The channel code flow in Chromium: an operator creates a code in the console, downloads its QR, and ten
simulated customers scan it. The simulator calls back into the live server exactly as WeCom would."""

from __future__ import annotations

import io

import pytest
import segno
from playwright.sync_api import expect

from siyu.channels import qr
from siyu.channels.models import ChannelCode, WelcomeSend
from siyu.core.dispatch import dispatch_once
from siyu.customers.models import Relation, RelationTag, Tag
from siyu.orgs.staff import upsert_staff
from siyu.wecom.crypto import generate_encoding_aes_key, generate_token
from siyu.wecom.models import WeComConnection
from siyu.wecom.receiver import forget_cryptor
from siyu.wecom.simulator import Simulator, run_in_thread
from tests.wecom.files import serving

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MINI = {"title": "山茶商城·新人礼", "appid": "wx8bd80126147df0a1", "page": "pages/gift/index.html"}


@pytest.fixture
def simulated(world, live_server):
    token, aes_key = generate_token(), generate_encoding_aes_key()
    sim = Simulator("ww0c1d2e3f4a5b6c7d", "browser-secret", "1000002", token, aes_key,
                    f"{live_server.url}/wecom/callback/{world.org.slug}/")
    base, stop = run_in_thread(sim)
    WeComConnection.objects.create(org=world.org, corp_id="ww0c1d2e3f4a5b6c7d", agent_id="1000002", secret="browser-secret",
                                   callback_token=token, encoding_aes_key=aes_key, api_base=f"{base}/cgi-bin/")
    forget_cryptor(world.org.slug)
    yield sim
    stop()
    sim.close()


def settle(limit: int = 50) -> None:
    """Run the dispatcher until nothing is due: callbacks, welcomes, tags and remarks."""
    for _ in range(limit):
        if not dispatch_once():
            return


@pytest.fixture
def files():
    """The poster and the mini-program cover, served locally: Siyu uploads them to WeCom before each send."""
    with serving() as base:
        yield base


def test_create_a_code_in_the_console_download_its_qr_and_ten_customers_scan_it(page, live_server, world, simulated, sign_in, console,
                                                                                 files):
    image_url, cover_url = f"{files}/poster.jpg", f"{files}/cover.png"
    sim = simulated
    people = {}
    for userid, name in (("zhangxiao", "张晓"), ("zhouting", "周婷")):
        staff = upsert_staff(world.org, sim.add_staff(userid, name))
        staff.is_customer_contact = True
        staff.save(update_fields=["is_customer_contact"])
        people[userid] = staff
    sim.admin_add_tags(["奶茶爱好者", "下午茶"], group_name="渠道来源")  # created in WeCom's admin console
    settle()
    assert set(Tag.objects.for_org(world.org).values_list("name", flat=True)) == {"奶茶爱好者", "下午茶"}

    # -- create the code through the console ------------------------------------------------------------------
    sign_in("admin")
    page.get_by_role("link", name="渠道活码").click()
    expect(page.get_by_role("heading", name="渠道活码")).to_be_visible()
    page.get_by_role("link", name="新建渠道活码").first.click()
    expect(page.get_by_role("heading", name="新建渠道活码")).to_be_visible()
    page.get_by_label("名称").fill("南京路店·门口海报")
    page.get_by_label("渠道分组").fill("门店海报")
    page.locator("select[name=staff]").select_option(label=["张晓（zhangxiao）", "周婷（zhouting）"])
    expect(page.get_by_label("轮流分配")).to_be_checked()
    expect(page.get_by_label("每人每日上限")).to_be_hidden()  # only for the daily-cap policy
    page.locator("select[name=tags]").select_option(label=["渠道来源 / 奶茶爱好者", "渠道来源 / 下午茶"])
    page.get_by_label("欢迎语", exact=True).fill("你好 {customer_nickname}，我是{staff_name}，新人礼已备好～")

    add = page.get_by_role("button", name="添加附件")
    add.click()
    first = page.locator("[data-testid=attachments] [data-forms] > fieldset").nth(0)
    first.locator("select[name='att-0-kind']").select_option("image")
    expect(first.locator("input[name='att-0-appid']")).to_be_hidden()
    first.locator("input[name='att-0-pic_url']").fill(image_url)
    add.click()
    second = page.locator("[data-testid=attachments] [data-forms] > fieldset").nth(1)
    second.locator("select[name='att-1-kind']").select_option("miniprogram")
    expect(second.locator("input[name='att-1-url']")).to_be_hidden()
    second.locator("input[name='att-1-title']").fill(MINI["title"])
    second.locator("input[name='att-1-appid']").fill(MINI["appid"])
    second.locator("input[name='att-1-page']").fill(MINI["page"])
    second.locator("input[name='att-1-media_id']").fill(cover_url)
    page.get_by_role("button", name="保存").click()

    expect(page.get_by_role("heading", name="南京路店·门口海报")).to_be_visible()
    expect(page.locator(".toast.success")).to_contain_text("已创建渠道活码")
    code = ChannelCode.objects.for_org(world.org).get()
    expect(page.get_by_test_id("state")).to_have_text(code.state)
    expect(page.get_by_test_id("tags")).to_contain_text("奶茶爱好者")
    expect(page.get_by_test_id("welcome-attachments")).to_contain_text(MINI["page"])
    way = sim.state.contact_ways[code.config_id]
    assert (way.state, sorted(way.user), way.skip_verify) == (code.state, ["zhangxiao", "zhouting"], True)

    # -- download the QR: it encodes the code's landing page -------------------------------------------------
    with page.expect_download() as download:
        page.get_by_test_id("download-qr").click()
    png = open(download.value.path(), "rb").read()
    expected = io.BytesIO()
    segno.make(qr.landing_url(code), error="m").save(expected, kind="png", scale=10, border=2)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png == expected.getvalue()
    assert download.value.suggested_filename == f"channel-{code.state.replace('_', '_')}.png"

    # -- ten customers scan it -----------------------------------------------------------------------------------
    scans = [sim.scan(config_id=code.config_id, name=f"顾客{i}") for i in range(10)]
    settle()
    assert [s["userid"] for s in scans] == way.user * 5  # the adds alternate between the two

    relations = Relation.objects.for_org(world.org).filter(state=code.state)
    assert relations.count() == 10
    for relation in relations:
        tags = RelationTag.objects.for_org(world.org).filter(relation=relation)
        assert {(t.tag.name, t.source) for t in tags} == {("奶茶爱好者", "channel"), ("下午茶", "channel")}
    wecom_tags = {t.wecom_id for t in Tag.objects.for_org(world.org)}
    for customer in sim.list_customers():
        assert set(customer["relations"][0]["tag_ids"]) == wecom_tags  # in WeCom too

    welcomes = sim.welcomes()
    assert len(welcomes) == 10
    assert sorted(w["external_userid"] for w in welcomes) == sorted(s["external_userid"] for s in scans)  # each once
    names = {"zhangxiao": "张晓", "zhouting": "周婷"}
    for scan in scans:
        message = next(w for w in welcomes if w["external_userid"] == scan["external_userid"])
        nickname = next(c["name"] for c in sim.list_customers() if c["external_userid"] == scan["external_userid"])
        assert message["text"]["content"] == f"你好 {nickname}，我是{names[scan['userid']]}，新人礼已备好～"
        picture, cover = message["attachments"]
        assert picture["image"]["pic_url"] in sim.state.uploaded_images  # uploaded through media/uploadimg
        assert cover["miniprogram"]["pic_media_id"] in sim.state.media  # uploaded through media/upload
        assert {k: cover["miniprogram"][k] for k in ("title", "appid", "page")} == MINI
    assert set(WelcomeSend.objects.for_org(world.org).values_list("outcome", flat=True)) == {"sent"}

    # -- the console shows them ----------------------------------------------------------------------------------
    page.reload()
    expect(page.get_by_test_id("adds-today")).to_have_text("10")
    expect(page.get_by_test_id("recent").locator("tbody tr")).to_have_count(10)
    page.get_by_role("link", name="返回列表").click()
    expect(page.get_by_test_id("channel-codes").get_by_test_id("adds-total")).to_have_text("10")
    assert console.problems == [], console.problems
