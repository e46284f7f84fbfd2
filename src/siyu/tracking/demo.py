"""Demo sends of the article to a few of a guide's customers, with opens, reading time and one forward, so the
material's figures, the material list and the customer page show something in ``siyu run --demo``."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.utils import timezone

from siyu.content.models import Material
from siyu.customers import timeline
from siyu.customers.models import Relation
from siyu.tracking import links
from siyu.tracking.models import TrackedLink, Visit
from siyu.tracking.reactions import TIMELINE_KIND

# (seconds, depth) of each customer's opens; None: not opened. The second customer passed it on to a friend.
READINGS = [[(95, 100)], [(42, 70), (18, 85)], [(12, 30)], None, None]


def load_tracking_demo(org) -> None:
    if TrackedLink.objects.for_org(org).exists():
        return
    article = Material.objects.for_org(org).filter(kind=Material.Kind.ARTICLE, status=Material.Status.APPROVED).first()
    relations = list(Relation.objects.for_org(org).filter(staff__membership__role="guide")
                     .select_related("customer", "staff").order_by("pk")[:len(READINGS)])
    if article is None or not relations:
        return
    now = timezone.now()
    for n, (relation, readings) in enumerate(zip(relations, READINGS)):
        link = links.link_for(article, customer=relation.customer, staff=relation.staff, channel="sidebar")
        for m, (seconds, depth) in enumerate(readings or []):
            at = now - timedelta(days=n + 1, hours=m * 3)
            entry = timeline.record(relation.customer, TIMELINE_KIND, at=at, staff=relation.staff,
                                    ref=str(article.pk), title=article.title, seconds=seconds, depth=depth,
                                    channel=link.channel)
            _visit(link, visitor=f"demo-{n}", at=at, seconds=seconds, depth=depth, timeline_event=entry)
        if n == 1:
            _visit(link, visitor="demo-friend", at=now - timedelta(hours=20), seconds=30, depth=60, forwarded=True)


def _visit(link, *, visitor: str, at, seconds: int, depth: int, forwarded: bool = False, timeline_event=None):
    Visit.objects.create(org_id=link.org_id, link=link, visitor=visitor, opened_at=at, seconds=seconds, depth=depth,
                         consented=True, forwarded=forwarded, timeline_event=timeline_event, status=Visit.Status.DONE,
                         due_at=at, finished_at=at, idempotency_key=f"demo:{secrets.token_hex(8)}")
