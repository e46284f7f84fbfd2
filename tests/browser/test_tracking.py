"""The tracked H5 page in Chromium on a phone: the consent prompt first, then visibility-aware heartbeats, with
the page's clock fast-forwarded (``page.clock``) instead of waiting."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from playwright.sync_api import expect

from siyu.tracking import links
from siyu.tracking.models import Visit
from tests.browser.conftest import Console
from tests.tracking.support import customer, material, staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
OVERFLOW_JS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
HIDE_JS = """(hidden) => {
  Object.defineProperty(document, "visibilityState", {configurable: true, get: () => hidden ? "hidden" : "visible"});
  document.dispatchEvent(new Event("visibilitychange"));
}"""


def _settled(visit_id: int, seconds: int) -> Visit:
    """The visit once the page's requests have landed (they travel in real time, the page's clock is fake)."""
    deadline = time.monotonic() + 10
    while True:
        visit = Visit.objects.get(pk=visit_id)
        if visit.seconds == seconds or time.monotonic() > deadline:
            return visit
        time.sleep(0.1)


def _pause(page) -> None:
    """Stop the page's clock from ticking on its own: from here time moves only by run_for."""
    page.clock.pause_at(page.evaluate("Date.now()") + 1000)


def test_a_reader_consents_and_only_visible_time_is_counted(browser, browser_context_args, live_server, world):
    alice = staff(world, "alice")
    article = material(world, body="<p>" + "秋冬新品到店，欢迎试穿。" * 300 + "</p>", title="秋冬新品")
    url = links.tracked_url(article, customer=customer(world, alice), staff=alice, channel="sidebar")
    ctx = browser.new_context(**{**browser_context_args, "viewport": {"width": 390, "height": 844}})
    page = ctx.new_page()
    console = Console(page)
    page.clock.install()
    page.goto(url.replace(settings.PUBLIC_URL.rstrip("/"), live_server.url))
    _pause(page)
    expect(page.get_by_role("heading", name="秋冬新品")).to_be_visible()
    prompt = page.get_by_test_id("consent")
    expect(prompt).to_be_visible()
    assert page.evaluate(OVERFLOW_JS) <= 0, "the page scrolls sideways at 390 px"
    (visit,) = Visit.objects.all()
    assert visit.consented is None

    # Before the reader answers, time passes and nothing is reported.
    page.clock.run_for(30_000)
    assert _settled(visit.pk, 0).seconds == 0

    # A slow network: the consent request is still under way when the reports fall due. They wait for it rather
    # than reach the server first and be refused.
    held = []
    page.route("**/consent", lambda route: held.append(route))
    prompt.get_by_role("button", name="允许", exact=True).click()
    expect(prompt).to_be_hidden()
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    page.clock.run_for(40_000)
    page.wait_for_timeout(500)  # any report sent now would reach the server before the consent
    held[0].continue_()
    visit = _settled(visit.pk, 40)
    assert (visit.consented, visit.seconds) == (True, 40)
    assert visit.depth == 100

    # The reader switches away for ten minutes: the hidden page counts nothing; back for 10 s: 10 s more.
    page.evaluate(HIDE_JS, True)
    page.clock.run_for(600_000)
    page.evaluate(HIDE_JS, False)
    page.clock.run_for(10_000)
    assert _settled(visit.pk, 50).seconds == 50
    assert console.problems == []
    ctx.close()


def test_declining_sends_no_beats_and_is_remembered(browser, browser_context_args, live_server, world):
    alice = staff(world, "alice")
    url = links.tracked_url(material(world, title="秋冬新品"), customer=customer(world, alice), staff=alice,
                            channel="sidebar").replace(settings.PUBLIC_URL.rstrip("/"), live_server.url)
    ctx = browser.new_context(**{**browser_context_args, "viewport": {"width": 390, "height": 844}})
    page = ctx.new_page()
    console = Console(page)
    beats = []
    page.on("request", lambda request: beats.append(request.url) if request.url.endswith("/beat") else None)
    page.clock.install()
    page.goto(url)
    _pause(page)
    with page.expect_response("**/consent"):  # the answer carries the cookie that remembers the choice
        page.get_by_test_id("consent").get_by_role("button", name="不允许").click()
    assert console.problems == []
    expect(page.get_by_test_id("consent")).to_be_hidden()
    page.clock.run_for(60_000)
    page.goto(url)
    expect(page.get_by_role("heading", name="秋冬新品")).to_be_visible()
    expect(page.get_by_test_id("consent")).to_be_hidden()
    page.clock.run_for(60_000)
    assert beats == []
    assert [v.consented for v in Visit.objects.order_by("id")] == [False, False]
    ctx.close()
