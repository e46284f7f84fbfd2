"""Reads of open tracking: a customer's reading history, and each material's figures by guide and by store.

Figures count what the viewer may see (``visible_to``): a guide their own sends, a store manager their stores'.
A visit counts as the recipient's own open unless it was decided to be a forward (another visitor than the
link's first); forwards are counted for the sharer, never as the recipient's reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, F, Q, Sum

from siyu.orgs.models import Staff, Store
from siyu.tracking.models import TrackedLink, Visit

HISTORY = 20
OWN = Q(forwarded=False)


@dataclass(frozen=True)
class Reading:
    material_id: int
    title: str
    opened_at: datetime
    seconds: int
    depth: int
    forwarded: bool  # the customer passed this link on: someone else opened it too


def customer_history(customer, *, limit: int = HISTORY) -> list[Reading]:
    """The customer's opens of materials sent to them, newest first (for the customer page and the sidebar)."""
    visits = list(Visit.objects.for_org(customer.org_id).filter(OWN, link__customer=customer)
                  .select_related("link__material").order_by("-opened_at", "-id")[:limit])
    shared = set(Visit.objects.for_org(customer.org_id).filter(link_id__in={v.link_id for v in visits}, forwarded=True)
                 .values_list("link_id", flat=True))
    return [Reading(v.link.material_id, v.link.material.title, v.opened_at, v.seconds, v.depth, v.link_id in shared)
            for v in visits]


@dataclass
class Figures:
    label: str = ""
    sends: int = 0
    opens: int = 0
    unique_opens: int = 0
    seconds: int = 0
    depth_sum: float = 0.0
    depth_n: int = 0
    forwards: int = 0

    @property
    def open_rate(self) -> float | None:
        return self.unique_opens / self.sends if self.sends else None

    @property
    def average_seconds(self) -> float | None:
        return self.seconds / self.opens if self.opens else None

    @property
    def average_depth(self) -> float | None:
        return self.depth_sum / self.depth_n if self.depth_n else None


_GROUPS = {"total": None, "guide": "staff_id", "store": "staff__store_id"}


def material_figures(viewer, material, *, by: str = "total") -> list[Figures]:
    """``material``'s figures as ``viewer`` may see them: one row in all (``by="total"``), or one per guide / store
    who sent it, most sends first."""
    field = _GROUPS[by]
    links = TrackedLink.objects.visible_to(viewer).filter(material=material)
    visits = Visit.objects.visible_to(viewer).filter(link__material=material)
    rows: dict = {}
    sends = {"n": Count("id")}
    reading = {"opens": Count("id", filter=OWN), "unique": Count("link_id", filter=OWN, distinct=True),
               "seconds": Sum("seconds"), "depth": Sum("depth", filter=Q(consented=True)),
               "depth_n": Count("id", filter=Q(consented=True)), "forwards": Count("id", filter=Q(forwarded=True))}
    if field:
        link_rows = links.values(key=F(field)).annotate(**sends).order_by()
        visit_rows = visits.values(key=F(f"link__{field}")).annotate(**reading).order_by()
    else:
        link_rows, visit_rows = [links.aggregate(**sends)], [visits.aggregate(**reading)]
    for item in link_rows:
        if item["n"]:
            rows.setdefault(item.get("key"), Figures()).sends = item["n"]
    for item in visit_rows:
        if not item["opens"] and not item["forwards"]:
            continue
        figures = rows.setdefault(item.get("key"), Figures())
        figures.opens, figures.unique_opens, figures.forwards = item["opens"], item["unique"], item["forwards"]
        figures.seconds, figures.depth_sum, figures.depth_n = item["seconds"] or 0, item["depth"] or 0, item["depth_n"]
    names = _names(viewer.org_id, by, [k for k in rows if k is not None])
    for key, figures in rows.items():
        figures.label = names.get(key, "") if field else ""
    return sorted(rows.values(), key=lambda f: (-f.sends, f.label))


def _names(org_id: int, by: str, ids: list[int]) -> dict[int, str]:
    if by == "guide":
        return {pk: name or userid for pk, name, userid in
                Staff.objects.for_org(org_id).filter(pk__in=ids).values_list("pk", "name", "userid")}
    if by == "store":
        return dict(Store.objects.for_org(org_id).filter(pk__in=ids).values_list("pk", "name"))
    return {}


def list_figures(viewer, material_ids) -> dict[int, Figures]:
    """Sends, unique opens and open rate of each material of a list page, in two grouped queries."""
    figures: dict[int, Figures] = {}
    for material_id, n in (TrackedLink.objects.visible_to(viewer).filter(material_id__in=material_ids)
                           .values_list("material_id").annotate(n=Count("id")).order_by()):
        figures.setdefault(material_id, Figures()).sends = n
    for material_id, unique, forwards in (
            Visit.objects.visible_to(viewer).filter(link__material_id__in=material_ids).values_list("link__material_id")
            .annotate(unique=Count("link_id", filter=OWN, distinct=True), forwards=Count("id", filter=Q(forwarded=True)))
            .order_by()):
        row = figures.setdefault(material_id, Figures())
        row.unique_opens, row.forwards = unique, forwards
    return figures
