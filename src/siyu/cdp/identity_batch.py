"""OneID for many identifier groups at once (order imports, event normalization, the benchmark).

The answer is what calling :func:`siyu.cdp.identity.resolve` once per group would give, computed with a few
queries: the groups are clustered in memory by union-find over their identifiers, and every cluster that touches
no stored person, or exactly one, is written in bulk (new persons, new identifiers). The rare clusters that would
merge stored persons, exceed a per-type cap or reach a WeCom customer's remark phone go through ``resolve`` one
group at a time, so the guards, the review queue and the explanations apply to them unchanged.

A large batch hashes and encrypts its identifiers in a second process (:mod:`siyu.cdp.identifier_crypto`) while
this one clusters them and writes them: canonical values are enough to cluster, the keyed indexes are needed only
to look up what is stored, and the ciphertexts only to write.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from itertools import chain, compress, count, islice, repeat
from operator import itemgetter
from typing import NamedTuple

import msgspec

from django.db import connection, transaction
from django.utils import timezone

from siyu.cdp import identity
from siyu.cdp.bulk_sqlite import bulk_writes
from siyu.cdp.identifier_crypto import batch_crypto
from siyu.cdp.identifier_values import canonical_all
from siyu.cdp.identity import CAPS, KINDS, Ident
from siyu.cdp.models import BlockedValue, Identifier, Person, Suppression
from siyu.orgs.models import Organization
from siyu.privacy.keys import keyring

CHUNK = 500  # rows per IN (...) lookup: well under SQLite's bound-parameter limit
SCAN_FROM = 10_000  # identifiers in a batch from which stored rows are read by one scan when they are fewer
WRITE_CHUNK = 10_000  # identifiers encrypted and written at a time


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


class Columns(NamedTuple):
    """The distinct identifiers of a batch as columns, one position ("slot") per identifier: a million
    identifiers as lists of strings rather than a million tuples. The slots of one kind and namespace are
    consecutive (``spans``), the spans in (kind, namespace) order."""

    kinds: list[str]
    namespaces: list[str]
    values: list[str]  # canonical
    spans: list[tuple[str, str, int, int]]  # (kind, namespace, first slot, slot after the last)
    indexes: list[str] = []  # keyed indexes, known once hashed
    phones: list[str] = []  # a phone's "phone"-purpose index (WeCom remark phones), "" otherwise


def _distinct(groups: list[list[Ident]]) -> tuple[list[Ident], list[int]]:
    """The distinct identifiers the groups name, and every identifier named as its place among them."""
    place: dict = {}  # each identifier hashed once: a tuple does not keep its hash
    flat = [place.setdefault(ident, len(place)) for ident in chain.from_iterable(groups)]
    return list(place), flat


def _columns(groups: list[list[Ident]], named: list[Ident], flat: list[int], crypto) -> tuple[Columns, list]:
    """The distinct usable identifiers as columns, and each group as the slots of its identifiers; invalid values
    dropped. Every distinct identifier is canonicalized once however often it is named, and two spellings of one
    value (``+86 138…`` and ``138…``) are one identifier. Each kind's canonical values go to ``crypto`` as soon as
    they are known."""
    slot_of = [0] * len(named)  # place -> slot, -1 for an identifier that is none
    kinds, namespaces, values, spans, dropped = [], [], [], [], False
    for (kind, namespace), places in sorted(_by_purpose(named).items()):
        start = len(values)
        raw = list(map(itemgetter(1), map(named.__getitem__, places)))
        canon = canonical_all(kind, raw) if kind in KINDS else [None] * len(places)
        # The raw values of one purpose are distinct: only canonical values that differ from them can collide.
        if None in canon or (canon != raw and len(set(canon)) != len(canon)):
            dropped = True
            first: dict = {}
            for place, value in zip(places, canon, strict=True):
                if value is None:
                    slot_of[place] = -1
                    continue
                slot_of[place] = first.setdefault(value, len(values))
                if slot_of[place] == len(values):
                    values.append(value)
        else:
            deque(map(slot_of.__setitem__, places, count(start)), maxlen=0)  # a loop in C
            values += canon
        if len(values) > start:
            kinds += [kind] * (len(values) - start)
            namespaces += [namespace] * (len(values) - start)
            spans.append((kind, namespace, start, len(values)))
            crypto.add(kind, namespace, values[start:])
    return Columns(kinds, namespaces, values, spans), _regroup(groups, map(slot_of.__getitem__, flat), dropped)


def _by_purpose(named: list[Ident]) -> dict[tuple[str, str], list[int]]:
    """(kind, namespace) -> the places of its identifiers, ascending. Without namespaces (the usual batch), one pass
    in C per kind."""
    kinds = list(map(itemgetter(0), named))
    if any(map(itemgetter(2), named)):
        by_purpose: dict = {}
        for n, (kind, _value, namespace) in enumerate(named):
            by_purpose.setdefault((kind, namespace), []).append(n)
        return by_purpose
    return {(kind, ""): list(compress(range(len(kinds)), map(kind.__eq__, kinds))) for kind in set(kinds)}


def _regroup(groups: list[list[Ident]], flat, dropped: bool) -> list:
    """Each group as the slots of its identifiers, cut from one iterator over all of them; groups of one size (the
    usual pairs of an identify or alias call) are cut as tuples without a loop per group."""
    sizes, named = set(map(len, groups)), iter(flat)
    if not dropped and len(sizes) == 1 and (size := sizes.pop()):
        return list(zip(*[named] * size, strict=True))
    return [[slot for slot in islice(named, len(group)) if slot >= 0] for group in groups]


def _org_blocked(org_id, ids: Columns) -> set[int]:
    """The slots of the identifiers the organization's block list holds."""
    kinds = set(BlockedValue.objects.for_org(org_id).values_list("kind", flat=True).distinct())
    if not kinds:
        return set()
    wanted = {slot: (kind, identity.blocked_index(kind, ids.values[slot]))
              for kind, _namespace, start, end in ids.spans if kind in kinds for slot in range(start, end)}
    found = set()
    for chunk in _chunks(list({index for _kind, index in wanted.values()})):
        found |= set(BlockedValue.objects.for_org(org_id).filter(value_index__in=chunk)
                     .values_list("kind", "value_index"))
    return {slot for slot, pair in wanted.items() if pair in found}


def _clusters(size: int, groups: list, live: list[int]) -> tuple[list[int], int]:
    """Union-find over ``size`` slots joined by the ``live`` groups: each slot's root (one slot of its cluster),
    and how many clusters the slots form (a slot in no live group is one of its own)."""
    parent, unions = list(range(size)), 0
    these = list(map(groups.__getitem__, live))
    if set(map(len, these)) == {2}:  # the usual batch: the pairs of identify calls
        for a, b in these:  # find() inlined, path halving: this loop runs once per group
            while parent[a] != a:
                parent[a] = a = parent[parent[a]]
            while parent[b] != b:
                parent[b] = b = parent[parent[b]]
            if a != b:
                parent[b] = a
                unions += 1
    else:
        for group in these:
            first = group[0]
            while parent[first] != first:
                parent[first] = first = parent[parent[first]]
            for slot in group:
                while parent[slot] != slot:
                    parent[slot] = slot = parent[parent[slot]]
                if slot != first:
                    parent[slot] = first
                    unions += 1
    _flatten(parent)
    return parent, size - unions


def _flatten(parent: list[int]) -> None:
    """Every node straight to its root; in slot order most parents are roots already, so few walks are made."""
    for node in range(len(parent)):
        up = parent[node]
        if parent[up] != up:
            root = parent[up]
            while parent[root] != root:
                root = parent[root]
            while node != root:  # the whole path to the root
                parent[node], node = root, parent[node]


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
                cursor.execute(f"SELECT {column}, {columns} FROM {table} WHERE org_id = %s", [org_id])
                rows = cursor.fetchall()
                # The batch's indexes looked up among the stored ones, not a set of the batch's million made.
                wanted = {row[0] for row in rows}.intersection(indexes) if rows else ()
                return [row[1:] for row in rows if row[0] in wanted]
        for chunk in _chunks(indexes, 900):
            cursor.execute(f"SELECT {columns} FROM {table} WHERE org_id = %s AND {column} IN "
                           f"({', '.join(['%s'] * len(chunk))})", [org_id, *chunk])
            rows += cursor.fetchall()
    return rows


class Stored(NamedTuple):
    """What the organization already holds of a batch's identifiers."""

    erased: set[str]  # indexes in the suppression list
    held: dict[str, int]  # index -> the person it is stored for
    survivors: dict[int, int]  # each of those persons -> the person it lives in now (merges followed)
    remarked: set[str]  # the batch's phones ("phone"-purpose indexes) a WeCom customer's remark holds


def _read_stored(org_id, ids: Columns) -> Stored:
    """Every read the plan needs, done at once: the plan itself is then computed without the database, while the
    batch's writer thread may already be using the connection."""
    from siyu.customers.models import CustomerPhone

    indexes = ids.indexes
    held = dict(_stored(Identifier, org_id, indexes, ("value_index", "person_id")))
    phones = list({index for index in ids.phones if index})
    return Stored(erased={index for (index,) in _stored(Suppression, org_id, indexes, ("value_index",))},
                  held=held, survivors=_survivors(org_id, set(held.values())) if held else {},
                  remarked={index for (index,) in _stored(CustomerPhone, org_id, phones, ("phone_index",),
                                                          column="phone_index")} if phones else set())


class Plan(NamedTuple):
    root: list[int]  # each slot's cluster, named by its root (stored persons are nodes after the slots)
    fresh: int  # how many clusters are written as new persons
    written: list[int]  # the slots written as new identifiers, ascending
    owner: dict  # root -> the one stored person a cluster of known identifiers belongs to
    slow: list[list[int]]  # the member groups of each cluster that needs resolve() one group at a time
    live: list[int]  # the groups that take part


def resolve_many(org, groups: list[list[Ident]], *, source: str = "") -> list[int | None]:
    """The person id each group of identifiers belongs to (None for a group with no usable identifier or with an
    erased person's), as if :func:`~siyu.cdp.identity.resolve` had been called on each group in turn."""
    org_id = getattr(org, "pk", org)
    named, flat = _distinct(groups)
    with batch_crypto(keyring(), len(named)) as crypto:
        ids, slots = _columns(groups, named, flat, crypto)
        del named, flat
        blocked = _org_blocked(org_id, ids)
        if blocked:
            slots = [[slot for slot in group if slot not in blocked] for group in slots]
        live = [n for n, group in enumerate(slots) if group]
        root, clusters = _clusters(len(ids.values), slots, live)  # while the indexes are being computed
        ids = ids._replace(**dict(zip(("indexes", "phones"), crypto.indexes(), strict=True)))
        everyone = not blocked and len(live) == len(slots)
        with bulk_writes(len(ids.values)), transaction.atomic(), connection.cursor() as cursor, \
                ThreadPoolExecutor(1, "identity-writer") as writer:  # the database driver releases the GIL
            stored = _read_stored(org_id, ids)
            # Identifiers all new to the organization make a person of every cluster but the rare ones left to
            # resolve(): their persons are inserted while the plan is made, and any left over are deleted after.
            early = writer.submit(_insert_persons, cursor, org_id, clusters, source) \
                if everyone and not stored.held and not stored.erased else None
            plan = _plan(ids, slots, live, root, clusters, stored, everyone=everyone)
            person = _write(cursor, writer, org_id, ids, plan, crypto, source, early)
    if len(plan.live) == len(groups):
        answer = list(map(person.__getitem__, map(plan.root.__getitem__, map(itemgetter(0), slots))))
    else:
        answer = [None] * len(groups)
        for n in plan.live:
            answer[n] = person[plan.root[slots[n][0]]]
    for members in plan.slow:
        for n in members:
            answer[n] = identity.resolve(org_id, groups[n], source=source).pk
    return answer


def _plan(ids: Columns, groups: list, live: list[int], root: list[int], clusters: int, stored: Stored, *,
          everyone: bool) -> Plan:
    """Split the ``clusters`` with what is stored: new persons, known persons as they are, and the clusters for
    :func:`~siyu.cdp.identity.resolve`."""
    # An index names its kind and namespace (they are in the MAC's purpose), so it alone is the identifier's key.
    indexes, phones, held = ids.indexes, ids.phones, stored.held
    if erased := stored.erased:  # groups naming an erased person's identifier take no part: cluster again without them
        erased = {slot for slot, index in enumerate(indexes) if index in erased}
        live = [n for n in live if not any(slot in erased for slot in groups[n])]
        (root, clusters), everyone = _clusters(len(indexes), groups, live), False
    named = range(len(indexes)) if everyone else sorted({slot for n in live for slot in groups[n]})
    owners: dict = {}
    if held:
        root, owners = _join_stored(root, named, indexes, held, stored.survivors)
        new = [slot for slot in named if indexes[slot] not in held]
    else:
        new = named
    slow = {r for r, persons in owners.items() if len(persons) > 1}
    if owners:
        slow |= set(owners).intersection(map(root.__getitem__, new))
    phone_slots = []
    for kind, these in _by_kind(ids, new):
        # Over a cap: more new identifiers of one kind in a cluster than a person may hold.
        roots = list(map(root.__getitem__, these))
        if len(set(roots)) != len(roots):
            slow |= {r for r, count in Counter(roots).items() if count > CAPS[kind]}
        if kind == "phone":
            phone_slots = [slot for slot in these if phones[slot]]
    # A new phone that a WeCom customer's remark holds: resolve() links the customer and explains it.
    if remarked := stored.remarked:
        slow |= {root[slot] for slot in phone_slots if phones[slot] in remarked}

    written = [slot for slot in new if root[slot] not in slow and root[slot] not in owners] if slow or owners \
        else new
    members: dict = {r: [] for r in slow}
    if members:
        for n in live:
            if (r := root[groups[n][0]]) in members:
                members[r].append(n)
    # Every slot written: every cluster is a new person.
    fresh = clusters if everyone and written is named else len(set(map(root.__getitem__, written)))
    return Plan(root=root, fresh=fresh, written=written,
                owner={r: persons.pop() for r, persons in owners.items() if r not in slow},
                slow=list(members.values()),
                live=[n for n in live if root[groups[n][0]] not in members] if members else live)


def _by_kind(ids: Columns, slots):
    """(kind, the slots of that kind among ``slots``, ascending) for each kind; ``slots`` ascending."""
    for kind in dict.fromkeys(kind for kind, _namespace, _start, _end in ids.spans):
        spans = [(start, end) for k, _namespace, start, end in ids.spans if k == kind]
        yield kind, list(chain.from_iterable(slots[bisect_left(slots, start):bisect_left(slots, end)]
                                             for start, end in spans))


def _join_stored(root: list[int], named, indexes: list[str], held: dict,
                 survivors: dict[int, int]) -> tuple[list[int], dict]:
    """The clusters joined through stored persons (two clusters holding identifiers of one stored person are
    one), and root -> the stored persons each cluster holds."""
    parent, node_of = list(root), {}

    def find(n: int) -> int:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for slot in named:
        if (index := indexes[slot]) in held:
            node = node_of.setdefault(survivors[held[index]], len(parent))
            if node == len(parent):
                parent.append(node)
            a, b = find(slot), find(node)
            if a != b:
                parent[a] = b
    _flatten(parent)
    owners: dict = {}
    for person, node in node_of.items():
        owners.setdefault(parent[node], set()).add(person)
    return parent, owners


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


def _write(cursor, writer, org_id, ids: Columns, plan: Plan, crypto, source: str, early) -> list[int]:
    """New persons for the fresh clusters and their identifiers; the person id of each root (0 for a cluster
    left to resolve()). ``writer`` (one thread) does the writing: the persons, unless ``early`` is inserting them
    already, while this thread orders the identifiers, then each chunk of identifiers while this thread receives the
    next one encrypted."""
    persons = early or writer.submit(_insert_persons, cursor, org_id, plan.fresh, source)
    written = _in_index_order(crypto.index_order(), plan.written, len(ids.values))
    person_ids = persons.result()  # inserted early: one per cluster, so never fewer than the fresh ones
    # Checked here, with the write lock held, because a large batch may be written without foreign-key checks.
    if person_ids and not Organization.objects.filter(pk=org_id).exists():
        raise Organization.DoesNotExist(org_id)
    person = [0] * len(plan.root)
    for r, owner in plan.owner.items():
        person[r] = owner
    unused = iter(person_ids)
    _insert_identifiers(cursor, writer, org_id, ids, written, plan.root, person, unused, source, crypto)
    for chunk in _chunks(list(unused)):  # inserted early for clusters that resolve() takes after all
        cursor.execute(f"DELETE FROM {Person._meta.db_table} WHERE org_id = %s AND id IN "
                       f"({', '.join(['%s'] * len(chunk))})", [org_id, *chunk])
    return person


def _in_index_order(index_order: list[int], slots: list[int], size: int) -> list[int]:
    """``slots`` in the order of the unique index (organization, kind, namespace, value index), given every one
    of the ``size`` slots in that order (the spans are in (kind, namespace) order): each kind's rows then land one
    after the other in it instead of at random pages, which is most of the cost of a large batch."""
    if len(slots) == size:
        return index_order
    wanted = bytearray(size)
    deque(map(wanted.__setitem__, slots, repeat(1)), maxlen=0)  # loops in C
    return list(compress(index_order, map(wanted.__getitem__, index_order)))


def _insert_persons(cursor, org_id, count: int, source: str) -> list[int]:
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
        cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {placeholders} FROM generate_series(1, %s) "
                       "RETURNING id", [*values, count])
        return [pk for (pk,) in cursor.fetchall()]
    cursor.execute(f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %s) "
                   f"INSERT INTO {table} ({columns}) SELECT {placeholders} FROM n", [count, *values])
    # SQLite numbers one statement's rows consecutively (AUTOINCREMENT, and this transaction holds the write lock),
    # so the ids are the ``count`` up to the last one. Not RETURNING: the driver would take the GIL back for each
    # returned row, while the batch's main thread is busy planning.
    last = cursor.lastrowid
    return list(range(last - count + 1, last + 1))


def _insert_identifiers(cursor, writer, org_id, ids: Columns, slots: list[int], root: list[int], person: list[int],
                        new_persons, source: str, crypto) -> None:
    """Insert the identifiers of ``slots`` for the persons of their clusters (``person`` by ``root``; a cluster
    still at 0 takes the next of ``new_persons`` when its first identifier is written, so the person index too is
    written in order for the first kind), with their values encrypted by ``crypto`` chunk by chunk; ``writer``
    (one thread) writes each chunk.

    On SQLite each chunk is one statement over one JSON array of its rows (``json_each``), run by the driver
    itself: the database reads the rows in C, and the driver releases the GIL for the whole chunk instead of
    taking it back after every row."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    table, source = Identifier._meta.db_table, source[:40]
    columns = "org_id, kind, namespace, value_index, value, person_id, source, created_at"
    if connection.vendor == "sqlite":
        raw = cursor.connection
        insert = (f"INSERT INTO {table} ({columns}) SELECT ?, value ->> 0, value ->> 1, value ->> 2, value ->> 3, "
                  "value ->> 4, ?, ? FROM json_each(?)")

        def prepare(rows: list[tuple]) -> str:  # in this thread, which waits for the child's tokens anyway
            return msgspec.json.encode(rows).decode()

        def write(rows: str) -> None:
            raw.execute(insert, [org_id, source, now, rows])
    else:
        def prepare(rows: list[tuple]) -> list[tuple]:
            return [(org_id, *row, source, now) for row in rows]

        def write(rows: list[tuple]) -> None:
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", rows)
    pending = deque()  # chunks handed to the writer: the next one waits in its queue, so it never idles
    for start, tokens in zip(range(0, len(slots), WRITE_CHUNK), crypto.sealed(slots, WRITE_CHUNK), strict=True):
        chunk = slots[start:start + WRITE_CHUNK]
        roots = list(map(root.__getitem__, chunk))
        for r in [r for r in dict.fromkeys(roots) if not person[r]]:
            person[r] = next(new_persons)
        get = chunk.__iter__
        pending.append(writer.submit(write, prepare(list(zip(
            map(ids.kinds.__getitem__, get()), map(ids.namespaces.__getitem__, get()),
            map(ids.indexes.__getitem__, get()), tokens, map(person.__getitem__, roots), strict=True)))))
        if len(pending) > 2:
            pending.popleft().result()
    while pending:
        pending.popleft().result()
