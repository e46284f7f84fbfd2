"""The journeys list's figures and the per-step report."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Q

from siyu.core.durable import DurableRow
from siyu.journeys import steps as journey_steps
from siyu.journeys.models import Journey, JourneyEntry, JourneyStep, JourneyVersion

WAITING = (DurableRow.Status.PENDING, DurableRow.Status.RUNNING)


def entry_counts(journeys: list[Journey]) -> dict[int, dict]:
    """Per journey: how many entered and how many are still inside."""
    if not journeys:
        return {}
    rows = (JourneyEntry.objects.for_org(journeys[0].org_id).filter(journey__in=journeys).values("journey_id")
            .annotate(entered=Count("pk"), inside=Count("pk", filter=Q(ended_at__isnull=True))))
    return {row["journey_id"]: row for row in rows}


@dataclass
class StepFigures:
    path: str
    depth: int
    lane: str
    step: dict
    counts: dict = field(default_factory=dict)
    summary: str = ""

    @property
    def reached(self) -> int:
        return sum(self.counts.values())


@dataclass
class Report:
    version: JourneyVersion
    entered: int
    inside: int
    steps: list[StepFigures]


def report(journey: Journey, version: JourneyVersion) -> Report:
    """For each step of ``version``: how many reached it, wait there now, passed it, went each branch's way, and
    whose action was done, skipped or failed."""
    org_id = journey.org_id
    entries = JourneyEntry.objects.for_org(org_id).filter(journey=journey, version=version).aggregate(
        entered=Count("pk"), inside=Count("pk", filter=Q(ended_at__isnull=True)))
    tallies: dict[str, dict] = {}
    rows = (JourneyStep.objects.for_org(org_id).filter(journey=journey, version=version)
            .values("path", "status", "outcome").annotate(n=Count("pk")))
    for row in rows:
        counts = tallies.setdefault(row["path"], {})
        if row["status"] in WAITING and not row["outcome"]:
            key = "waiting"
        elif row["status"] == DurableRow.Status.FAILED and not row["outcome"]:
            key = "failed"
        else:
            key = row["outcome"] or "waiting"
        counts[key] = counts.get(key, 0) + row["n"]
    figures = []
    for path, depth, step in journey_steps.walk(version.steps):
        parts = path.split(".")
        figures.append(StepFigures(path, depth, parts[-2] if len(parts) > 1 else "main", step, tallies.get(path, {})))
    return Report(version, entries["entered"], entries["inside"], figures)
