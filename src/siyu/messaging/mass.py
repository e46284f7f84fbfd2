"""Mass messages (企业群发): composing, planning through the guard, one WeCom task per staff member and ≤10,000
customers, results, reminders and cancelling.

The send path is durable and never makes a second WeCom task for one chunk. :class:`MassPlan` decides when the
message is due (guard decisions, task rows and the message's status in one transaction, no WeCom call).
Each :class:`MassTask` then makes one ``add_msg_template`` call outside any transaction: ``call_state`` becomes
``calling`` (committed) before the call and ``created`` with the msgid after it. A worker that dies in between
leaves ``calling``; the retry cannot ask WeCom by an idempotency key (add_msg_template takes none), so it lists
the enterprise group messages created around the call (:mod:`siyu.messaging.lookup`) and adopts the one
with the same text whose recipients for this member (``get_groupmsg_send_result``) all belong to this chunk —
chunks of one member never share a customer, and a msgid another row already holds is never adopted. Only when
none matches is the call made again.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from siyu.core import clock, durable, events
from siyu.core.durable import RetryLater
from siyu.customers.models import Customer, Relation, RelationTag
from siyu.groups.models import CustomerGroup, GroupTag, GroupTagging
from siyu.messaging import guard, lookup, services
from siyu.messaging.dryrun import DryRun, dry_run, group_dry_run
from siyu.messaging.models import Channel, Decision, MassMessage, MassPlan, MassTask, Send
from siyu.orgs import audit
from siyu.orgs.models import Staff
from siyu.wecom import attachments as wecom_attachments
from siyu.wecom import media
from siyu.wecom import messaging_endpoints as wecom
from siyu.wecom.client import WeComClient
from siyu.wecom.errors import RateLimited, SystemBusy, TokenInvalid, WeComError, WeComNetworkError

Status = MassMessage.Status
CallState = MassTask.CallState
AUDIENCE_KEYS = ("tag_ids", "staff_ids", "store_ids", "stage_ids")
# How far around the recorded call time a retry looks for the task WeCom may have created (clocks differ).
TRANSIENT = (RateLimited, SystemBusy)
SEND_STATUS_LABELS = {wecom.SendStatus.UNSENT: gettext_lazy("未发送"), wecom.SendStatus.SENT: gettext_lazy("已发送"),
                      wecom.SendStatus.NOT_FRIEND: gettext_lazy("非好友，发送失败"),
                      wecom.SendStatus.OVER_CAP: gettext_lazy("已达接收上限，发送失败")}


# -- composing -------------------------------------------------------------------------------------------------------
ChatType = MassMessage.ChatType


def _clean_audience(org_id: int, audience, chat_type: str = ChatType.SINGLE) -> dict:
    """Customers: ``{"segment": id}`` or lists of ids under :data:`AUDIENCE_KEYS` (all empty: every customer).
    Groups: ``{"owner_ids": [...], "tag_ids": [...], "name": "part of the name"}`` (all empty: every customer group;
    a group needs any one of the group tags)."""
    from siyu.segments.models import Segment

    if not isinstance(audience, dict):
        raise ValidationError({"audience": _("发送对象格式不正确。")})
    if chat_type == ChatType.GROUP:
        try:
            owners_ = sorted({int(v) for v in audience.get("owner_ids") or []})
            group_tags = sorted({int(v) for v in audience.get("tag_ids") or []})
        except (TypeError, ValueError):
            raise ValidationError({"audience": _("发送对象格式不正确。")}) from None
        if len(owners_) != Staff.objects.for_org(org_id).filter(pk__in=owners_).count():
            raise ValidationError({"group_owners": _("群主不存在。")})
        if len(group_tags) != GroupTag.objects.for_org(org_id).filter(pk__in=group_tags).count():
            raise ValidationError({"group_tags": _("群标签不存在。")})
        return {"owner_ids": owners_, "tag_ids": group_tags, "name": str(audience.get("name") or "").strip()[:100]}
    if audience.get("segment"):
        try:
            segment_id = int(audience["segment"])
        except (TypeError, ValueError):
            segment_id = 0
        if not Segment.objects.for_org(org_id).filter(pk=segment_id).exists():
            raise ValidationError({"audience": _("分群不存在。")})
        return {"segment": segment_id}
    cleaned = {}
    for key in AUDIENCE_KEYS:
        values = audience.get(key) or []
        try:
            cleaned[key] = sorted({int(v) for v in values})
        except (TypeError, ValueError):
            raise ValidationError({"audience": _("发送对象格式不正确。")}) from None
    return cleaned


def _validated(org_id: int, *, title, text, attachments, audience, purpose, scheduled_at, chat_type) -> dict:
    """The message's fields cleaned, or a field-level ValidationError naming everything wrong."""
    errors = {}
    title = (title or "").strip()
    if not title:
        errors["title"] = _("请填写标题。")
    cleaned, problems = wecom_attachments.clean_list(list(attachments))
    if problems:
        errors["attachments"] = " ".join(problems)
    text = (text or "").strip()
    if not text and not cleaned:
        errors["text"] = _("内容和附件不能都为空。")
    elif wecom_attachments.byte_length(text) > wecom_attachments.TEXT_MAX_BYTES:
        errors["text"] = _("内容过长。")
    if purpose not in guard.PURPOSES:
        errors["purpose"] = _("请选择用途。")
    if chat_type not in ChatType.values:
        errors["chat_type"] = _("请选择发送给客户还是客户群。")
        chat_type = ChatType.SINGLE
    if scheduled_at is not None and scheduled_at < clock.now():
        errors["scheduled_at"] = _("发送时间不能早于现在。")
    try:
        audience = _clean_audience(org_id, audience, chat_type)
    except ValidationError as error:
        errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    return {"title": title, "text": text, "attachments": cleaned, "audience": audience, "purpose": purpose,
            "scheduled_at": scheduled_at, "chat_type": chat_type}


def create_message(org, *, by, title: str, text: str, attachments=(), audience: dict, purpose: str = "marketing",
                   scheduled_at=None, chat_type: str = ChatType.SINGLE) -> MassMessage:
    """A draft mass message; bad input is a field-level ValidationError and nothing is written."""
    if by is not None:
        by.require("messaging.mass")
    org_id = getattr(org, "pk", org)
    fields = _validated(org_id, title=title, text=text, attachments=attachments, audience=audience, purpose=purpose,
                        scheduled_at=scheduled_at, chat_type=chat_type)
    message = MassMessage.objects.create(org_id=org_id, created_by=getattr(by, "user", None), **fields)
    audit.record("messaging.mass_created", org=org_id, actor=getattr(by, "user", None), obj=message,
                 details={"title": message.title})
    return message


def update_message(message: MassMessage, *, by, title: str, text: str, attachments=(), audience: dict,
                   purpose: str = "marketing", scheduled_at=None, chat_type: str = ChatType.SINGLE) -> MassMessage:
    """Change a draft (a blocked word fixed after the dry run); a message already scheduled is not changed."""
    if by is not None:
        by.require("messaging.mass")
    fields = _validated(message.org_id, title=title, text=text, attachments=attachments, audience=audience,
                        purpose=purpose, scheduled_at=scheduled_at, chat_type=chat_type)
    with transaction.atomic():
        locked = MassMessage.objects.for_org(message.org_id).select_for_update().get(pk=message.pk)
        if locked.status != Status.DRAFT:
            raise ValidationError({"status": _("只有草稿可以修改。")})
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.save(update_fields=[*fields])
        audit.record("messaging.mass_updated", org=locked.org_id, actor=getattr(by, "user", None), obj=locked,
                     details={"title": locked.title})
    return locked


def audience_ids(message: MassMessage) -> set[int]:
    """The customers the message's audience names now (friends of at least one staff member)."""
    org_id = message.org_id
    audience = message.audience or {}
    customers = Customer.objects.for_org(org_id).filter(is_friend=True)
    if audience.get("segment"):
        from siyu.segments.models import Segment
        from siyu.segments.services import current_members

        segment = Segment.objects.for_org(org_id).get(pk=audience["segment"])
        persons = current_members(segment).filter(customer__isnull=False).values("customer_id")
        return set(customers.filter(pk__in=persons).values_list("pk", flat=True))
    relations = Relation.objects.for_org(org_id).filter(status=Relation.Status.ACTIVE)
    if audience.get("staff_ids"):
        relations = relations.filter(staff_id__in=audience["staff_ids"])
    if audience.get("store_ids"):
        relations = relations.filter(staff__store_id__in=audience["store_ids"])
    if audience.get("tag_ids"):
        tagged = RelationTag.objects.for_org(org_id).filter(tag_id__in=audience["tag_ids"]).values("relation_id")
        relations = relations.filter(pk__in=tagged)
    ids = customers.filter(pk__in=relations.values("customer_id"))
    if audience.get("stage_ids"):
        from siyu.lifecycle.models import CustomerLifecycle

        staged = CustomerLifecycle.objects.for_org(org_id).filter(stage_id__in=audience["stage_ids"])
        ids = ids.filter(pk__in=staged.values("customer_id"))
    return set(ids.values_list("pk", flat=True))


def audience_groups(message: MassMessage) -> dict[str, Staff]:
    """A group send's customer groups now: ``{chat_id: owner}`` — active groups whose owner is an active member
    (the owner is the one who sends to the group, DOC 92135)."""
    audience = message.audience or {}
    groups = CustomerGroup.objects.for_org(message.org_id).filter(
        status=CustomerGroup.Status.ACTIVE, owner__status=Staff.Status.ACTIVE).select_related("owner")
    if audience.get("owner_ids"):
        groups = groups.filter(owner_id__in=audience["owner_ids"])
    if audience.get("tag_ids"):
        groups = groups.filter(pk__in=GroupTagging.objects.for_org(message.org_id).filter(
            tag_id__in=audience["tag_ids"]).values("group_id"))
    if audience.get("name"):
        groups = groups.filter(name__contains=audience["name"])
    return {group.chat_id: group.owner for group in groups}


def preview(message: MassMessage, *, at=None) -> DryRun:
    """The guard's dry run for the message's audience now: included, each exclusion reason, content findings."""
    if message.chat_type == ChatType.GROUP:
        return group_dry_run(message.org_id, chat_ids=audience_groups(message), content=message.text, at=at,
                             message_id=message.pk)
    return dry_run(message.org_id, send=message, customer_ids=audience_ids(message), purpose=message.purpose,
                   channel=Channel.MASS_MESSAGE, content=message.text, at=at, approved_by=message.approved_by)


def schedule(message: MassMessage, *, by, approved_by=None) -> MassMessage:
    """Queue the draft for its time (now when none): a :class:`MassPlan` row runs it when due. Content the guard
    blocks is refused here with the offending words; ``approved_by`` (an admin) lets protected people receive it."""
    if by is not None:
        by.require("messaging.mass")
    if approved_by is not None and not approved_by.can("messaging.manage"):
        raise ValidationError({"approved_by": _("只有管理员可以批准向受保护人群发送。")})
    findings = guard.check(message.text, org=message.org_id)
    blocked = [f for f in findings if f.blocks]
    if blocked:
        words = "、".join(dict.fromkeys(f.term for f in blocked))
        raise ValidationError({"text": _("内容含禁用词：%(words)s") % {"words": words}})
    with transaction.atomic():
        locked = MassMessage.objects.for_org(message.org_id).select_for_update().get(pk=message.pk)
        if locked.status != Status.DRAFT:
            raise ValidationError({"status": _("只有草稿可以发送。")})
        locked.status, locked.approved_by = Status.SCHEDULED, approved_by
        locked.save(update_fields=["status", "approved_by"])
        MassPlan.objects.create(org_id=locked.org_id, message=locked, due_at=locked.scheduled_at or clock.now(),
                                idempotency_key=f"mass-plan:{locked.pk}")
        audit.record("messaging.mass_scheduled", org=locked.org_id, actor=getattr(by, "user", None), obj=locked,
                     details={"title": locked.title})
    return locked


# -- planning (MassPlan.perform) ---------------------------------------------------------------------------------
def plan_message(message_id: int, *, org_id: int) -> None:
    """Decide every recipient and write the tasks, in one transaction: a crash leaves nothing half planned."""
    with transaction.atomic():
        message = MassMessage.objects.for_org(org_id).select_for_update().get(pk=message_id)
        if message.status != Status.SCHEDULED:
            return  # cancelled before it was due, or planned already
        if message.chat_type == ChatType.GROUP:
            _plan_groups(message)
            return
        result = guard.plan(org_id, send=message, customer_ids=audience_ids(message), purpose=message.purpose,
                            channel=Channel.MASS_MESSAGE, content=message.text, at=clock.now(),
                            approved_by=message.approved_by)
        tasks = _make_tasks(message, result.ids(Decision.Outcome.INCLUDED))
        message.status, message.planned = Status.SENDING, len(result.decisions)
        message.tasks_total = tasks
        message.save(update_fields=["status", "planned", "tasks_total"])


def _plan_groups(message: MassMessage) -> None:
    """A group send: the guard decides per group, and each owner gets tasks of ≤2,000 of their groups."""
    by_chat = audience_groups(message)
    result = guard.plan_groups(message.org_id, chat_ids=by_chat, content=message.text, at=clock.now(),
                               message_id=message.pk)
    by_owner: dict[int, list[str]] = defaultdict(list)
    owner_of = {}
    for chat in result.ids(Decision.Outcome.INCLUDED) + result.ids(Decision.Outcome.HELD):
        by_owner[by_chat[chat].pk].append(chat)
        owner_of[by_chat[chat].pk] = by_chat[chat]
    # Held groups all wait for the same window: their tasks are made now and fall due when it opens.
    due = result.release or clock.now()
    rows = []
    for owner_id in sorted(by_owner):
        owner = owner_of[owner_id]
        for chunk, batch in enumerate(wecom.batches(by_owner[owner_id], wecom.MAX_GROUPS_PER_CALL)):
            rows.append(MassTask(org_id=message.org_id, message=message, staff=owner, userid=owner.userid,
                                 chunk=chunk, chat_ids=batch, due_at=due,
                                 idempotency_key=f"mass:{message.pk}:{owner.userid}:{chunk}"))
    MassTask.objects.bulk_create(rows, batch_size=100)
    message.status, message.planned, message.tasks_total = Status.SENDING, len(result.decisions), len(rows)
    message.excluded_groups = {chat: [d[1], d[2]] for chat, d in result.decisions.items()
                               if d[0] == Decision.Outcome.EXCLUDED}
    message.save(update_fields=["status", "planned", "tasks_total", "excluded_groups"])


def owners(org_id: int, customer_ids) -> dict[int, Staff]:
    """Each customer's one sending staff member: the most recently added active relation (ties: the newest row)."""
    rows = (Relation.objects.for_org(org_id)
            .filter(customer_id__in=customer_ids, status=Relation.Status.ACTIVE, staff__status=Staff.Status.ACTIVE)
            .order_by("customer_id", F("added_at").desc(nulls_last=True), "-pk")
            .values_list("customer_id", "staff_id"))
    chosen: dict[int, int] = {}
    for customer_id, staff_id in rows.iterator(chunk_size=10_000):
        chosen.setdefault(customer_id, staff_id)
    staff = Staff.objects.for_org(org_id).in_bulk(set(chosen.values()))
    return {customer_id: staff[staff_id] for customer_id, staff_id in chosen.items()}


def _make_tasks(message: MassMessage, customer_ids) -> int:
    """One :class:`MassTask` per staff member and ≤10,000 customers; chunk numbers continue after the
    message's earlier tasks (recipients released after quiet hours come later). Returns how many were made."""
    org_id = message.org_id
    by_customer = owners(org_id, customer_ids)
    externals = dict(Customer.objects.for_org(org_id).filter(pk__in=by_customer).values_list("pk", "external_userid"))
    by_staff: dict[int, list[str]] = defaultdict(list)
    staff_of = {}
    for customer_id, staff in by_customer.items():
        by_staff[staff.pk].append(externals[customer_id])
        staff_of[staff.pk] = staff
    next_chunk = Counter()
    for staff_id, chunk in MassTask.objects.for_org(org_id).filter(message=message).values_list("staff_id", "chunk"):
        next_chunk[staff_id] = max(next_chunk[staff_id], chunk + 1)
    now = clock.now()
    rows = []
    for staff_id in sorted(by_staff):
        staff = staff_of[staff_id]
        for batch in wecom.batches(sorted(by_staff[staff_id])):
            chunk = next_chunk[staff_id]
            next_chunk[staff_id] += 1
            rows.append(MassTask(org_id=org_id, message=message, staff=staff, userid=staff.userid, chunk=chunk,
                                 external_userids=batch, due_at=now,
                                 idempotency_key=f"mass:{message.pk}:{staff.userid}:{chunk}"))
    MassTask.objects.bulk_create(rows, batch_size=100)
    return len(rows)


def on_held_released(event) -> None:
    """Recipients held for quiet hours whose window opened: their tasks are made now (new chunks)."""
    send = event.subject()
    if not isinstance(send, Send) or send.kind != MassMessage._meta.label_lower:
        return
    ids = event.payload.get("customer_ids") or []
    with transaction.atomic():
        message = MassMessage.objects.for_org(send.org_id).select_for_update().filter(pk=send.ref_id).first()
        if message is None or message.status != Status.SENDING or not ids:
            return
        message.tasks_total += _make_tasks(message, ids)
        message.save(update_fields=["tasks_total"])


def register() -> None:
    events.subscribe(services.HELD_RELEASED, "messaging.mass_release", on_held_released)


# -- the WeCom call (MassTask.perform) --------------------------------------------------------------------------
def begin_call(row: MassTask) -> None:
    """Committed before the call: from now on a retry must assume WeCom may have the task."""
    row.called_at = timezone.now()  # wall time: it is compared with WeCom's create_time, not a schedule
    row.call_state = CallState.CALLING
    MassTask.objects.for_org(row.org_id).filter(pk=row.pk).update(call_state=row.call_state, called_at=row.called_at)


def call_wecom(client, row: MassTask, message: MassMessage) -> wecom.MsgTemplate:
    # Uploaded images and files are named by their source URL: media.py uploads them to WeCom first.
    content = media.wire_payload(client, row.org_id, wecom_attachments.content(message.text, message.attachments))
    return wecom.add_msg_template(client, content=content, external_userids=row.external_userids,
                                  chat_ids=row.chat_ids, sender=row.userid)


def store_answer(row: MassTask, msgid: str, fail_list: list[str]) -> None:
    MassTask.objects.for_org(row.org_id).filter(pk=row.pk).update(
        call_state=CallState.CREATED, msgid=msgid, fail_list=fail_list, error="")
    row.call_state, row.msgid, row.fail_list = CallState.CREATED, msgid, fail_list


def find_created(client, row: MassTask, message: MassMessage) -> str:
    """The msgid of the task an earlier attempt of ``row`` created, or "" (see the module docstring)."""
    taken = set(MassTask.objects.for_org(row.org_id).exclude(msgid="").values_list("msgid", flat=True))
    return lookup.find_created(client, called_at=row.called_at, sender=row.userid, text=message.text,
                               recipients=set(row.chat_ids or row.external_userids), group=bool(row.chat_ids),
                               taken=taken)


def create_wecom_task(row: MassTask) -> None:
    """Make the row's one WeCom task, or find the one an interrupted attempt made."""
    if row.call_state in (CallState.CREATED, CallState.REFUSED):
        return
    message = MassMessage.objects.for_org(row.org_id).get(pk=row.message_id)
    try:
        with WeComClient.for_org(row.org_id) as client:
            if row.call_state == CallState.CALLING:
                found = find_created(client, row, message)
                if found:
                    store_answer(row, found, [])
                    _cancel_if_message_cancelled(client, row)
                    return
            if message.status == Status.CANCELLED:
                return
            begin_call(row)
            try:
                answer = call_wecom(client, row, message)
            except (*TRANSIENT, TokenInvalid, WeComNetworkError):
                raise  # the outcome is unknown: the retry looks the task up first
            except WeComError as error:
                # WeCom refused the call as a whole: no task exists, and sending it again would be refused too.
                MassTask.objects.for_org(row.org_id).filter(pk=row.pk).update(
                    call_state=CallState.REFUSED, error=str(error)[:300])
                return
            store_answer(row, answer.msgid, answer.fail_list)
            _cancel_if_message_cancelled(client, row)
    except TRANSIENT as error:
        raise RetryLater(getattr(error, "retry_after", 60.0), str(error)) from error


def _cancel_if_message_cancelled(client, row: MassTask) -> None:
    # The message may have been cancelled while this call was under way: stop the task WeCom just made.
    if MassMessage.objects.for_org(row.org_id).filter(pk=row.message_id, status=Status.CANCELLED).exists():
        wecom.cancel_group_message(client, row.msgid)


# -- results, reminders, cancelling ----------------------------------------------------------------------------
def fetch_results(message: MassMessage) -> MassMessage:
    """Read each task's state from WeCom (get_groupmsg_task, get_groupmsg_send_result) and store it; the guard's
    send counts as gone out from the first member's confirmation; the message is sent when no task waits."""
    tasks = list(MassTask.objects.for_org(message.org_id).filter(message=message).exclude(msgid=""))
    confirmed_any = False
    with WeComClient.for_org(message.org_id) as client:
        for task in tasks:
            member = {t.userid: t for t in wecom.group_message_tasks(client, task.msgid)}.get(task.userid)
            rows = wecom.group_message_results(client, task.msgid, task.userid)
            counts: dict = dict(Counter(str(r.status) for r in rows))
            if task.chat_ids:
                counts["chats"] = {r.chat_id: r.status for r in rows if r.chat_id}
            sent_at = None
            if member is not None and member.sent:
                sent_at = datetime.fromtimestamp(member.send_time, tz=UTC) if member.send_time else clock.now()
                confirmed_any = True
            MassTask.objects.for_org(message.org_id).filter(pk=task.pk).update(results=counts, confirmed_at=sent_at)
    now = clock.now()
    with transaction.atomic():
        locked = MassMessage.objects.for_org(message.org_id).select_for_update().get(pk=message.pk)
        if confirmed_any:
            send = Send.objects.for_org(message.org_id).filter(kind=MassMessage._meta.label_lower, ref_id=message.pk).first()
            if send is not None and send.sent_at is None:
                services.mark_sent(send, at=now)
        rows = MassTask.objects.for_org(message.org_id).filter(message=message)
        waiting = rows.filter(Q(confirmed_at__isnull=True) & ~Q(call_state=CallState.REFUSED)).exists()
        # Recipients held for quiet hours are still to come: their tasks do not exist yet.
        waiting = waiting or Decision.objects.for_org(message.org_id).filter(
            send__kind=MassMessage._meta.label_lower, send__ref_id=message.pk, outcome=Decision.Outcome.HELD).exists()
        if locked.status == Status.SENDING and not waiting:
            locked.status = Status.SENT
        locked.results_at = now
        locked.save(update_fields=["status", "results_at"])
    return locked


def remind(message: MassMessage, *, by) -> int:
    """Remind the members who have not confirmed (WeCom allows three reminders a day per task)."""
    if by is not None:
        by.require("messaging.mass")
    waiting = list(MassTask.objects.for_org(message.org_id).filter(
        message=message, confirmed_at__isnull=True, call_state=CallState.CREATED))
    with WeComClient.for_org(message.org_id) as client:
        for task in waiting:
            wecom.remind_group_message(client, task.msgid)
            MassTask.objects.for_org(message.org_id).filter(pk=task.pk).update(reminded_at=clock.now())
    audit.record("messaging.mass_reminded", org=message.org_id, actor=getattr(by, "user", None), obj=message,
                 details={"count": len(waiting)})
    return len(waiting)


def cancel(message: MassMessage, *, by) -> MassMessage:
    """Stop the message: tasks not yet made are never made, WeCom tasks not yet confirmed are cancelled
    (cancel_groupmsg_send); what members already sent stays sent."""
    if by is not None:
        by.require("messaging.mass")
    with transaction.atomic():
        locked = MassMessage.objects.for_org(message.org_id).select_for_update().get(pk=message.pk)
        if locked.status in (Status.SENT, Status.CANCELLED):
            raise ValidationError({"status": _("已完成或已取消的群发不能取消。")})
        locked.status = Status.CANCELLED
        locked.save(update_fields=["status"])
        for plan in MassPlan.objects.for_org(locked.org_id).filter(message=locked):
            durable.cancel(plan)
        for row in MassTask.objects.for_org(locked.org_id).filter(message=locked, call_state=CallState.NEW):
            durable.cancel(row)
        audit.record("messaging.mass_cancelled", org=locked.org_id, actor=getattr(by, "user", None), obj=locked,
                     details={"title": locked.title})
    created = MassTask.objects.for_org(locked.org_id).filter(
        message=locked, call_state=CallState.CREATED, confirmed_at__isnull=True)
    if created.exists():
        with WeComClient.for_org(locked.org_id) as client:
            for task in created:
                wecom.cancel_group_message(client, task.msgid)
    return locked


# -- the report --------------------------------------------------------------------------------------------------
@dataclass
class Counts:
    tasks: int = 0
    handed: int = 0  # customers given to WeCom in a task
    confirmed: int = 0  # customers in tasks their member confirmed
    delivered: int = 0  # SendStatus.SENT
    not_friend: int = 0
    over_cap: int = 0
    unsent: int = 0

    def add(self, task: MassTask) -> None:
        self.tasks += 1
        given = len(task.chat_ids or task.external_userids) - len(task.fail_list)
        self.handed += given
        results = task.results or {}
        if task.confirmed_at is not None:
            self.confirmed += given
        self.delivered += results.get(str(wecom.SendStatus.SENT), 0)
        self.not_friend += results.get(str(wecom.SendStatus.NOT_FRIEND), 0) + len(task.fail_list)
        self.over_cap += results.get(str(wecom.SendStatus.OVER_CAP), 0)
        self.unsent += results.get(str(wecom.SendStatus.UNSENT), 0)


@dataclass
class Report:
    planned: int
    included: int
    held: int
    excluded: dict[str, int]
    total: Counts
    by_staff: dict[str, Counts] = field(default_factory=dict)
    by_store: dict[str, Counts] = field(default_factory=dict)
    staff_confirmed: int = 0
    staff_waiting: int = 0
    tasks_made: int = 0  # WeCom tasks created so far, of total.tasks: the progress of a large send
    by_group: dict[str, tuple[str, str]] = field(default_factory=dict)  # group send: chat_id → (owner, status)

    @property
    def progress(self) -> float:
        return self.tasks_made / self.total.tasks if self.total.tasks else 0.0


def report(message: MassMessage) -> Report:
    """Planned, excluded by reason, handed to WeCom, confirmed, delivered and failed, per staff and store, from
    the stored decisions and the last results read from WeCom."""
    org_id = message.org_id
    if message.chat_type == ChatType.GROUP:
        excluded = Counter(reason for reason, _detail in message.excluded_groups.values())
        result = Report(planned=message.planned, included=message.planned - sum(excluded.values()), held=0,
                        excluded=dict(excluded), total=Counts())
    else:
        send = Send.objects.for_org(org_id).filter(kind=MassMessage._meta.label_lower, ref_id=message.pk).first()
        decisions = Decision.objects.for_org(org_id).filter(send=send) if send else Decision.objects.for_org(org_id).none()
        outcomes = Counter(decisions.values_list("outcome", flat=True))
        excluded = Counter(decisions.filter(outcome=Decision.Outcome.EXCLUDED).values_list("reason", flat=True))
        result = Report(planned=sum(outcomes.values()), included=outcomes[Decision.Outcome.INCLUDED],
                        held=outcomes[Decision.Outcome.HELD], excluded=dict(excluded), total=Counts())
    members = {}
    tasks = list(MassTask.objects.for_org(org_id).filter(message=message).select_related("staff__store"))
    for task in tasks:
        result.total.add(task)
        result.tasks_made += task.call_state in (CallState.CREATED, CallState.REFUSED)
        result.by_staff.setdefault(task.userid, Counts()).add(task)
        store = task.staff.store.name if task.staff.store_id else "—"
        result.by_store.setdefault(store, Counts()).add(task)
        members[task.userid] = members.get(task.userid, True) and task.confirmed_at is not None
        chats = (task.results or {}).get("chats", {})
        for chat in task.chat_ids:
            result.by_group[chat] = (task.userid, _group_status(task, chats.get(chat)))
    if message.chat_type == ChatType.GROUP:
        # Groups held for quiet hours sit in tasks that fall due when the window opens.
        now = clock.now()
        result.held = sum(len(task.chat_ids) for task in tasks if task.call_state == CallState.NEW and task.due_at > now)
        result.included -= result.held
    result.staff_confirmed = sum(members.values())
    result.staff_waiting = len(members) - result.staff_confirmed
    return result


def _group_status(task: MassTask, status) -> str:
    """One group's state in a group send, as words: the WeCom result once read, else where the task stands."""
    if status is not None and not (status == wecom.SendStatus.UNSENT and task.confirmed_at is None):
        return str(SEND_STATUS_LABELS.get(int(status), status))
    if task.call_state == CallState.REFUSED:
        return _("企业微信拒绝")
    if task.call_state == CallState.CREATED:
        return _("待群主确认") if task.confirmed_at is None else _("已确认")
    if task.due_at > clock.now():
        return _("免打扰，%(at)s 发出") % {"at": formats.date_format(timezone.localtime(task.due_at), "m-d H:i")}
    return _("待创建")
