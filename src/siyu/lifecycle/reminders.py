"""Reminders and to-dos for staff: repurchase (from a product's consumption cycle), birthdays, customers not
contacted for N days, and follow-ups set by hand.

A reminder is a durable row (:class:`~siyu.lifecycle.models.Reminder`): created when it becomes known, due at
``due_at``, delivered once by the dispatcher as a WeCom app message to the staff member, and shown in their
console to-do list until they tick it off. It is cancelled when the friendship ends, and skipped at delivery
when the customer is no longer the staff member's friend.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from siyu.cdp.models import Order
from siyu.core.durable import DurableRow, PermanentFailure
from siyu.customers import timeline
from siyu.customers.models import Customer, Relation
from siyu.lifecycle.models import CustomerLifecycle, Reminder, ReminderPolicy
from siyu.orgs import audit
from siyu.orgs.models import Membership, Organization, Staff
from siyu.wecom import endpoints
from siyu.wecom.client import WeComClient
from siyu.wecom.errors import NotConnected, WeComError
from siyu.wecom.models import ChatMessage, WeComConnection

log = logging.getLogger(__name__)

TITLE_MAX = 60
BODY_MAX = 300
NO_CONTACT_PER_STAFF = 20  # per staff member per day: a to-do list, not a flood
NO_RECIPIENT = 81013  # message/send: none of the recipients is a valid member
DUPLICATE_CHECK_SECONDS = 1800  # WeCom drops the same message to the same person within this window


def _user(by):
    return by.user if isinstance(by, Membership) else by


def policy_for(org) -> ReminderPolicy:
    org_id = getattr(org, "pk", org)
    policy = ReminderPolicy.objects.for_org(org_id).first()
    if policy is None:
        policy, _created = ReminderPolicy.objects.for_org(org_id).get_or_create(org_id=org_id)
    return policy


POLICY_LIMITS = {"repurchase_lead_days": 60, "birthday_lead_days": 30, "no_contact_days": 365}


@transaction.atomic
def update_policy(org, *, by=None, **values) -> ReminderPolicy:
    """Change an organization's reminder settings (only the fields given)."""
    policy = policy_for(org)
    errors = {}
    for field, value in values.items():
        if field not in POLICY_LIMITS:
            raise TypeError(f"unknown reminder setting {field!r}")
        if value is None or not 0 <= int(value) <= POLICY_LIMITS[field]:
            errors[field] = _("请填写 0 到 %(n)d 之间的天数。") % {"n": POLICY_LIMITS[field]}
    if errors:
        raise ValidationError(errors)
    for field, value in values.items():
        setattr(policy, field, int(value))
    policy.save()
    audit.record("reminder_policy.updated", org=policy.org_id, actor=_user(by), obj=policy, details=values)
    return policy


def owner_of(customer: Customer, prefer: Staff | None = None) -> Staff | None:
    """The staff member a customer belongs to: ``prefer`` (the guide credited with an order) while still their
    friend, else whoever of their active friends added them first."""
    active = (Relation.objects.for_org(customer.org_id).filter(customer=customer, status=Relation.Status.ACTIVE)
              .exclude(staff__status=Staff.Status.DEPARTED).select_related("staff"))
    relations = list(active.order_by("added_at", "pk"))
    if prefer is not None and any(r.staff_id == prefer.pk for r in relations):
        return prefer
    return relations[0].staff if relations else None


def schedule(*, kind: str, customer: Customer, staff: Staff, due_at: datetime, title: str, key: str, body: str = "",
             source_ref: str = "", product=None, by=None) -> tuple[Reminder, bool]:
    """Create a reminder once per ``key`` (idempotent: the same key returns the row already there)."""
    org_id = customer.org_id
    existing = Reminder.objects.for_org(org_id).filter(idempotency_key=key).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            reminder = Reminder.objects.create(
                org_id=org_id, kind=kind, customer=customer, staff=staff, due_at=due_at, title=title[:TITLE_MAX],
                body=body[:BODY_MAX], idempotency_key=key[:128], source_ref=source_ref[:100], product=product,
                created_by=_user(by),
            )
    except IntegrityError:  # created by another process meanwhile
        return Reminder.objects.for_org(org_id).get(idempotency_key=key), False
    return reminder, True


# -- repurchase --------------------------------------------------------------------------------------------
def repurchase_due(order: Order, cycle_days: int, lead_days: int) -> datetime:
    """``lead_days`` before the product runs out (90-day cycle, 10 days' lead: 80 days after the purchase)."""
    return order.ordered_at + timedelta(days=max(cycle_days - lead_days, 1))


@transaction.atomic
def schedule_repurchase(order: Order) -> list[Reminder]:
    """One reminder per product with a consumption cycle in ``order``, to the customer's owning guide.

    A repurchase settles the earlier reminders for the same product that have not gone out yet.
    """
    lead = policy_for(order.org_id).repurchase_lead_days
    lines = list(order.lines.select_related("product").order_by("pk"))
    products = {}
    for line in lines:
        if line.product.cycle_days:
            products.setdefault(line.product_id, line.product)
    if not products:
        return []
    customer = order.customer
    staff = owner_of(customer, prefer=order.staff)
    if staff is None:
        log.info("order %s: customer %s has no active friend to remind", order.pk, customer.pk)
        return []
    made = []
    for product in products.values():
        due = repurchase_due(order, product.cycle_days, lead)
        same = Reminder.objects.for_org(order.org_id).filter(
            customer=customer, kind=Reminder.Kind.REPURCHASE, product=product,
        ).exclude(idempotency_key=f"repurchase:{order.pk}:{product.pk}")
        if same.filter(due_at__gt=due).exclude(status=DurableRow.Status.CANCELLED).exists():
            continue  # an older order recorded late: a later purchase already set the reminder
        same.filter(status=DurableRow.Status.PENDING, due_at__lte=due).update(
            status=DurableRow.Status.CANCELLED, cancel_reason="repurchased", finished_at=timezone.now())
        day = timezone.localtime(order.ordered_at).date().isoformat()
        reminder, _new = schedule(
            kind=Reminder.Kind.REPURCHASE, customer=customer, staff=staff, due_at=due,
            key=f"repurchase:{order.pk}:{product.pk}",
            title=_("%(customer)s 的%(product)s快用完了") % {"customer": customer, "product": product.name},
            body=_("客户在 %(date)s 购买了%(product)s（消耗周期 %(days)d 天），可以问问是否需要补货。") % {
                "date": day, "product": product.name, "days": product.cycle_days},
            source_ref=f"order:{order.pk}", product=product,
        )
        made.append(reminder)
    return made


# -- follow-ups set by hand (customers.FollowUp: the data; delivering it is ours) --------------------------
def sync_follow_up(follow_up) -> Reminder | None:
    """Keep the reminder of a follow-up (跟进计划) in step with it: scheduled while open (at its due time, to its
    assignee), cancelled when it is closed."""
    from siyu.customers.models import FollowUp

    key = f"follow_up:{follow_up.pk}"
    rows = Reminder.objects.for_org(follow_up.org_id).filter(idempotency_key=key)
    if follow_up.status != FollowUp.Status.OPEN:
        done = follow_up.status == FollowUp.Status.DONE
        rows.filter(status=DurableRow.Status.PENDING).update(
            status=DurableRow.Status.CANCELLED, cancel_reason="follow_up_closed", finished_at=timezone.now())
        if done:
            rows.filter(completed_at=None).update(completed_at=follow_up.closed_at or timezone.now())
        return rows.first()
    reminder, new = schedule(
        kind=Reminder.Kind.FOLLOW_UP, customer=follow_up.customer, staff=follow_up.assignee, due_at=follow_up.due_at,
        title=_("跟进 %(customer)s") % {"customer": follow_up.customer}, body=follow_up.text, key=key,
        source_ref=f"follow_up:{follow_up.pk}", by=follow_up.created_by,
    )
    if not new and reminder.status == DurableRow.Status.PENDING and (
            reminder.due_at != follow_up.due_at or reminder.staff_id != follow_up.assignee_id):
        rows.filter(status=DurableRow.Status.PENDING).update(due_at=follow_up.due_at, staff=follow_up.assignee,
                                                             body=follow_up.text[:BODY_MAX])
    return reminder


# -- the to-do side ----------------------------------------------------------------------------------------
@transaction.atomic
def complete_reminder(reminder: Reminder, *, by=None) -> Reminder:
    """The staff member has done it: off their to-do list (a reminder not yet sent will not be sent)."""
    if reminder.completed_at is None:
        reminder.completed_at = timezone.now()
        reminder.save(update_fields=["completed_at"])
        Reminder.objects.for_org(reminder.org_id).filter(pk=reminder.pk, status=DurableRow.Status.PENDING).update(
            status=DurableRow.Status.CANCELLED, cancel_reason="completed", finished_at=timezone.now())
        audit.record("reminder.completed", org=reminder.org_id, actor=_user(by), obj=reminder)
    return reminder


@transaction.atomic
def cancel_reminder(reminder: Reminder, *, by=None, reason: str = "cancelled") -> bool:
    """Cancel a reminder that has not gone out; False if it is already being sent or settled."""
    cancelled = Reminder.objects.for_org(reminder.org_id).filter(pk=reminder.pk, status=DurableRow.Status.PENDING).update(
        status=DurableRow.Status.CANCELLED, cancel_reason=reason[:40], finished_at=timezone.now())
    if cancelled:
        audit.record("reminder.cancelled", org=reminder.org_id, actor=_user(by), obj=reminder, details={"reason": reason})
    return bool(cancelled)


def cancel_for_relation(relation: Relation, reason: str) -> int:
    """The friendship ended: the staff member's pending reminders about this customer will not go out."""
    return Reminder.objects.for_org(relation.org_id).filter(
        customer_id=relation.customer_id, staff_id=relation.staff_id, status=DurableRow.Status.PENDING,
    ).update(status=DurableRow.Status.CANCELLED, cancel_reason=reason[:40], finished_at=timezone.now())


def todos(viewer: Membership):
    """Reminders ``viewer`` may see (their own as a guide, their stores' as a manager, all for HQ)."""
    return Reminder.objects.visible_to(viewer).select_related("customer", "staff", "product")


# -- delivery ----------------------------------------------------------------------------------------------
def todo_url() -> str:
    return f"{settings.PUBLIC_URL}{reverse('lifecycle:todos')}"


def send_app_card(org_id: int, userid: str, *, title: str, description: str, url: str) -> None:
    """A WeCom app message (textcard) to one staff member; raises :class:`NotConnected` without a connection."""
    with WeComClient.for_org(org_id) as client:
        endpoints.send_app_message(client, touser=[userid], msgtype="textcard", content={
            "title": title[:40], "description": description[:170], "url": url, "btntxt": _("详情")},
            duplicate_check_seconds=DUPLICATE_CHECK_SECONDS)


def deliver(reminder: Reminder) -> None:
    """Send one due reminder (the dispatcher calls this through ``Reminder.perform``)."""
    org_id = reminder.org_id
    friends = Relation.objects.for_org(org_id).filter(
        customer_id=reminder.customer_id, staff_id=reminder.staff_id, status=Relation.Status.ACTIVE
    ).exists()
    staff = reminder.staff
    now = timezone.now()
    if not friends or staff.status == Staff.Status.DEPARTED:
        Reminder.objects.for_org(org_id).filter(pk=reminder.pk).update(outcome=Reminder.Outcome.SKIPPED)
        return
    description = "\n".join(part for part in (
        str(reminder.customer), reminder.body, _("到期：%(time)s") % {"time": timezone.localtime(reminder.due_at).strftime("%Y-%m-%d %H:%M")},
    ) if part)
    try:
        send_app_card(org_id, staff.userid, title=reminder.title, description=description, url=todo_url())
        outcome = Reminder.Outcome.SENT
    except NotConnected:
        outcome = Reminder.Outcome.CONSOLE  # the console to-do list still has it
    except WeComError as error:
        if error.errcode == NO_RECIPIENT:
            raise PermanentFailure(f"{staff.userid} cannot receive app messages: {error.errmsg}") from error
        raise
    Reminder.objects.for_org(org_id).filter(pk=reminder.pk).update(outcome=outcome, sent_at=now)
    reminder.sent_at, reminder.outcome = now, outcome
    timeline.reminder_sent(reminder)


# -- periodic: birthdays and customers nobody has talked to ------------------------------------------------
def _local_midday(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()).replace(hour=10))


def schedule_birthdays(org, *, today: date | None = None) -> int:
    """Birthday reminders ``birthday_lead_days`` ahead, one per customer per year, to their owner."""
    org_id = getattr(org, "pk", org)
    today = today or timezone.localdate()
    lead = policy_for(org_id).birthday_lead_days
    target = today + timedelta(days=lead)
    days = [target.day] + ([29] if (target.month, target.day) == (2, 28) and not _leap(target.year) else [])
    rows = (CustomerLifecycle.objects.for_org(org_id)
            .filter(birthday__month=target.month, birthday__day__in=days, customer__is_friend=True)
            .select_related("customer"))
    made = 0
    for row in rows.iterator():
        staff = owner_of(row.customer)
        if staff is None:
            continue
        _reminder, new = schedule(
            kind=Reminder.Kind.BIRTHDAY, customer=row.customer, staff=staff, due_at=max(_local_midday(today), timezone.now()),
            key=f"birthday:{row.customer_id}:{target.year}",
            title=_("%(customer)s %(month)d月%(day)d日生日") % {"customer": row.customer, "month": target.month, "day": target.day},
            body=_("可以提前准备生日祝福或生日礼。"),
        )
        made += new
    return made


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def schedule_no_contact(org, *, now: datetime | None = None) -> int:
    """For each staff member, up to :data:`NO_CONTACT_PER_STAFF` customers they have not written to for the
    organization's ``no_contact_days`` (counted from the friendship's start when they never wrote)."""
    org_id = getattr(org, "pk", org)
    days = policy_for(org_id).no_contact_days
    if not days:
        return 0
    now = now or timezone.now()
    cutoff = now - timedelta(days=days)
    last_written = (ChatMessage.objects.for_org(org_id)
                    .filter(customer=OuterRef("customer_id"), staff=OuterRef("staff_id"), from_customer=False)
                    .order_by("-sent_at").values("sent_at")[:1])
    silent = (Relation.objects.for_org(org_id)
              .filter(status=Relation.Status.ACTIVE, staff__status=Staff.Status.ACTIVE)
              .annotate(last_contact=Coalesce(Subquery(last_written), "added_at", "created_at"))
              .filter(last_contact__lt=cutoff)
              .select_related("customer", "staff").order_by("staff_id", "last_contact"))
    made, per_staff = 0, {}
    for relation in silent.iterator():
        if per_staff.get(relation.staff_id, 0) >= NO_CONTACT_PER_STAFF:
            continue
        since = timezone.localtime(relation.last_contact).date()
        _reminder, new = schedule(
            kind=Reminder.Kind.NO_CONTACT, customer=relation.customer, staff=relation.staff, due_at=now,
            key=f"no_contact:{relation.pk}:{since.isoformat()}",
            title=_("已 %(days)d 天没有联系 %(customer)s") % {"days": (now.date() - since).days, "customer": relation.customer},
            body=_("上次联系：%(date)s。打个招呼，别让客户冷下来。") % {"date": since.isoformat()},
        )
        if new:
            per_staff[relation.staff_id] = per_staff.get(relation.staff_id, 0) + 1
            made += 1
    return made


@db_periodic_task(crontab(minute="5", hour="*"))
def schedule_periodic_reminders() -> int:
    """Hourly (the keys make repeats harmless): birthday and no-contact reminders of every connected brand."""
    made = 0
    org_ids = WeComConnection.objects.filter(is_active=True).values_list("org_id", flat=True)
    for org in Organization.objects.filter(is_active=True, pk__in=org_ids):
        try:
            made += schedule_birthdays(org) + schedule_no_contact(org)
        except Exception:  # noqa: BLE001 - one brand's bad data must not stop the others
            log.exception("reminders for %s failed", org.slug)
    return made
