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

from django.db import connection, transaction
from django.utils import timezone

from siyu.cdp import identity
from siyu.cdp.bulk_sqlite import bulk_writes
from siyu.cdp.identifier_values import digest_all, seal_all
from siyu.cdp.identity import CAPS, Ident
from siyu.cdp.models import BlockedValue, Identifier, Person, Suppression
from siyu.orgs.models import Organization
from siyu.privacy.keys import keyring

CHUNK = 500  # rows per IN (...) lookup: well under SQLite's bound-parameter limit


WRITE_CHUNK = 5000  # identifiers encrypted and written at a time


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


Entry = tuple[str, str, str, str, str]  # kind, namespace, normalized value, index, remark-phone index ("" if none)


def _prepare(groups: list[list[Ident]]) -> tuple[list[Entry], list[list[int]]]:
    """The distinct usable identifiers of the groups, and each group as the positions of its identifiers in that
    list; invalid values dropped. Every distinct identifier is hashed once however often it is named, and two
    spellings of one value (``+86 138…`` and ``138…``) are one identifier."""
    position: dict = {}
    named = [[position.setdefault(ident, len(position)) for ident in group] for group in groups]
    digests = digest_all(keyring(), [(ident.kind, ident.namespace, ident.value) for ident in position])
    kinds, entries, slot_of, by_index = identity.KINDS, [], [], {}
    for ident, digest in zip(position, digests, strict=True):
        if digest is None or ident.kind not in kinds:
            slot_of.append(-1)
            continue
        slot = by_index.setdefault(digest[1], len(entries))
        if slot == len(entries):
            entries.append((ident.kind, ident.namespace, *digest))
        slot_of.append(slot)
    if len(entries) == len(position):  # every identifier usable and spelled once: positions are the slots
        return entries, named
    return entries, [[slot_of[n] for n in group if slot_of[n] >= 0] for group in named]


def _org_blocked(org_id, entries: list[Entry]) -> set[int]:
    """The positions of the identifiers the organization's block list holds."""
    if not BlockedValue.objects.for_org(org_id).exists():
        return set()
    wanted = [(kind, identity.blocked_index(kind, normalized)) for kind, _ns, normalized, _i, _p in entries]
    found = set()
    for chunk in _chunks(list({index for _k, index in wanted})):
        found |= set(BlockedValue.objects.for_org(org_id).filter(value_index__in=chunk)
                     .values_list("kind", "value_index"))
    return {slot for slot, pair in enumerate(wanted) if pair in found}


def _stored(model, org_id, indexes: list[str], fields: tuple[str, ...], *,
            column: str = "value_index") -> list[tuple]:
    """``fields`` of ``model``'s rows of ``org_id`` whose ``column`` is one of ``indexes``: raw chunked reads (a million
    look-ups through the ORM's query building cost more than the database's index probes)."""
    table, columns = model._meta.db_table, ", ".join(fields)
    rows = []
    with connection.cursor() as cursor:
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
    bulk, slow, answer = _plan(org_id, *_prepare(groups))
    fresh = [item for item in bulk if item[1] is None]
    with bulk_writes(sum(len(new) for _m, _o, new in fresh)), transaction.atomic():
        _write(org_id, bulk, fresh, answer, source)
    for members in slow:
        for n in members:
            answer[n] = identity.resolve(org_id, groups[n], source=source).pk
    return answer


def _plan(org_id, entries: list[Entry], groups: list[list[int]]):
    """Cluster the groups with what is stored: (bulk clusters as (members, owner or None, new entries), clusters
    that need :func:`~siyu.cdp.identity.resolve` one group at a time, the answer list to fill)."""
    blocked = _org_blocked(org_id, entries)
    if blocked:
        groups = [[slot for slot in group if slot not in blocked] for group in groups]
    # An index names its kind and namespace (they are in the MAC's purpose), so it alone is the identifier's key.
    indexes = [e[3] for e in entries]
    erased = {i for (i,) in _stored(Suppression, org_id, indexes, ("value_index",))}
    held = dict(_stored(Identifier, org_id, indexes, ("value_index", "person_id")))
    survivors = _survivors(org_id, set(held.values()))
    if erased:
        erased = {slot for slot, e in enumerate(entries) if e[3] in erased}
        live = [n for n, group in enumerate(groups) if group and not any(slot in erased for slot in group)]
    else:
        live = [n for n, group in enumerate(groups) if group]

    # The identifiers of the groups that take part.
    named = range(len(entries)) if len(live) == len(groups) and not blocked else \
        {slot for n in live for slot in groups[n]}

    # Union-find over the identifiers (list positions: a million finds are most of the work), plus one node per
    # stored person its stored identifiers join: groups that name the same identifier, or identifiers of the same
    # stored person, are one cluster.
    parent = list(range(len(entries)))

    def find(n: int) -> int:
        while parent[n] != n:
            parent[n] = parent[parent[n]]  # path halving keeps later finds short
            n = parent[n]
        return n

    if held:
        node_of: dict = {}
        for slot in named:
            if entries[slot][3] in held:
                node = node_of.setdefault(survivors[held[entries[slot][3]]], len(parent))
                if node == len(parent):
                    parent.append(node)
                root = find(slot)
                if root != find(node):
                    parent[root] = find(node)
    for n in live:
        group = groups[n]
        first = find(group[0])
        for slot in group:
            other = find(slot)
            if other != first:
                parent[other] = first

    clusters: dict = defaultdict(lambda: ([], []))  # root -> (member groups, identifier positions)
    for n in live:
        clusters[find(groups[n][0])][0].append(n)
    for slot in named:
        clusters[find(slot)][1].append(slot)
    phone_indexes = {entries[slot][4] for slot in named if entries[slot][4] and entries[slot][3] not in held}
    remarked = _remark_phones(org_id, phone_indexes) if phone_indexes else set()

    slow, bulk = [], []
    for members, slots in clusters.values():
        owners = {survivors[held[entries[slot][3]]] for slot in slots if entries[slot][3] in held} if held else set()
        new = [entries[slot] for slot in slots if entries[slot][3] not in held]
        kinds = [e[0] for e in new]
        over_cap = len(set(kinds)) != len(kinds) and any(c > CAPS[k] for k, c in Counter(kinds).items())
        if len(owners) > 1 or (owners and new) or over_cap or \
                (remarked and any(e[4] in remarked for e in new if e[4])):
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


def _write(org_id, bulk, fresh, answer, source: str) -> None:
    """New persons for the clusters nobody holds (``fresh``) and their identifiers; known single owners as they
    are."""
    person_ids = _insert_persons(org_id, len(fresh), source)
    # Checked here, with the write lock held, because a large batch may be written without foreign-key checks.
    if person_ids and not Organization.objects.filter(pk=org_id).exists():
        raise Organization.DoesNotExist(org_id)
    for (members, _owner, _new), person_id in zip(fresh, person_ids, strict=True):
        for n in members:
            answer[n] = person_id
    # In value-index order: each kind's rows then land one after the other in the unique index (org, kind,
    # namespace, index) instead of at random pages of it, which is most of the cost of a large batch.
    rows = [(index, kind, namespace, value, person_id)
            for (_members, _owner, new), person_id in zip(fresh, person_ids, strict=True)
            for kind, namespace, value, index, _phone in new]
    rows.sort()
    _insert_identifiers(org_id, rows, source)
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


def _insert_identifiers(org_id, rows: list[tuple], source: str) -> None:
    """Insert identifiers (index, kind, namespace, canonical value, person id), encrypting the values chunk by
    chunk: a thread writes one chunk while this one encrypts the next (the database driver releases the GIL while
    the database works, so the two overlap on a second core)."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    sql = (f"INSERT INTO {Identifier._meta.db_table} (org_id, kind, namespace, value_index, value, person_id, source, "
           "created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)")
    ring, source = keyring(), source[:40]
    with connection.cursor() as cursor, ThreadPoolExecutor(1, "identifier-writer") as writer:
        pending = None
        for chunk in _chunks(rows, WRITE_CHUNK):
            tokens = seal_all(ring, [row[3] for row in chunk])
            params = [(org_id, kind, namespace, index, token, person_id, source, now)
                      for (index, kind, namespace, _value, person_id), token in zip(chunk, tokens, strict=True)]
            if pending is not None:
                pending.result()
            pending = writer.submit(cursor.executemany, sql, params)
        if pending is not None:
            pending.result()
