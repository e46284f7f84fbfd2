"""What a guide's workbench shows, each read through ``visible_to``: a guide sees their own, a store manager their
stores', HQ the brand's. Every figure is for the current Beijing week (Monday to today)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.cdp.models import Order, OrderStatus
from siyu.channels.models import ChannelCode
from siyu.content import materials
from siyu.content.models import Material
from siyu.customers.models import Customer, FollowUp, Relation
from siyu.lifecycle.models import Reminder
from siyu.orgs.models import Membership
from siyu.orgs.roles import Role
from siyu.sop.models import SopRun, SopTask

TASKS_SHOWN = 30
CUSTOMERS_SHOWN = 20


@dataclass
class Task:
    kind: str  # reminder | follow_up | sop
    title: str
    detail: str
    due_at: datetime
    customer: Customer | None
    overdue: bool
    url: str = ""  # where the task is done; the customer's page when empty


def end_of_today(now: datetime | None = None) -> datetime:
    local = timezone.localtime(now or timezone.now())
    return datetime.combine(local.date() + timedelta(days=1), time.min, local.tzinfo)


def week_start(today: date) -> date:
    return today - timedelta(days=today.weekday())


def _own(viewer: Membership, staff_field: str) -> Q:
    """A guide's workbench is theirs even where a model lets them see more (a customer shared with a colleague)."""
    return Q(**{f"{staff_field}__membership_id": viewer.pk}) if viewer.is_guide else Q()


def today_tasks(viewer: Membership, *, now: datetime | None = None) -> list[Task]:
    """Reminders, follow-ups and SOP steps due by the end of today and not done yet, overdue first."""
    now = now or timezone.now()
    until = end_of_today(now)
    reminders = (Reminder.objects.visible_to(viewer).filter(_own(viewer, "staff"), completed_at=None, due_at__lt=until)
                 .exclude(status=Reminder.Status.CANCELLED).select_related("customer").order_by("due_at")[:TASKS_SHOWN])
    follow_ups = (FollowUp.objects.visible_to(viewer).filter(_own(viewer, "assignee"), status=FollowUp.Status.OPEN,
                                                               due_at__lt=until)
                  .select_related("customer").order_by("due_at")[:TASKS_SHOWN])
    sop_tasks = (SopTask.objects.visible_to(viewer).filter(_own(viewer, "staff"), completed_at=None, due_at__lt=until,
                                                          run__status=SopRun.Status.ACTIVE)
                 .exclude(status=SopTask.Status.CANCELLED).select_related("sop", "customer", "group", "staff")
                 .order_by("due_at")[:TASKS_SHOWN])
    tasks = [Task("reminder", r.title, r.body, r.due_at, r.customer, r.due_at < now) for r in reminders]
    tasks += [Task("follow_up", _("跟进 %(customer)s") % {"customer": f.customer}, f.text, f.due_at, f.customer,
                   f.due_at < now) for f in follow_ups]
    tasks += [Task("sop", _("SOP：%(name)s · %(whom)s") % {"name": t.sop.name, "whom": t.customer or t.group},
                   t.content, t.due_at, t.customer, t.due_at < now,
                   # one's own SOP tasks are sent and ticked off on the SOP phone page
                   reverse("sop:mobile") if t.staff.membership_id == viewer.pk else "")
              for t in sop_tasks]
    return sorted(tasks, key=lambda t: t.due_at)[:TASKS_SHOWN]


def my_customers(viewer: Membership, *, query: str = "", show: str = "all", now: datetime | None = None):
    """Customers of the viewer (newest first): all, friends only, or added this week; ``query`` searches names,
    remarks and phones as the customer list does."""
    from siyu.customers.queries import search_ids

    rows = Customer.objects.visible_to(viewer)
    if viewer.is_guide:
        rows = rows.filter(relations__staff__membership_id=viewer.pk).distinct()
    if query:
        rows = rows.filter(pk__in=search_ids(viewer.org_id, query))
    if show == "friends":
        rows = rows.filter(is_friend=True)
    elif show == "new":
        monday = week_start(timezone.localtime(now or timezone.now()).date())
        rows = rows.filter(first_added_at__gte=datetime.combine(monday, time.min, timezone.get_current_timezone()))
    return rows.order_by("-first_added_at", "-pk")


def poster_materials(viewer: Membership):
    """Poster materials the viewer may send (approved: HQ's and their own), newest first."""
    return materials.sendable_by(viewer).filter(kind=Material.Kind.POSTER).order_by("-updated_at", "-pk")


def guides_of(viewer: Membership):
    """The active guides the viewer may see: a store manager's stores' guides, HQ's all."""
    return (Membership.objects.visible_to(viewer).filter(role=Role.GUIDE, is_active=True)
            .select_related("user", "store", "staff").order_by("store__name", "user__display_name", "user__username", "pk"))


def my_codes(viewer: Membership):
    return ChannelCode.objects.visible_to(viewer).filter(status=ChannelCode.Status.ACTIVE).order_by("-created_at")[:10]


@dataclass
class Week:
    start: date
    adds: int
    lost: int
    orders: int
    sales: Decimal

    @property
    def net(self) -> int:
        return self.adds - self.lost


def this_week(viewer: Membership, *, now: datetime | None = None) -> Week:
    """New friendships, friendships lost (either side deleted), and orders credited, Monday to now."""
    start = week_start(timezone.localtime(now or timezone.now()).date())
    since = datetime.combine(start, time.min, timezone.get_current_timezone())
    relations = Relation.objects.visible_to(viewer).filter(_own(viewer, "staff"))
    adds = relations.filter(added_at__gte=since).count()
    lost = relations.filter(deleted_at__gte=since, status__in=[Relation.Status.DELETED_BY_CUSTOMER,
                                                               Relation.Status.DELETED_BY_STAFF]).count()
    orders = (Order.objects.visible_to(viewer).filter(_own(viewer, "staff"), ordered_at__gte=since)
              .exclude(status__in=[OrderStatus.CLOSED, OrderStatus.REFUNDED])
              .aggregate(n=Count("id"), total=Sum("total")))
    return Week(start, adds, lost, orders["n"], orders["total"] or Decimal("0"))
