"""Full sync with WeCom: the directory, corp tags, every customer relation and every customer group, made
to match what WeCom reports now.

Callbacks keep Siyu current, but WeCom gives no guarantee that each one arrives (a 5-second outage loses
three retries) and API-made changes never call back. The full sync is the repair: it runs as a job from the
console and every night (``siyu.wecom.tasks.nightly_reconcile``), and it is idempotent, so running it twice
changes nothing the second time.

Steps, each reported to the job's progress (per page where WeCom pages):

1. departments (``department/list``), staff (``user/list`` per root department) and who has 客户联系
   (``externalcontact/get_follow_user_list``); members WeCom no longer lists have left;
2. corp tags (``get_corp_tag_list``); groups and tags WeCom no longer lists are deleted;
3. customers and their relations (``externalcontact/batch/get_by_user``, ≤100 members per call, cursor
   paged); relations Siyu holds as active that WeCom no longer lists have ended;
4. customer groups (``groupchat/list`` per batch of ≤ 100 owners, departed owners included, then
   ``groupchat/get`` for each); a group is dismissed only when ``groupchat/get`` says it is gone.

What WeCom cannot tell us: a customer who deleted a member stays in that member's list (a one-sided
friendship, see docs/simulator.md), so a missed ``del_follow_user`` cannot be repaired from the list; the
sync keeps one that was received ended, unless the relation's ``createtime`` moved (the customer added the
member again). A relation that disappears from the list was therefore deleted by the member, or moved by a
transfer, and that is the status the ended relation gets.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.core.jobs import Progress, job_handler, start_job
from siyu.core.models import Job
from siyu.customers import services as customer_services
from siyu.customers import timeline
from siyu.customers.models import Customer, Relation, Tag, TagGroup, Transfer
from siyu.groups import services as group_services
from siyu.groups.models import CustomerGroup
from siyu.orgs import audit
from siyu.orgs import staff as staff_services
from siyu.orgs.models import Staff
from siyu.wecom.client import WeComClient
from siyu.wecom.errors import RateLimited, WeComError
from siyu.wecom.models import Department, WeComConnection

log = logging.getLogger(__name__)

JOB_KIND = "wecom.full_sync"
# WeCom's own ceilings (reference §3.2, §3.7); tests lower them to make the cursors page.
USERIDS_PER_CALL = 100  # batch/get_by_user: userid_list 1..100
CUSTOMERS_PER_PAGE = 100  # batch/get_by_user: limit 1..100
GROUPS_PER_PAGE = 1000  # groupchat/list: limit 1..1000
REPLY_TOO_LARGE = 45029  # user/list with fetch_child=1 on a large corp
OWNERS_PER_CALL = 100  # groupchat/list: owner_filter.userid_list ≤ 100 (doc 92120)
# groupchat/get on a dismissed or unknown chat: 90501, or 49008 (群已经解散) — which one is not verified.
GROUP_GONE = frozenset({90501, 49008})
# A queued job older than this was lost by the queue (huey is at-most-once): it no longer blocks a new sync.
LOST_AFTER = timedelta(hours=1)

# Share of the job's 100 progress units each step takes.
STEPS = {"directory": 10, "tags": 5, "customers": 55, "groups": 30}

_sleep: Callable[[float], None] = time.sleep


class SyncFailed(Exception):
    """The sync stopped: the message says why in words an administrator can act on."""


# -- starting -------------------------------------------------------------------------------------------------
def running_sync(org) -> Job | None:
    """The full sync of ``org`` that is queued or running, if any."""
    lost = timezone.now() - LOST_AFTER
    return (
        Job.objects.for_org(org)
        .filter(kind=JOB_KIND)
        .filter(Q(status=Job.Status.RUNNING) | Q(status=Job.Status.QUEUED, created_at__gte=lost))
        .first()
    )


@transaction.atomic
def start_full_sync(org, by=None, *, reason: str = "manual") -> Job:
    """Queue a full sync of ``org`` with WeCom; refused while one is queued or running, or without a connection.

    ``reason`` is ``manual`` (the console button) or ``nightly`` (the reconcile task).
    """
    # Locking the connection row serializes two clicks (or a click and the nightly task) on PostgreSQL;
    # SQLite's IMMEDIATE transactions serialize them anyway.
    conn = WeComConnection.objects.for_org(org).select_for_update().filter(is_active=True).first()
    if conn is None:
        raise ValidationError(_("尚未连接企业微信：请先在“企业微信连接”中填写并保存连接信息。"))
    if running_sync(org) is not None:
        raise ValidationError(_("已有一次同步正在进行，请等它结束后再试。"))
    title = _("企业微信夜间对账") if reason == "nightly" else _("企业微信全量同步")
    job = start_job(org=org, kind=JOB_KIND, title=title, params={"reason": reason}, by=by)
    audit.record("wecom.full_sync_started", org=org, actor=by, obj=job, details={"reason": reason})
    return job


def last_syncs(org, limit: int = 10):
    return Job.objects.for_org(org).filter(kind=JOB_KIND).select_related("created_by")[:limit]


# -- the job --------------------------------------------------------------------------------------------------
@job_handler(JOB_KIND)
def run_full_sync(job: Job, progress: Progress) -> dict:
    """The job: every step in order; any WeCom refusal fails the job with WeCom's hint."""
    try:
        with WeComClient.for_org(job.org) as client:
            result = FullSync(job.org, client, progress, job_id=job.pk).run()
    except WeComError as error:
        where = f"{error.endpoint}: " if error.endpoint else ""
        code = f"（errcode {error.errcode}：{error.errmsg}）" if error.errcode is not None else f"（{error.errmsg}）"
        raise SyncFailed(f"{where}{error.hint}{code}") from error
    WeComConnection.objects.for_org(job.org_id).filter(is_active=True).update(last_full_sync_at=timezone.now())
    return result


class FullSync:
    """One run of the sync for one organization. :meth:`run` returns the counts the job keeps as its result."""

    def __init__(self, org, client: WeComClient, progress: Progress, *, job_id: int | None = None):
        self.org = org
        self.client = client
        self.progress = progress
        self.job_id = job_id
        self.result: dict = {"pages": {"customers": 0, "groups": 0}}
        self._step_start = 0
        self._step_weight = 0
        self._waited = 0.0

    def run(self) -> dict:
        self.progress.set_total(sum(STEPS.values()))
        self._step("directory", _("同步部门和员工"))
        follow_users = self.sync_directory()
        self._step("tags", _("同步企业客户标签"))
        self.sync_tags()
        self._step("customers", _("同步客户和好友关系"))
        self.sync_customers(follow_users)
        self._step("groups", _("同步客户群"))
        self.sync_groups()
        self._step(None, _("同步完成"))
        return self.result

    # -- progress ---------------------------------------------------------------------------------------------
    def _step(self, name: str | None, message: str) -> None:
        """Close the current step (its units all done) and open the next one."""
        self._part(1.0, message)
        self._step_start += self._step_weight
        self._step_weight = STEPS[name] if name else 0

    def _part(self, fraction: float, message: str) -> None:
        """Report that ``fraction`` of the current step is done; progress only ever moves forward."""
        target = self._step_start + int(self._step_weight * min(max(fraction, 0.0), 1.0))
        self.progress.advance(max(target - self.progress.job.done, 0), message)

    # -- calls --------------------------------------------------------------------------------------------------
    def call(self, func: Callable, *args, **kwargs):
        """``func(*args)``, waiting out WeCom's rate limits within ``WECOM_SYNC_MAX_WAIT`` seconds per run.

        A longer limit (an hourly window) fails the job at once with the time to come back.
        """
        budget = float(getattr(settings, "WECOM_SYNC_MAX_WAIT", 300))
        while True:
            try:
                return func(*args, **kwargs)
            except RateLimited as error:
                wait = max(float(error.retry_after), 1.0)
                if self._waited + wait > budget:
                    minutes = max(round(wait / 60), 1)
                    raise SyncFailed(
                        _("企业微信接口 %(endpoint)s 调用频率超限，已等待 %(waited)d 秒仍未恢复；请约 %(minutes)d 分钟后重新同步。")
                        % {"endpoint": error.endpoint, "waited": self._waited, "minutes": minutes}
                    ) from error
                log.warning("full sync of %s: %s rate limited, waiting %.0fs", self.org, error.endpoint, wait)
                self.progress.advance(0, _("触发企业微信频率限制，等待 %(seconds)d 秒后继续") % {"seconds": wait})
                _sleep(wait)
                self._waited += wait

    # -- 1. directory ---------------------------------------------------------------------------------------------
    def sync_directory(self) -> list[str]:
        """Departments, staff and 客户联系 members; returns the members whose customers WeCom can list."""
        org = self.org
        departments = self.call(self.client.get, "department/list").get("department") or []
        dept_ids = {int(d["id"]) for d in departments}
        with transaction.atomic():
            for dept in departments:
                Department.objects.for_org(org).update_or_create(
                    org=org, dept_id=int(dept["id"]),
                    defaults={"name": (dept.get("name") or "")[:100], "parent_id": int(dept.get("parentid") or 0),
                              "order": int(dept.get("order") or 0), "deleted": False},
                )
            if dept_ids:
                Department.objects.for_org(org).filter(deleted=False).exclude(dept_id__in=dept_ids).update(deleted=True)
        self._part(0.2, _("已同步 %(n)d 个部门") % {"n": len(dept_ids)})

        # The roots of what the app can see: one user/list call each covers the tree below it.
        parent_of = {int(d["id"]): int(d.get("parentid") or 0) for d in departments}
        roots = sorted(d for d, parent in parent_of.items() if parent not in parent_of) or [1]
        users: dict[str, dict] = {}
        for user in self._members(roots, sorted(dept_ids)):
            users.setdefault(user["userid"], user)
        follow = sorted(set(self.call(self.client.get, "externalcontact/get_follow_user_list").get("follow_user") or []))
        with transaction.atomic():
            for user in users.values():
                staff_services.upsert_staff(org, user)
            for userid in follow:
                staff_services.staff_for(org, userid)  # a member outside the app's visible range still has customers
            staff = Staff.objects.for_org(org)
            staff.filter(userid__in=follow, is_customer_contact=False).update(is_customer_contact=True)
            staff.filter(is_customer_contact=True).exclude(userid__in=follow).update(is_customer_contact=False)
        departed = 0
        if users:  # an empty list is a visibility problem, not a corp whose every member left
            present = set(users) | set(follow)
            for member in staff.exclude(status=Staff.Status.DEPARTED):
                if member.userid not in present:
                    staff_services.mark_departed(member)
                    departed += 1
        self._part(1.0, _("已同步 %(n)d 位员工") % {"n": len(users)})
        self.result.update(departments=len(dept_ids), staff=len(users), staff_departed=departed, follow_users=len(follow))
        return follow

    def _members(self, roots: list[int], departments: list[int]) -> list[dict]:
        """Every visible member: one ``user/list`` with ``fetch_child=1`` per root, or, when WeCom answers 45029
        (reply too large; doc 90313: "建议按部门分别拉取，同时不要指定fetch_child=1"), one call per department."""
        try:
            return [user for root in roots
                    for user in self.call(self.client.get, "user/list", department_id=root, fetch_child=1).get("userlist") or []]
        except WeComError as error:
            if error.errcode != REPLY_TOO_LARGE:
                raise
        log.info("full sync of %s: user/list too large, reading %d departments one by one", self.org, len(departments))
        return [user for dept in departments
                for user in self.call(self.client.get, "user/list", department_id=dept).get("userlist") or []]

    # -- 2. tags -------------------------------------------------------------------------------------------------
    def sync_tags(self) -> None:
        org = self.org
        tag_groups = self.call(self.client.post, "externalcontact/get_corp_tag_list", {}).get("tag_group") or []
        live_groups = {g["group_id"] for g in tag_groups}
        live_tags = {t["id"] for g in tag_groups for t in g.get("tag") or []}
        deleted = 0
        with transaction.atomic():
            customer_services.upsert_tag_groups(org, tag_groups)
            known_groups = TagGroup.objects.for_org(org).filter(deleted=False).exclude(wecom_id="")
            for wecom_id in known_groups.values_list("wecom_id", flat=True):
                if wecom_id not in live_groups:
                    customer_services.delete_tag_or_group(org, wecom_id, "tag_group")
                    deleted += 1
            known_tags = Tag.objects.for_org(org).filter(kind=Tag.Kind.CORP, deleted=False).exclude(wecom_id="")
            for wecom_id in known_tags.values_list("wecom_id", flat=True):
                if wecom_id not in live_tags:
                    customer_services.delete_tag_or_group(org, wecom_id, "tag")
                    deleted += 1
        self.result.update(tag_groups=len(live_groups), tags=len(live_tags), tags_deleted=deleted)

    # -- 3. customers --------------------------------------------------------------------------------------------
    def sync_customers(self, follow_users: list[str]) -> None:
        chunks = [follow_users[i : i + USERIDS_PER_CALL] for i in range(0, len(follow_users), USERIDS_PER_CALL)]
        seen: set[tuple[str, str]] = set()
        customers: set[str] = set()
        started = 0
        for index, chunk in enumerate(chunks):
            body = {"userid_list": chunk, "cursor": "", "limit": CUSTOMERS_PER_PAGE}
            cursors: set[str] = set()
            pages = 0
            while True:
                data = self.call(self.client.post, "externalcontact/batch/get_by_user", body)
                started += self._apply_page(data.get("external_contact_list") or [], seen, customers)
                pages += 1
                self.result["pages"]["customers"] += 1
                # Within a chunk the page count is unknown: each page covers half of what is left of its share.
                self._part((index + 1 - 0.5**pages) / len(chunks) * 0.9,
                           _("客户：已读取 %(n)d 条好友关系") % {"n": len(seen)})
                cursor = data.get("next_cursor") or ""
                if not cursor or cursor in cursors:  # a repeated cursor would page forever
                    break
                cursors.add(cursor)
                body = {**body, "cursor": cursor}
        ended = self._end_missing_relations(follow_users, seen)
        self._refresh_friendship()
        self.result.update(customers=len(customers), relations=len(seen), relations_started=started,
                           relations_ended=ended)

    def _apply_page(self, items: list[dict], seen: set, customers: set) -> int:
        """Mirror one page of ``batch/get_by_user``; returns how many relations (re)started."""
        org = self.org
        page_ids = {(item.get("external_contact") or {}).get("external_userid") for item in items} - {None, ""}
        # Relations the customer ended (del_follow_user): WeCom keeps listing them, so the listing alone does
        # not revive them (apply_follow_info keeps them ended). A new createtime means the customer added the
        # member again while we missed the add callback: that one is a friendship again.
        one_sided = {
            (ext, userid): added_at
            for ext, userid, added_at in Relation.objects.for_org(org)
            .filter(customer__external_userid__in=page_ids, status=Relation.Status.DELETED_BY_CUSTOMER)
            .values_list("customer__external_userid", "staff__userid", "added_at")
        }
        started = 0
        with transaction.atomic():
            upserted: dict[str, Customer] = {}
            for item in items:
                contact, info = item.get("external_contact") or {}, item.get("follow_info") or {}
                ext, userid = contact.get("external_userid"), info.get("userid")
                if not ext or not userid:
                    continue
                seen.add((ext, userid))
                customers.add(ext)
                if ext not in upserted:
                    upserted[ext] = customer_services.upsert_customer(org, contact)
                readded = (ext, userid) in one_sided and one_sided[(ext, userid)] != customer_services.from_epoch(
                    info.get("createtime"))
                _relation, restarted = customer_services.apply_follow_info(org, upserted[ext], info, adding=readded)
                started += restarted
        return started

    def _end_missing_relations(self, follow_users: list[str], seen: set[tuple[str, str]]) -> int:
        """End the active relations of the listed members that WeCom no longer lists, with a ``reconcile`` note."""
        org = self.org
        active = (
            Relation.objects.for_org(org)
            .filter(status=Relation.Status.ACTIVE, staff__userid__in=follow_users)
            .values_list("customer__external_userid", "staff__userid")
        )
        missing = [pair for pair in active if pair not in seen]
        if not missing:
            return 0
        transferred = set(
            Transfer.objects.for_org(org)
            .filter(status__in=[Transfer.Status.WAITING, Transfer.Status.DONE])
            .values_list("customer__external_userid", "handover__userid")
        )
        for ext, userid in missing:
            status = Relation.Status.TRANSFERRED if (ext, userid) in transferred else Relation.Status.DELETED_BY_STAFF
            with transaction.atomic():
                relation = customer_services.relation_ended(org, userid=userid, external_userid=ext, status=status)
                if relation is not None:
                    timeline.record(
                        relation.customer, "reconcile", staff=relation.staff, status=status, job_id=self.job_id,
                        note=_("全量同步时企业微信已不再列出该好友关系（可能漏收了删除回调），已标记为结束。"),
                    )
            log.info("full sync of %s: relation %s/%s no longer in WeCom, ended as %s", org, userid, ext, status)
        return len(missing)

    def _refresh_friendship(self) -> None:
        """``is_friend`` and ``first_added_at`` for every customer, set-based (the rule of the customers service)."""
        relations = Relation.objects.for_org(self.org).filter(customer=OuterRef("pk"))
        first = relations.exclude(added_at=None).order_by("added_at").values("added_at")[:1]
        Customer.objects.for_org(self.org).update(
            is_friend=Exists(relations.filter(status=Relation.Status.ACTIVE)), first_added_at=Subquery(first)
        )

    # -- 4. groups -------------------------------------------------------------------------------------------------
    def sync_groups(self) -> None:
        """List the groups owner by owner, read each, and dismiss only what ``groupchat/get`` confirms is gone.

        Doc 92120: without ``owner_filter`` an app seeing more than 1,000 people gets 81017, and a departed
        owner's groups are listed only when ``owner_filter`` names that owner. So every member Siyu knows,
        departed ones included, is asked for in batches of 100; a group missing from the lists (its owner
        is outside the app's visible range, or unknown to Siyu) is read once before anything is dismissed.
        """
        org = self.org
        owners = sorted(set(Staff.objects.for_org(org).values_list("userid", flat=True)))
        batches = [owners[i : i + OWNERS_PER_CALL] for i in range(0, len(owners), OWNERS_PER_CALL)]
        listed: dict[str, int] = {}
        for batch in batches:
            body = {"status_filter": 0, "owner_filter": {"userid_list": batch}, "cursor": "", "limit": GROUPS_PER_PAGE}
            cursors: set[str] = set()
            while True:
                data = self.call(self.client.post, "externalcontact/groupchat/list", body)
                for entry in data.get("group_chat_list") or []:
                    listed[entry["chat_id"]] = int(entry.get("status") or 0)
                self.result["pages"]["groups"] += 1
                self._part(0.05, _("客户群：已列出 %(n)d 个") % {"n": len(listed)})
                cursor = data.get("next_cursor") or ""
                if not cursor or cursor in cursors:
                    break
                cursors.add(cursor)
                body = {**body, "cursor": cursor}

        groups = CustomerGroup.objects.for_org(org)
        unlisted = list(groups.filter(status=CustomerGroup.Status.ACTIVE).exclude(chat_id__in=listed)
                        .values_list("chat_id", flat=True))
        to_read = list(listed) + unlisted
        gone: set[str] = set()
        for index, chat_id in enumerate(to_read, 1):
            try:
                self.call(group_services.refresh_group, org, chat_id, self.client)
            except WeComError as error:
                if error.errcode not in GROUP_GONE:
                    raise
                gone.add(chat_id)  # dismissed (or never a customer group): confirmed by WeCom itself
            self._part(0.05 + 0.9 * index / len(to_read), _("客户群：已同步 %(i)d/%(n)d") % {"i": index, "n": len(to_read)})

        live = {chat_id: status for chat_id, status in listed.items() if chat_id not in gone}
        for status in set(live.values()):
            # 离职继承 status only comes from groupchat/list.
            ids = [chat_id for chat_id, s in live.items() if s == status]
            groups.filter(chat_id__in=ids).exclude(inheritance=status).update(inheritance=status)
        dismissed = 0
        for chat_id in groups.filter(status=CustomerGroup.Status.ACTIVE, chat_id__in=gone).values_list("chat_id", flat=True):
            group_services.dismiss_group(org, chat_id)
            dismissed += 1
        self.result.update(groups=len(live) + len(set(unlisted) - gone), groups_dismissed=dismissed)
