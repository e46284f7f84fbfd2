"""Reads of SOPs for the pages: a staff member's tasks for today, the calendar, the completion report."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.utils import timezone

from siyu.core import clock
from siyu.core.durable import DurableRow
from siyu.orgs.models import Membership
from siyu.sop.models import Sop, SopRun, SopStep, SopTask


def open_tasks(viewer: Membership, *, now: datetime | None = None):
    """``viewer``'s own SOP tasks due today or earlier and not done, of runs still going (oldest first)."""
    now = now or clock.now()
    end_of_today = timezone.localtime(now).replace(hour=23, minute=59, second=59)
    return (SopTask.objects.visible_to(viewer)
            .filter(staff__membership=viewer, completed_at__isnull=True, due_at__lte=end_of_today,
                    run__status=SopRun.Status.ACTIVE)
            .exclude(status=DurableRow.Status.CANCELLED)
            .select_related("sop", "step", "customer", "group").order_by("due_at", "pk"))


SAMPLE = 3


@dataclass
class Slot:
    """The tasks of one SOP due at one local time of one day: how many, how many done, and a few of whom."""

    time: str
    sop: str
    count: int = 0
    done: int = 0
    names: list[str] = field(default_factory=list)

    @property
    def more(self) -> int:
        return self.count - len(self.names)


def calendar(viewer: Membership, first: date, days: int) -> dict[date, list[Slot]]:
    """What ``viewer`` may see due on each local day from ``first`` for ``days`` days, one slot per SOP and time
    (stopped runs left out): a busy day stays one short cell however many customers it has."""
    tz = timezone.get_current_timezone()
    start = datetime.combine(first, datetime.min.time(), tzinfo=tz)
    rows = (SopTask.objects.visible_to(viewer)
            .filter(due_at__gte=start, due_at__lt=start + timedelta(days=days))
            .exclude(run__status=SopRun.Status.STOPPED)
            .select_related("sop", "staff", "customer", "group").order_by("due_at", "sop_id", "pk"))
    out: dict[date, list[Slot]] = {first + timedelta(days=n): [] for n in range(days)}
    slots: dict[tuple, Slot] = {}
    for task in rows:
        local = timezone.localtime(task.due_at)
        key = (local.date(), local.strftime("%H:%M"), task.sop_id)
        slot = slots.get(key)
        if slot is None:
            slot = slots[key] = Slot(key[1], task.sop.name)
            out.setdefault(key[0], []).append(slot)
        slot.count += 1
        slot.done += task.completed_at is not None
        if len(slot.names) < SAMPLE:
            subject = (task.group.name or task.group.chat_id) if task.group_id else str(task.customer)
            slot.names.append(f"{subject} · {task.staff}")
    return out


@dataclass
class Completion:
    label: str
    total: int = 0
    done: int = 0
    sent: int = 0
    overdue: int = 0
    stopped: int = 0

    @property
    def rate(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0


@dataclass
class Report:
    steps: list[Completion] = field(default_factory=list)
    staff: list[Completion] = field(default_factory=list)
    runs: Counter = field(default_factory=Counter)


def report(viewer: Membership, sop: Sop, *, now: datetime | None = None) -> Report:
    """Completion per step and per staff member, over the tasks ``viewer`` may see."""
    now = now or clock.now()
    steps = {s.pk: s for s in SopStep.objects.visible_to(viewer).filter(sop=sop)}
    by_step: dict[int, Completion] = {}
    by_staff: dict[int, Completion] = defaultdict(lambda: Completion(""))
    names: dict[int, str] = {}
    rows = (SopTask.objects.visible_to(viewer).filter(sop=sop)
            .values_list("step_id", "staff_id", "staff__name", "staff__userid", "completed_at", "sent_at", "due_at",
                         "run__status"))
    for step_id, staff_id, staff_name, userid, completed, sent, due, run_status in rows:
        step = steps[step_id]
        label = f"D{step.day_offset} {step.time_of_day:%H:%M}"
        names[staff_id] = staff_name or userid
        for row in (by_step.setdefault(step_id, Completion(label)), by_staff[staff_id]):
            row.total += 1
            row.done += completed is not None
            row.sent += sent is not None
            stopped = run_status == SopRun.Status.STOPPED and completed is None
            row.stopped += stopped
            row.overdue += completed is None and not stopped and due < now
    for staff_id, row in by_staff.items():
        row.label = names[staff_id]
    ordered = sorted(by_step.items(), key=lambda item: (steps[item[0]].day_offset, steps[item[0]].time_of_day))
    runs = Counter(SopRun.objects.visible_to(viewer).filter(sop=sop).values_list("status", flat=True))
    return Report(steps=[row for _pk, row in ordered], staff=sorted(by_staff.values(), key=lambda r: r.label),
                  runs=runs)
