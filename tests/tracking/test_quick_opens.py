"""``siyu.wsgi.application`` serves the opens of a tracked page it has seen once without Django's request and
response objects (siyu.tracking.quick_opens). A reader must not be able to tell: the same status, headers, cookie
and page as Django gives, one visit per open, and everything it does not serve answered by Django."""

import io
import os
import time
from http.cookies import SimpleCookie

import pytest
from django.conf import settings
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponse
from django.test import override_settings

from siyu.content import materials
from siyu.tracking import links, opens, views
from siyu.tracking.models import Visit
from siyu.tracking.quick_opens import QuickOpens
from siyu.wsgi import django_application
from tests.tracking.support import customer, material, staff

pytestmark = pytest.mark.django_db

PER_OPEN = {"Set-Cookie", "Content-Length"}


@pytest.fixture(autouse=True)
def _test_database_kept_open():
    """As Django's test client does: the request signals would close the test's database connection."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


class Answer:
    def __init__(self, app, path, *, cookie="", host="testserver", scheme="http", method="GET"):
        environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "testserver",
                   "SERVER_PORT": "80", "HTTP_HOST": host, "wsgi.url_scheme": scheme, "wsgi.input": io.BytesIO(b""),
                   "wsgi.errors": io.StringIO(), "REMOTE_ADDR": "203.0.113.9"}
        if cookie:
            environ["HTTP_COOKIE"] = cookie
        seen = []
        result = app(environ, lambda status, headers, exc_info=None: seen.extend([status, headers]))
        self.quick = isinstance(result, list)  # Django's handler answers with its response object
        self.body = b"".join(result)
        if hasattr(result, "close"):
            result.close()
        self.status, self.headers = seen
        self.text = self.body.decode()

    def shaped(self) -> list[tuple[str, str]]:
        return sorted((name, value) for name, value in self.headers if name not in PER_OPEN)

    def header(self, name: str) -> str:
        return dict(self.headers)[name]

    def reader(self) -> str:
        cookie = SimpleCookie(self.header("Set-Cookie"))
        return f"{views.COOKIE}={cookie[views.COOKIE].value}"

    def visit(self) -> Visit:
        key = self.text.split('data-visit="', 1)[1].split('"', 1)[0]
        return Visit.objects.get(pk=opens.visit_of(key))


def _page(world, kind="article", **changes):
    alice = staff(world, "alice")
    link = links.link_for(material(world, kind, **changes), customer=customer(world, alice), staff=alice,
                          channel="sidebar")
    return link, f"/t/{link.token}/"


def test_a_page_seen_once_is_served_quickly_with_what_django_gives_it(world):
    link, url = _page(world)
    app = QuickOpens(django_application)
    for language in ("", f"{settings.LANGUAGE_COOKIE_NAME}=en"):
        first, second = Answer(app, url, cookie=language), Answer(app, url, cookie=language)
        by_django = Answer(django_application, url, cookie=language)
        assert (first.quick, second.quick, by_django.quick) == (False, True, False)
        assert first.status == second.status == by_django.status == "200 OK"
        assert second.shaped() == by_django.shaped()
        assert "default-src 'self'" in second.header("Content-Security-Policy")
        assert int(second.header("Content-Length")) == len(second.body)
        # The same page but for the visit's own key, which is a different visit each time.
        keys = {a.visit().pk: a for a in (second, by_django)}
        assert len(keys) == 2
        assert second.text.replace(opens.visit_key(second.visit().pk), "") == \
            by_django.text.replace(opens.visit_key(by_django.visit().pk), "")
        assert f'data-beat-url="/t/{link.token}/beat"' in second.text and "MARK" not in second.text
    assert second.header("Content-Language") == "en" and "Share" not in first.text
    assert Visit.objects.filter(link=link).count() == 6


def test_the_reader_keeps_one_identity_across_both_paths(world):
    _link, url = _page(world)
    app = QuickOpens(django_application)
    Answer(app, url)
    quick = Answer(app, url)
    assert quick.quick
    again = Answer(django_application, url, cookie=quick.reader())
    assert again.visit().visitor == quick.visit().visitor
    back = Answer(app, url, cookie=again.reader())
    assert back.quick and back.visit().visitor == quick.visit().visitor


def test_the_quick_cookie_is_the_one_django_would_set():
    visitor = opens.new_visitor()
    quick = QuickOpens(django_application).reader_cookie(visitor, views.NO)
    response = HttpResponse()
    views._remember(response, visitor, views.NO)
    django = response.cookies[views.COOKIE].output(header="").strip()
    ours, theirs = SimpleCookie(quick)[views.COOKIE], SimpleCookie(django)[views.COOKIE]
    request = HttpRequest()
    request.COOKIES = {views.COOKIE: ours.value}
    assert request.get_signed_cookie(views.COOKIE, salt=views.COOKIE_SALT) == f"{visitor}:{views.NO}"
    assert abs(time.mktime(time.strptime(ours["expires"], "%a, %d %b %Y %H:%M:%S GMT"))
               - time.mktime(time.strptime(theirs["expires"], "%a, %d %b %Y %H:%M:%S GMT"))) <= 2
    assert quick.replace(ours.value, "V").replace(ours["expires"], "E") == \
        django.replace(theirs.value, "V").replace(theirs["expires"], "E")


def test_what_the_quick_path_does_not_serve_django_answers(world):
    link, url = _page(world)
    app = QuickOpens(django_application)
    assert Answer(app, url).status == "200 OK"
    assert Answer(app, url).quick
    opened = Visit.objects.count()
    refused = Answer(app, url, host="evil.example.com")
    assert refused.status.startswith("400") and not refused.quick
    unknown = Answer(app, "/t/nosuchtoken0/")
    assert unknown.status.startswith("404") and "页面不存在" in unknown.text
    head = Answer(app, url, method="HEAD")
    assert head.status.startswith("405") and not head.quick
    assert Visit.objects.count() == opened
    materials.withdraw_material(link.material, by=world.admin)
    withdrawn = Answer(app, url)
    assert withdrawn.status.startswith("404") and not withdrawn.quick
    assert Visit.objects.count() == opened


def test_an_edited_material_is_shown_in_its_new_state(world):
    link, url = _page(world)
    app = QuickOpens(django_application)
    Answer(app, url)
    assert Answer(app, url).quick
    link.material.title = "冬季新品"
    link.material.save()
    edited = Answer(app, url)
    assert not edited.quick and "冬季新品" in edited.text
    again = Answer(app, url)
    assert again.quick and "冬季新品" in again.text


def test_a_link_material_is_redirected_by_django_each_time(world):
    link, url = _page(world, "link")
    app = QuickOpens(django_application)
    answers = [Answer(app, url) for _ in range(3)]
    assert [(a.status, a.quick) for a in answers] == [("302 Found", False)] * 3
    assert Visit.objects.filter(link=link).count() == 3


@override_settings(SECURE_SSL_REDIRECT=True, SECURE_HSTS_SECONDS=3600)
def test_on_https_a_plain_request_is_redirected_and_records_nothing(world):
    _link, url = _page(world)
    app = QuickOpens(WSGIHandler())  # its middleware read the settings above
    assert Answer(app, url, scheme="https").status == "200 OK"
    secure = Answer(app, url, scheme="https")
    assert secure.quick and secure.header("Strict-Transport-Security") == "max-age=3600"
    opened = Visit.objects.count()
    plain = Answer(app, url)
    assert plain.status.startswith("301") and not plain.quick
    assert Visit.objects.count() == opened


def test_one_writer_at_a_time_across_processes_even_after_a_fork(tmp_path):
    """The opens' writer lock on SQLite (siyu.tracking.opens.OneWriter): a forked web worker takes its own flock,
    so while it writes, the process it was forked from waits."""
    writer = opens.OneWriter(lambda: str(tmp_path / "siyu.sqlite3-opens.lock"))
    with writer:  # this process opens its lock file before the fork, as granian's parent may have
        assert writer.file is not None
    held, told = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child process
        try:
            with writer:
                os.write(told, b"held")
                time.sleep(0.5)
        finally:
            os._exit(0)
    assert os.read(held, 4) == b"held"
    waited = time.monotonic()
    with writer:
        waited = time.monotonic() - waited
    os.waitpid(child, 0)
    assert waited >= 0.3
