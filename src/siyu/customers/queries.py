"""Reads behind the customer pages, the bulk jobs and the API — built to stay fast at a million customers.

* Every filter is a set of customer ids on an index (a :class:`Semijoin`): tags through ``CustomerTag`` (one
  index range per tag), staff, stores and groups through their tables, and the registered filters of other
  apps. :func:`combine` reads the smallest set whole and checks the others for each of its ids with
  correlated ``EXISTS`` probes, before a single customer row is read.
* Pages are keyset pages (``after``/``before`` cursors on the sort column and the id), never OFFSET: page
  2,000 costs what page 1 costs.
* The total is counted from the same read as the page, exactly up to :data:`COUNT_CAP` and as "more than"
  beyond; when even that would take longer than :data:`COUNT_BUDGET`, the page is shown without it.

The phone search index lives here too: :func:`index_customer_phones` keeps ``CustomerPhone`` (encrypted number +
blind index) in step with a relation's ``remark_mobiles``; whoever saves a relation's phones calls it.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from dataclasses import dataclass, field

from django.db import connection, models, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from siyu.customers.models import (
    Customer, CustomerPhone, CustomerTag, FollowUp, Note, Relation, RelationTag, Tag, TimelineEvent,
)
from siyu.privacy.keyring import normalize_phone

COUNT_CAP = 10_000
PAGE_SIZE = 50
TIMELINE_PAGE = 20
MIN_PHONE_DIGITS = 5  # shorter digit runs are more likely part of a name or remark than a phone number

# sort key → (column, descending); the id breaks ties in the same direction.
SORTS: dict[str, tuple[str, bool]] = {
    "-added": ("first_added_at", True),
    "added": ("first_added_at", False),
    "name": ("name", False),
}
DEFAULT_SORT = "-added"


# -- the phone index -------------------------------------------------------------------------------------
def _phones_of(relation: Relation) -> list[str]:
    try:
        numbers = json.loads(relation.remark_mobiles) if relation.remark_mobiles else []
    except (TypeError, ValueError):
        return []
    seen, phones = set(), []
    for number in numbers if isinstance(numbers, list) else []:
        try:
            normalized = normalize_phone(str(number))
        except ValueError:
            continue
        if normalized not in seen:
            seen.add(normalized)
            phones.append(normalized)
    return phones


@transaction.atomic
def index_customer_phones(relation: Relation) -> int:
    """Make ``CustomerPhone`` hold exactly the numbers of ``relation.remark_mobiles``; returns how many.

    Call it after saving a relation whose phones may have changed (the WeCom mirror's ``apply_follow_info``,
    a transfer that copies a relation). Cheap when nothing changed: one read, no writes.
    """
    phones = _phones_of(relation)
    rows = CustomerPhone.objects.for_org(relation.org_id).filter(relation=relation)
    if sorted(p.phone for p in rows) == sorted(phones):
        return len(phones)
    rows.delete()
    CustomerPhone.objects.bulk_create([
        CustomerPhone(org_id=relation.org_id, customer_id=relation.customer_id, relation=relation, phone=p) for p in phones
    ])
    return len(phones)


def reindex_customer_phones(org, progress=None, batch: int = 500) -> int:
    """Rebuild the phone index of every relation of ``org`` (after an import, or for rows mirrored before the
    index existed). Returns how many numbers are indexed."""
    total, last = 0, 0
    while True:
        relations = list(Relation.objects.for_org(org).filter(pk__gt=last).exclude(remark_mobiles="").order_by("pk")[:batch])
        if not relations:
            return total
        for relation in relations:
            total += index_customer_phones(relation)
        last = relations[-1].pk
        if progress is not None:
            progress(len(relations))


def phone_customer_ids(org, text: str):
    """A subquery of the customers with phone ``text`` (any format), or None when ``text`` is not a phone."""
    try:
        normalized = normalize_phone(text)
    except (TypeError, ValueError):
        return None
    if sum(ch.isdigit() for ch in normalized) < MIN_PHONE_DIGITS:
        return None
    index = CustomerPhone._meta.get_field("phone_index").index_of(normalized)
    return CustomerPhone.objects.for_org(org).filter(phone_index=index).values("customer_id")


# -- filters ---------------------------------------------------------------------------------------------
def descendant_store_ids(store) -> list[int]:
    from siyu.orgs.models import Store

    ids, frontier = [store.pk], [store.pk]
    while frontier:
        frontier = list(Store.objects.for_org(store.org_id).filter(parent_id__in=frontier).values_list("id", flat=True))
        ids.extend(frontier)
    return ids


def _local_day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), timezone.get_default_timezone())


_PHONE_CHARS = frozenset("0123456789+-() \u3000")


def search_ids(org, text: str):
    """The ids of customers whose WeCom id is ``text``, or who have ``text`` as a phone (any format, through the
    blind index), or — when ``text`` is not a phone number — whose name or a staff remark contains it.

    One ``UNION`` the list reads whole: each part scans or seeks its own table once, instead of the page testing
    every customer it walks past in date order (a million row reads for a search that matches a handful).
    """
    text = text.strip()
    customers = Customer.objects.for_org(org)
    parts = [customers.filter(external_userid=text).values("pk")]
    phones = phone_customer_ids(org, text)
    if phones is not None:
        parts.append(phones)
    if phones is None or not set(text) <= _PHONE_CHARS:
        parts.append(customers.filter(name__icontains=text).values("pk"))
        parts.append(Relation.objects.for_org(org).filter(remark__icontains=text).values("customer_id"))
    return parts[0].union(*parts[1:])


@dataclass
class Semijoin:
    """The customers one filter keeps (or, negated, drops), as a subquery of customer ids.

    Combining filters is where a million rows hurt: each set may hold tens of thousands of ids. So
    :func:`combine` reads only the smallest positive set (the *driver*), checks every other set for each of its
    ids with a correlated ``EXISTS`` on that set's index, and only then touches the customer rows.
    """

    customers: object  # a queryset selecting one column of customer ids (``.values("customer_id")``)
    negate: bool = False

    @property
    def path(self) -> str:
        selected = self.customers.query.values_select
        return selected[0] if selected else "pk"

    def size(self, cap: int) -> int:
        """How many rows the set reads, counted no further than ``cap`` (on an index, without the rows)."""
        return self.customers.values("pk").order_by()[:cap].count()

    def probe(self, customer):
        """``EXISTS`` (or ``NOT EXISTS``) of ``customer`` (an ``OuterRef``) in the set."""
        exists = Exists(self.customers.filter(**{self.path: customer}))
        return ~exists if self.negate else exists


DRIVER_MAX = 100_000  # a set larger than this is cheaper to probe for each candidate than to read whole


def combine(rows, sets: list[Semijoin]):
    """``rows`` narrowed to the customers in every set (and in none of the negated ones).

    The smallest positive set (when it is small enough to read) drives: the other sets are checked inside it,
    before a single customer row is read, so the customer table sees only the survivors. Without a small set,
    every set is a probe on the customers read in the page's order, and the page stops reading at its limit.
    """
    driver, smallest = None, DRIVER_MAX + 1
    for candidate in sets:
        if not candidate.negate:
            size = candidate.size(smallest)  # counting stops where it could no longer win
            if size < smallest:
                driver, smallest = candidate, size
    if driver is None:
        for each in sets:
            rows = rows.filter(each.probe(OuterRef("pk")))
        return rows
    survivors = driver.customers
    for other in sets:
        if other is not driver:
            survivors = survivors.filter(other.probe(OuterRef(driver.path)))
    return rows.filter(pk__in=survivors)


def _semijoins(org, data: dict) -> list[Semijoin]:
    from siyu.groups.models import GroupMember

    sets = []
    tags = [t.pk if isinstance(t, Tag) else int(t) for t in data.get("tags") or []]
    if tags:
        mode = data.get("tag_mode") or "any"
        tagged = CustomerTag.objects.for_org(org)
        for ids in ([t] for t in tags) if mode == "all" else [tags]:
            sets.append(Semijoin(tagged.filter(tag_id__in=ids).values("customer_id"), negate=mode == "none"))
    relations = Relation.objects.for_org(org)
    staff = list(data.get("staff") or [])
    if staff:
        sets.append(Semijoin(relations.filter(staff__in=staff).values("customer_id")))
    if data.get("store"):
        sets.append(Semijoin(relations.filter(staff__store_id__in=descendant_store_ids(data["store"])).values("customer_id")))
    members = GroupMember.objects.for_org(org).filter(is_active=True, customer__isnull=False)
    if data.get("group"):
        sets.append(Semijoin(members.filter(group=data["group"]).values("customer_id")))
    if data.get("in_group") in ("yes", "no"):
        sets.append(Semijoin(members.values("customer_id"), negate=data["in_group"] == "no"))
    return sets


class _Recorder:
    """Stands in for the customer queryset while a registered filter's ``apply`` runs, and notes what it asks."""

    def __init__(self):
        self.calls: list[tuple[bool, tuple, dict]] = []

    def filter(self, *args, **kwargs):
        self.calls.append((False, args, kwargs))
        return self

    def exclude(self, *args, **kwargs):
        self.calls.append((True, args, kwargs))
        return self

    def __getattr__(self, name):
        raise AttributeError(name)


def registered_semijoin(registered, value, viewer) -> Semijoin | None:
    """A registered filter written as documented — ``customers.filter(pk__in=<queryset of customer ids>)`` or the
    same with ``exclude`` — as a :class:`Semijoin`, so the planner can drive with it or probe it. None for any other
    shape; such a filter is applied as it is."""
    recorder = _Recorder()
    try:
        if registered.apply(recorder, value, viewer) is not recorder:
            return None
    except (AttributeError, TypeError):
        return None
    if len(recorder.calls) != 1:
        return None
    negate, args, kwargs = recorder.calls[0]
    if args or len(kwargs) != 1:
        return None
    (lookup, customers), = kwargs.items()
    if lookup not in ("pk__in", "id__in") or not isinstance(customers, models.QuerySet):
        return None
    selected = customers.query.values_select
    if len(selected) > 1 or (not selected and customers.model is not Customer):
        return None
    return Semijoin(customers, negate=negate)


def filter_customers(viewer, data: dict, *, extra_filters=None):
    """The customers ``viewer`` may see, narrowed by the cleaned list filters ``data`` (see
    :class:`siyu.customers.forms.CustomerFilterForm`) and the registered filters."""
    from siyu.customers.forms import is_empty
    from siyu.customers.profile import list_filters

    org = viewer.org_id
    rows = Customer.objects.visible_to(viewer)
    if data.get("q"):
        rows = rows.filter(pk__in=search_ids(org, data["q"]))
    if data.get("status") == "friend":
        rows = rows.filter(is_friend=True)
    elif data.get("status") == "lost":
        rows = rows.filter(is_friend=False)
    if data.get("added_from"):
        rows = rows.filter(first_added_at__gte=_local_day_start(data["added_from"]))
    if data.get("added_to"):
        rows = rows.filter(first_added_at__lt=_local_day_start(data["added_to"] + dt.timedelta(days=1)))
    sets, as_is = _semijoins(org, data), []
    for registered in extra_filters if extra_filters is not None else list_filters():
        value = data.get(registered.key)
        if not is_empty(value):
            semijoin = registered_semijoin(registered, value, viewer)
            if semijoin is not None:
                sets.append(semijoin)
            else:
                as_is.append((registered, value))
    rows = combine(rows, sets)
    for registered, value in as_is:
        rows = registered.apply(rows, value, viewer)
    return rows


# -- keyset pages ----------------------------------------------------------------------------------------
@dataclass
class KeysetPage:
    rows: list
    next_cursor: str | None = None
    prev_cursor: str | None = None
    sort: str = DEFAULT_SORT
    extra: dict = field(default_factory=dict)

    def __iter__(self):
        return iter(self.rows)

    def __len__(self):
        return len(self.rows)


def encode_cursor(value, pk: int) -> str:
    if isinstance(value, dt.datetime):
        value = {"t": value.isoformat()}
    raw = json.dumps([value, pk], ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str | None):
    """``(value, pk)`` or None for a missing or malformed cursor (a bad cursor means the first page)."""
    if not text:
        return None
    try:
        value, pk = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        if isinstance(value, dict):
            value = parse_datetime(value["t"])
            if value is None or timezone.is_naive(value):
                return None
        if not isinstance(pk, int) or not (value is None or isinstance(value, (str, dt.datetime))):
            return None
        return value, pk
    except (ValueError, TypeError, KeyError, UnicodeDecodeError):
        return None


def _order(column: str, descending: bool) -> list[str]:
    return [f"-{column}", "-pk"] if descending else [column, "pk"]


def _nulls_after(descending: bool) -> bool:
    """Where this database puts NULLs in this direction (PostgreSQL: largest; SQLite: smallest)."""
    largest = connection.features.nulls_order_largest
    return largest != descending


def _fetch(rows, column: str, descending: bool, cursor, limit: int) -> list:
    ordered = rows.order_by(*_order(column, descending))
    if cursor is None:
        return list(ordered[:limit])
    value, pk = cursor
    beyond, before = ("lt", "lte") if descending else ("gt", "gte")
    nulls_after = _nulls_after(descending)
    if value is None:  # inside the NULL block
        found = list(ordered.filter(**{f"{column}__isnull": True, f"pk__{beyond}": pk})[:limit])
        if not nulls_after and len(found) < limit:
            found += list(ordered.filter(**{f"{column}__isnull": False})[: limit - len(found)])
        return found
    # "column <= v AND (column < v OR id < pk)": the first part bounds the index range, the rest breaks ties.
    found = list(ordered.filter(Q(**{f"{column}__{before}": value})
                                & (Q(**{f"{column}__{beyond}": value}) | Q(**{f"pk__{beyond}": pk})))[:limit])
    if nulls_after and len(found) < limit:
        found += list(ordered.filter(**{f"{column}__isnull": True})[: limit - len(found)])
    return found


def _fits(cursor, kind):
    """The cursor if its value suits the sort column (a cursor made for another sort means the first page)."""
    if cursor is None or (cursor[0] is not None and not isinstance(cursor[0], kind)):
        return None
    return cursor


def keyset_page(rows, sort: str = DEFAULT_SORT, *, after: str | None = None, before: str | None = None,
                size: int | None = None) -> KeysetPage:
    """One page of ``rows`` in ``sort`` order after (or before) a cursor from a previous page."""
    size = size or PAGE_SIZE
    column, descending = SORTS.get(sort, SORTS[DEFAULT_SORT])
    kind = dt.datetime if column == "first_added_at" else str
    backwards = _fits(decode_cursor(before), kind) is not None
    cursor = _fits(decode_cursor(before if backwards else after), kind)
    found = _fetch(rows, column, descending != backwards, cursor, size + 1)
    more = len(found) > size
    found = found[:size]
    if backwards:
        found.reverse()
    page = KeysetPage(found, sort=sort)
    if found:
        first, last = found[0], found[-1]
        if more or backwards:
            page.next_cursor = encode_cursor(getattr(last, column), last.pk)
        if (more and backwards) or (cursor is not None and not backwards):
            page.prev_cursor = encode_cursor(getattr(first, column), first.pk)
    return page


COUNT_BUDGET = 0.5  # seconds the list may spend counting before it shows a page without the total


def _within(queryset, budget: float) -> list | None:
    """``list(queryset)``, or None when the database needs longer than ``budget`` seconds (it stops the query)."""
    from django.db import OperationalError

    connection.ensure_connection()
    if connection.vendor == "sqlite":
        deadline = time.monotonic() + budget
        raw = connection.connection
        raw.set_progress_handler(lambda: time.monotonic() > deadline, 20_000)
        try:
            return list(queryset)
        except OperationalError as error:
            if "interrupted" in str(error):
                return None
            raise
        finally:
            raw.set_progress_handler(None, 0)
    if connection.vendor == "postgresql":
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL statement_timeout = %s", [max(1, int(budget * 1000))])
                found = list(queryset)
                cursor.execute("SET LOCAL statement_timeout TO DEFAULT")
                return found
        except OperationalError:  # QueryCanceled; the savepoint's rollback also undid the SET LOCAL
            return None
    return list(queryset)


def list_page(rows, org, sort: str = DEFAULT_SORT, *, after: str | None = None, before: str | None = None,
              size: int | None = None) -> KeysetPage:
    """A keyset page *and* the total (exact up to :data:`COUNT_CAP`) from one read of the filtered rows.

    The ids of the first ``COUNT_CAP + 1`` matching rows, in page order, come back in one query: when that is all
    of them, the count is exact and the page is cut from that list by its cursor (its customers are then read
    by id). Beyond the cap the count shows as "more than", and a page past the first ``COUNT_CAP`` rows is read
    with its cursor like :func:`keyset_page`. So a page view evaluates the filters once, not once for the page
    and once more for a COUNT. Filters so sparse that finding ``COUNT_CAP`` rows takes longer than
    :data:`COUNT_BUDGET` get their page alone, with the total shown as unknown (``count`` None).
    """
    size = size or PAGE_SIZE
    column, descending = SORTS.get(sort, SORTS[DEFAULT_SORT])
    keys = _within(rows.order_by(*_order(column, descending)).values_list("pk", flat=True)[: COUNT_CAP + 1], COUNT_BUDGET)
    if keys is None:
        page = keyset_page(rows, sort, after=after, before=before, size=size)
        page.extra.update(count=None, exact=False)
        return page
    exact = len(keys) <= COUNT_CAP
    position = {pk: i for i, pk in enumerate(keys)}
    kind = dt.datetime if column == "first_added_at" else str
    back, ahead = _fits(decode_cursor(before), kind), _fits(decode_cursor(after), kind)
    if back is not None and back[1] in position:
        end = position[back[1]]
        start = max(0, end - size)
    elif back is None and ahead is not None and ahead[1] in position:
        start = position[ahead[1]] + 1
        end = start + size
    elif back is None and ahead is None:
        start, end = 0, size
    else:  # the cursor's row left the list (or lies beyond the cap): read the page by its cursor
        start = end = None
    if start is None or (end > len(keys) and not exact):
        page = keyset_page(rows, sort, after=after, before=before, size=size)
        page.extra.update(count=len(keys) if exact else COUNT_CAP, exact=exact)
        return page
    window = keys[start:end]
    found = Customer.objects.for_org(org).in_bulk(window)
    page = KeysetPage([found[pk] for pk in window if pk in found], sort=sort)
    if page.rows:
        first, last = page.rows[0], page.rows[-1]
        if start > 0:
            page.prev_cursor = encode_cursor(getattr(first, column), first.pk)
        if end < len(keys):
            page.next_cursor = encode_cursor(getattr(last, column), last.pk)
    page.extra.update(count=len(keys) if exact else COUNT_CAP, exact=exact)
    return page


# -- decorating a page -------------------------------------------------------------------------------------
@dataclass
class Row:
    customer: Customer
    relations: list = field(default_factory=list)
    tags: list = field(default_factory=list)
    cells: list = field(default_factory=list)  # (column, text) of the shown columns; text only for registered ones

    @property
    def staff_names(self) -> list[str]:
        return [str(r.staff) for r in self.relations]

    @property
    def store_names(self) -> list[str]:
        return list(dict.fromkeys(r.staff.store.name for r in self.relations if r.staff.store_id))

    @property
    def remark(self) -> str:
        return next((r.remark for r in self.relations if r.remark), "")


def decorate(org, customers: list[Customer], *, max_tags: int = 6) -> list[Row]:
    """The page's customers with their staff relations and tags: three queries for the whole page."""
    rows = {c.pk: Row(c) for c in customers}
    if not rows:
        return []
    # The encrypted columns are not shown here; leaving them out saves a decryption per row.
    for relation in (Relation.objects.for_org(org).filter(customer_id__in=rows).select_related("staff", "staff__store")
                     .defer("remark_mobiles", "staff__mobile").order_by("customer_id", "status", "added_at")):
        rows[relation.customer_id].relations.append(relation)
    seen: dict[int, set] = {pk: set() for pk in rows}
    links = (RelationTag.objects.for_org(org).filter(relation__customer_id__in=rows, tag__deleted=False)
             .select_related("tag").values_list("relation__customer_id", "tag_id", "tag__name", "tag__kind")
             .order_by("relation__customer_id", "tag__kind", "tag_id"))
    for customer_id, tag_id, name, kind in links:
        if tag_id not in seen[customer_id]:
            seen[customer_id].add(tag_id)
            rows[customer_id].tags.append({"id": tag_id, "name": name, "kind": kind})
    for row in rows.values():
        row.tags = row.tags[:max_tags] + ([{"more": len(row.tags) - max_tags}] if len(row.tags) > max_tags else [])
    return [rows[c.pk] for c in customers]


# -- the profile -------------------------------------------------------------------------------------------
def relations_of(customer):
    return (Relation.objects.for_org(customer.org_id).filter(customer=customer)
            .select_related("staff", "staff__store").order_by("status", "added_at", "pk"))


@dataclass
class TagOnCustomer:
    tag: Tag
    links: list = field(default_factory=list)  # RelationTag rows: which staff, which source, when


def tags_of(customer) -> list[TagOnCustomer]:
    """Each live tag on the customer with where it came from: per staff relation, its source and time."""
    found: dict[int, TagOnCustomer] = {}
    links = (RelationTag.objects.for_org(customer.org_id).filter(relation__customer=customer, tag__deleted=False)
             .select_related("tag", "tag__group", "tag__owner", "relation__staff").order_by("created_at", "pk"))
    for link in links:
        found.setdefault(link.tag_id, TagOnCustomer(link.tag)).links.append(link)
    return sorted(found.values(), key=lambda t: (t.tag.kind, -(t.tag.group.order if t.tag.group else 0),
                                                 t.tag.group_id or 0, -t.tag.order, t.tag.pk))


def notes_of(customer, limit: int = 20):
    return Note.objects.for_org(customer.org_id).filter(customer=customer).select_related("author", "staff")[:limit]


def follow_ups_of(customer):
    return (FollowUp.objects.for_org(customer.org_id).filter(customer=customer)
            .select_related("assignee", "created_by").order_by("status", "due_at", "pk"))


def timeline_page(customer, after: str | None = None, size: int = TIMELINE_PAGE) -> KeysetPage:
    """The customer's timeline, newest first, ``size`` events after the ``after`` cursor."""
    events = TimelineEvent.objects.for_org(customer.org_id).filter(customer=customer).select_related("staff", "actor")
    cursor = _fits(decode_cursor(after), dt.datetime)
    if cursor is not None and cursor[0] is None:
        cursor = None
    found = _fetch(events, "occurred_at", True, cursor, size + 1)
    page = KeysetPage(found[:size])
    if len(found) > size:
        last = found[size - 1]
        page.next_cursor = encode_cursor(last.occurred_at, last.pk)
    return page
