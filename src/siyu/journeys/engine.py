"""Moving customers through a journey: entering it, and performing the step a customer has reached.

Each step a customer reaches is a :class:`JourneyStep` durable row. Performing it decides the step's outcome
(a wait passed, a branch's yes or no, an action done, skipped or failed) and, in one transaction, records the
outcome and creates the row of the next step, keyed by the entry and the next step's path. The dispatcher runs
a row at least once; the row's recorded outcome is what makes its effect happen once: a row run again after a
crash finds its outcome and only makes sure the next row exists, and the effects themselves are keyed by the
row (a reminder's key, a webhook's delivery id), so a crash between the effect and the outcome repeats nothing
either.
"""

from __future__ import annotations

import datetime as dt
from datetime import timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils.translation import gettext as _

from siyu.cdp.models import Person
from siyu.core import clock
from siyu.core.durable import PermanentFailure, RetryLater
from siyu.customers import tagging
from siyu.customers.models import Customer, RelationTag, Tag
from siyu.journeys import steps as journey_steps
from siyu.journeys import webhooks
from siyu.journeys.models import Journey, JourneyEntry, JourneyStep
from siyu.lifecycle import reminders, stages
from siyu.lifecycle.models import Reminder, Stage, StageChange
from siyu.messaging import guard, lookup, reasons
from siyu.messaging import services as messaging_services
from siyu.messaging.models import Channel, Decision, Send
from siyu.wecom import attachments as wecom_attachments
from siyu.wecom import messaging_endpoints as wecom
from siyu.wecom.client import WeComClient
from siyu.wecom.errors import WeComError, WeComNetworkError
from siyu.segments.compiler import persons

# A paused journey's positions look again this often; resuming puts them back on their own time at once.
PAUSED_RECHECK = timedelta(minutes=10)


def zone_of(org_id: int) -> ZoneInfo:
    """The organization's time zone (its messaging policy's): waits until a time of day are read in it."""
    return ZoneInfo(guard.policy_of(org_id).timezone)


def due_for(step: dict, org_id: int, now: dt.datetime) -> dt.datetime:
    """When a customer who reaches ``step`` at ``now`` may go on: a wait's end, else at once."""
    if step["kind"] == "wait":
        return now + timedelta(days=step["days"], hours=step["hours"], minutes=step["minutes"])
    if step["kind"] == "wait_until":
        zone = zone_of(org_id)
        local = now.astimezone(zone)
        time = dt.time.fromisoformat(step["time"])
        if step["date"]:
            target = dt.datetime.combine(dt.date.fromisoformat(step["date"]), time, tzinfo=zone)
            return max(target, now)  # a date already past lets the customer on at once
        target = dt.datetime.combine(local.date(), time, tzinfo=zone)
        return target if target > now else dt.datetime.combine(local.date() + timedelta(days=1), time, tzinfo=zone)
    return now


def _step_row(entry: JourneyEntry, path: str, now: dt.datetime) -> JourneyStep:
    """The row of ``path`` for ``entry``, created once (a re-run finds the one already there)."""
    step = journey_steps.at(entry.version.steps, path)
    due = due_for(step, entry.org_id, now)
    row, _created = JourneyStep.objects.for_org(entry.org_id).get_or_create(
        org_id=entry.org_id, idempotency_key=f"{entry.pk}:{path}",
        defaults={"entry": entry, "journey_id": entry.journey_id, "version_id": entry.version_id, "path": path,
                  "due_at": due, "planned_at": due},
    )
    return row


def may_enter(journey: Journey, customer_id: int, now: dt.datetime) -> bool:
    """The journey's re-entry rule for a customer who triggers it at ``now``."""
    earlier = JourneyEntry.objects.for_org(journey.org_id).filter(journey=journey, customer_id=customer_id)
    if not earlier.exists():
        return True
    if journey.reentry == Journey.Reentry.NEVER:
        return False
    if earlier.filter(ended_at__isnull=True).exists():
        return False  # one run at a time, whatever the rule
    if journey.reentry == Journey.Reentry.AFTER_DAYS:
        last = earlier.order_by("-entered_at").values_list("entered_at", flat=True).first()
        return now >= last + timedelta(days=journey.reentry_days)
    return True


def enter(journey: Journey, customer: Customer, *, key: str) -> JourneyEntry | None:
    """Let ``customer`` into ``journey`` on its current version, if it runs and its re-entry rule allows.

    ``key`` names the trigger (the domain event): the same trigger handled twice enters once.
    """
    now = clock.now()
    with transaction.atomic():
        journey = Journey.objects.for_org(journey.org_id).select_for_update(of=("self",)).select_related("version").get(pk=journey.pk)
        if journey.status != Journey.Status.ACTIVE or journey.version is None:
            return None
        key = f"{journey.pk}:{key}"
        if JourneyEntry.objects.for_org(journey.org_id).filter(idempotency_key=key).exists():
            return None
        if not may_enter(journey, customer.pk, now):
            return None
        entry = JourneyEntry.objects.create(org_id=journey.org_id, journey=journey, version=journey.version,
                                            customer=customer, entered_at=now, idempotency_key=key)
        _step_row(entry, "0", now)
    return entry


# -- performing a step -----------------------------------------------------------------------------------
def run_step(row: JourneyStep) -> None:
    """Perform the step a customer has reached (``JourneyStep.perform``)."""
    entry = JourneyEntry.objects.for_org(row.org_id).select_related("journey", "version", "customer").get(pk=row.entry_id)
    journey, steps = entry.journey, entry.version.steps
    if row.outcome:
        # An earlier run decided and recorded this step, then lost its lease: only go on from it.
        _go_on(row, entry, row.outcome, row.detail)
        return
    if journey.status == Journey.Status.STOPPED or entry.ended_at is not None:
        _settle(row, JourneyStep.Outcome.STOPPED, "", None, entry)
        return
    if journey.status == Journey.Status.PAUSED:
        raise RetryLater(PAUSED_RECHECK.total_seconds(), "journey paused")
    step = journey_steps.at(steps, row.path)
    kind = step["kind"]
    if kind in journey_steps.WAITS:
        outcome, detail = JourneyStep.Outcome.PASSED, ""
    elif kind == "branch":
        outcome, detail = (JourneyStep.Outcome.YES if matches(entry.customer, step["rule"])
                           else JourneyStep.Outcome.NO), ""
    else:
        outcome, detail = _act(row, entry, step)
    _go_on(row, entry, outcome, detail)


def matches(customer: Customer, rule: dict) -> bool:
    """Whether the segment rule selects the customer's person now (the segment compiler decides)."""
    selected = persons(customer.org_id, rule, now=clock.now())
    return Person.objects.for_org(customer.org_id).filter(customer_id=customer.pk, pk__in=selected.values("pk")).exists()


def _go_on(row: JourneyStep, entry: JourneyEntry, outcome: str, detail: str) -> None:
    steps = entry.version.steps
    if outcome in (JourneyStep.Outcome.YES, JourneyStep.Outcome.NO):
        following = journey_steps.into(steps, row.path, outcome)
    elif outcome == JourneyStep.Outcome.STOPPED:
        following = None
    else:
        following = journey_steps.after(steps, row.path)
    _settle(row, outcome, detail, following, entry)


def _settle(row: JourneyStep, outcome: str, detail: str, following: str | None, entry: JourneyEntry) -> None:
    """Record the step's outcome and put the customer on the next step (or end the run), all or nothing."""
    now = clock.now()
    with transaction.atomic():
        JourneyStep.objects.for_org(row.org_id).filter(pk=row.pk).update(outcome=outcome, detail=detail[:200])
        row.outcome, row.detail = outcome, detail
        if following is not None:
            _step_row(entry, following, now)
            return
        end = JourneyEntry.End.STOPPED if outcome == JourneyStep.Outcome.STOPPED else JourneyEntry.End.FINISHED
        JourneyEntry.objects.for_org(row.org_id).filter(pk=entry.pk, ended_at__isnull=True).update(ended_at=now, end=end)


def _act(row: JourneyStep, entry: JourneyEntry, step: dict) -> tuple[str, str]:
    """Perform an action step; a failure that retrying cannot mend (or the last attempt's) is its outcome."""
    try:
        return _effect(row, entry, step)
    except PermanentFailure as error:
        return JourneyStep.Outcome.FAILED, str(error)
    except RetryLater:
        raise  # a send held for quiet hours waits; waiting is not failing
    except Exception as error:
        if row.attempts >= row.max_attempts:
            return JourneyStep.Outcome.FAILED, f"{type(error).__name__}: {error}"
        raise


def _effect(row: JourneyStep, entry: JourneyEntry, step: dict) -> tuple[str, str]:
    customer, journey = entry.customer, entry.journey
    ref = f"journey:{journey.pk}"
    kind = step["kind"]
    if kind in ("add_tag", "remove_tag"):
        tag = Tag.objects.for_org(row.org_id).filter(pk=step["tag"], deleted=False).first()
        if tag is None:
            raise PermanentFailure(_("标签已被删除。"))
        if kind == "add_tag":
            tagging.tag_customer(customer, [tag], source=RelationTag.Source.RULE, source_ref=ref)
        else:
            tagging.untag_customer(customer, [tag], source=RelationTag.Source.RULE)
        return JourneyStep.Outcome.DONE, tag.name
    if kind == "set_stage":
        stage = Stage.objects.for_org(row.org_id).filter(pk=step["stage"]).first()
        if stage is None:
            raise PermanentFailure(_("阶段已被删除。"))
        stages.move_customer(customer, stage, source=StageChange.Source.RULE, source_ref=ref)
        return JourneyStep.Outcome.DONE, stage.name
    if kind == "remind":
        staff = reminders.owner_of(customer)
        if staff is None:
            return JourneyStep.Outcome.SKIPPED, _("客户没有负责的员工。")
        reminders.schedule(kind=Reminder.Kind.JOURNEY, customer=customer, staff=staff, due_at=clock.now(),
                           title=step["title"], body=step["body"], key=f"journey-step:{row.pk}", source_ref=ref)
        return JourneyStep.Outcome.DONE, staff.name or staff.userid
    if kind == "send":
        return _send(row, customer, step)
    webhooks.call(journey, row, customer)
    return JourneyStep.Outcome.DONE, step["url"]


def _send(row: JourneyStep, customer: Customer, step: dict) -> tuple[str, str]:
    """A WeCom group message from the customer's guide to the customer, if the policy guard includes them now;
    held for quiet hours, the step waits until the window opens and asks the guard again."""
    staff = reminders.owner_of(customer)
    if staff is None:
        return JourneyStep.Outcome.SKIPPED, _("客户没有负责的员工。")
    if row.send_called_at is not None:
        # An attempt died during the call: adopt the message WeCom made for it, or send when it made none.
        with WeComClient.for_org(row.org_id) as client:
            found = lookup.find_created(client, called_at=row.send_called_at, sender=staff.userid, text=step["text"],
                                        recipients={customer.external_userid})
        if found:
            return _sent(row, staff, found)
        JourneyStep.objects.for_org(row.org_id).filter(pk=row.pk).update(send_called_at=None)
    plan = guard.plan(row.org_id, send=row, customer_ids=[customer.pk], purpose=step["purpose"],
                      channel=Channel.JOURNEY, content=step["text"], at=clock.now())
    outcome, reason, _detail, release = plan.decisions[customer.pk]
    if outcome == Decision.Outcome.HELD:
        raise RetryLater(max((release - clock.now()).total_seconds(), 1), "quiet hours")
    if outcome != Decision.Outcome.INCLUDED:
        return JourneyStep.Outcome.SKIPPED, str(reasons.label(reason))
    if not JourneyStep.objects.for_org(row.org_id).filter(pk=row.pk, send_called_at__isnull=True).update(
            send_called_at=clock.now()):  # the time a retry looks around in WeCom's list
        raise RetryLater(5, "another attempt is calling WeCom")
    try:
        with WeComClient.for_org(row.org_id) as client:
            answer = wecom.add_msg_template(client, content=wecom_attachments.content(step["text"], []),
                                            sender=staff.userid, external_userids=[customer.external_userid])
    except WeComError as error:
        if isinstance(error, WeComNetworkError):
            raise  # no answer: WeCom may hold the task; the retry looks it up before calling again
        # WeCom answered and refused: nothing was created, so a retry may call again.
        JourneyStep.objects.for_org(row.org_id).filter(pk=row.pk).update(send_called_at=None)
        raise
    return _sent(row, staff, answer.msgid)


def _sent(row: JourneyStep, staff, msgid: str) -> tuple[str, str]:
    send = Send.objects.for_org(row.org_id).get(kind=JourneyStep._meta.label_lower, ref_id=row.pk)
    messaging_services.mark_sent(send, at=clock.now())
    return JourneyStep.Outcome.DONE, _("%(staff)s 发出，待员工确认（%(msgid)s）") % {
        "staff": staff.name or staff.userid, "msgid": msgid}

