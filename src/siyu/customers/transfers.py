"""Handing customers and groups from one staff member to another: 离职继承 (the handover left) and 在职转接.

The flow, all of it durable rows (``siyu.core.durable``):

1. :func:`reassign_customers` validates and writes one :class:`Transfer` per customer (``requested``) and one
   :class:`TransferBatch` per ≤100 of them. Nothing is sent inside the request.
2. A batch makes one ``transfer_customer`` call. It commits ``sent_at`` before calling, so if a worker dies
   (or the network drops) after WeCom got the request, the retry asks ``transfer_result`` which customers WeCom
   already has and sends only the others: a batch is never submitted twice. Per-customer errcodes fail those
   transfers; accepted ones wait.
3. A :class:`TransferPoll` per (kind, handover, takeover) asks ``transfer_result`` every ``POLL_SECONDS`` until
   none is waiting. Status 1 moves the relation (the handover's becomes ``transferred``, the takeover gets an
   active one), 3/4/5 end the transfer as refused / limit / failed; each end writes ``transfer_finished``.

WeCom's own rules are checked before anything is written (reference §3.9): ≤100 customers per call, an on-job
customer at most twice in 90 days, a takeover who is an active member with 客户联系, a welcome text ≤200 chars.
"""

from __future__ import annotations

import heapq
import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.core.durable import DurableRow, RetryLater
from siyu.customers import services, timeline
from siyu.customers.models import Customer, GroupTransferBatch, Relation, Transfer, TransferBatch, TransferPoll
from siyu.groups.models import CustomerGroup
from siyu.orgs import audit
from siyu.orgs.models import Membership, Staff, Store, User
from siyu.wecom import endpoints
from siyu.wecom.client import WeComClient
from siyu.wecom.errors import RateLimited, SystemBusy, TokenInvalid, WeComError, WeComNetworkError, error_for

BATCH_SIZE = 100  # WeCom takes at most 100 customers (or groups) per call
ONJOB_LIMIT = 2  # an on-job customer may be transferred at most twice …
ONJOB_WINDOW = timedelta(days=90)  # … within 90 natural days
SUCCESS_MSG_MAX = 200
POLL_SECONDS = 600  # WeCom gives the customer 24 h; asking every 10 minutes is plenty
ADD_WAY_ASSIGNED = 202  # add_way "管理员/负责人分配": how WeCom reports an inherited customer

Kind, Status = Transfer.Kind, Transfer.Status
OPEN = (Status.REQUESTED, Status.WAITING)
# What counts towards the 90-day limit: every transfer WeCom has a record of, whatever came of it (a refusal
# still used a chance); only those WeCom never accepted (failed) do not count.
COUNTED = (Status.REQUESTED, Status.WAITING, Status.DONE, Status.REFUSED, Status.LIMIT)
ENDPOINTS = {
    Kind.RESIGNED: (endpoints.RESIGNED_TRANSFER_CUSTOMER, endpoints.RESIGNED_TRANSFER_RESULT),
    Kind.ONJOB: (endpoints.TRANSFER_CUSTOMER, endpoints.TRANSFER_RESULT),
}
GROUP_ENDPOINTS = {Kind.RESIGNED: endpoints.GROUPCHAT_TRANSFER, Kind.ONJOB: endpoints.GROUPCHAT_ONJOB_TRANSFER}
# transfer_result status → ours (1 接替完毕, 2 等待接替, 3 客户拒绝, 4 接替成员客户达到上限, 5 无接替记录)
RESULT_STATUS = {1: Status.DONE, 2: Status.WAITING, 3: Status.REFUSED, 4: Status.LIMIT, 5: Status.FAILED}
NO_RECORD = 5
# Errors worth trying again later rather than failing the transfers: nothing was accepted.
TRANSIENT = (RateLimited, SystemBusy)

RULE_MANUAL = "manual"
RULE_STORE = "same_store_least_loaded"
RULE_REGION = "region_least_loaded"
RULE_HQ = "hq_least_loaded"


# -- who is asking ----------------------------------------------------------------------------------------
def _actor(by) -> tuple[User | None, Membership | None]:
    """``by`` is a console viewer (Membership: checked), a user (scripts), or None (the system)."""
    if isinstance(by, Membership):
        return by.user, by
    return by, None


def _staff_scope(org, viewer: Membership | None):
    return Staff.objects.visible_to(viewer) if viewer is not None else Staff.objects.for_org(org)


def kind_for(handover: Staff) -> str:
    """Customers of a member who left are inherited (离职继承); anyone else's are transferred on-job."""
    return Kind.RESIGNED if handover.status == Staff.Status.DEPARTED else Kind.ONJOB


def takeover_candidates(org, *, viewer: Membership | None = None, exclude: Staff | None = None):
    """Staff who may take customers over: active members with 客户联系, within what ``viewer`` manages."""
    qs = _staff_scope(org, viewer).filter(org=org, status=Staff.Status.ACTIVE, is_customer_contact=True)
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    return qs


def waiting_customers(org, handover: Staff):
    """The handover's customers that still need a new owner: active relations with no transfer under way."""
    busy = Transfer.objects.for_org(org).filter(handover=handover, status__in=OPEN).values("customer_id")
    related = Relation.objects.for_org(org).filter(staff=handover, status=Relation.Status.ACTIVE).values("customer_id")
    return Customer.objects.for_org(org).filter(pk__in=related).exclude(pk__in=busy)


def staff_loads(org, staff_ids) -> dict[int, int]:
    """Customers each staff member serves or is about to: active relations plus transfers coming their way."""
    staff_ids = list(staff_ids)
    loads = dict.fromkeys(staff_ids, 0)
    rows = (
        Relation.objects.for_org(org).filter(staff_id__in=staff_ids, status=Relation.Status.ACTIVE)
        .values("staff_id").annotate(n=Count("id"))
    )
    for row in rows:
        loads[row["staff_id"]] += row["n"]
    incoming = (
        Transfer.objects.for_org(org).filter(takeover_id__in=staff_ids, status__in=OPEN)
        .values("takeover_id").annotate(n=Count("id"))
    )
    for row in incoming:
        loads[row["takeover_id"]] += row["n"]
    return loads


def _ids(items) -> list[int]:
    """Model instances or primary keys, deduplicated, order kept."""
    seen: dict[int, None] = {}
    for item in items:
        seen.setdefault(int(getattr(item, "pk", item)), None)
    return list(seen)


def _names(customers, limit: int = 5) -> str:
    names = [str(c) for c in customers[:limit]]
    more = len(customers) - len(names)
    text = "、".join(names)
    return text + (_(" 等 %(n)d 位") % {"n": len(customers)} if more > 0 else "")


def _chunks(items: list, size: int = BATCH_SIZE):
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- requesting -------------------------------------------------------------------------------------------
@transaction.atomic
def reassign_customers(
    org,
    *,
    handover: Staff,
    takeover: Staff,
    customers,
    kind: str | None = None,
    by=None,
    rule: str = RULE_MANUAL,
    success_msg: str = "",
) -> list[Transfer]:
    """Hand ``customers`` of ``handover`` to ``takeover``; returns the new ``requested`` transfers.

    ``kind`` defaults to 离职继承 for a departed handover, else 在职转接 (whose ``success_msg``, ≤200 chars, is
    what WeCom sends the customer). Bad input raises a field-level ValidationError (fields ``handover``,
    ``takeover``, ``customers``, ``success_msg``) and writes nothing. The WeCom calls happen in
    :class:`TransferBatch` rows of ≤100 customers, run by the dispatcher.
    """
    user, viewer = _actor(by)
    if viewer is not None:
        viewer.require("transfers.manage")
    if handover.org_id != org.pk or (viewer is not None and not _staff_scope(org, viewer).filter(pk=handover.pk).exists()):
        raise PermissionDenied("handover is not visible")
    kind = kind or kind_for(handover)
    success_msg = (success_msg or "").strip()
    errors: dict[str, list[str]] = defaultdict(list)

    if kind == Kind.RESIGNED and handover.status != Staff.Status.DEPARTED:
        errors["handover"].append(_("%(name)s 仍在职，请使用在职转接。") % {"name": handover})
    if kind == Kind.ONJOB and handover.status == Staff.Status.DEPARTED:
        errors["handover"].append(_("%(name)s 已离职，请使用离职继承。") % {"name": handover})

    if takeover.pk == handover.pk:
        errors["takeover"].append(_("接替成员不能是原跟进成员本人。"))
    elif takeover.org_id != org.pk or not _staff_scope(org, viewer).filter(pk=takeover.pk).exists():
        errors["takeover"].append(_("只能转接给你管理范围内的员工。"))
    elif takeover.status != Staff.Status.ACTIVE:
        errors["takeover"].append(_("%(name)s 不是在职状态（已离职、禁用或未激活），不能接替客户。") % {"name": takeover})
    elif not takeover.is_customer_contact:
        errors["takeover"].append(_("%(name)s 未开通客户联系，不能接替客户。") % {"name": takeover})

    if kind == Kind.RESIGNED and success_msg:
        errors["success_msg"].append(_("离职继承不会给客户发消息，请留空。"))
    elif len(success_msg) > SUCCESS_MSG_MAX:
        errors["success_msg"].append(
            _("转接提示语最多 %(max)d 个字（当前 %(n)d 个）。") % {"max": SUCCESS_MSG_MAX, "n": len(success_msg)}
        )

    ids = _ids(customers)
    rows = {c.pk: c for c in Customer.objects.for_org(org).filter(pk__in=ids)}
    chosen = [rows[i] for i in ids if i in rows]
    if not ids:
        errors["customers"].append(_("请至少选择一位客户。"))
    elif len(chosen) != len(ids):
        errors["customers"].append(_("有客户不属于本组织。"))
    else:
        related = set(
            Relation.objects.for_org(org).filter(staff=handover, status=Relation.Status.ACTIVE, customer_id__in=ids)
            .values_list("customer_id", flat=True)
        )
        strangers = [c for c in chosen if c.pk not in related]
        if strangers:
            errors["customers"].append(
                _("%(names)s 不是 %(handover)s 的在跟进客户（可能已删除或已转接）。")
                % {"names": _names(strangers), "handover": handover}
            )
        busy = set(
            Transfer.objects.for_org(org).filter(handover=handover, customer_id__in=ids, status__in=OPEN)
            .values_list("customer_id", flat=True)
        )
        if busy:
            errors["customers"].append(
                _("%(names)s 已有转接在进行中，请等待结果。") % {"names": _names([c for c in chosen if c.pk in busy])}
            )
        if kind == Kind.ONJOB:
            since = timezone.now() - ONJOB_WINDOW
            counts = (
                Transfer.objects.for_org(org)
                .filter(kind=Kind.ONJOB, customer_id__in=ids, status__in=COUNTED, requested_at__gte=since)
                .values("customer_id").annotate(n=Count("id"))
            )
            exhausted = {row["customer_id"] for row in counts if row["n"] >= ONJOB_LIMIT}
            if exhausted:
                errors["customers"].append(
                    _("%(names)s 在 90 天内已转接 %(limit)d 次，企业微信不允许再次在职转接。")
                    % {"names": _names([c for c in chosen if c.pk in exhausted]), "limit": ONJOB_LIMIT}
                )
    if errors:
        raise ValidationError(dict(errors))

    transfers = [
        Transfer.objects.create(
            org=org, kind=kind, customer=customer, handover=handover, takeover=takeover,
            requested_by=user, rule=rule[:30],
        )
        for customer in chosen
    ]
    for transfer in transfers:
        timeline.transfer_requested(transfer)
    batches = [
        TransferBatch.objects.create(
            org=org, kind=kind, handover=handover, takeover=takeover, requested_by=user, success_msg=success_msg,
            transfer_ids=[t.pk for t in chunk], external_userids=[t.customer.external_userid for t in chunk],
            # Transfer ids are unique, so the first and last of a chunk name it for good.
            idempotency_key=f"customer-transfer:{chunk[0].pk}-{chunk[-1].pk}",
        )
        for chunk in _chunks(transfers)
    ]
    audit.record(
        "transfer.requested", org=org, actor=user, obj=handover,
        details={"kind": kind, "takeover": takeover.userid, "customers": len(transfers), "batches": len(batches), "rule": rule},
    )
    return transfers


# -- the rule: same store, least loaded first -------------------------------------------------------------
@dataclass
class Assignment:
    takeover: Staff
    load: int  # customers before this plan
    customers: list[Customer] = field(default_factory=list)


@dataclass
class Plan:
    """Who gets whom; ``rule`` says which tier found the takeovers (same store, region, HQ)."""

    handover: Staff
    kind: str
    rule: str
    assignments: list[Assignment]

    @property
    def total(self) -> int:
        return sum(len(a.customers) for a in self.assignments)


def _subtree(org, root_id: int) -> list[int]:
    ids, frontier = [root_id], [root_id]
    while frontier:
        frontier = list(Store.objects.for_org(org).filter(parent_id__in=frontier).values_list("id", flat=True))
        ids.extend(frontier)
    return ids


def _candidate_tiers(org, handover: Staff, viewer: Membership | None):
    """(rule, staff queryset) from nearest to farthest: the handover's store, their region, HQ."""
    base = takeover_candidates(org, viewer=viewer, exclude=handover)
    store = handover.store
    if store is not None:
        yield RULE_STORE, base.filter(store=store)
        region = store.parent
        while region is not None and region.kind != Store.Kind.REGION:
            region = region.parent if region.kind == Store.Kind.STORE else None
        if region is not None:
            yield RULE_REGION, base.filter(store_id__in=_subtree(org, region.pk))
    yield RULE_HQ, base.filter(store__kind=Store.Kind.HQ)


def plan_by_rule(org, handover: Staff, *, by=None, customers=None) -> Plan:
    """Spread ``customers`` (default: all still waiting) over the least-loaded takeovers, keeping loads even.

    Takeovers are active 客户联系 staff of the handover's store; when the store has none, of the handover's
    region; then of HQ. Each customer goes to whoever has the fewest customers at that moment.
    """
    _user, viewer = _actor(by)
    chosen = list(waiting_customers(org, handover).order_by("pk") if customers is None else customers)
    if not chosen:
        raise ValidationError({"customers": _("%(name)s 没有待分配的客户。") % {"name": handover}})
    for rule, candidates in _candidate_tiers(org, handover, viewer):
        staff = list(candidates.select_related("store").order_by("userid"))
        if staff:
            break
    else:
        raise ValidationError({"takeover": _("同门店、所属区域和总部都没有可接替的在职员工（需已开通客户联系）。")})
    loads = staff_loads(org, [s.pk for s in staff])
    assignments = {s.pk: Assignment(takeover=s, load=loads[s.pk]) for s in staff}
    heap = [(loads[s.pk], s.userid, s.pk) for s in staff]
    heapq.heapify(heap)
    for customer in chosen:
        load, userid, pk = heapq.heappop(heap)
        assignments[pk].customers.append(customer)
        heapq.heappush(heap, (load + 1, userid, pk))
    ordered = sorted(assignments.values(), key=lambda a: (-len(a.customers), a.takeover.userid))
    return Plan(handover=handover, kind=kind_for(handover), rule=rule, assignments=ordered)


@transaction.atomic
def reassign_by_rule(org, handover: Staff, *, by=None, customers=None, success_msg: str = "") -> Plan:
    """Plan with :func:`plan_by_rule` and request every assignment of the plan; returns the plan."""
    plan = plan_by_rule(org, handover, by=by, customers=customers)
    for assignment in plan.assignments:
        if assignment.customers:
            reassign_customers(
                org, handover=handover, takeover=assignment.takeover, customers=assignment.customers,
                kind=plan.kind, by=by, rule=plan.rule, success_msg=success_msg,
            )
    return plan


# -- submitting (TransferBatch.perform) -------------------------------------------------------------------
def _mark_sent(row: DurableRow) -> None:
    # Committed before the call (perform runs outside a transaction): a retry then knows WeCom may have it.
    type(row).objects.for_org(row.org_id).filter(pk=row.pk, sent_at__isnull=True).update(sent_at=timezone.now())


def _known_to_wecom(client: WeComClient, batch: TransferBatch) -> set[str]:
    """Customers of ``batch`` for which WeCom has a transfer record between the pair."""
    results = _results(client, ENDPOINTS[batch.kind][1], batch.handover.userid, batch.takeover.userid)
    return {eu for eu in batch.external_userids if int(results.get(eu, {}).get("status") or NO_RECORD) != NO_RECORD}


def _results(client: WeComClient, path: str, handover_userid: str, takeover_userid: str) -> dict[str, dict]:
    body = {"handover_userid": handover_userid, "takeover_userid": takeover_userid}
    return {item["external_userid"]: item for item in client.iter_cursor(path, body, "customer")}


def _error_text(errcode: int) -> str:
    return {
        40128: _("客户 90 天内的转接次数已达上限。"),
        40129: _("客户正在被转接中。"),
        # 40131: handover_userid is not a follow user of the customer (global errcodes, doc 90313).
        40131: _("该客户不是原跟进成员的好友。"),
        84061: _("该客户不是原跟进成员的好友。"),
    }.get(errcode) or str(error_for(errcode).hint)


def submit_batch(batch: TransferBatch) -> None:
    """Make the batch's one ``transfer_customer`` call; never twice (see the module docstring)."""
    if batch.answered_at is not None:
        return
    send_path, _result_path = ENDPOINTS[batch.kind]
    answer: dict[str, int] = {}
    pending = list(batch.external_userids)
    try:
        with WeComClient.for_org(batch.org_id) as client:
            if batch.sent_at is not None:
                known = _known_to_wecom(client, batch)
                answer.update(dict.fromkeys(known, 0))
                pending = [eu for eu in pending if eu not in known]
            if pending:
                _mark_sent(batch)
                body = {"handover_userid": batch.handover.userid, "takeover_userid": batch.takeover.userid,
                        "external_userid": pending}
                if batch.kind == Kind.ONJOB and batch.success_msg:
                    body["transfer_success_msg"] = batch.success_msg
                try:
                    data = client.post(send_path, body)
                except (*TRANSIENT, TokenInvalid, WeComNetworkError):
                    raise  # outcome unknown or worth retrying: the retry asks transfer_result first
                except WeComError as error:
                    # WeCom refused the whole call: none of these customers was submitted.
                    _record_answer(batch, {**answer, **dict.fromkeys(pending, error.errcode or -1)}, whole=error)
                    return
                # A customer missing from the answer stays waiting; the poller learns its fate.
                answer.update(dict.fromkeys(pending, 0))
                answer.update({c["external_userid"]: int(c.get("errcode") or 0) for c in data.get("customer") or []})
    except TRANSIENT as error:
        raise RetryLater(getattr(error, "retry_after", 60.0), str(error)) from error
    _record_answer(batch, answer)


@transaction.atomic
def _record_answer(batch: TransferBatch, answer: dict[str, int], *, whole: WeComError | None = None) -> None:
    now = timezone.now()
    locked = TransferBatch.objects.for_org(batch.org_id).select_for_update().get(pk=batch.pk)
    if locked.answered_at is not None:
        return
    transfers = (
        Transfer.objects.for_org(batch.org_id).filter(pk__in=batch.transfer_ids, status=Status.REQUESTED)
        .select_related("customer", "handover", "takeover")
    )
    accepted = 0
    for transfer in transfers:
        errcode = answer.get(transfer.customer.external_userid, 0)
        if errcode == 0:
            transfer.status, transfer.submitted_at = Status.WAITING, now
            transfer.save(update_fields=["status", "submitted_at"])
            accepted += 1
            continue
        transfer.status, transfer.errcode, transfer.finished_at = Status.FAILED, errcode, now
        transfer.submitted_at = now
        transfer.error = (whole.hint if whole is not None else _error_text(errcode))[:300]
        transfer.save(update_fields=["status", "errcode", "error", "submitted_at", "finished_at"])
        timeline.transfer_finished(transfer)
    locked.answered_at = now
    locked.answer = {"customer": [{"external_userid": eu, "errcode": code} for eu, code in answer.items()]}
    if whole is not None:
        locked.answer["errcode"], locked.answer["errmsg"] = whole.errcode, whole.errmsg[:300]
    locked.save(update_fields=["answered_at", "answer"])
    if accepted:
        _wake_poller(batch.org_id, batch.kind, batch.handover_id, batch.takeover_id)


def _wake_poller(org_id: int, kind: str, handover_id: int, takeover_id: int, delay: float = POLL_SECONDS) -> TransferPoll:
    due = timezone.now() + timedelta(seconds=delay)
    poll, created = TransferPoll.objects.for_org(org_id).get_or_create(
        org_id=org_id, idempotency_key=f"transfer-poll:{kind}:{handover_id}:{takeover_id}",
        defaults={"kind": kind, "handover_id": handover_id, "takeover_id": takeover_id, "due_at": due},
    )
    if not created and poll.status != DurableRow.Status.PENDING:
        # Settled (or running: its lease is dropped and it simply runs again at ``due``).
        TransferPoll.objects.for_org(org_id).filter(pk=poll.pk).update(
            status=DurableRow.Status.PENDING, due_at=due, lease_until=None, lease_owner="", attempts=0,
            finished_at=None, last_error="",
        )
    return poll


# -- polling (TransferPoll.perform) -----------------------------------------------------------------------
def poll_transfers(poll: TransferPoll) -> None:
    """Apply ``transfer_result`` to the pair's waiting transfers; RetryLater while any is still waiting."""
    waiting = {
        t.customer.external_userid: t
        for t in Transfer.objects.for_org(poll.org_id)
        .filter(kind=poll.kind, handover_id=poll.handover_id, takeover_id=poll.takeover_id, status=Status.WAITING)
        .select_related("customer", "handover", "takeover")
    }
    if waiting:
        try:
            with WeComClient.for_org(poll.org_id) as client:
                results = _results(client, ENDPOINTS[poll.kind][1], poll.handover.userid, poll.takeover.userid)
        except TRANSIENT as error:
            raise RetryLater(getattr(error, "retry_after", 60.0), str(error)) from error
        for external_userid, transfer in waiting.items():
            item = results.get(external_userid)
            status = RESULT_STATUS.get(int(item.get("status") or 0)) if item else None
            if status is not None and status != Status.WAITING:
                finish_transfer(transfer, status, takeover_time=services.from_epoch(item.get("takeover_time")))
        TransferPoll.objects.for_org(poll.org_id).filter(pk=poll.pk).update(polled_at=timezone.now())
    still = Transfer.objects.for_org(poll.org_id).filter(
        kind=poll.kind, handover_id=poll.handover_id, takeover_id=poll.takeover_id, status=Status.WAITING
    )
    if still.exists():
        raise RetryLater(POLL_SECONDS, _("仍有 %(n)d 位客户等待接替") % {"n": still.count()})


_FAIL_REASON = {Status.REFUSED: "customer_refused", Status.LIMIT: "customer_limit_exceed"}


@transaction.atomic
def finish_transfer(transfer: Transfer, status: str, *, takeover_time=None) -> bool:
    """End a waiting transfer as WeCom reports it; for ``done`` move the relation. False if already ended."""
    now = timezone.now()
    error = _FAIL_REASON.get(status, "") if status != Status.FAILED else _("企业微信没有该客户的接替记录。")
    updated = Transfer.objects.for_org(transfer.org_id).filter(pk=transfer.pk, status=Status.WAITING).update(
        status=status, takeover_time=takeover_time if status == Status.DONE else None, finished_at=now, error=error[:300],
    )
    if not updated:  # the transfer_fail callback (or another poll) got there first
        return False
    transfer.refresh_from_db()
    if status == Status.DONE:
        _move_relation(transfer, at=takeover_time or now)
    timeline.transfer_finished(transfer)
    return True


def _move_relation(transfer: Transfer, *, at) -> None:
    """WeCom moved the customer: the takeover now has them (API changes send no callbacks), the handover not."""
    org, customer = transfer.org, transfer.customer
    mine = Relation.objects.for_org(org).filter(customer=customer, staff=transfer.takeover).first()
    if mine is None or not mine.is_active:
        old = Relation.objects.for_org(org).filter(customer=customer, staff=transfer.handover).first()
        info = {
            "userid": transfer.takeover.userid, "add_way": ADD_WAY_ASSIGNED, "createtime": int(at.timestamp()),
            "oper_userid": transfer.handover.userid,
        }
        if old is not None:
            info.update(remark=old.remark, description=old.description, remark_corp_name=old.remark_corp_name,
                        remark_mobiles=json.loads(old.remark_mobiles) if old.remark_mobiles else [], state=old.state)
        services.apply_follow_info(org, customer, info, keep_tags=True)
    services.relation_ended(
        org, userid=transfer.handover.userid, external_userid=customer.external_userid,
        status=Relation.Status.TRANSFERRED, at=at,
    )


# -- groups -----------------------------------------------------------------------------------------------
def waiting_groups(org, owner: Staff):
    """Live groups still owned by ``owner`` with no group transfer under way."""
    busy = set()
    for chat_ids in GroupTransferBatch.objects.for_org(org).filter(
        previous_owner=owner, status__in=[DurableRow.Status.PENDING, DurableRow.Status.RUNNING]
    ).values_list("chat_ids", flat=True):
        busy.update(chat_ids)
    return CustomerGroup.objects.for_org(org).filter(owner=owner, status=CustomerGroup.Status.ACTIVE).exclude(chat_id__in=busy)


@transaction.atomic
def transfer_groups(org, *, chats, new_owner: Staff, by=None) -> list[GroupTransferBatch]:
    """Give customer groups a new owner: ``groupchat/transfer`` for groups of departed owners, else
    ``groupchat/onjob_transfer``; ≤100 groups per call, in :class:`GroupTransferBatch` rows."""
    user, viewer = _actor(by)
    if viewer is not None:
        viewer.require("transfers.manage")
    errors: dict[str, list[str]] = defaultdict(list)
    if new_owner.org_id != org.pk or not _staff_scope(org, viewer).filter(pk=new_owner.pk).exists():
        errors["new_owner"].append(_("只能转给你管理范围内的员工。"))
    elif new_owner.status != Staff.Status.ACTIVE:
        errors["new_owner"].append(_("%(name)s 不是在职状态，不能成为群主。") % {"name": new_owner})
    elif not new_owner.is_customer_contact:
        errors["new_owner"].append(_("%(name)s 未开通客户联系，不能成为群主。") % {"name": new_owner})
    ids = _ids(chats)
    scope = CustomerGroup.objects.visible_to(viewer) if viewer is not None else CustomerGroup.objects.for_org(org)
    groups = list(scope.filter(org=org, pk__in=ids, status=CustomerGroup.Status.ACTIVE).select_related("owner"))
    if not ids:
        errors["chats"].append(_("请至少选择一个客户群。"))
    elif len(groups) != len(ids):
        errors["chats"].append(_("有客户群不存在、已解散或不在你的管理范围内。"))
    elif any(g.owner_id == new_owner.pk for g in groups):
        errors["chats"].append(_("%(name)s 已是其中部分群的群主。") % {"name": new_owner})
    elif any(g.owner is None for g in groups):
        errors["chats"].append(_("有客户群的群主未知，请先同步客户群。"))
    if errors:
        raise ValidationError(dict(errors))
    by_owner: dict[tuple[str, int], list[CustomerGroup]] = defaultdict(list)
    for group in groups:
        by_owner[(kind_for(group.owner), group.owner_id)].append(group)
    batches = []
    for (kind, owner_id), owned in sorted(by_owner.items()):
        for chunk in _chunks(sorted(owned, key=lambda g: g.pk)):
            batches.append(GroupTransferBatch.objects.create(
                org=org, kind=kind, new_owner=new_owner, previous_owner_id=owner_id, requested_by=user,
                chat_ids=[g.chat_id for g in chunk],
                idempotency_key=f"group-transfer:{uuid.uuid4().hex}",
            ))
    audit.record(
        "transfer.groups_requested", org=org, actor=user, obj=new_owner,
        details={"groups": len(groups), "batches": len(batches), "from": sorted({g.owner.userid for g in groups})},
    )
    return batches


def submit_group_batch(batch: GroupTransferBatch) -> None:
    """One ``groupchat/(onjob_)transfer`` call; on a retry after an unknown outcome, groups already owned
    by the new owner are not sent again."""
    if batch.answered_at is not None:
        return
    pending = list(batch.chat_ids)
    try:
        with WeComClient.for_org(batch.org_id) as client:
            if batch.sent_at is not None:
                pending = [c for c in pending if _group_owner(client, c) != batch.new_owner.userid]
            failed = []
            if pending:
                _mark_sent(batch)
                try:
                    data = client.post(
                        GROUP_ENDPOINTS[batch.kind], {"chat_id_list": pending, "new_owner": batch.new_owner.userid}
                    )
                except (*TRANSIENT, TokenInvalid, WeComNetworkError):
                    raise  # outcome unknown or worth retrying: the retry looks at the groups first
                except WeComError as error:
                    failed = [{"chat_id": c, "errcode": error.errcode, "errmsg": error.errmsg[:200]} for c in pending]
                else:
                    # Anything listed failed, whatever its errcode says (WeCom's own sample shows 0 there).
                    failed = [
                        {"chat_id": f.get("chat_id", ""), "errcode": f.get("errcode"), "errmsg": str(f.get("errmsg") or "")[:200]}
                        for f in data.get("failed_chat_list") or []
                    ]
    except TRANSIENT as error:
        raise RetryLater(getattr(error, "retry_after", 60.0), str(error)) from error
    _record_group_answer(batch, failed)


def _group_owner(client: WeComClient, chat_id: str) -> str | None:
    """The group's owner as WeCom has it now; None for a group WeCom no longer serves (dismissed, not ours)."""
    try:
        return endpoints.group_chat(client, chat_id).get("owner")
    except (*TRANSIENT, TokenInvalid, WeComNetworkError):
        raise
    except WeComError:
        return None


@transaction.atomic
def _record_group_answer(batch: GroupTransferBatch, failed: list[dict]) -> None:
    locked = GroupTransferBatch.objects.for_org(batch.org_id).select_for_update().get(pk=batch.pk)
    if locked.answered_at is not None:
        return
    failed_ids = {f["chat_id"] for f in failed}
    moved = [c for c in batch.chat_ids if c not in failed_ids]
    inheritance = CustomerGroup.Inheritance.DONE if batch.kind == Kind.RESIGNED else CustomerGroup.Inheritance.NONE
    CustomerGroup.objects.for_org(batch.org_id).filter(chat_id__in=moved).update(
        owner=batch.new_owner, owner_userid=batch.new_owner.userid, inheritance=inheritance
    )
    locked.failed, locked.answered_at = failed, timezone.now()
    locked.save(update_fields=["failed", "answered_at"])


def history(org, *, viewer: Membership | None = None, staff: Staff | None = None):
    """Transfers, newest first, as ``viewer`` may see them; of one staff member (either side) if given."""
    qs = Transfer.objects.visible_to(viewer) if viewer is not None else Transfer.objects.for_org(org)
    if staff is not None:
        qs = qs.filter(Q(handover=staff) | Q(takeover=staff))
    return qs.select_related("customer", "handover", "takeover")
