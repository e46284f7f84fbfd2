"""The public hot paths (``/t/…``, ``/v1/…``) are served by one middleware with their own URLconf and only the
hooks of the response-shaping middleware; what a reader's phone receives must not change because of it."""

import pytest
from django.conf import settings
from django.test import Client, override_settings

from siyu.tracking import links
from siyu.tracking.models import Visit
from tests.tracking.support import customer, material, staff, visit_key

pytestmark = pytest.mark.django_db

PUBLIC = "siyu.core.public_paths.PublicPathsMiddleware"
SHAPED = ["Content-Type", "Cache-Control", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy",
          "Cross-Origin-Opener-Policy", "Content-Language", "Content-Length"]


def _page(world) -> str:
    alice = staff(world, "alice")
    link = links.link_for(material(world), customer=customer(world, alice), staff=alice, channel="sidebar")
    return f"/t/{link.token}/"


def _directives(response) -> set[str]:
    return {part.strip() for part in response["Content-Security-Policy"].split(";")}


def _whole_stack() -> Client:
    with override_settings(MIDDLEWARE=[m for m in settings.MIDDLEWARE if m != PUBLIC]):
        client = Client()
        client.get("/login/")  # the handler loads its middleware now, under this setting
    return client


def test_the_tracked_page_leaves_with_the_headers_the_whole_stack_gives_it(world):
    url = _page(world)
    assert settings.MIDDLEWARE[0] == PUBLIC
    for cookies in ({}, {settings.LANGUAGE_COOKIE_NAME: "en"}):
        public, whole = Client(), _whole_stack()
        for client in (public, whole):
            client.cookies.load(cookies)
        short, full = public.get(url), whole.get(url)
        assert short.status_code == full.status_code == 200
        assert [short.get(h) for h in SHAPED] == [full.get(h) for h in SHAPED]
        assert None not in [short.get(h) for h in SHAPED]
        assert _directives(short) == _directives(full) and "frame-ancestors 'none'" in _directives(short)
        assert set(short["Vary"].split(", ")) <= set(full["Vary"].split(", "))
        # The same page but for the visit's own key.
        assert short.content.decode().replace(visit_key(short), "") == full.content.decode().replace(visit_key(full), "")
    assert Visit.objects.count() == 4
    assert short["Content-Language"] == "en"


def test_a_signed_in_persons_session_and_csrf_cookie_are_not_touched(world, client):
    client.force_login(world.admin.user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    response = client.get(_page(world))
    assert response.status_code == 200
    assert set(response.cookies) == {"siyu_reader"}
    assert client.cookies[settings.SESSION_COOKIE_NAME].value == session
    assert client.get("/").status_code == 200  # still signed in on the console


def test_an_unknown_public_path_gets_the_consoles_not_found_page_with_its_headers(world, client):
    response = client.get("/t/abcdefghijkl/nothing-here")
    assert response.status_code == 404
    assert "页面不存在" in response.content.decode()
    assert response["X-Frame-Options"] == "DENY" and "default-src 'self'" in response["Content-Security-Policy"]
    assert client.get("/v1/nothing").status_code == 404


def test_a_foreign_host_is_refused_and_records_nothing(world, client):
    url = _page(world)
    assert client.get(url, HTTP_HOST="evil.example.com").status_code == 400
    assert not Visit.objects.exists()


@override_settings(SECURE_SSL_REDIRECT=True, SECURE_HSTS_SECONDS=3600)
def test_https_is_required_and_announced_when_the_site_runs_on_https(world):
    url = _page(world)
    client = Client()
    plain = client.get(url)
    assert plain.status_code == 301 and plain["Location"].startswith("https://") and plain["Location"].endswith(url)
    assert not Visit.objects.exists()
    secure = client.get(url, secure=True)
    assert secure.status_code == 200 and secure["Strict-Transport-Security"] == "max-age=3600"


def test_the_tenant_guard_is_armed_for_public_views(world, settings):
    settings.PUBLIC_URLCONF = "tests.core.unscoped_urls"
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False
    client = Client(raise_request_exception=False)
    response = client.get("/t/unscoped/")
    assert response.status_code == 500
    assert "出错了" in response.content.decode()
