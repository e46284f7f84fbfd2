"""django-csp's middleware, with the policy of a plain response built once per process.

Most responses neither change the policy (``_csp_update``, ``_csp_replace``, ``_csp_config``) nor use a nonce, so
their header is the same string every time; django-csp rebuilds it from the settings for each response, which
cost about a tenth of a millisecond a request, as much as a tracked page's whole database work. Every other
response goes through django-csp unchanged.
"""

from __future__ import annotations

import http.client
from functools import cache

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject
from csp.middleware import CSPMiddleware as DjangoCSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

_PARTS = ("_csp_config", "_csp_update", "_csp_replace", "_csp_config_ro", "_csp_update_ro", "_csp_replace_ro")
_SETTINGS = {"CONTENT_SECURITY_POLICY", "CONTENT_SECURITY_POLICY_REPORT_ONLY"}


@cache
def _policy(report_only: bool) -> str:
    return build_policy(report_only=report_only)


@receiver(setting_changed)
def _forget(setting, **kwargs):
    if setting in _SETTINGS:
        _policy.cache_clear()


class CSPMiddleware(DjangoCSPMiddleware):
    def process_response(self, request, response):
        plain = getattr(request, "_csp_nonce", None) is None and not any(
            getattr(response, part, None) is not None for part in _PARTS)
        if not plain:
            return super().process_response(request, response)
        if settings.DEBUG and response.status_code in (http.client.INTERNAL_SERVER_ERROR, http.client.NOT_FOUND):
            return response
        for header, setting, suffix in ((HEADER, "CONTENT_SECURITY_POLICY", ""),
                                        (HEADER_REPORT_ONLY, "CONTENT_SECURITY_POLICY_REPORT_ONLY", "_ro")):
            policy = _policy(report_only=bool(suffix))
            excluded = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES") or ()
            if (policy and getattr(response, f"_csp_exempt{suffix}", False) is False and header not in response
                    and not request.path_info.startswith(tuple(excluded))):
                response[header] = policy
        # As django-csp does: a nonce asked for after the header is written would not be in it.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
