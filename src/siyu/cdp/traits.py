"""A person's traits: order aggregates, R/F/M scores within the organization, and custom traits with history.

Aggregates are recomputed from the person's orders (after a merge, a split, an order); R/F/M are quintiles
(``NTILE(5)``, SQLite ≥ 3.25 and PostgreSQL) over the organization's persons with at least one order, 5 being the
best: most recent last order, most orders, most spent. Ties are broken by person id so every quintile has its
share. Refreshed nightly (:mod:`siyu.cdp.person_tasks`) and on demand (the person page's button).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, F, Max, Min, Sum, Window
from django.db.models.functions import Ntile
from django.utils import timezone

from siyu.cdp.models import Order, Person, TraitChange

# Personal fields become identifiers or encrypted columns, never plain custom traits (segments read traits).
PERSONAL_KEYS = frozenset({"phone", "mobile", "email", "name", "firstName", "lastName", "first_name", "last_name",
                           "address", "birthday", "ip"})


def refresh_orders(person: Person) -> Person:
    """Recompute the person's lifetime orders, spend, average order value, first/last order and mean purchase
    interval from its orders."""
    row = Order.objects.for_org(person.org_id).filter(person=person).aggregate(
        n=Count("pk"), spent=Sum("total"), first=Min("ordered_at"), last=Max("ordered_at"))
    n, spent = row["n"] or 0, Decimal(row["spent"] or 0).quantize(Decimal("0.01"))
    person.orders_count, person.total_spend = n, spent
    person.average_order_value = (spent / n).quantize(Decimal("0.01")) if n else Decimal("0")
    person.first_order_at, person.last_order_at = row["first"], row["last"]
    person.mean_purchase_interval_days = (
        (row["last"] - row["first"]).total_seconds() / 86400 / (n - 1) if n > 1 else None)
    Person.objects.for_org(person.org_id).filter(pk=person.pk).update(
        orders_count=n, total_spend=spent, average_order_value=person.average_order_value,
        first_order_at=row["first"], last_order_at=row["last"],
        mean_purchase_interval_days=person.mean_purchase_interval_days)
    return person


@transaction.atomic
def refresh_rfm(org, *, at: datetime | None = None) -> int:
    """Score every buying person of ``org`` 1–5 on recency, frequency and money; persons without orders get no
    score. Answers how many were scored."""
    at = at or timezone.now()
    org_id = getattr(org, "pk", org)
    live = Person.objects.for_org(org_id).filter(merged_into__isnull=True)
    scored = list(live.filter(orders_count__gt=0).annotate(
        r=Window(Ntile(5), order_by=[F("last_order_at").asc(), F("id").asc()]),
        f=Window(Ntile(5), order_by=[F("orders_count").asc(), F("id").asc()]),
        m=Window(Ntile(5), order_by=[F("total_spend").asc(), F("id").asc()]),
    ).values_list("pk", "r", "f", "m"))
    live.filter(orders_count=0).exclude(r_score=None).update(r_score=None, f_score=None, m_score=None, rfm_at=at)
    rows = [Person(pk=pk, r_score=r, f_score=f, m_score=m, rfm_at=at) for pk, r, f, m in scored]
    Person.objects.for_org(org_id).bulk_update(rows, ["r_score", "f_score", "m_score", "rfm_at"], batch_size=500)
    return len(rows)


def refresh(org) -> int:
    """Everything of ``org`` again: every person's order aggregates, then the R/F/M scores."""
    org_id = getattr(org, "pk", org)
    for person in Person.objects.for_org(org_id).filter(merged_into__isnull=True).iterator():
        refresh_orders(person)
    return refresh_rfm(org_id)


@transaction.atomic
def apply_traits(person: Person, values: dict, *, source: str, at: datetime) -> list[TraitChange]:
    """Set the custom traits ``values`` (an identify call's ``traits``) on ``person``, writing one
    :class:`TraitChange` per key whose value changed. Personal keys (:data:`PERSONAL_KEYS`) are ignored: callers
    turn them into identifiers. Typed: a value keeps its JSON type (number, bool, string, list, object)."""
    person = Person.objects.for_org(person.org_id).select_for_update().get(pk=person.pk)
    changes = []
    for key, value in values.items():
        key = str(key)[:100]
        if key in PERSONAL_KEYS or (key in person.traits and person.traits[key] == value):
            continue
        changes.append(TraitChange(org_id=person.org_id, person=person, key=key, old=person.traits.get(key),
                                   new=value, at=at, source=source[:40]))
        person.traits[key] = value
    if changes:
        TraitChange.objects.bulk_create(changes)
        Person.objects.for_org(person.org_id).filter(pk=person.pk).update(traits=person.traits)
    return changes
