"""Notes (小记) and follow-ups (跟进计划) on a customer: written here, with the timeline event in the same
transaction. Follow-ups are data; the reminders app delivers them (subscribe to the ``follow_up.saved`` event,
written when one is planned or closed, or read open ``FollowUp`` rows by ``due_at``)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.core import events
from siyu.customers import timeline
from siyu.customers.models import FollowUp, Note, Relation
from siyu.customers.tags import staff_of
from siyu.orgs.models import Staff

MAX_NOTE = 2000
MAX_FOLLOW_UP = 500


@transaction.atomic
def add_note(customer, text: str, *, by) -> Note:
    """``by`` (a Membership) writes a note on ``customer``; it shows on the profile and the timeline."""
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": _("请填写小记内容。")})
    if len(text) > MAX_NOTE:
        raise ValidationError({"text": _("小记最多 %(n)d 个字。") % {"n": MAX_NOTE}})
    note = Note.objects.create(org_id=customer.org_id, customer=customer, author=by.user, staff=staff_of(by), text=text)
    timeline.note_added(note)
    return note


def assignable_staff(viewer, customer):
    """Who a follow-up may be given to: active staff the viewer may see (a guide: themselves), the customer's own
    staff first."""
    own = Relation.objects.for_org(customer.org_id).filter(customer=customer, staff=OuterRef("pk"))
    return (Staff.objects.visible_to(viewer).filter(status=Staff.Status.ACTIVE).annotate(serves=Exists(own))
            .order_by("-serves", "name", "userid"))


@transaction.atomic
def add_follow_up(customer, text: str, *, due_at, assignee: Staff, by) -> FollowUp:
    """Plan a follow-up of ``customer`` by ``assignee`` at ``due_at``."""
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": _("请填写跟进内容。")})
    if len(text) > MAX_FOLLOW_UP:
        raise ValidationError({"text": _("跟进内容最多 %(n)d 个字。") % {"n": MAX_FOLLOW_UP}})
    if due_at is None or due_at <= timezone.now():
        raise ValidationError({"due_at": _("跟进时间须在当前时间之后。")})
    if assignee.org_id != customer.org_id or assignee.status != Staff.Status.ACTIVE:
        raise ValidationError({"assignee": _("跟进人须是在职员工。")})
    if not Staff.objects.visible_to(by).filter(pk=assignee.pk).exists():
        raise ValidationError({"assignee": _("只能把跟进计划分配给你管理范围内的员工。")})
    follow_up = FollowUp.objects.create(org_id=customer.org_id, customer=customer, assignee=assignee, text=text,
                                        due_at=due_at, created_by=by.user)
    timeline.follow_up_scheduled(follow_up)
    events.emit(customer.org_id, events.Kind.FOLLOW_UP_SAVED, follow_up)
    return follow_up


@transaction.atomic
def close_follow_up(follow_up: FollowUp, status: str, *, by) -> FollowUp:
    """Mark an open follow-up done or cancelled; closing one already closed changes nothing."""
    if status not in {FollowUp.Status.DONE, FollowUp.Status.CANCELLED}:
        raise ValidationError({"status": _("未知的状态。")})
    updated = FollowUp.objects.for_org(follow_up.org_id).filter(pk=follow_up.pk, status=FollowUp.Status.OPEN).update(
        status=status, closed_at=timezone.now(), closed_by=by.user)
    follow_up.refresh_from_db()
    if updated:
        timeline.follow_up_closed(follow_up)
        events.emit(follow_up.org_id, events.Kind.FOLLOW_UP_SAVED, follow_up)
    return follow_up
