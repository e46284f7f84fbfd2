"""Reading what became of a moment in WeCom, per staff member: published or not (``get_moment_task``), the
customers the copy is meant for (``get_moment_customer_list``) and who can see it (``get_moment_send_result``),
likes and comments (``get_moment_comments``). New likes and comments land on each customer's timeline once:
a reaction's row is unique, and only the rows this read adds write timeline entries.

All WeCom reads happen first; the writes follow in one transaction with the moment row locked, so two readers
never both add the same reaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import transaction

from siyu.core import clock
from siyu.customers import timeline
from siyu.customers.models import Customer
from siyu.moments.models import Moment, Reaction, StaffResult
from siyu.orgs.models import Staff
from siyu.wecom import messaging_endpoints as wecom
from siyu.wecom.client import WeComClient

Status = Moment.Status
# Moments whose results are still read: being published, or published within this long (reactions keep coming).
FOLLOW_FOR = timedelta(days=30)
TIMELINE_KIND = {Reaction.Kind.LIKE: "moment_liked", Reaction.Kind.COMMENT: "moment_commented"}


@dataclass
class Copy:
    """One member's copy as WeCom reports it."""

    userid: str
    published: bool
    audience: list[str]
    visible: list[str]
    reactions: list[tuple[str, str, int]]  # (kind, external_userid, create_time)


def read(client, moment: Moment) -> list[Copy]:
    copies = []
    for userid, published in sorted(wecom.moment_tasks(client, moment.moment_id).items()):
        audience = wecom.moment_customers(client, moment.moment_id, userid)
        visible, reactions = [], []
        if published:  # before publishing nobody sees the copy, and WeCom has nothing more to say about it
            visible = wecom.moment_seen_by(client, moment.moment_id, userid)
            found = wecom.moment_reactions(client, moment.moment_id, userid)
            reactions = ([(Reaction.Kind.LIKE, r.external_userid, r.create_time) for r in found.likes] +
                         [(Reaction.Kind.COMMENT, r.external_userid, r.create_time) for r in found.comments])
        copies.append(Copy(userid, published, audience, visible, [r for r in reactions if r[1]]))
    return copies


def fetch_results(moment: Moment) -> Moment:
    """Read the moment's results from WeCom and store them; returns the moment as stored."""
    if not moment.moment_id:
        return moment
    with WeComClient.for_org(moment.org_id) as client:
        copies = read(client, moment)
    now = clock.now()
    org_id = moment.org_id
    with transaction.atomic():
        locked = Moment.objects.for_org(org_id).select_for_update().get(pk=moment.pk)
        staff = {s.userid: s for s in Staff.objects.for_org(org_id).filter(userid__in=[c.userid for c in copies])}
        for copy in copies:
            likes = sum(1 for r in copy.reactions if r[0] == Reaction.Kind.LIKE)
            StaffResult.objects.update_or_create(
                org_id=org_id, moment=locked, userid=copy.userid,
                defaults={"staff": staff.get(copy.userid), "published": copy.published, "audience": len(copy.audience),
                          "visible": len(copy.visible), "likes": likes, "comments": len(copy.reactions) - likes,
                          "fetched_at": now})
            _add_reactions(locked, copy, staff.get(copy.userid))
        if locked.status == Status.PUBLISHING and copies and all(c.published for c in copies):
            locked.status = Status.PUBLISHED
        locked.results_at = now
        locked.save(update_fields=["status", "results_at"])
    return locked


def _add_reactions(moment: Moment, copy: Copy, staff) -> None:
    org_id = moment.org_id
    wanted = {(kind, ext, datetime.fromtimestamp(ts, tz=UTC)) for kind, ext, ts in copy.reactions}
    known = set(Reaction.objects.for_org(org_id).filter(moment=moment, userid=copy.userid)
                .values_list("kind", "external_userid", "reacted_at"))
    new = sorted(wanted - known, key=lambda r: (r[2], r[0], r[1]))
    if not new:
        return
    Reaction.objects.bulk_create([Reaction(org_id=org_id, moment=moment, userid=copy.userid, kind=kind,
                                           external_userid=ext, reacted_at=at) for kind, ext, at in new])
    customers = {c.external_userid: c for c in Customer.objects.for_org(org_id).filter(
        external_userid__in={ext for _k, ext, _at in new})}
    for kind, ext, at in new:
        if ext in customers:
            timeline.record(customers[ext], TIMELINE_KIND[kind], at=at, staff=staff, moment_id=moment.pk,
                            text=(moment.text or moment.link_title)[:60])


def followed() -> list[Moment]:
    """Moments whose results are still read, every brand (the periodic task)."""
    since = clock.now() - FOLLOW_FOR
    return list(Moment.objects.filter(status__in=(Status.PUBLISHING, Status.PUBLISHED, Status.CANCELLED), publish_at__gte=since)
                .exclude(moment_id=""))
