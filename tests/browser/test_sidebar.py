"""The chat sidebar in Chromium, through the harness that plays WeCom's client: a guide opens a customer's chat
(signing in with WeCom on the way), sees the profile, adds a tag and a note, sends a script and a material; the
simulator records what reached the chat; the customer opens the tracked link and reads for 40 s; the guide gets
one "reading now" message, the timeline shows the open with its duration, and a behaviour rule tags the customer."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from siyu.customers.models import RelationTag
from siyu.lifecycle import rules
from siyu.tracking.models import TrackedLink, Visit
from tests.content.materials_support import make
from tests.factories import drain
from tests.sidebar.support import Shop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def base(live_server, settings) -> str:
    """Siyu on 127.0.0.1 like the simulator: the same site, as WeCom's sign-in page and the app are to the client
    (the frame's session cookie is SameSite=Lax, which a sign-in coming back from another site would not carry)."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "127.0.0.1"]
    return live_server.url.replace("localhost", "127.0.0.1")


@pytest.fixture
def shop(world, settings, base, tmp_path, django_capture_on_commit_callbacks):
    settings.MEDIA_ROOT = tmp_path
    shop = Shop(world, settings, django_capture_on_commit_callbacks, public_url=base)
    yield shop
    shop.close()


def open_chat(page, base: str, name: str, member: str):
    """Pick the chat in the harness; signed out, the frame signs in through the simulator's authorize page."""
    page.goto(f"{base}/s/harness/?org=brand-a")
    page.get_by_role("button", name=name).click()
    frame = page.frame_locator("#sidebar-frame")
    frame.get_by_role("button", name=f"以此身份访问：{member}").click()
    return frame


def test_a_guide_works_a_customers_chat_and_the_customer_reads_the_material(page, base, world, shop, browser, console):
    article = make(world, "article", approve=True, title="秋冬新品上市", summary="本周到店")
    tag = shop.tag("已到店")
    rules.save_rule(world.org, name="读过新品", kind="behaviour", tags=[tag],
                    config={"event": "material_opened", "ref": str(article.pk)})
    requests = []
    page.on("request", lambda request: requests.append(request))
    page.set_viewport_size({"width": 1440, "height": 900})

    frame = open_chat(page, base, "与 王女士 的聊天", "张晓（zhangxiao）")
    expect(frame.get_by_role("heading", name="王女士")).to_be_visible()
    expect(frame.get_by_test_id("profile")).to_contain_text("138****5678")
    sidebar = page.frame(url=re.compile(r"/s/c/"))
    sidebar.wait_for_load_state("load")
    expect(page.locator("#calls")).to_contain_text("register → config:ok, agentConfig:ok")
    # The first screen: the customer page itself and static files, nothing else from the sidebar's frame.
    start = next(i for i, r in enumerate(requests) if r.url == sidebar.url)
    own = [r.url for r in requests[start:] if r.frame == sidebar and "/static/" not in r.url]
    assert own == [sidebar.url], own

    frame.get_by_label("添加标签").select_option(label="意向 · 高意向")
    frame.get_by_role("button", name="添加", exact=True).click()
    expect(frame.get_by_test_id("tags").locator(".chip-tag", has_text="高意向")).to_be_visible()
    frame.get_by_label("小记").fill("想要秋冬新品的试用装")
    frame.get_by_role("button", name="添加小记").click()
    expect(frame.get_by_test_id("notes").locator(".rows")).to_contain_text("想要秋冬新品的试用装")

    frame.get_by_test_id("scripts").get_by_role("button", name="发送").first.click()
    expect(frame.locator("#send-status")).to_have_text("已发送到当前聊天。")
    frame.get_by_role("searchbox").fill("qdxp")  # pinyin initials of 秋冬新品
    expect(frame.get_by_test_id("scripts")).to_contain_text("没有找到话术。")
    frame.get_by_test_id("materials").get_by_role("button", name="发送").click()
    expect(frame.locator("#send-status")).to_have_text("已发送到当前聊天。")

    sent = shop.sim.chat_tool_messages(userid="zhangxiao")
    assert [m["msgtype"] for m in sent] == ["text", "news"] and {m["external_userid"] for m in sent} == {shop.wang}
    assert sent[0]["text"]["content"].startswith("王姐您好，我是")
    link = TrackedLink.objects.get(material=article, customer__external_userid=shop.wang)
    assert sent[1]["news"]["link"] == f"{base}/t/{link.token}/"
    expect(page.locator("#sent")).to_contain_text(f"/t/{link.token}/")

    # The customer opens the card on their phone and reads for 40 seconds.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN").new_page()
    phone.clock.install()
    phone.goto(sent[1]["news"]["link"])
    phone.get_by_role("button", name="允许", exact=True).click()
    phone.clock.run_for(40_000)
    with phone.expect_response(lambda r: r.url.endswith("/beat")):  # the last report, as the phone hides the page
        phone.evaluate("Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});"
                       "document.dispatchEvent(new Event('visibilitychange'))")
    visit = Visit.objects.get(link=link)
    for _ in range(100):  # the reports sent while reading may still be arriving
        if visit.seconds == 40:
            break
        phone.wait_for_timeout(100)
        visit.refresh_from_db()
    assert (visit.seconds, visit.consented) == (40, True)
    phone.context.close()
    drain()

    notices = [m for m in shop.sim.messages(touser="zhangxiao") if "正在阅读" in str(m)]
    assert len(notices) == 1 and "秋冬新品上市" in str(notices[0])
    wang = shop.customer(shop.wang)
    assert RelationTag.objects.filter(relation__customer=wang, tag=tag).exists()
    page.goto(f"{base}/customers/{wang.pk}/")
    expect(page.get_by_text("打开了素材《秋冬新品上市》，阅读 40 秒")).to_be_visible()
    page.goto(f"{base}/s/c/{shop.wang}/")
    expect(page.get_by_test_id("readings")).to_contain_text("读了 40 秒")
    assert console.problems == [], console.problems


def test_another_guides_customer_is_not_found_in_the_sidebar(page, base, world, shop):
    frame = open_chat(page, base, "与 王女士 的聊天", "张晓（zhangxiao）")
    expect(frame.get_by_role("heading", name="王女士")).to_be_visible()
    response = page.goto(f"{base}/s/c/{shop.zhao}/")
    assert response.status == 404
