import json

from django import template
from django.utils.http import urlencode

register = template.Library()


@register.simple_tag(takes_context=True)
def query_with(context, **changes) -> str:
    """The current query string with some parameters replaced: keeps filters when paging."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        params[key] = value
    return urlencode(sorted((k, v) for k in params for v in params.getlist(k)))


STATUS_CLASSES = {
    "succeeded": "ok", "done": "ok", "active": "ok",
    "running": "info", "queued": "info", "pending": "info",
    "failed": "bad", "cancelled": "warn", "expired": "warn",
}


@register.filter
def status_class(status: str) -> str:
    return STATUS_CLASSES.get(str(status), "")


@register.filter
def details(value) -> str:
    """An audit entry's details as ``key: value`` pairs (nested values as compact JSON)."""
    if not isinstance(value, dict):
        return str(value or "")
    return "; ".join(
        f"{key}: {json.dumps(item, ensure_ascii=False) if isinstance(item, (dict, list)) else item}"
        for key, item in value.items()
    )
