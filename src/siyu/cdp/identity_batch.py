"""OneID for many identifier groups at once (order imports, event normalization, the benchmark).

The answer is what calling :func:`siyu.cdp.identity.resolve` once per group would give, computed with a few
queries: the groups are clustered in memory by union-find over their identifiers, and every cluster that touches
no stored person, or exactly one, is written in bulk (new persons, new identifiers). The rare clusters that would
merge stored persons, exceed a per-type cap or reach a WeCom customer's remark phone go through ``resolve`` one
group at a time, so the guards, the review queue and the explanations apply to them unchanged.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from itertools import chain, islice
from typing import NamedTuple

from django.db import connection, transaction
from django.utils import timezone

from siyu.cdp import identity
from siyu.cdp.bulk_sqlite import bulk_writes
from siyu.cdp.identifier_values import digest_all, seal_all
from siyu.cdp.identity import CAPS, KINDS, Ident
from siyu.cdp.models import BlockedValue, Identifier, Person, Suppression
from siyu.orgs.models import Organization
from siyu.privacy.keys import keyring

CHUNK = 500  # rows per IN (...) lookup: well under SQLite's bound-parameter limit
SCAN_FROM = 10_000  # identifiers in a batch from which stored rows are read by one scan when they are fewer
WRITE_CHUNK = 5000  # identifiers encrypted and written at a time


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


class Columns(NamedTuple):
    """The distinct identifiers of a batch as columns, one position ("slot") per identifier: a million
    identifiers as five lists of strings rather than a million tuples."""

    kinds: list[str]
    namespaces: list[str]
    values: list[str]  # canonical
    indexes: list[str]
    phones: list[str]  # a phone's "phone"-purpose index (WeCom remark phones), "" otherwise


def _prepare(groups: list[list[Ident]]) -> tuple[Columns, list[list[int]]]:
    """The distinct usable identifiers of the groups, and each group as the slots of its identifiers; invalid
    values dropped. Every distinct identifier is hashed once however often it is named, and two spellings of one
    value (``+86 138…`` and ``138…``) are one identifier."""
    by_purpose: dict = {}  # (kind, namespace) -> its distinct identifiers: each hashed in one run
    for ident in dict.fromkeys(chain.from_iterable(groups)):
        by_purpose.setdefault((ident[0], ident[2]), []).append(ident)
    distinct, kinds, namespaces, normalized, indexes, phones = [], [], [], [], [], []
    ring = keyring()
    for (kind, namespace), idents in by_purpose.items():
        for column, part in zip((normalized, indexes, phones),
                                digest_all(ring, kind, namespace, [ident[1] for ident in idents]), strict=True):
            column += part
        distinct += idents
        kinds += [kind] * len(idents)
        namespaces += [namespace] * len(idents)
    position = dict(zip(distinct, range(len(distinct))))
    if None not in normalized and KINDS.issuperset(kinds) and len(set(indexes)) == len(indexes):
        # Every identifier usable and spelled once: the positions are the slots.
        return Columns(kinds, namespaces, normalized, indexes, phones), _regroup(groups, position)
    columns, slot_of, by_index = Columns([], [], [], [], []), [], {}
    for n, kind in enumerate(kinds):
        if normalized[n] is None or kind not in KINDS:
            slot_of.append(-1)
            continue
        slot = by_index.setdefault(indexes[n], len(columns.kinds))
        if slot == len(columns.kinds):
            for column, value in zip(columns, (kind, namespaces[n], normalized[n], indexes[n], phones[n]),
                                     strict=True):
                column.append(value)
        slot_of.append(slot)
    return columns, [[slot_of[position[ident]] for ident in group if slot_of[position[ident]] >= 0]
                     for group in groups]


def _regroup(groups: list[list[Ident]], position: dict) -> list:
    """Each group as the positions of its identifiers, mapped in one pass over all of them; groups of one size
    (the usual pairs of an identify or alias call) are cut from that pass as tuples without a loop per group."""
    flat = list(map(position.__getitem__, chain.from_iterable(groups)))
    sizes = set(map(len, groups))
    if len(sizes) == 1 and (size := sizes.pop()):
        return list(zip(*[iter(flat)] * size, strict=True))
    named = iter(flat)
    return [list(islice(named, len(group))) for group in groups]


def _org_blocked(org_id, ids: Columns) -> set[int]:
    """The slots of the identifiers the organization's block list holds."""
    if not BlockedValue.objects.for_org(org_id).exists():
        return set()
    wanted = [(kind, identity.blocked_index(kind, value)) for kind, value in zip(ids.kinds, ids.values, strict=True)]
    found = set()
    for chunk in _chunks(list({index for _k, index in wanted})):
        found |= set(BlockedValue.objects.for_org(org_id).filter(value_index__in=chunk)
                     .values_list("kind", "value_index"))
    return {slot for slot, pair in enumerate(wanted) if pair in found}


def _stored(model, org_id, indexes: list[str], fields: tuple[str, ...], *,
            column: str = "value_index") -> list[tuple]:
    """``fields`` of ``model``'s rows of ``org_id`` whose ``column`` is one of ``indexes``: raw reads (a million
    look-ups through the ORM's query building cost more than the database's index probes). For a large batch, when
    the organization holds fewer rows than the batch names (its first big import), they are read in one scan and
    matched in memory instead of probing the index once per name."""
    table, columns = model._meta.db_table, ", ".join(fields)
    rows = []
    with connection.cursor() as cursor:
        if len(indexes) >= SCAN_FROM:
            cursor.execute(f"SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE org_id = %s LIMIT %s) AS bounded",
                           [org_id, len(indexes) + 1])
            if cursor.fetchone()[0] <= len(indexes):
                wanted = set(indexes)
                cursor.execute(f"SELECT {column}, {columns} FROM {table} WHERE org_id = %s", [org_id])
                return [row[1:] for row in cursor.fetchall() if row[0] in wanted]
        for chunk in _chunks(indexes, 900):
            cursor.execute(f"SELECT {columns} FROM {table} WHERE org_id = %s AND {column} IN "
                           f"({', '.join(['%s'] * len(chunk))})", [org_id, *chunk])
            rows += cursor.fetchall()
    return rows


def _remark_phones(org_id, phone_indexes: set[str]) -> set[str]:
    """Of these "phone"-purpose indexes, those a WeCom customer's remark holds."""
    from siyu.customers.models import CustomerPhone

    return {index for (index,) in _stored(CustomerPhone, org_id, list(phone_indexes), ("phone_index",),
                                          column="phone_index")}


def resolve_many(org, groups: list[list[Ident]], *, source: str = "") -> list[int | None]:
    """The person id each group of identifiers belongs to (None for a group with no usable identifier or with an
    erased person's), as if :func:`~siyu.cdp.identity.resolve` had been called on each group in turn."""
    org_id = getattr(org, "pk", org)
    ids, slots = _prepare(groups)
    bulk, slow, answer = _plan(org_id, ids, slots)
    fresh = [item for item in bulk if item[1] is None]
    with bulk_writes(sum(len(new) for _m, _o, new in fresh)), transaction.atomic():
        _write(org_id, ids, bulk, fresh, answer, source)
    for members in slow:
        for n in members:
            answer[n] = identity.resolve(org_id, groups[n], source=source).pk
    return answer


def _plan(org_id, ids: Columns, groups: list[list[int]]):
    """Cluster the groups with what is stored: (bulk clusters as (members, owner or None, slots of the new
    identifiers), clusters that need :func:`~siyu.cdp.identity.resolve` one group at a time, the answer list to
    fill)."""
    blocked = _org_blocked(org_id, ids)
    if blocked:
        groups = [[slot for slot in group if slot not in blocked] for group in groups]
    # An index names its kind and namespace (they are in the MAC's purpose), so it alone is the identifier's key.
    indexes, kinds, phones = ids.indexes, ids.kinds, ids.phones
    erased = {i for (i,) in _stored(Suppression, org_id, indexes, ("value_index",))}
    held = dict(_stored(Identifier, org_id, indexes, ("value_index", "person_id")))
    survivors = _survivors(org_id, set(held.values()))
    if erased:
        erased = {slot for slot, index in enumerate(indexes) if index in erased}
        live = [n for n, group in enumerate(groups) if group and not any(slot in erased for slot in group)]
    else:
        live = [n for n, group in enumerate(groups) if group]

    # The identifiers of the groups that take part.
    everyone = len(live) == len(groups) and not blocked
    named = range(len(indexes)) if everyone else {slot for n in live for slot in groups[n]}

    # Union-find over the identifiers (slots: a million finds are most of the work), plus one node per stored
    # person its stored identifiers join: groups that name the same identifier, or identifiers of the same stored
    # person, are one cluster.
    parent = list(range(len(indexes)))

    def find(n: int) -> int:
        while parent[n] != n:
            parent[n] = parent[parent[n]]  # path halving keeps later finds short
            n = parent[n]
        return n

    if held:
        node_of: dict = {}
        for slot in named:
            if indexes[slot] in held:
                node = node_of.setdefault(survivors[held[indexes[slot]]], len(parent))
                if node == len(parent):
                    parent.append(node)
                root = find(slot)
                if root != find(node):
                    parent[root] = find(node)
    for n in live:  # find() inlined: this loop runs once per group
        group = groups[n]
        first = group[0]
        while parent[first] != first:
            parent[first] = parent[parent[first]]
            first = parent[first]
        for slot in group:
            while parent[slot] != slot:
                parent[slot] = parent[parent[slot]]
                slot = parent[slot]
            if slot != first:
                parent[slot] = first
    # Every node straight to its root; in slot order most parents are roots already, so few calls are made.
    for node in range(len(parent)):
        up = parent[node]
        if parent[up] != up:
            parent[node] = find(up)

    members_of: dict = defaultdict(list)  # root -> member groups
    for n in live:
        members_of[parent[groups[n][0]]].append(n)
    slots_of: dict = defaultdict(list)  # root -> identifier slots
    for slot in named:
        slots_of[parent[slot]].append(slot)
    if held:
        phone_indexes = {phones[slot] for slot in named if phones[slot] and indexes[slot] not in held}
    else:
        phone_indexes = {phone for phone in phones if phone} if everyone else {phones[s] for s in named if phones[s]}
    remarked = _remark_phones(org_id, phone_indexes) if phone_indexes else set()

    slow, bulk = [], []
    for root, slots in slots_of.items():
        members = members_of[root]
        if held:
            owners = {survivors[held[indexes[slot]]] for slot in slots if indexes[slot] in held}
            new = [slot for slot in slots if indexes[slot] not in held]
        else:
            owners, new = set(), slots
        over_cap = len(new) > 1 and len(set(map(kinds.__getitem__, new))) != len(new) and \
            any(c > CAPS[k] for k, c in Counter(map(kinds.__getitem__, new)).items())
        if len(owners) > 1 or (owners and new) or over_cap or \
                (remarked and any(phones[slot] in remarked for slot in new)):
            slow.append(members)
        else:
            bulk.append((members, owners.pop() if owners else None, new))
    return bulk, slow, [None] * len(groups)


def _survivors(org_id, person_ids: set[int]) -> dict[int, int]:
    """person id -> the id of the person it lives in now (merges followed)."""
    merged = {}
    for chunk in _chunks(list(person_ids)):
        merged.update(Person.objects.for_org(org_id).filter(pk__in=chunk).values_list("pk", "merged_into_id"))
    result = {}
    for pk in person_ids:
        current, seen = pk, set()
        while merged.get(current) and current not in seen:
            seen.add(current)
            nxt = merged[current]
            if nxt not in merged:
                merged.update(Person.objects.for_org(org_id).filter(pk=nxt).values_list("pk", "merged_into_id"))
            current = nxt
        result[pk] = current
    return result


def _write(org_id, ids: Columns, bulk, fresh, answer, source: str) -> None:
    """New persons for the clusters nobody holds (``fresh``) and their identifiers; known single owners as they
    are."""
    person_ids = _insert_persons(org_id, len(fresh), source)
    # Checked here, with the write lock held, because a large batch may be written without foreign-key checks.
    if person_ids and not Organization.objects.filter(pk=org_id).exists():
        raise Organization.DoesNotExist(org_id)
    person_of = [0] * len(ids.indexes)
    for (members, _owner, new), person_id in zip(fresh, person_ids, strict=True):
        for n in members:
            answer[n] = person_id
        for slot in new:
            person_of[slot] = person_id
    # In value-index order: each kind's rows then land one after the other in the unique index (org, kind,
    # namespace, index) instead of at random pages of it, which is most of the cost of a large batch.
    slots = sorted(chain.from_iterable(new for _members, _owner, new in fresh), key=ids.indexes.__getitem__)
    _insert_identifiers(org_id, ids, slots, person_of, source)
    for members, owner, _new in bulk:
        if owner is not None:
            for n in members:
                answer[n] = owner


def _insert_persons(org_id, count: int, source: str) -> list[int]:
    """Insert ``count`` new persons of ``org_id`` in one statement that generates the rows in the database (no
    per-row parameters); their ids. Call inside a transaction."""
    if not count:
        return []
    person = Person(org_id=org_id, sources=[source] if source else [])
    # The columns a new person leaves NULL are left out of the statement.
    given = [(f, f.pre_save(person, True)) for f in Person._meta.concrete_fields if not f.primary_key]
    fields = [f for f, value in given if value is not None]
    values = [f.get_db_prep_save(value, connection) for f, value in given if value is not None]
    table, columns = Person._meta.db_table, ", ".join(connection.ops.quote_name(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    if connection.vendor == "postgresql":
        sql = f"INSERT INTO {table} ({columns}) SELECT {placeholders} FROM generate_series(1, %s) RETURNING id"
        params = [*values, count]
    else:
        sql = (f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %s) "
               f"INSERT INTO {table} ({columns}) SELECT {placeholders} FROM n RETURNING id")
        params = [count, *values]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [pk for (pk,) in cursor.fetchall()]


STAGING = "cdp_identifier_staging"


def _insert_identifiers(org_id, ids: Columns, slots: list[int], person_of: list[int], source: str) -> None:
    """Insert the identifiers of ``slots`` for the persons ``person_of`` names, encrypting the values chunk by chunk:
    a thread writes one chunk while this one encrypts the next (the database driver releases the GIL while the
    database works, so the two overlap on a second core).

    On SQLite a large batch goes through a temporary table: each chunk is bound there (no indexes, no
    AUTOINCREMENT bookkeeping) and moved by one ``INSERT … SELECT``, which maintains the table's sequence and
    indexes once per chunk instead of once per row."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    columns = "org_id, kind, namespace, value_index, value, person_id, source, created_at"
    ring, source = keyring(), source[:40]
    staged = connection.vendor == "sqlite" and len(slots) >= WRITE_CHUNK
    with connection.cursor() as cursor, ThreadPoolExecutor(1, "identifier-writer") as writer:
        if staged:
            cursor.execute(f"CREATE TEMPORARY TABLE {STAGING} (kind, namespace, value_index, value, person_id)")

            def write(params):
                cursor.executemany(f"INSERT INTO {STAGING} VALUES (%s, %s, %s, %s, %s)", params)
                cursor.execute(f"INSERT INTO {Identifier._meta.db_table} ({columns}) SELECT %s, kind, namespace, "
                               f"value_index, value, person_id, %s, %s FROM {STAGING} ORDER BY rowid",
                               [org_id, source, now])
                cursor.execute(f"DELETE FROM {STAGING}")
        else:
            def write(params):
                cursor.executemany(f"INSERT INTO {Identifier._meta.db_table} ({columns}) VALUES (%s, %s, %s, %s, %s, "
                                   "%s, %s, %s)", [(org_id, *row, source, now) for row in params])
        pending = None
        for chunk in _chunks(slots, WRITE_CHUNK):
            get = chunk.__iter__
            params = list(zip(map(ids.kinds.__getitem__, get()), map(ids.namespaces.__getitem__, get()),
                              map(ids.indexes.__getitem__, get()),
                              seal_all(ring, list(map(ids.values.__getitem__, get()))),
                              map(person_of.__getitem__, get()), strict=True))
            if pending is not None:
                pending.result()
            pending = writer.submit(write, params)
        if pending is not None:
            pending.result()
        if staged:
            cursor.execute(f"DROP TABLE {STAGING}")
