"""Writes of the conversations app: reviewing an alert, and the audit entry every archive read leaves."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.conversations.models import ChatAlert
from siyu.orgs import audit

NOTE_MAX = 200


@transaction.atomic
def review_alert(alert: ChatAlert, decision: str, *, note: str = "", by) -> ChatAlert:
    """``by`` settles an open alert as confirmed or dismissed (a false alarm), with an optional note; audited."""
    if decision not in {ChatAlert.Review.CONFIRMED, ChatAlert.Review.DISMISSED}:
        raise ValidationError({"decision": _("请选择“确认违规”或“误报”。")})
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise ValidationError({"note": _("备注最多 %(n)d 个字。") % {"n": NOTE_MAX}})
    now = timezone.now()
    updated = ChatAlert.objects.for_org(alert.org_id).filter(pk=alert.pk, review=ChatAlert.Review.OPEN).update(
        review=decision, review_note=note, reviewed_by=by.user, reviewed_at=now)
    if not updated:
        raise ValidationError({"decision": _("这条预警已经处理过了。")})
    alert.review, alert.review_note, alert.reviewed_by, alert.reviewed_at = decision, note, by.user, now
    audit.record("conversations.alert_reviewed", org=alert.org_id, actor=by.user, obj=alert,
                 details={"decision": decision, "kind": alert.kind})
    return alert


def record_view(viewer, *, customer=None, staff=None, searched: bool = False, page: int = 1) -> None:
    """Every read of archived messages is audited: who read whose chats, and whether they searched them (the
    search text itself is not kept: it may be a phone number)."""
    details = {"searched": searched, "page": page}
    if staff is not None:
        details["staff"] = staff.name or staff.userid
    audit.record("conversations.viewed", org=viewer.org_id, actor=viewer.user, obj=customer or staff, details=details)
