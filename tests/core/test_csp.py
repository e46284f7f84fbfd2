"""The CSP middleware builds a plain response's policy once, and leaves every other response to django-csp."""

from csp.constants import NONCE
from csp.middleware import CSPMiddleware as DjangoCSPMiddleware
from django.http import HttpResponse
from django.test import RequestFactory, override_settings

from siyu.core.csp import CSPMiddleware

HEADER = "Content-Security-Policy"


def _header(middleware_class, prepare=None, nonce=False):
    request = RequestFactory().get("/somewhere/")
    middleware = middleware_class(lambda r: HttpResponse("ok"))
    middleware.process_request(request)
    if nonce:
        str(request.csp_nonce)
    response = HttpResponse("ok")
    if prepare:
        prepare(response)
    return middleware.process_response(request, response).get(HEADER), request


def _directives(header: str) -> set[str]:
    return {part.strip() for part in header.split(";")}


def test_a_plain_response_gets_the_policy_django_csp_builds():
    ours, _request = _header(CSPMiddleware)
    theirs, _request = _header(DjangoCSPMiddleware)
    assert ours and _directives(ours) == _directives(theirs)
    assert "frame-ancestors 'none'" in _directives(ours)


def test_a_changed_setting_changes_the_policy():
    _header(CSPMiddleware)
    with override_settings(CONTENT_SECURITY_POLICY={"DIRECTIVES": {"default-src": ["'none'"]}}):
        assert _header(CSPMiddleware)[0] == "default-src 'none'"
    assert "frame-ancestors 'none'" in _directives(_header(CSPMiddleware)[0])


def test_updates_replacements_exemptions_and_nonces_are_django_csps():
    def update(response):
        response._csp_update = {"img-src": ["https://img.example.com"]}

    def replace(response):
        response._csp_replace = {"frame-ancestors": ["'self'"]}

    def exempt(response):
        response._csp_exempt = True

    assert "img-src 'self' data: blob: https://img.example.com" in _directives(_header(CSPMiddleware, update)[0])
    assert "frame-ancestors 'self'" in _directives(_header(CSPMiddleware, replace)[0])
    assert _header(CSPMiddleware, exempt)[0] is None
    with override_settings(CONTENT_SECURITY_POLICY={"DIRECTIVES": {"script-src": ["'self'", NONCE]}}):
        header, request = _header(CSPMiddleware, nonce=True)
        assert f"script-src 'self' 'nonce-{request._csp_nonce}'" in _directives(header)
    # The plain policy was not changed by any of them.
    assert _directives(_header(CSPMiddleware)[0]) == _directives(_header(DjangoCSPMiddleware)[0])


def test_a_nonce_asked_for_after_the_header_is_written_is_refused():
    import pytest
    from csp.exceptions import CSPNonceError

    _header_value, request = _header(CSPMiddleware)
    with pytest.raises(CSPNonceError):
        str(request.csp_nonce)
