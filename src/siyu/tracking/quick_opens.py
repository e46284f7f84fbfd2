"""``GET /t/<token>/`` without Django's request and response objects, for pages this process has served before.

The tracked page is the hottest path Siyu serves: every reader of every material a guide or a campaign sends opens
it. Through Django, building the request and response objects, calling each shaping middleware and formatting the
reader's cookie cost more CPU than the open itself (finding the link, one INSERT, filling in the page).

So the WSGI application wraps Django's. The first open of a page (one per material state, consent choice, privacy
notice, language and scheme) goes through Django as any request does: the public paths' middleware, the page view.
The view marks its response with the page's key, and this wrapper keeps the status and the headers the whole stack
gave it. The next opens of that page are served here with the view's own functions (read the link and the reader,
record the open, fill in the page) and leave with those headers, their own length and the reader's cookie.

Everything else goes to Django unchanged: other paths and methods, a Host Django refuses, a request a shaping
middleware would answer itself (the redirect to HTTPS), a page not seen yet, a link material (a redirect), an
unknown token (404), and any error (Django then answers it, or logs it, as on every other request).
"""

from __future__ import annotations

import re
import time
from http.cookies import SimpleCookie

from django.core import signals, signing
from django.core.handlers.wsgi import WSGIRequest, get_script_name
from django.urls import set_script_prefix
from django.utils.http import http_date

from siyu.core.public_paths import served_publicly, shaping_hooks
from siyu.tracking import views

PAGE_PATH = re.compile(r"/t/([A-Za-z0-9_-]{8,16})/\Z")
SHAPES_KEPT = 1024
_UNSET = ("Content-Length", "Set-Cookie")  # per response: filled in for each open


def _never_called(request):
    raise AssertionError("only the shaping middleware's hooks are called")


class QuickOpens:
    def __init__(self, django_application):
        self.django = django_application
        self.request_hooks = [hook for hook, _response_hook in shaping_hooks(_never_called) if hook]
        # (page key, secure) -> the status line and headers the whole stack gave that page, without the two above.
        self.shapes: dict[tuple, tuple[str, list[tuple[str, str]]]] = {}
        # The signer of HttpResponse.set_signed_cookie (Django has no public name for its salt; the tests compare
        # this cookie with the one Django sets).
        salt = signing._cookie_signer_salt(views.COOKIE, views.COOKIE_SALT)
        self.cookie_signer = signing.get_cookie_signer(salt=salt)

    def __call__(self, environ, start_response):
        match = PAGE_PATH.match(environ.get("PATH_INFO", "")) if environ.get("REQUEST_METHOD") == "GET" else None
        if match is not None:
            served = self._serve(environ, start_response, match[1])
            if served is not None:
                return served
            return self._through_django(environ, start_response)
        return self.django(environ, start_response)

    def _serve(self, environ, start_response, token: str) -> list[bytes] | None:
        set_script_prefix(get_script_name(environ))
        signals.request_started.send(sender=self.__class__, environ=environ)
        try:
            request = WSGIRequest(environ)
            opened, html, shape, visit_id = self._open(request, token)
        except Exception:  # noqa: BLE001 - nothing was recorded; Django serves the request and answers the error
            return None
        finally:
            signals.request_finished.send(sender=self.__class__)
        if visit_id is None:
            return None
        body = views.filled(html, token, visit_id).encode()
        status, headers = shape
        start_response(status, [*headers, ("Content-Length", str(len(body))),
                                ("Set-Cookie", self.reader_cookie(opened.visitor, opened.choice))])
        return [body]

    def _open(self, request, token: str) -> tuple:
        for hook in self.request_hooks:
            # A middleware answers this request itself (the redirect to HTTPS), or refuses it (DisallowedHost from
            # the host check): Django does it again and answers.
            if hook(request) is not None:
                return None, None, None, None
        with served_publicly(request):
            opened = views.opening(request, token)
            if opened is None or opened.page_key is None:
                return opened, None, None, None
            html = views.rendered_page(opened.page_key)
            shape = self.shapes.get((opened.page_key, request.is_secure()))
            if html is None or shape is None:
                return opened, None, None, None
            return opened, html, shape, views.record(opened)

    def _through_django(self, environ, start_response):
        seen = []

        def keep_status_and_headers(status, headers, exc_info=None):
            seen[:] = [status, headers]
            return start_response(status, headers, exc_info)

        response = self.django(environ, keep_status_and_headers)
        page_key = getattr(response, "tracked_page", None)
        if page_key is not None and seen and seen[0].startswith("200 "):
            if len(self.shapes) >= SHAPES_KEPT:
                self.shapes.clear()
            kept = [(name, value) for name, value in seen[1] if name not in _UNSET]
            self.shapes[(page_key, WSGIRequest(environ).is_secure())] = (seen[0], kept)
        return response

    def reader_cookie(self, visitor: str, choice: str) -> str:
        """The Set-Cookie value of views._remember (Django's set_signed_cookie), formatted without a response."""
        _raw, value = SimpleCookie().value_encode(self.cookie_signer.sign(f"{visitor}:{choice}"))
        return (f"{views.COOKIE}={value}; expires={http_date(time.time() + views.COOKIE_AGE)}; HttpOnly; "
                f"Max-Age={views.COOKIE_AGE}; Path=/; SameSite=Lax")
