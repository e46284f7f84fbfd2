"""Fixtures for the browser tests: a signed-in page on the live server, and a watch on the page's console."""

import pytest
from playwright.sync_api import Page, expect

from tests.factories import PASSWORD

# Chromium's own default is 30 s; a console page that takes more than a few seconds is a failure worth seeing.
expect.set_options(timeout=10_000)


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}}


class Console:
    """JavaScript errors, console errors (CSP violations are reported there) and failed requests of a page."""

    def __init__(self, page: Page):
        self.problems: list[str] = []
        page.on("pageerror", lambda error: self.problems.append(f"pageerror: {error}"))
        page.on("console", self._console)
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _failed(self, request):
        # ERR_ABORTED is the browser cancelling a request because the page navigated on (a favicon still loading
        # when a form posts); a request that really failed reports a network error or a status in _response.
        if request.failure != "net::ERR_ABORTED":
            self.problems.append(f"request failed: {request.url} {request.failure}")

    def _console(self, message):
        # "Failed to load resource" names no URL; _response reports those with the URL.
        if message.type in ("error", "warning") and not message.text.startswith("Failed to load resource"):
            self.problems.append(f"console.{message.type}: {message.text}")

    def _response(self, response):
        # Static files and scripts must load; page statuses (400 on a bad form, 403) are what the tests assert.
        # The browser's own guess at /favicon.ico is not the page's doing (the console names its own icon).
        request = response.request
        if response.status >= 400 and request.resource_type != "document" and not request.url.endswith("/favicon.ico"):
            self.problems.append(f"HTTP {response.status}: {response.url}")


@pytest.fixture
def console(page) -> Console:
    return Console(page)


@pytest.fixture
def sign_in(page, live_server):
    """``sign_in("admin")`` submits the login form as that user and waits for the dashboard."""

    def sign_in(username: str, password: str = PASSWORD, *, expect_dashboard: bool = True):
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill(password)
        page.get_by_role("button", name="登录", exact=True).click()
        if expect_dashboard:
            expect(page.get_by_role("heading", name="数据总览")).to_be_visible()
        # The deferred scripts (console.js after ECharts) must have run before a test uses what they wire up.
        page.wait_for_load_state("load")
        return page

    return sign_in
