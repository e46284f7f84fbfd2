"""The public hot paths, served by one middleware instead of the console's whole stack: a tracked link's page and
its beats (``/t/…``) and the event API tracking SDKs write to (``/v1/…``).

Readers' phones and tracking SDKs call them, never a signed-in person, and they are the paths that must take
thousands of requests a second. The console's stack (sessions, CSRF, the user, messages, HTMX, the membership
lookup) does nothing for them, and passing a request through a dozen middleware layers cost about as much CPU as
the tracked page's own view. So the first middleware serves these paths itself: it resolves them against their
own short URLconf, calls the view with the tenant guard armed, and calls the hooks of the middleware that shape
every response (``settings.PUBLIC_MIDDLEWARE``: security headers, CSP, language, host check and
Content-Length, frame options) in the order the console's stack calls them. Errors and 404s are answered as on
every other path.
"""

from __future__ import annotations

from contextlib import contextmanager

from django.conf import settings
from django.core.handlers.exception import response_for_exception
from django.urls import get_resolver
from django.utils.module_loading import import_string

from siyu.core.tenancy import request_guard
from siyu.orgs import audit


class PublicPathsMiddleware:
    """First in ``MIDDLEWARE``: a request whose path starts with one of ``PUBLIC_PATH_PREFIXES`` is served here;
    every other request goes on through the whole stack."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.prefixes = tuple(settings.PUBLIC_PATH_PREFIXES)
        self.hooks = shaping_hooks(get_response)

    def __call__(self, request):
        if not request.path_info.startswith(self.prefixes):
            return self.get_response(request)
        # As in Django's stack: a middleware that answers (a redirect to HTTPS, say) or fails in its request hook
        # stops the request there, and only the middleware above it see the response.
        reached = 0
        try:
            for on_request, _on_response in self.hooks:
                response = on_request(request) if on_request else None
                reached += 1
                if response is not None:
                    break
            else:
                response = self._view(request)
        except Exception as exc:  # noqa: BLE001 - answered the way Django answers it (404, 400, 403, logged 500)
            response = response_for_exception(request, exc)
        for _on_request, on_response in reversed(self.hooks[:reached]):
            if on_response:
                response = on_response(request, response)
        return response

    def _view(self, request):
        match = get_resolver(settings.PUBLIC_URLCONF).resolve(request.path_info)
        request.resolver_match = match
        with served_publicly(request):
            return match.func(request, *match.args, **match.kwargs)


def shaping_hooks(get_response) -> list[tuple]:
    """(request hook, response hook) of each of ``PUBLIC_MIDDLEWARE``, either one None when it has none. Only
    their hooks are called, so what they would wrap is never used."""
    shapers = [import_string(path)(get_response) for path in settings.PUBLIC_MIDDLEWARE]
    return [(getattr(m, "process_request", None), getattr(m, "process_response", None)) for m in shapers]


@contextmanager
def served_publicly(request):
    """Around a public view: nobody is signed in on these paths, and the tenant guard is armed all the same."""
    request.membership = None
    guard = request_guard.set(True)
    ip = audit.client_ip.set(request.META.get("REMOTE_ADDR"))
    try:
        yield
    finally:
        request_guard.reset(guard)
        audit.client_ip.reset(ip)
