"""The demo brand's journey: customers tagged 团购需求 who have not ordered two days later are followed up."""

from __future__ import annotations

from siyu.customers import tagging
from siyu.customers.models import Customer, RelationTag, Tag
from siyu.journeys import services
from siyu.journeys.models import Journey
from siyu.lifecycle import stages

NAME = "团购需求两天跟进"


def load_journey_demo(org) -> None:
    """Idempotent: skipped once the journey exists, or while the demo's corp tags are not yet in WeCom. Three
    customers are then tagged 团购需求, so the journey has people waiting in it."""
    if Journey.objects.for_org(org).filter(name=NAME).exists():
        return
    tag = Tag.objects.for_org(org).filter(name="团购需求", deleted=False).exclude(wecom_id="").first()
    won = next((s for s in stages.stages_of(org) if s.name == "已成交"), None)
    if tag is None or won is None:
        return
    services.create_journey(org, name=NAME, trigger=Journey.Trigger.TAG_ADDED, trigger_ref=tag.pk,
                            reentry=Journey.Reentry.AFTER_DAYS, reentry_days=30, by=None, steps=[
                                {"kind": "wait", "days": 2},
                                {"kind": "branch", "rule": {"type": "orders", "measure": "count", "did": "at_least",
                                                            "value": 1, "days": 2},
                                 "yes": [{"kind": "set_stage", "stage": won.pk}],
                                 "no": [{"kind": "remind", "title": "团购客户两天未下单", "body": "问问团购人数和时间"},
                                        {"kind": "wait_until", "time": "10:00", "date": ""}]},
                                {"kind": "remove_tag", "tag": tag.pk}])
    for customer in Customer.objects.for_org(org).exclude(relations__relation_tags__tag=tag).order_by("pk")[:3]:
        tagging.tag_customer(customer, [tag], source=RelationTag.Source.MANUAL)
