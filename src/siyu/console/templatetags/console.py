from django import template
from django.utils.http import urlencode

from siyu.orgs import audit_labels

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
    "failed": "bad", "cancelled": "warn",
}


@register.filter
def status_class(status: str) -> str:
    return STATUS_CLASSES.get(str(status), "")


@register.filter
def audit_action(action: str) -> str:
    return audit_labels.action_label(action)


@register.filter
def audit_details(value) -> list[tuple[str, str]]:
    """An audit entry's details as (label, words) pairs: keys named, True/None/roles in words."""
    return audit_labels.details_words(value)


@register.inclusion_tag("console/_audit_object.html")
def audit_object(entry):
    """The entry's object as its noun and name, linked to its page when it has one."""
    return {"noun": audit_labels.object_noun(entry.object_type), "name": entry.object_repr, "url": audit_labels.object_url(entry)}


@register.filter
def reference(value: str, org_id: int) -> str:
    """A stored reference (``channel:5``) as the name of what it points at."""
    from siyu.customers.profile import reference_label

    return reference_label(org_id, value)
