"""A brute-force evaluation of segment rules in plain Python over rows read one table at a time, written from the
rule language's definition and independently of ``siyu.segments.compiler`` (no querysets are composed here)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from siyu.cdp.models import Event, Order, OrderLine, Person
from siyu.customers.models import Relation, RelationTag, Tag
from siyu.groups.models import GroupMember
from siyu.lifecycle.models import CustomerLifecycle
from siyu.orgs.models import Staff, Store
from siyu.privacy.models import ConsentRecord
from siyu.segments.models import SegmentMembership


def json_kind(container: dict, key: str) -> str:
    if key not in container:
        return "missing"
    value = container[key]
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "other"


def _kind_of(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    return "number" if isinstance(value, (int, float)) else "string"


def json_matches(container: dict, key: str, operator: str, value) -> bool:
    kind = json_kind(container, key)
    present = kind not in ("missing", "null")
    actual = container.get(key)
    if operator == "exists":
        return present
    if operator == "not_exists":
        return not present

    def equal(expected):
        return kind == _kind_of(expected) and actual == expected

    if operator == "eq":
        return equal(value)
    if operator == "ne":
        return present and not equal(value)
    if operator == "in":
        return any(equal(v) for v in value)
    if operator == "contains":
        return kind == "string" and value.lower() in actual.lower()
    if kind != "number":
        return False
    if operator == "lt":
        return actual < value
    if operator == "gt":
        return actual > value
    if operator == "between":
        return value[0] <= actual <= value[1]
    raise AssertionError(operator)


class World:
    """Everything of one organization, read into dictionaries."""

    def __init__(self, org, now: dt.datetime):
        self.now = now
        self.persons = list(Person.objects.filter(org=org).order_by("pk"))
        live_tags = set(Tag.objects.filter(org=org, deleted=False).values_list("pk", flat=True))
        relations = {r.pk: r for r in Relation.objects.filter(org=org)}
        self.staff_store = dict(Staff.objects.filter(org=org).values_list("pk", "store_id"))
        self.tags = defaultdict(set)
        for relation_id, tag_id in RelationTag.objects.filter(org=org).values_list("relation_id", "tag_id"):
            if tag_id in live_tags:
                self.tags[relations[relation_id].customer_id].add(tag_id)
        self.active_staff = defaultdict(set)
        for relation in relations.values():
            if relation.status == Relation.Status.ACTIVE:
                self.active_staff[relation.customer_id].add(relation.staff_id)
        self.stage = dict(CustomerLifecycle.objects.filter(org=org).values_list("customer_id", "stage_id"))
        self.groups = defaultdict(set)
        for customer_id, group_id, active in GroupMember.objects.filter(org=org).values_list("customer_id", "group_id", "is_active"):
            if active and customer_id:
                self.groups[customer_id].add(group_id)
        self.events = defaultdict(list)
        for event in Event.objects.filter(org=org):
            self.events[event.person_id].append(event)
        self.orders = defaultdict(list)
        lines = defaultdict(set)
        for order_id, product_id in OrderLine.objects.filter(org=org).values_list("order_id", "product_id"):
            lines[order_id].add(product_id)
        for order in Order.objects.filter(org=org):
            if order.status in ("pending", "closed", "refunded"):
                continue  # never paid, or the money went back: not a purchase
            order.products = lines[order.pk]
            self.orders[order.person_id].append(order)
        self.parents = dict(Store.objects.filter(org=org).values_list("pk", "parent_id"))
        self.segments = defaultdict(set)
        for segment_id, person_id in SegmentMembership.objects.filter(org=org, left_at__isnull=True).values_list("segment_id", "person_id"):
            self.segments[segment_id].add(person_id)

        self.consents = defaultdict(list)
        for record in ConsentRecord.objects.filter(org=org):
            self.consents[record.customer_id, record.purpose].append(record)

    def members(self, rule: dict) -> set[int]:
        return {p.pk for p in self.persons if p.merged_into_id is None and self.holds(rule, p)}

    def holds(self, rule: dict, person) -> bool:
        op = rule.get("op")
        if op == "and":
            return all(self.holds(child, person) for child in rule["rules"])
        if op == "or":
            return any(self.holds(child, person) for child in rule["rules"])
        if op == "not":
            return not self.holds(rule["rule"], person)
        return getattr(self, f"when_{rule['type']}")(rule, person)

    def in_window(self, moment, days) -> bool:
        return moment <= self.now and (days is None or moment >= self.now - dt.timedelta(days=days))

    # -- conditions, one per type ------------------------------------------------------------------------
    def when_trait(self, rule, person) -> bool:
        field, operator, value = rule["field"], rule["operator"], rule.get("value")
        if field.startswith("traits."):
            return json_matches(person.traits, field[7:], operator, value)
        actual = getattr(person, field)
        if operator == "not_exists":
            return actual is None
        if actual is None:
            return False
        if operator == "exists":
            return True
        if isinstance(actual, dt.datetime):
            if operator == "within_days":
                return actual >= self.now - dt.timedelta(days=value)
            if operator == "before_days":
                return actual < self.now - dt.timedelta(days=value)
            value = [dt.datetime.fromisoformat(v) for v in value] if operator == "between" else dt.datetime.fromisoformat(value)
        elif isinstance(actual, Decimal):
            value = [Decimal(str(v)) for v in value] if isinstance(value, list) else Decimal(str(value))
        return {"eq": lambda: actual == value, "ne": lambda: actual != value, "lt": lambda: actual < value,
                "gt": lambda: actual > value, "in": lambda: actual in value,
                "between": lambda: value[0] <= actual <= value[1]}[operator]()

    def when_tags(self, rule, person) -> bool:
        held = self.tags[person.customer_id] if person.customer_id else set()
        wanted = set(rule["tags"])
        return {"any": bool(held & wanted), "all": wanted <= held, "none": not held & wanted}[rule["match"]]

    def when_event(self, rule, person) -> bool:
        n = sum(1 for e in self.events[person.pk]
                if e.name == rule["event"] and self.in_window(e.timestamp, rule["days"])
                and all(json_matches(e.properties, p["key"], p["operator"], p["value"]) for p in rule.get("properties") or []))
        if rule["did"] == "none":
            return n == 0
        return n >= rule["count"] if rule["did"] == "at_least" else n <= rule["count"]

    def when_orders(self, rule, person) -> bool:
        mine = [o for o in self.orders[person.pk] if self.in_window(o.ordered_at, rule["days"])]
        measure = len(mine) if rule["measure"] == "count" else sum((o.total for o in mine), Decimal(0))
        value = Decimal(str(rule["value"]))
        return measure >= value if rule["did"] == "at_least" else measure <= value

    def when_bought(self, rule, person) -> bool:
        return any(o.products & set(rule["products"]) for o in self.orders[person.pk]
                   if self.in_window(o.ordered_at, rule["days"]))

    def when_stage(self, rule, person) -> bool:
        return person.customer_id is not None and self.stage.get(person.customer_id) in rule["ids"]

    def when_staff(self, rule, person) -> bool:
        return bool(self.active_staff[person.customer_id] & set(rule["ids"])) if person.customer_id else False

    def _under(self, store_id, roots) -> bool:
        while store_id is not None:
            if store_id in roots:
                return True
            store_id = self.parents.get(store_id)
        return False

    def when_store(self, rule, person) -> bool:
        if not person.customer_id:
            return False
        return any(self._under(self.staff_store.get(s), set(rule["ids"])) for s in self.active_staff[person.customer_id])

    def when_customer_group(self, rule, person) -> bool:
        return bool(self.groups[person.customer_id] & set(rule["ids"])) if person.customer_id else False

    def when_source(self, rule, person) -> bool:
        return any(s in rule["sources"] for s in person.sources if isinstance(s, str))

    def when_segment(self, rule, person) -> bool:
        return person.pk in self.segments[rule["segment"]]

    def when_consent(self, rule, person) -> bool:
        in_force = [r for r in self.consents[person.customer_id, rule["purpose"]] if r.at <= self.now]
        if not in_force:
            return rule["state"] == "unknown"
        latest = max(in_force, key=lambda r: (r.at, r.pk))
        return rule["state"] == ("granted" if latest.granted else "withdrawn")
