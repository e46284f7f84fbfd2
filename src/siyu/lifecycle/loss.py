"""Loss alerts (流失提醒): a customer deleted a staff member, or a staff member deleted a customer.

The owner (that staff member) and the managers of their store are told by WeCom app message, with the
customer's history; the console keeps every alert, with a cause a manager can fill in, and the loss report
counts them by staff, store, way and cause.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.cdp.models import Order
from siyu.cdp.services import purchase_summary
from siyu.core.durable import PermanentFailure
from siyu.customers.models import Relation, RelationTag
from siyu.lifecycle import stages
from siyu.lifecycle.models import LossAlert, LossNotice
from siyu.lifecycle.reminders import NO_RECIPIENT, send_app_card
from siyu.orgs import audit
from siyu.orgs.models import Membership, Staff
from siyu.orgs.roles import Role
from siyu.wecom.errors import NotConnected, WeComError
from siyu.wecom.models import ChatMessage

log = logging.getLogger(__name__)

LOSS_REASONS = {Relation.Status.DELETED_BY_CUSTOMER, Relation.Status.DELETED_BY_STAFF}
LAST_MESSAGES = 5


def history_of(relation: Relation) -> dict:
    """What was known about the customer when the friendship ended: kept on the alert as it was."""
    org_id, customer = relation.org_id, relation.customer
    summary = purchase_summary(org_id, customer)
    last_order = Order.objects.for_org(org_id).filter(customer=customer).order_by("-ordered_at").first()
    tags = list(RelationTag.objects.for_org(org_id).filter(relation=relation).values_list("tag__name", flat=True)[:30])
    messages = list(ChatMessage.objects.for_org(org_id).filter(customer=customer).exclude(text="")
                    .order_by("-sent_at", "-pk").values("text", "from_customer", "sent_at")[:LAST_MESSAGES])
    ended = relation.deleted_at or timezone.now()
    return {
        "customer": str(customer),
        "remark": relation.remark,
        "stage": stages.stage_of(customer).name,
        "added_at": relation.added_at.isoformat() if relation.added_at else "",
        "days_as_friend": (ended - relation.added_at).days if relation.added_at else None,
        "tags": tags,
        "orders": summary["orders"],
        "spent": str(summary["spent"]),
        "last_order_at": last_order.ordered_at.isoformat() if last_order else "",
        "messages": [
            {"text": m["text"][:100], "from_customer": m["from_customer"], "sent_at": m["sent_at"].isoformat()}
            for m in reversed(messages)
        ],
    }


def managers_of(staff: Staff) -> list[Staff]:
    """The WeCom members who manage ``staff``'s store: store managers of that store or a region above it."""
    if staff.store_id is None:
        return []
    managers = Membership.objects.for_org(staff.org_id).filter(role=Role.STORE_MANAGER, is_active=True).select_related("store")
    chosen = [m for m in managers if staff.store_id in m.store_ids()]
    return list(Staff.objects.for_org(staff.org_id).filter(membership__in=chosen, status=Staff.Status.ACTIVE)
                .exclude(pk=staff.pk))


@transaction.atomic
def record_loss(relation: Relation, reason: str) -> LossAlert | None:
    """Record the alert for a lost friendship and queue its messages; idempotent for the same ending."""
    if reason not in LOSS_REASONS:
        return None
    occurred_at = relation.deleted_at or timezone.now()
    alert = LossAlert.objects.for_org(relation.org_id).filter(relation=relation, occurred_at=occurred_at).first()
    if alert is not None:
        return alert
    staff = relation.staff
    try:
        with transaction.atomic():
            alert = LossAlert.objects.create(
                org_id=relation.org_id, customer=relation.customer, relation=relation, staff=staff, store_id=staff.store_id,
                reason=reason, occurred_at=occurred_at, history=history_of(relation),
            )
    except IntegrityError:
        return LossAlert.objects.for_org(relation.org_id).get(relation=relation, occurred_at=occurred_at)
    recipients = ([staff] if staff.status == Staff.Status.ACTIVE else []) + managers_of(staff)
    LossNotice.objects.bulk_create([
        LossNotice(org_id=relation.org_id, alert=alert, recipient=r, idempotency_key=f"loss:{alert.pk}:{r.pk}")
        for r in recipients
    ])
    return alert


def _describe(alert: LossAlert) -> str:
    h = alert.history
    parts = [
        _("%(way)s · 员工 %(staff)s%(store)s") % {
            "way": alert.get_reason_display(), "staff": alert.staff,
            "store": f" · {alert.store.name}" if alert.store_id else ""},
        _("阶段：%(stage)s · 好友 %(days)s 天 · 订单 %(orders)d 笔，累计 ¥%(spent)s") % {
            "stage": h.get("stage", ""), "days": h.get("days_as_friend") if h.get("days_as_friend") is not None else "—",
            "orders": h.get("orders", 0), "spent": h.get("spent", "0")},
    ]
    if h.get("tags"):
        parts.append(_("标签：%(tags)s") % {"tags": "、".join(h["tags"][:8])})
    return "\n".join(parts)


def deliver_notice(notice: LossNotice) -> None:
    """Send one loss alert message (the dispatcher calls this through ``LossNotice.perform``)."""
    alert = LossAlert.objects.for_org(notice.org_id).select_related("customer", "staff", "store").get(pk=notice.alert_id)
    url = f"{settings.PUBLIC_URL}{reverse('lifecycle:loss_detail', args=[alert.pk])}"
    try:
        send_app_card(notice.org_id, notice.recipient.userid, title=_("客户流失：%(customer)s") % {"customer": alert.customer},
                      description=_describe(alert), url=url)
    except NotConnected:
        return  # the console alert list has it
    except WeComError as error:
        if error.errcode == NO_RECIPIENT:
            raise PermanentFailure(f"{notice.recipient.userid} cannot receive app messages: {error.errmsg}") from error
        raise
    LossNotice.objects.for_org(notice.org_id).filter(pk=notice.pk).update(sent_at=timezone.now())


@transaction.atomic
def handle_alert(alert: LossAlert, *, cause: str, note: str = "", by=None) -> LossAlert:
    """A manager or the owner records why the customer was lost."""
    if cause not in LossAlert.Cause.values or not cause:
        raise ValidationError({"cause": _("请选择流失原因。")})
    note = (note or "").strip()
    if len(note) > 200:
        raise ValidationError({"note": _("备注最多 200 个字。")})
    user = by.user if isinstance(by, Membership) else by
    alert.cause, alert.note, alert.handled_at, alert.handled_by = cause, note, timezone.now(), user
    alert.save(update_fields=["cause", "note", "handled_at", "handled_by"])
    audit.record("loss_alert.handled", org=alert.org_id, actor=user, obj=alert, details={"cause": cause})
    return alert


def alerts(viewer: Membership):
    return LossAlert.objects.visible_to(viewer).select_related("customer", "staff", "store")


def report(viewer: Membership, *, since: datetime | None = None, until: datetime | None = None) -> dict:
    """Losses in the period by staff member, by store, by way (who deleted whom) and by cause."""
    rows = LossAlert.objects.visible_to(viewer)
    if since:
        rows = rows.filter(occurred_at__gte=since)
    if until:
        rows = rows.filter(occurred_at__lt=until)

    def grouped(*fields):
        return list(rows.order_by().values(*fields).annotate(n=Count("pk")).order_by("-n", *fields))

    reasons = dict(LossAlert.Reason.choices)
    causes = dict(LossAlert.Cause.choices)
    return {
        "total": rows.count(),
        "by_staff": [{"label": r["staff__name"] or r["staff__userid"], "store": r["store__name"] or "—", "n": r["n"]}
                     for r in grouped("staff_id", "staff__name", "staff__userid", "store__name")],
        "by_store": [{"label": r["store__name"] or _("未分配门店"), "n": r["n"]} for r in grouped("store_id", "store__name")],
        "by_reason": [{"label": reasons.get(r["reason"], r["reason"]), "n": r["n"]} for r in grouped("reason")],
        "by_cause": [{"label": causes.get(r["cause"], r["cause"]), "n": r["n"]} for r in grouped("cause")],
    }

