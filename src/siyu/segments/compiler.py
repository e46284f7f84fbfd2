"""A validated rule (``segments.rules``) compiled to one ``Q`` over ``cdp.Person``: the same SQL on SQLite and
PostgreSQL.

Every condition compiles to a predicate that is TRUE or FALSE, never NULL — a correlated ``EXISTS``, a
``COALESCE``-d count, or a comparison guarded by the value's presence and JSON type — because SQL's third value
would make ``NOT`` drop people: ``NOT (traits.level = 'gold')`` is NULL for a person without a level, who is
plainly not gold. Every subquery filters by ``org`` (tenancy rule; it is also the leading column of the indexes
they probe).

Conditions read the rows attached to the person itself: a merge moves identifiers, events and orders to the
surviving person, and absorbed persons (``merged_into`` set) are not in any segment.
"""

from __future__ import annotations

import datetime as dt
import math
import operator as operators
from decimal import Decimal
from functools import reduce

from django.db.models import (BooleanField, Case, CharField, Count, DecimalField, Exists, Func, IntegerField, OuterRef,
                              Q, Subquery, Sum, Value, When)
from django.db.models.functions import Coalesce
from django.db.models.lookups import Exact, GreaterThanOrEqual, LessThanOrEqual

from siyu.segments.rules import DATE_FIELDS, NUMBER_FIELDS, TRAIT_PREFIX

# Orders that are no purchase: never paid, closed, or refunded. Counts, spend and "bought" leave them out.
NOT_PURCHASES = ("pending", "closed", "refunded")


class JSONKind(Func):
    """The JSON type of ``column[key]`` as one portable word: number, string, boolean, null, other or missing.

    Comparisons on custom traits check it first: SQLite compares text above any number while PostgreSQL's jsonb
    orders strings below numbers, so only same-typed comparisons mean the same thing on both."""

    output_field = CharField()

    def __init__(self, column: str, key: str):
        super().__init__(column)
        self.key = key

    def as_sqlite(self, compiler, connection):
        column, params = compiler.compile(self.source_expressions[0])
        return (f"CASE json_type({column}, %s) WHEN 'integer' THEN 'number' WHEN 'real' THEN 'number' "
                "WHEN 'text' THEN 'string' WHEN 'true' THEN 'boolean' WHEN 'false' THEN 'boolean' "
                "WHEN 'null' THEN 'null' WHEN 'array' THEN 'other' WHEN 'object' THEN 'other' ELSE 'missing' END",
                [*params, f'$."{self.key}"'])

    def as_postgresql(self, compiler, connection):
        column, params = compiler.compile(self.source_expressions[0])
        return (f"CASE jsonb_typeof({column} -> %s) WHEN 'number' THEN 'number' WHEN 'string' THEN 'string' "
                "WHEN 'boolean' THEN 'boolean' WHEN 'null' THEN 'null' WHEN 'array' THEN 'other' "
                "WHEN 'object' THEN 'other' ELSE 'missing' END", [*params, self.key])


class HasAnyElement(Func):
    """``column`` (a JSON array of strings) holds any of ``values``."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, column: str, values: list[str]):
        super().__init__(column)
        self.values = list(values)

    def as_sqlite(self, compiler, connection):
        column, params = compiler.compile(self.source_expressions[0])
        marks = ", ".join(["%s"] * len(self.values))
        return (f"EXISTS (SELECT 1 FROM json_each({column}) AS element WHERE element.type = 'text' "
                f"AND element.value IN ({marks}))", [*params, *self.values])

    def as_postgresql(self, compiler, connection):
        column, params = compiler.compile(self.source_expressions[0])
        marks = ", ".join(["%s"] * len(self.values))
        return f"jsonb_exists_any({column}, ARRAY[{marks}]::text[])", [*params, *self.values]


def _kind_of(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    return "number" if isinstance(value, (int, float)) else "string"


def _json_condition(column: str, key: str, operator: str, value) -> Q:
    """A condition on ``column[key]`` (custom traits, event properties), TRUE/FALSE even when the key is missing."""
    kind = JSONKind(column, key)
    present = ~Q(Exact(kind, "missing")) & ~Q(Exact(kind, "null"))

    def target(lookup: str, operand) -> Q:
        # The explicit last lookup keeps a key named like a lookup ("contains") a key.
        return Q(**{f"{column}__{key}__{lookup}": operand})

    if operator == "exists":
        return present
    if operator == "not_exists":
        return ~present
    if operator == "eq":
        return Q(Exact(kind, _kind_of(value))) & target("exact", value)
    if operator == "ne":
        return present & ~(Q(Exact(kind, _kind_of(value))) & target("exact", value))
    if operator == "in":
        return reduce(operators.or_, (Q(Exact(kind, _kind_of(item))) & target("exact", item) for item in value))
    if operator == "contains":
        return Q(Exact(kind, "string")) & target("icontains", value)
    number = Q(Exact(kind, "number"))
    if operator == "lt":
        return number & target("lt", value)
    if operator == "gt":
        return number & target("gt", value)
    if operator == "between":
        low, high = value
        return number & target("gte", low) & target("lte", high)
    raise ValueError(f"unknown operator {operator!r}")


def _column_condition(field: str, operator: str, value, now: dt.datetime) -> Q:
    """A condition on a typed column of Person; a NULL column satisfies nothing but ``not_exists``."""
    present = Q(**{f"{field}__isnull": False})
    if operator == "exists":
        return present
    if operator == "not_exists":
        return Q(**{f"{field}__isnull": True})
    if field in DATE_FIELDS:
        if operator == "within_days":
            return present & Q(**{f"{field}__gte": now - dt.timedelta(days=value)})
        if operator == "before_days":
            return present & Q(**{f"{field}__lt": now - dt.timedelta(days=value)})
        value = [dt.datetime.fromisoformat(v) for v in value] if operator == "between" else dt.datetime.fromisoformat(value)
    elif field in ("total_spend", "average_order_value"):
        value = [Decimal(str(v)) for v in value] if isinstance(value, list) else Decimal(str(value))
    if operator == "eq":
        return present & Q(**{field: value})
    if operator == "ne":
        return present & ~Q(**{field: value})
    if operator == "in":
        return present & Q(**{f"{field}__in": value})
    if operator == "lt":
        return present & Q(**{f"{field}__lt": value})
    if operator == "gt":
        return present & Q(**{f"{field}__gt": value})
    if operator == "between":
        return present & Q(**{f"{field}__gte": value[0], f"{field}__lte": value[1]})
    raise ValueError(f"unknown operator {operator!r}")


def _count_at(queryset, did: str, count: int) -> Q:
    """``did`` at_least/at_most ``count`` rows of ``queryset`` (correlated to the person)."""
    if did == "at_least" and count <= 1:
        return Q(Exists(queryset)) if count == 1 else Q(pk__isnull=False)
    if did == "at_most" and count == 0:
        return ~Q(Exists(queryset))
    counted = Coalesce(Subquery(queryset.order_by().values("org").annotate(n=Count("pk")).values("n")[:1],
                                output_field=IntegerField()), 0)
    if did == "at_least":
        return Q(GreaterThanOrEqual(counted, count))
    return Q(LessThanOrEqual(counted, count))


class Compiler:
    """Compiles validated rules of one organization at one instant (``now`` fixes every relative window)."""

    def __init__(self, org, *, now: dt.datetime):
        self.org_id = getattr(org, "pk", org)
        self.now = now

    def since(self, days: int | None):
        return None if days is None else self.now - dt.timedelta(days=days)

    def compile(self, rule: dict) -> Q:
        op = rule.get("op")
        if op == "and":
            q = Q()
            for child in rule["rules"]:
                q &= self.compile(child)
            return q
        if op == "or":
            return reduce(operators.or_, (self.compile(child) for child in rule["rules"]))
        if op == "not":
            return ~self.compile(rule["rule"])
        return getattr(self, f"_{rule['type']}")(rule)

    # -- conditions ------------------------------------------------------------------------------------------
    def _trait(self, rule: dict) -> Q:
        field = rule["field"]
        if field.startswith(TRAIT_PREFIX):
            return _json_condition("traits", field[len(TRAIT_PREFIX):], rule["operator"], rule.get("value"))
        assert field in NUMBER_FIELDS or field in DATE_FIELDS
        return _column_condition(field, rule["operator"], rule.get("value"), self.now)

    def _tags(self, rule: dict) -> Q:
        from siyu.customers.models import CustomerTag

        def carrying(tag_ids):
            return Exists(CustomerTag.objects.filter(org_id=self.org_id, customer_id=OuterRef("customer_id"),
                                                     tag_id__in=tag_ids))

        if rule["match"] == "all":
            q = Q()
            for tag_id in rule["tags"]:
                q &= Q(carrying([tag_id]))
            return q
        if rule["match"] == "none":
            return ~Q(carrying(rule["tags"]))
        return Q(carrying(rule["tags"]))

    def _event(self, rule: dict) -> Q:
        from siyu.cdp.models import Event

        events = Event.objects.filter(org_id=self.org_id, person_id=OuterRef("pk"), name=rule["event"],
                                      timestamp__gte=self.since(rule["days"]), timestamp__lte=self.now)
        for prop in rule.get("properties") or []:
            events = events.filter(_json_condition("properties", prop["key"], prop["operator"], prop["value"]))
        if rule["did"] == "none":
            return ~Q(Exists(events))
        return _count_at(events, rule["did"], rule["count"])

    def _orders_in_window(self, days: int | None):
        from siyu.cdp.models import Order

        orders = (Order.objects.filter(org_id=self.org_id, person_id=OuterRef("pk"), ordered_at__lte=self.now)
                  .exclude(status__in=NOT_PURCHASES))
        return orders if days is None else orders.filter(ordered_at__gte=self.since(days))

    def _orders(self, rule: dict) -> Q:
        orders = self._orders_in_window(rule["days"])
        if rule["measure"] == "count":
            # Counts are whole: "at least 2.5 orders" is at least 3, "at most 2.5" at most 2.
            value = rule["value"]
            return _count_at(orders, rule["did"], math.ceil(value) if rule["did"] == "at_least" else math.floor(value))
        spend = Coalesce(Subquery(orders.order_by().values("org").annotate(s=Sum("total")).values("s")[:1],
                                  output_field=DecimalField(max_digits=16, decimal_places=2)), Value(Decimal("0")),
                         output_field=DecimalField(max_digits=16, decimal_places=2))
        amount = Decimal(str(rule["value"]))
        return Q(GreaterThanOrEqual(spend, amount)) if rule["did"] == "at_least" else Q(LessThanOrEqual(spend, amount))

    def _bought(self, rule: dict) -> Q:
        from siyu.cdp.models import OrderLine

        lines = (OrderLine.objects.filter(org_id=self.org_id, order__person_id=OuterRef("pk"),
                                          product_id__in=rule["products"], order__ordered_at__lte=self.now)
                 .exclude(order__status__in=NOT_PURCHASES))
        if rule["days"] is not None:
            lines = lines.filter(order__ordered_at__gte=self.since(rule["days"]))
        return Q(Exists(lines))

    def _stage(self, rule: dict) -> Q:
        from siyu.lifecycle.models import CustomerLifecycle

        return Q(Exists(CustomerLifecycle.objects.filter(org_id=self.org_id, customer_id=OuterRef("customer_id"),
                                                         stage_id__in=rule["ids"])))

    def _active_relations(self):
        from siyu.customers.models import Relation

        return Relation.objects.filter(org_id=self.org_id, customer_id=OuterRef("customer_id"),
                                       status=Relation.Status.ACTIVE)

    def _staff(self, rule: dict) -> Q:
        return Q(Exists(self._active_relations().filter(staff_id__in=rule["ids"])))

    def _store(self, rule: dict) -> Q:
        return Q(Exists(self._active_relations().filter(staff__store_id__in=self.stores_below(rule["ids"]))))

    def stores_below(self, store_ids: list[int]) -> list[int]:
        """The stores named and every store under them (a region means its stores)."""
        from siyu.orgs.models import Store

        found, frontier = set(store_ids), list(store_ids)
        while frontier:
            frontier = [pk for pk in Store.objects.filter(org_id=self.org_id, parent_id__in=frontier)
                        .values_list("pk", flat=True) if pk not in found]
            found.update(frontier)
        return sorted(found)

    def _customer_group(self, rule: dict) -> Q:
        from siyu.groups.models import GroupMember

        return Q(Exists(GroupMember.objects.filter(org_id=self.org_id, customer_id=OuterRef("customer_id"),
                                                   is_active=True, group_id__in=rule["ids"])))

    def _source(self, rule: dict) -> Q:
        return Q(HasAnyElement("sources", rule["sources"]))

    def _consent(self, rule: dict) -> Q:
        from siyu.privacy.models import ConsentRecord

        # The latest record at ``now`` of the person's customer for the purpose, as a word; "unknown" when there is
        # none (or no customer), so the predicate is never NULL and NOT stays exact.
        latest = (ConsentRecord.objects.filter(org_id=self.org_id, customer_id=OuterRef("customer_id"),
                                               purpose=rule["purpose"], at__lte=self.now)
                  .order_by("-at", "-id")
                  .annotate(word=Case(When(granted=True, then=Value("granted")), default=Value("withdrawn")))
                  .values("word")[:1])
        state = Coalesce(Subquery(latest, output_field=CharField()), Value("unknown"), output_field=CharField())
        return Q(Exact(state, rule["state"]))

    def _segment(self, rule: dict) -> Q:
        from siyu.segments.models import SegmentMembership

        return Q(Exists(SegmentMembership.objects.filter(org_id=self.org_id, segment_id=rule["segment"],
                                                         person_id=OuterRef("pk"), left_at__isnull=True)))


def persons(org, rule: dict, *, now: dt.datetime):
    """The persons of ``org`` the validated ``rule`` selects (survivors only), as a queryset for jobs and services."""
    from siyu.cdp.models import Person

    return (Person.objects.for_org(org).filter(merged_into__isnull=True)
            .filter(Compiler(org, now=now).compile(rule)))
