"""The chat-archive watch: every newly archived message is checked once, and a hit becomes a :class:`ChatAlert`
that tells the guide's store managers.

A guide's message is checked for the brand's sensitive words, promised returns, an ID number written out, and
asking for an ID number, a bank card or a password; a customer's message for complaint words
(``siyu.content.compliance.check_chat``). The check runs as a reaction to the durable ``message.archived`` event,
so a crash re-delivers it; the alert's idempotency key (message and kind) keeps it to one alert per message.
Delivering the alert is the alert row's own durable work: a WeCom app message to each active store manager of the
guide's store (or a region above it) who is a WeCom member, sent outside any transaction.
"""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.content import compliance
from siyu.conversations.browse import mask_personal
from siyu.conversations.models import ChatAlert
from siyu.core import events
from siyu.core.events import DomainEvent, Kind
from siyu.lifecycle.reminders import send_app_card
from siyu.orgs.models import Membership, Staff, Store
from siyu.orgs.roles import Role
from siyu.wecom.errors import NotConnected

EXCERPT = 60  # characters of the message in the app message: enough to judge, short enough for a card


def on_message_archived(event: DomainEvent) -> ChatAlert | None:
    message = event.subject()
    if message is None or not message.text:
        return None
    return raise_alert(message)


def raise_alert(message) -> ChatAlert | None:
    """Check one archived message; the alert it raised (the existing one when it was already checked), or None."""
    from_customer = message.from_customer
    if not from_customer and message.staff_id is None:
        return None  # a group member's message that is neither ours nor a known customer's
    findings = compliance.check_chat(message.text, org=message.org_id, from_customer=from_customer)
    if not findings:
        return None
    kind = ChatAlert.Kind.COMPLAINT if from_customer else ChatAlert.Kind.STAFF
    key = f"{message.pk}:{kind}"
    existing = ChatAlert.objects.for_org(message.org_id).filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    staff = message.staff
    try:
        with transaction.atomic():
            return ChatAlert.objects.create(
                org_id=message.org_id, idempotency_key=key, message=message, kind=kind, staff=staff,
                store_id=staff.store_id if staff else None, customer_id=message.customer_id,
                findings=[{"start": f.start, "end": f.end, "rule": f.rule, "severity": f.severity} for f in findings],
                rules=sorted({f.rule for f in findings}),
            )
    except IntegrityError:  # another delivery of the same event won the race
        return ChatAlert.objects.for_org(message.org_id).get(idempotency_key=key)


def managers_of(org_id: int, store_id: int | None) -> list[Membership]:
    """Active store managers whose store is ``store_id`` or a region above it."""
    if store_id is None:
        return []
    chain, at = [], store_id
    parents = dict(Store.objects.for_org(org_id).values_list("id", "parent_id"))
    while at is not None and at not in chain:
        chain.append(at)
        at = parents.get(at)
    return list(Membership.objects.for_org(org_id).filter(role=Role.STORE_MANAGER, store_id__in=chain, is_active=True))


def notify(alert: ChatAlert) -> None:
    """Tell the guide's store managers about ``alert`` (the dispatcher calls this through ``ChatAlert.perform``)."""
    managers = managers_of(alert.org_id, alert.store_id)
    userids = list(Staff.objects.for_org(alert.org_id).filter(
        membership__in=managers, status=Staff.Status.ACTIVE).values_list("userid", flat=True))
    told = set(alert.notified)
    message = alert.message
    title = (_("客户投诉预警") if alert.kind == ChatAlert.Kind.COMPLAINT else _("员工违规用语预警"))
    who = str(alert.staff or "") if alert.kind == ChatAlert.Kind.STAFF else str(alert.customer or "")
    text = mask_personal(message.text)
    text = text if len(text) <= EXCERPT else text[:EXCERPT] + "…"
    labels = "、".join(str(compliance.RULE_LABELS.get(rule, rule)) for rule in alert.rules)
    url = f"{settings.PUBLIC_URL}{reverse('conversations:alerts')}?alert={alert.pk}"
    for userid in userids:
        if userid in told:
            continue  # told before a failure on the next one: never twice
        try:
            send_app_card(alert.org_id, userid, title=title, description=f"{who}（{labels}）\n{text}", url=url)
        except NotConnected:
            break  # the console list still shows it
        told.add(userid)
        ChatAlert.objects.for_org(alert.org_id).filter(pk=alert.pk).update(notified=sorted(told), notified_at=timezone.now())


def connect() -> None:
    events.subscribe(Kind.MESSAGE_ARCHIVED, "conversations.watch", on_message_archived)
