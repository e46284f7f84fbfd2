import json

from django import template
from django.utils.http import urlencode

from siyu.orgs import audit_labels

register = template.Library()


@register.simple_tag(takes_context=True)
def query_with(context, **changes) -> str:
    """The current query string with some parameters replaced (None removes one): keeps filters when paging."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
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


@register.filter
def page_numbers(page) -> list[int | None]:
    """The page numbers the pager shows: the first, the last, two either side of the current one; None is a gap."""
    last, current = page.paginator.num_pages, page.number
    shown = sorted({1, last, *range(max(1, current - 2), min(last, current + 2) + 1)})
    numbers: list[int | None] = []
    for number in shown:
        if numbers and number - numbers[-1] > 1:
            numbers.append(None)
        numbers.append(number)
    return numbers


@register.inclusion_tag("console/_phone_preview.html", takes_context=True)
def phone_preview(context, source: str, attachments: str = "", title: str = ""):
    """A phone showing the message being edited: ``source`` and ``attachments`` are CSS selectors of the text field
    and the attachment formset; variables get sample values (the signed-in user stands in for the staff member)."""
    from django.utils import timezone
    from django.utils.translation import gettext as _

    request = context.get("request")
    user = getattr(request, "user", None)
    samples = {
        "customer_nickname": _("林小姐"), "staff_name": getattr(user, "name", "") or _("导购小王"),
        "channel": _("门店海报"), "date": timezone.localdate().strftime("%m-%d"),
    }
    return {"source": source, "attachments": attachments, "title": title or _("客户看到的消息"),
            "samples": json.dumps(samples, ensure_ascii=False)}


@register.filter
def can(membership, capability: str) -> bool:
    """``{% if request.membership|can:"conversations.archive" %}``: show a link only to those who may follow it."""
    return membership is not None and membership.can(capability)
