"""Every write of SOPs: saving a rule with its steps, switching it on and off, and a staff member completing or
sending a task."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.content.models import Material, Script
from siyu.content.variables import unknown_variables
from siyu.core import clock
from siyu.core.durable import DurableRow
from siyu.customers.models import Tag
from siyu.messaging import guard, lookup, reasons, services as messaging_services
from siyu.messaging.models import Channel, Decision, Send
from siyu.orgs import audit
from siyu.orgs.models import Membership
from siyu.sop import enrollment
from siyu.sop.models import Sop, SopRun, SopStep, SopTask
from siyu.wecom import attachments as wecom_attachments
from siyu.wecom import messaging_endpoints as wecom
from siyu.wecom.client import WeComClient
from siyu.wecom.errors import WeComError, WeComNetworkError

MAX_STEPS = 20
MAX_DAY = 365
Trigger = Sop.Trigger


@dataclass
class StepInput:
    day_offset: int
    time_of_day: time
    script: Script | None = None
    text: str = ""
    attachments: list | None = None
    material: Material | None = None


def _user(by: Membership | None):
    return getattr(by, "user", None)


def _clean(org_id: int, *, name: str, trigger: str, trigger_tag, trigger_stage, trigger_date: date | None,
           condition_tag_ids, condition_segment, steps: list[StepInput]) -> dict:
    errors: dict[str, str] = {}
    if not (name or "").strip():
        errors["name"] = _("请填写名称。")
    if trigger not in Trigger.values:
        errors["trigger"] = _("请选择触发条件。")
    if trigger == Trigger.TAG_ADDED and trigger_tag is None:
        errors["trigger_tag"] = _("“打上标签后”需要选择一个标签。")
    if trigger == Trigger.STAGE_ENTERED and trigger_stage is None:
        errors["trigger_stage"] = _("“进入阶段后”需要选择一个阶段。")
    if trigger == Trigger.DATE and trigger_date is None:
        errors["trigger_date"] = _("“指定日期”需要填写日期。")
    for row in (trigger_tag, trigger_stage, condition_segment):
        if row is not None and row.org_id != org_id:
            raise PermissionDenied("another organization's row")
    ids = sorted({int(pk) for pk in condition_tag_ids or []})
    if Tag.objects.for_org(org_id).filter(pk__in=ids, deleted=False).count() != len(ids):
        errors["condition_tags"] = _("限定标签不存在。")
    if trigger == Trigger.GROUP_CREATED and (ids or condition_segment is not None):
        errors["condition_tags"] = _("群SOP按群触发，不能按客户标签或人群限定。")
    if not steps:
        errors["steps"] = _("至少添加一个步骤。")
    elif len(steps) > MAX_STEPS:
        errors["steps"] = _("最多 %(n)d 个步骤。") % {"n": MAX_STEPS}
    for n, step in enumerate(steps, start=1):
        problem = _step_problem(org_id, step)
        if problem:
            errors.setdefault("steps", _("第 %(n)d 步：%(problem)s") % {"n": n, "problem": problem})
    if errors:
        raise ValidationError(errors)
    return {"name": name.strip()[:60], "condition_tag_ids": ids}


def _step_problem(org_id: int, step: StepInput) -> str:
    if not 0 <= step.day_offset <= MAX_DAY:
        return _("天数须在 0 到 %(n)d 之间。") % {"n": MAX_DAY}
    if step.script is not None:
        if step.script.org_id != org_id or step.script.status != Script.Status.APPROVED:
            return _("只能选用已审核通过的话术。")
        return ""
    text = (step.text or "").strip()
    if not text:
        return _("请选择话术或填写内容。")
    if wecom_attachments.byte_length(text) > wecom_attachments.TEXT_MAX_BYTES:
        return _("内容过长。")
    unknown = unknown_variables(text)
    if unknown:
        return _("未知变量：%(names)s") % {"names": "、".join(unknown)}
    blocked = [f.term for f in guard.check(text, org=org_id) if f.severity == "block"]
    if blocked:
        return _("内容含禁用词：%(words)s") % {"words": "、".join(dict.fromkeys(blocked))}
    _cleaned, problems = wecom_attachments.clean_list(list(step.attachments or []))
    return " ".join(problems)


@transaction.atomic
def save_sop(org, *, by: Membership | None, sop: Sop | None = None, name: str, trigger: str, trigger_tag=None,
             trigger_stage=None, trigger_date: date | None = None, condition_tag_ids=(), condition_segment=None,
             steps: list[StepInput]) -> Sop:
    """Create or change an SOP and replace its steps; bad input is a field-level ValidationError, nothing written.

    Runs already under way keep the tasks they have; new steps apply to subjects entering from now on.
    """
    if by is not None:
        by.require("sop.manage")
    org_id = getattr(org, "pk", org)
    cleaned = _clean(org_id, name=name, trigger=trigger, trigger_tag=trigger_tag, trigger_stage=trigger_stage,
                     trigger_date=trigger_date, condition_tag_ids=condition_tag_ids,
                     condition_segment=condition_segment, steps=steps)
    created = sop is None
    if created:
        sop = Sop(org_id=org_id, created_by=_user(by))
    elif sop.org_id != org_id:
        raise PermissionDenied("another organization's SOP")
    sop.name, sop.trigger = cleaned["name"], trigger
    sop.trigger_tag = trigger_tag if trigger == Trigger.TAG_ADDED else None
    sop.trigger_stage = trigger_stage if trigger == Trigger.STAGE_ENTERED else None
    sop.trigger_date = trigger_date if trigger == Trigger.DATE else None
    sop.condition_tag_ids, sop.condition_segment = cleaned["condition_tag_ids"], condition_segment
    sop.save()
    # Steps that tasks already point at stay (their tasks keep their content); the others are replaced.
    old = SopStep.objects.for_org(org_id).filter(sop=sop)
    used = set(SopTask.objects.for_org(org_id).filter(sop=sop).values_list("step_id", flat=True))
    old.exclude(pk__in=used).delete()
    old.filter(pk__in=used).update(retired=True)
    SopStep.objects.bulk_create([
        SopStep(org_id=org_id, sop=sop, position=n, day_offset=s.day_offset, time_of_day=s.time_of_day,
                script=s.script, text="" if s.script else s.text.strip(), material=s.material,
                attachments=wecom_attachments.clean_list(list(s.attachments or []))[0])
        for n, s in enumerate(steps)
    ])
    audit.record("sop.created" if created else "sop.updated", org=org_id, actor=_user(by), obj=sop,
                 details={"name": sop.name, "steps": len(steps)})
    return sop


@transaction.atomic
def set_active(sop: Sop, active: bool, *, by: Membership | None) -> Sop:
    """Switch an SOP on (subjects whose trigger happens from now on enter it) or off (every run stops)."""
    if by is not None:
        by.require("sop.manage")
    if active and not SopStep.objects.for_org(sop.org_id).filter(sop=sop, retired=False).exists():
        raise ValidationError({"is_active": _("至少添加一个步骤后才能启用。")})
    if sop.is_active == active:
        return sop
    sop.is_active = active
    if active:
        # Whole seconds: WeCom stamps an add with whole seconds, and one added in the same second counts.
        sop.active_since = clock.now().replace(microsecond=0)
    sop.save(update_fields=["is_active", "active_since", "updated_at"])
    if not active:
        runs = SopRun.objects.for_org(sop.org_id).filter(sop=sop, status=SopRun.Status.ACTIVE).values_list("pk", flat=True)
        enrollment.stop_runs(sop.org_id, runs, SopRun.StopReason.SOP_OFF)
    audit.record("sop.activated" if active else "sop.deactivated", org=sop.org_id, actor=_user(by), obj=sop,
                 details={"name": sop.name})
    return sop


def _own_task(task: SopTask, by: Membership) -> None:
    """Only the staff member the task is for may act on it (a manager sees it in the console, not on the phone)."""
    if task.staff.membership_id is None or task.staff.membership_id != by.pk:
        raise PermissionDenied("not this member's task")


@transaction.atomic
def complete_task(task: SopTask, *, by: Membership) -> SopTask:
    """The staff member did the step: off their list, and its notification (if not sent yet) will not go out."""
    _own_task(task, by)
    if task.completed_at is None:
        now = timezone.now()
        SopTask.objects.for_org(task.org_id).filter(pk=task.pk, completed_at__isnull=True).update(
            completed_at=now, completed_by=by.user)
        SopTask.objects.for_org(task.org_id).filter(pk=task.pk, status=DurableRow.Status.PENDING).update(
            status=DurableRow.Status.CANCELLED, cancel_reason="completed", finished_at=now)
        task.completed_at, task.completed_by = now, by.user
        audit.record("sop.task_completed", org=task.org_id, actor=by.user, obj=task.sop,
                     details={"task": task.pk, "step": task.step_id})
    return task


@dataclass
class SendOutcome:
    sent: bool
    outcome: str  # a Decision outcome, or "blocked" for content the checker stops
    reason: str = ""
    release_at: object = None


def send_task(task: SopTask, *, by: Membership) -> SendOutcome:
    """One click: a WeCom group message of the task's content from this staff member to the task's customer (or
    group), after the policy guard decides. Held or excluded: nothing is sent and the reason comes back.

    The task's ``sent_at`` is claimed (compare-and-set) before the WeCom call, so a double tap makes one message;
    a refused call releases it. No database transaction is open during the call.
    """
    _own_task(task, by)
    org_id = task.org_id
    if task.sent_at is not None:
        raise ValidationError({"task": _("这条任务已经发送过了。")})
    content = wecom_attachments.content(task.content, task.attachments or [])
    if task.customer_id:
        plan = guard.plan(org_id, send=task, customer_ids=[task.customer_id], purpose="marketing",
                          channel=Channel.SOP, content=task.content, at=clock.now())
        outcome, reason, _detail, release = plan.decisions[task.customer_id]
        if outcome != Decision.Outcome.INCLUDED:
            return SendOutcome(False, outcome, reasons.label(reason), release)
        target = {"external_userids": [task.customer.external_userid]}
    else:
        blocked = [f.term for f in guard.check(task.content, org=org_id) if f.severity == "block"]
        if blocked:
            return SendOutcome(False, "blocked", _("内容含禁用词：%(words)s") % {"words": "、".join(blocked)})
        target = {"chat_ids": [task.group.chat_id]}
    now, called_at = timezone.now(), clock.now()
    if not SopTask.objects.for_org(org_id).filter(pk=task.pk, sent_at__isnull=True).update(sent_at=now):
        raise ValidationError({"task": _("这条任务已经发送过了。")})
    try:
        with WeComClient.for_org(org_id) as client:
            msgid = wecom.add_msg_template(client, content=content, sender=task.staff.userid, **target).msgid
    except WeComNetworkError:
        # No answer: WeCom may have made the message. Look before letting the guide tap again (a second tap
        # would make a second message); if even the look fails, the task stays claimed rather than risk it.
        with WeComClient.for_org(org_id) as client:
            msgid = lookup.find_created(client, called_at=called_at, sender=task.staff.userid, text=task.content,
                                        recipients=set(target.get("external_userids") or target["chat_ids"]),
                                        group="chat_ids" in target)
        if not msgid:
            SopTask.objects.for_org(org_id).filter(pk=task.pk).update(sent_at=None)
            raise
    except WeComError:
        SopTask.objects.for_org(org_id).filter(pk=task.pk).update(sent_at=None)
        raise
    with transaction.atomic():
        SopTask.objects.for_org(org_id).filter(pk=task.pk).update(msgid=msgid)
        send = Send.objects.for_org(org_id).filter(kind=SopTask._meta.label_lower, ref_id=task.pk).first()
        if send is not None:
            messaging_services.mark_sent(send, at=clock.now())
        audit.record("sop.task_sent", org=org_id, actor=by.user, obj=task.sop,
                     details={"task": task.pk, "step": task.step_id})
    task.sent_at, task.msgid = now, msgid
    return SendOutcome(True, Decision.Outcome.INCLUDED)
