"""Every write of the messaging guard: decisions, a send going out, held recipients released, the settings."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from siyu.core import clock, events
from siyu.customers.models import Customer, Tag
from siyu.messaging import reasons
from siyu.messaging.models import Channel, Decision, FrequencyCap, Policy, RecipientFacts, Send
from siyu.orgs import audit

INSERT_BATCH = 10_000
# The sender of a send subscribes to this to deliver to the recipients released after quiet hours.
HELD_RELEASED = events.define_kind("messaging.held_released", gettext_lazy("免打扰结束，暂缓的消息放行"))


@transaction.atomic
def record_plan(plan, *, content: str) -> Send:
    """Store ``plan``'s decisions (replacing earlier ones of the same send for the same customers) and the send
    row; an admin's approval of protected recipients is audited with how many it let through."""
    kind, ref_id = plan.send_ref
    send, created = Send.objects.for_org(plan.org_id).get_or_create(
        org_id=plan.org_id, kind=kind, ref_id=ref_id,
        defaults={"channel": plan.channel, "purpose": plan.purpose, "promotional": plan.promotional,
                  "content": content, "planned_at": plan.at})
    approver = getattr(plan.approved_by, "user", None)
    if approver is not None and send.approved_by_id is None:
        send.approved_by = approver
        send.save(update_fields=["approved_by"])
    if not created:
        ids = list(plan.decisions)
        for start in range(0, len(ids), INSERT_BATCH):
            chunk = ids[start:start + INSERT_BATCH]
            Decision.objects.for_org(plan.org_id).filter(send=send, customer_id__in=chunk).delete()
    _insert_decisions(plan.org_id, send.pk, plan)
    approved = plan.reason_counts().get(reasons.PROTECTED_APPROVED, 0)
    if approved:
        audit.record("messaging.protected_approved", org=plan.org_id, actor=approver, obj=send,
                     details={"kind": kind, "ref_id": ref_id, "count": approved})
    plan.written = True
    return send


def _insert_decisions(org_id: int, send_id: int, plan) -> None:
    """Raw multi-row inserts: at a million decisions the ORM's per-object work costs more than the database."""
    at = connection.ops.adapt_datetimefield_value(plan.at)
    table = Decision._meta.db_table
    sql = (f"INSERT INTO {table} (org_id, send_id, customer_id, outcome, reason, detail, release_at, decided_at) "
           "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)")
    adapt = connection.ops.adapt_datetimefield_value
    rows = [(org_id, send_id, pk, outcome, reason, detail[:200], adapt(release) if release else None, at)
            for pk, (outcome, reason, detail, release) in plan.decisions.items()]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY is PostgreSQL's bulk path, several times faster than batched INSERTs.
            columns = "org_id, send_id, customer_id, outcome, reason, detail, release_at, decided_at"
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        for start in range(0, len(rows), INSERT_BATCH):
            cursor.executemany(sql, rows[start:start + INSERT_BATCH])


def mark_sent(send: Send, *, at=None) -> Send:
    """The send went out: from now on its included recipients count against WeCom's and the brand's caps."""
    send.sent_at = at or clock.now()
    send.save(update_fields=["sent_at"])
    return send


def release_held(org, *, at=None) -> dict[int, set[int]]:
    """Re-decide the recipients held for quiet hours whose window has opened: every rule runs again at ``at``
    (a cap may have filled meanwhile), and those still held past the send's staleness limit are dropped.
    Returns ``{send id: customer ids now included}``, also emitted per send as ``messaging.held_released`` (with
    the customer ids) for the sender to deliver."""
    from siyu.messaging import guard

    org_id = getattr(org, "pk", org)
    at = at or clock.now()
    policy = guard.policy_of(org_id)
    due = (Decision.objects.for_org(org_id).filter(outcome=Decision.Outcome.HELD, release_at__lte=at)
           .values_list("send_id", "customer_id"))
    by_send: dict[int, list[int]] = {}
    for send_id, customer_id in due:
        by_send.setdefault(send_id, []).append(customer_id)
    released = {}
    for send in Send.objects.for_org(org_id).filter(pk__in=by_send):
        ids = by_send[send.pk]
        if at - send.planned_at > timedelta(hours=policy.stale_after_hours):
            Decision.objects.for_org(org_id).filter(send=send, customer_id__in=ids).update(
                outcome=Decision.Outcome.EXCLUDED, reason=reasons.STALE, release_at=None, decided_at=at)
            released[send.pk] = set()
            continue
        approver = None
        if send.approved_by_id:
            approver = send.approved_by.memberships.filter(org_id=org_id).first()
            if approver is not None and not approver.can("messaging.manage"):
                approver = None  # an approval lapses with the approver's role: protected people stay out
        with transaction.atomic():
            result = guard.plan(org_id, send=(send.kind, send.ref_id), customer_ids=ids, purpose=send.purpose,
                                channel=send.channel, content=send.content, at=at, approved_by=approver)
            released[send.pk] = result.ids(Decision.Outcome.INCLUDED)
            events.emit(org_id, HELD_RELEASED, send, {"customer_ids": sorted(released[send.pk])})
    return released


# -- settings ---------------------------------------------------------------------------------------------------------


def _zone(name: str) -> str:
    name = (name or "").strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        name = ""
    if not name or name not in available_timezones():
        raise ValidationError({"timezone": _("未知的时区：%(value)s。") % {"value": name or "—"}})
    return name


@transaction.atomic
def save_policy(org, *, by, receive_rule, quiet_start, quiet_end, timezone, stale_after_hours, protect_minors,
                protect_seniors, protected_tag_ids, caps: dict[str, tuple[int, int] | None]) -> Policy:
    """Save the organization's messaging settings and its frequency caps (``{channel: (max, days) or None}``);
    audited with what changed."""
    if by is not None:
        by.require("messaging.manage")
    org_id = getattr(org, "pk", org)
    errors = {}
    if receive_rule not in Policy.ReceiveRule.values:
        errors["receive_rule"] = _("请选择接收规则。")
    tags = set(Tag.objects.for_org(org_id).filter(pk__in=protected_tag_ids, deleted=False).values_list("pk", flat=True))
    if tags != {int(pk) for pk in protected_tag_ids}:
        errors["protected_tags"] = _("有的标签不存在。")
    for channel, cap in caps.items():
        if channel not in Channel.values or (cap and (cap[0] < 1 or cap[1] < 1)):
            errors[f"cap_{channel}"] = _("条数和天数都至少为 1。")
    if errors:
        raise ValidationError(errors)
    policy = Policy.objects.for_org(org_id).select_for_update().first() or Policy(org_id=org_id)
    policy.receive_rule, policy.quiet_start, policy.quiet_end = receive_rule, quiet_start, quiet_end
    policy.timezone, policy.stale_after_hours = _zone(timezone), stale_after_hours
    policy.protect_minors, policy.protect_seniors = protect_minors, protect_seniors
    policy.protected_tag_ids = sorted(tags)
    policy.save()
    for channel, cap in caps.items():
        if cap:
            FrequencyCap.objects.for_org(org_id).update_or_create(
                org_id=org_id, channel=channel, defaults={"max_messages": cap[0], "days": cap[1]})
        else:
            FrequencyCap.objects.for_org(org_id).filter(channel=channel).delete()
    audit.record("messaging.policy_saved", org=org_id, actor=getattr(by, "user", None), obj=policy, details={
        "receive_rule": receive_rule, "quiet_hours": f"{quiet_start:%H:%M}–{quiet_end:%H:%M}",
        "stale_after_hours": stale_after_hours, "protected_tags": len(tags),
        "caps": {c: f"{v[0]}/{v[1]}" for c, v in caps.items() if v}})
    return policy


@transaction.atomic
def set_recipient_facts(customer: Customer, *, birth_date: date | None, timezone: str = "", by) -> RecipientFacts:
    """Record a customer's birth date (year known) and time zone for the guard; audited, the birth date not in
    the log (personal data)."""
    if by is not None and not by.can("customers.edit"):
        raise PermissionDenied("customers.edit")
    if birth_date is not None and birth_date > clock.now().date():
        raise ValidationError({"birth_date": _("出生日期不能晚于今天。")})
    facts, _created = RecipientFacts.objects.for_org(customer.org_id).update_or_create(
        org_id=customer.org_id, customer=customer,
        defaults={"birth_date": birth_date, "timezone": _zone(timezone) if timezone else ""})
    audit.record("messaging.recipient_facts_set", org=customer.org_id, actor=getattr(by, "user", None), obj=customer,
                 details={"birth_date_known": birth_date is not None, "timezone": facts.timezone})
    return facts
