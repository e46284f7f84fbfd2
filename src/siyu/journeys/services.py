"""Every change to a journey: create, edit (a new version for new entrants), pause, resume, stop.

Each validates, writes, records the audit entry and checks the actor's permission (``journeys.manage``).
"""

from __future__ import annotations

import secrets

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils.translation import gettext as _

from siyu.cdp.models import Event
from siyu.core import clock
from siyu.core.durable import DurableRow
from siyu.customers.models import Tag
from siyu.journeys import steps as journey_steps
from siyu.journeys.models import Journey, JourneyEntry, JourneyStep, JourneyVersion
from siyu.lifecycle.models import Stage
from siyu.orgs import audit
from siyu.orgs.models import Membership
from siyu.segments.models import Segment

NAME_MAX = 60
MAX_REENTRY_DAYS = 3650
EVENT_NAME_MAX = 200
TRIGGER_MODELS = {Journey.Trigger.TAG_ADDED: (Tag, "trigger_tag"), Journey.Trigger.STAGE_CHANGED: (Stage, "trigger_stage"),
                  Journey.Trigger.SEGMENT_ENTERED: (Segment, "trigger_segment")}


def _user(by: Membership | None):
    if by is not None:
        by.require("journeys.manage")
        return by.user
    return None


def _clean(org, *, name: str, trigger: str, trigger_ref, reentry: str, reentry_days, trigger_event: str = "",
           journey=None) -> dict:
    errors: dict[str, str] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = _("请填写旅程名称。")
    elif len(name) > NAME_MAX:
        errors["name"] = _("旅程名称最多 %(n)d 个字。") % {"n": NAME_MAX}
    elif Journey.objects.for_org(org).filter(name=name).exclude(pk=getattr(journey, "pk", None)).exists():
        errors["name"] = _("已有同名的旅程。")
    if trigger not in Journey.Trigger.values:
        errors["trigger"] = _("请选择触发条件。")
    elif trigger == Journey.Trigger.EVENT:
        trigger_ref = None
        trigger_event = (trigger_event or "").strip()
        if not trigger_event:
            errors["trigger_event"] = _("请填写触发旅程的事件名称。")
        elif len(trigger_event) > EVENT_NAME_MAX:
            errors["trigger_event"] = _("事件名称最多 %(n)d 个字符。") % {"n": EVENT_NAME_MAX}
    elif trigger in TRIGGER_MODELS:
        model, field = TRIGGER_MODELS[trigger]
        rows = model.objects.for_org(org).filter(pk=trigger_ref if trigger_ref else None)
        if model is Tag:
            rows = rows.filter(deleted=False)
        if not rows.exists():
            errors[field] = _("请选择触发旅程的对象。")
    else:
        trigger_ref = None
    if reentry not in Journey.Reentry.values:
        errors["reentry"] = _("请选择再次进入规则。")
    days = 0
    if reentry == Journey.Reentry.AFTER_DAYS:
        try:
            days = int(reentry_days)
        except (TypeError, ValueError):
            days = 0
        if not 1 <= days <= MAX_REENTRY_DAYS:
            errors["reentry_days"] = _("请填写 1 到 %(n)d 之间的天数。") % {"n": MAX_REENTRY_DAYS}
    if errors:
        raise ValidationError(errors)
    return {"name": name, "trigger": trigger, "trigger_ref": int(trigger_ref) if trigger_ref else None,
            "trigger_event": trigger_event if trigger == Journey.Trigger.EVENT else "",
            "reentry": reentry, "reentry_days": days}


def _latest_event_id(org_id: int) -> int:
    """An event trigger counts events from now on: the newest event id the journey need not look at."""
    return Event.objects.for_org(org_id).aggregate(last=Max("pk"))["last"] or 0


def create_journey(org, *, name: str, trigger: str, trigger_ref=None, reentry: str = Journey.Reentry.NEVER,
                   reentry_days=0, steps, by: Membership | None, trigger_event: str = "") -> tuple[Journey, str]:
    """A running journey with its first version; returns it and its webhook secret (shown once, never again)."""
    user = _user(by)
    errors = {}
    try:
        fields = _clean(org, name=name, trigger=trigger, trigger_ref=trigger_ref, reentry=reentry,
                        reentry_days=reentry_days, trigger_event=trigger_event)
    except ValidationError as error:
        errors.update(error.message_dict)
    try:
        cleaned = journey_steps.validate(org, steps)
    except ValidationError as error:
        errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    secret = secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            org_id = getattr(org, "pk", org)
            journey = Journey.objects.create(org_id=org_id, webhook_secret=secret, created_by=user,
                                             event_cursor=_latest_event_id(org_id), **fields)
            journey.version = JourneyVersion.objects.create(org_id=journey.org_id, journey=journey, number=1,
                                                            steps=cleaned, created_by=user)
            journey.save(update_fields=["version"])
            audit.record("journeys.created", org=journey.org_id, actor=user, obj=journey,
                         details={"name": journey.name, "journey_trigger": journey.trigger, "steps": journey_steps.count(cleaned)})
    except IntegrityError:  # the same name saved twice at once
        raise ValidationError({"name": _("已有同名的旅程。")}) from None
    return journey, secret


def update_journey(journey: Journey, *, name: str, trigger: str, trigger_ref=None, reentry: str, reentry_days=0, steps,
                   by: Membership | None, trigger_event: str = "") -> Journey:
    """Save an edit. Changed steps become a new version that only customers entering from now on follow."""
    user = _user(by)
    if journey.status == Journey.Status.STOPPED:
        raise ValidationError({"__all__": _("已停止的旅程不能再修改。")})
    errors = {}
    try:
        fields = _clean(journey.org_id, name=name, trigger=trigger, trigger_ref=trigger_ref, reentry=reentry,
                        reentry_days=reentry_days, trigger_event=trigger_event, journey=journey)
    except ValidationError as error:
        errors.update(error.message_dict)
    try:
        cleaned = journey_steps.validate(journey.org_id, steps)
    except ValidationError as error:
        errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        journey = Journey.objects.for_org(journey.org_id).select_for_update(of=("self",)).select_related("version").get(pk=journey.pk)
        if (fields["trigger"], fields["trigger_event"]) != (journey.trigger, journey.trigger_event):
            journey.event_cursor = _latest_event_id(journey.org_id)  # a new event to wait for counts from now
        for key, value in fields.items():
            setattr(journey, key, value)
        new_version = journey.version is None or journey.version.steps != cleaned
        if new_version:
            number = (journey.version.number if journey.version else 0) + 1
            journey.version = JourneyVersion.objects.create(org_id=journey.org_id, journey=journey, number=number,
                                                            steps=cleaned, created_by=user)
        journey.save()
        audit.record("journeys.updated", org=journey.org_id, actor=user, obj=journey,
                     details={"name": journey.name, "version": journey.version.number})
    return journey


def _pending(journey: Journey):
    return JourneyStep.objects.for_org(journey.org_id).filter(journey=journey, status=DurableRow.Status.PENDING)


def pause_journey(journey: Journey, *, by: Membership | None) -> Journey:
    """Hold the journey: nobody new enters and the customers inside wait where they are until it resumes."""
    return _set_status(journey, Journey.Status.PAUSED, by=by, allowed=(Journey.Status.ACTIVE,), action="journeys.paused")


def resume_journey(journey: Journey, *, by: Membership | None) -> Journey:
    """Run a paused journey again; customers whose step fell due meanwhile go on at once, the others on time."""
    return _set_status(journey, Journey.Status.ACTIVE, by=by, allowed=(Journey.Status.PAUSED,), action="journeys.resumed")


def stop_journey(journey: Journey, *, by: Membership | None) -> Journey:
    """End the journey for good: nobody new enters and every customer inside leaves it without further steps."""
    return _set_status(journey, Journey.Status.STOPPED, by=by, allowed=(Journey.Status.ACTIVE, Journey.Status.PAUSED),
                       action="journeys.stopped")


def _set_status(journey: Journey, status: str, *, by, allowed, action: str) -> Journey:
    user = _user(by)
    now = clock.now()
    with transaction.atomic():
        journey = Journey.objects.for_org(journey.org_id).select_for_update().get(pk=journey.pk)
        if journey.status not in allowed:
            raise ValidationError({"status": _("旅程当前状态为“%(status)s”，不能这样操作。")
                                   % {"status": journey.get_status_display()}})
        journey.status = status
        journey.save(update_fields=["status", "updated_at"])
        ended = 0
        if status == Journey.Status.ACTIVE:
            _pending(journey).update(due_at=F("planned_at"))
        elif status == Journey.Status.STOPPED:
            _pending(journey).update(status=DurableRow.Status.CANCELLED, outcome=JourneyStep.Outcome.STOPPED,
                                     finished_at=now)
            ended = (JourneyEntry.objects.for_org(journey.org_id).filter(journey=journey, ended_at__isnull=True)
                     .update(ended_at=now, end=JourneyEntry.End.STOPPED))
        audit.record(action, org=journey.org_id, actor=user, obj=journey, details={"name": journey.name, "count": ended})
    return journey
