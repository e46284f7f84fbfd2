"""/api/docs renders Swagger UI from Siyu's own files, offline: every request to another host is refused."""

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_api_docs_lists_the_operations_without_any_other_host(page, live_server, world, sign_in, console):
    sign_in("admin")  # the schema describes a brand's data: signed-in users only
    ours = urlsplit(live_server.url).netloc
    elsewhere = []

    def only_the_server(route):
        if urlsplit(route.request.url).netloc == ours:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_server)
    page.goto(f"{live_server.url}/api/docs")
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible()
    assert operations.count() >= 5
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/customers").first).to_be_visible()
    assert elsewhere == [] and console.problems == []
