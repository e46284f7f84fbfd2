"""What an open causes, performed by the dispatcher: the visit is a durable row (``Visit.perform``).

First performance: decide whether the open is a forward (another visitor than the link's first one, i.e. the
recipient shared it), and for the recipient's own open write ``material_opened`` on their timeline, run the
behaviour rules, and queue the guide's "reading now" notice unless one went out for this customer and material
within the hour. The visit is due again when its page is hidden (``opens.beat``); performing it then writes the
reading time and depth onto the same timeline entry, so the timeline shows the open with its duration.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from siyu.core import clock
from siyu.core.durable import PermanentFailure
from siyu.customers import timeline
from siyu.customers.models import TimelineEvent
from siyu.lifecycle import rules
from siyu.lifecycle.reminders import NO_RECIPIENT, send_app_card
from siyu.orgs.models import Staff
from siyu.tracking.models import ReadingNotice, Visit
from siyu.wecom.errors import NotConnected, WeComError

TIMELINE_KIND = "material_opened"
NOTICE_EVERY = timedelta(hours=1)


def _first_visitor(visit: Visit) -> str:
    return (Visit.objects.for_org(visit.org_id).filter(link_id=visit.link_id).order_by("id")
            .values_list("visitor", flat=True).first())


def react(visit: Visit) -> None:
    link = visit.link
    forwarded = _first_visitor(visit) != visit.visitor
    if forwarded != visit.forwarded:
        Visit.objects.for_org(visit.org_id).filter(pk=visit.pk).update(forwarded=forwarded)
    if forwarded or link.customer_id is None:
        return  # a forward is counted for the sharer in the statistics; it is not the customer's own reading
    material = link.material
    if visit.timeline_event_id is None:
        _opened(visit, link, material)
    else:
        entry = TimelineEvent.objects.for_org(visit.org_id).filter(pk=visit.timeline_event_id).first()
        if entry is not None and (entry.data.get("seconds"), entry.data.get("depth")) != (visit.seconds, visit.depth):
            entry.data = {**entry.data, "seconds": visit.seconds, "depth": visit.depth}
            entry.save(update_fields=["data"])
    # Idempotent per visit (the rule's event key names it): a retry or the visit's second performance adds nothing.
    rules.evaluate_event(visit.org_id, link.customer, "material_opened", str(material.pk), event_id=f"visit{visit.pk}")


def _opened(visit: Visit, link, material) -> None:
    with transaction.atomic():
        entry = timeline.record(link.customer, TIMELINE_KIND, at=visit.opened_at, staff=link.staff,
                                ref=str(material.pk), title=material.title, seconds=visit.seconds, depth=visit.depth,
                                channel=link.channel)
        Visit.objects.for_org(visit.org_id).filter(pk=visit.pk).update(timeline_event=entry)
        if link.staff_id is not None:
            _queue_notice(visit, link, material)


def _queue_notice(visit: Visit, link, material) -> None:
    """At most one notice per customer and material an hour: skipped when the last one is younger than that; the
    key (customer, material, hour) stops two visits performed at once from both sending."""
    now = clock.now()
    same = ReadingNotice.objects.for_org(visit.org_id).filter(customer_id=link.customer_id, material_id=material.pk)
    if same.filter(due_at__gt=now - NOTICE_EVERY).exists():
        return
    key = f"reading:{link.customer_id}:{material.pk}:{int(now.timestamp()) // 3600}"
    try:
        with transaction.atomic():
            ReadingNotice.objects.create(org_id=visit.org_id, customer_id=link.customer_id, material=material,
                                         staff_id=link.staff_id, visit=visit, due_at=now, idempotency_key=key)
    except IntegrityError:
        return  # a visit handled at the same moment made this hour's notice: one is enough


def notify(notice: ReadingNotice) -> None:
    """Send the "reading now" app message to the guide (outside any transaction: the dispatcher's own call)."""
    staff = notice.staff
    if staff.status == Staff.Status.DEPARTED:
        return
    title = _("%(customer)s 正在阅读《%(title)s》") % {"customer": notice.customer, "title": notice.material.title}
    url = settings.PUBLIC_URL.rstrip("/") + reverse("customers:detail", args=[notice.customer_id])
    try:
        send_app_card(notice.org_id, staff.userid, title=title,
                      description=_("客户刚刚打开了你发送的素材，现在联系正是时候。"), url=url)
    except NotConnected:
        return  # the customer's timeline still shows the open
    except WeComError as error:
        if error.errcode == NO_RECIPIENT:
            raise PermanentFailure(f"{staff.userid} cannot receive app messages: {error.errmsg}") from error
        raise
