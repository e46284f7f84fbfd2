"""What channels add to the customer list: a channel filter and a channel column (also in the Excel export).

A customer's channels are the codes they came through (``CustomerChannel``), oldest first, so the column reads
the way the customer arrived; the filter offers only the codes the viewer may see.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy

from siyu.channels.models import ChannelCode, CustomerChannel


def _channel_field(viewer):
    return forms.ModelChoiceField(label=gettext_lazy("渠道"), required=False, empty_label=gettext_lazy("全部"),
                                  queryset=ChannelCode.objects.visible_to(viewer).order_by("name", "pk"))


def _apply_channel_filter(customers, code, viewer):
    return customers.filter(pk__in=CustomerChannel.objects.for_org(viewer.org_id).filter(code=code).values("customer_id"))


def channel_names(org, customer_ids: list[int]) -> dict[int, str]:
    """The names of the channels each customer came through, oldest first."""
    names: dict[int, list[str]] = {}
    links = (CustomerChannel.objects.for_org(org).filter(customer_id__in=customer_ids)
             .order_by("customer_id", "first_at", "pk").values_list("customer_id", "code__name"))
    for customer_id, name in links:
        seen = names.setdefault(customer_id, [])
        if name not in seen:
            seen.append(name)
    return {customer_id: "、".join(found) for customer_id, found in names.items()}


def register() -> None:
    from siyu.customers.profile import register_list_column, register_list_filter

    register_list_filter("channel", label=gettext_lazy("渠道"), field=_channel_field, apply=_apply_channel_filter, order=5)
    register_list_column("channel", label=gettext_lazy("渠道"), values=channel_names, order=5)
