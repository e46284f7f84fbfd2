"""Building journeys and customers the way the journeys tests need them."""

from __future__ import annotations

from siyu.customers import tagging
from siyu.customers.models import RelationTag
from siyu.journeys import services
from siyu.journeys.models import JourneyEntry, JourneyStep

ORDERED_IN_2_DAYS = {"type": "orders", "measure": "count", "did": "at_least", "value": 1, "days": 2}


def high_intent_journey(org, by, *, high, converted, **extra):
    """tag 高意向 added → wait 2 days → no order: remind the guide; an order: add tag 已转化."""
    steps = [{"kind": "wait", "days": 2},
             {"kind": "branch", "rule": ORDERED_IN_2_DAYS,
              "yes": [{"kind": "add_tag", "tag": converted.pk}],
              "no": [{"kind": "remind", "title": "高意向客户两天未下单", "body": "请跟进"}]}]
    return services.create_journey(org, name=extra.pop("name", "高意向转化"), trigger="tag_added",
                                   trigger_ref=high.pk, steps=extra.pop("steps", steps), by=by, **extra)


def tag(customer, tag) -> None:
    tagging.tag_customer(customer, [tag], source=RelationTag.Source.MANUAL)


def outcomes(journey, customer) -> list[tuple[str, str]]:
    """The (path, outcome) of every step the customer reached in the journey, in order."""
    return list(JourneyStep.objects.for_org(journey.org_id).filter(journey=journey, entry__customer=customer)
                .order_by("pk").values_list("path", "outcome"))


def entries(journey, customer=None):
    rows = JourneyEntry.objects.for_org(journey.org_id).filter(journey=journey)
    return rows.filter(customer=customer) if customer is not None else rows
