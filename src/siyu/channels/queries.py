"""Reads other apps use: which code a state belongs to, where a customer came from, who came from a code."""

from __future__ import annotations

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from siyu.channels.models import ChannelCode, ChannelStaff, ChannelState, CustomerChannel
from siyu.channels.rotation import day_start
from siyu.customers.models import Customer


def code_for_state(org, state: str) -> ChannelCode | None:
    """The channel code a relation's ``state`` names, including states the code had before an edit."""
    if not state:
        return None
    link = ChannelState.objects.for_org(org).filter(state=state).select_related("code", "code__org").first()
    return link.code if link else None


def code_name(org, pk: str) -> str | None:
    """The name of channel code ``pk`` (a tag's or remark's ``channel:5`` source), deleted codes included.

    For labels on rows the reader was already allowed to see (a customer's tags and timeline, a rule): the name
    says where that customer came from, which is part of the customer, not a look at the channel itself."""
    if not pk.isdigit():
        return None
    return ChannelCode.objects.for_org(org).filter(pk=int(pk)).values_list("name", flat=True).first()


def state_code_name(org, state: str) -> str | None:
    """The name of the channel code a relation's ``state`` names (earlier states included), for the same labels
    as :func:`code_name`."""
    if not state:
        return None
    return ChannelState.objects.for_org(org).filter(state=state).values_list("code__name", flat=True).first()


def code_for_store(store) -> ChannelCode | None:
    """The store's staff code (门店顾问码): the newest active channel code whose staff all work in ``store``.

    A code that also lists someone from another store (or from no store) is a brand or regional code, not the
    store's, so a store code never sends a customer to a guide far from the store it chose."""
    elsewhere = ChannelStaff.objects.for_org(store.org_id).filter(code=OuterRef("pk")).exclude(staff__store=store)
    return (ChannelCode.objects.for_org(store.org_id)
            .filter(status=ChannelCode.Status.ACTIVE, channel_staff__staff__store=store).exclude(config_id="")
            .exclude(Exists(elsewhere)).distinct().order_by("-created_at", "-id").first())


def state_directory(org) -> dict[str, ChannelCode]:
    """Every state the organization's codes have ever had → the code (deleted codes included), for analytics."""
    return {
        link.state: link.code
        for link in ChannelState.objects.for_org(org).select_related("code", "code__folder", "code__partner")
    }


def states_visible_to(viewer) -> set[str]:
    """Every state (current and earlier) of the channel codes ``viewer`` may see."""
    codes = ChannelCode.objects.visible_to(viewer).values("pk")
    return set(ChannelState.objects.for_org(viewer.org_id).filter(code__in=codes).values_list("state", flat=True))


def channels_of(customer: Customer) -> list[CustomerChannel]:
    """Every channel the customer came through, oldest first; the first one has ``is_first``."""
    return list(
        CustomerChannel.objects.for_org(customer.org_id).filter(customer=customer)
        .select_related("code", "code__folder", "code__partner", "staff").order_by("first_at", "id")
    )


def first_channel(customer: Customer) -> ChannelCode | None:
    link = CustomerChannel.objects.for_org(customer.org_id).filter(customer=customer).select_related("code").order_by("first_at", "id").first()
    return link.code if link else None


def customers_from_channel(org, channel: ChannelCode | int, *, first_only: bool = False):
    """Customers who came through ``channel`` (only those it brought in first with ``first_only``): a queryset
    to combine with other filters (segments, mass messaging, the customer list)."""
    links = CustomerChannel.objects.for_org(org).filter(code=channel)
    if first_only:
        links = links.filter(is_first=True)
    return Customer.objects.for_org(org).filter(pk__in=links.values("customer_id"))


def _count(links, field: str = "code"):
    counted = links.filter(**{field: OuterRef("pk")}).order_by().values(field).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def with_add_counts(codes, links, *, now=None):
    """Annotate ``adds_today`` and ``adds_total``: relations brought in (re-adds of a friendship count once),
    counted over ``links`` (CustomerChannel rows: those the viewer may see, so counts match what they can open)."""
    start = day_start(now or timezone.now())
    return codes.annotate(adds_total=_count(links), adds_today=_count(links.filter(last_at__gte=start)))


def search(codes, text: str):
    return codes.filter(Q(name__icontains=text) | Q(state__icontains=text))
