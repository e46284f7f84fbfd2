"""OneID for many identifier groups at once (order imports, event normalization, the benchmark).

The answer is what calling :func:`siyu.cdp.identity.resolve` once per group would give, computed with a few
queries: the groups are clustered in memory by union-find over their identifiers, and every cluster that touches
no stored person, or exactly one, is written in bulk (new persons, new identifiers). The rare clusters that would
merge stored persons, exceed a per-type cap or reach a WeCom customer's remark phone go through ``resolve`` one
group at a time, so the guards, the review queue and the explanations apply to them unchanged.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from django.db import connection, transaction
from django.utils import timezone

from siyu.cdp import identity
from siyu.cdp.identity import CAPS, Ident, Kind
from siyu.cdp.models import BlockedValue, Identifier, Person, Suppression
from siyu.privacy.keys import keyring

CHUNK = 500  # rows per IN (...) lookup: well under SQLite's bound-parameter limit


class _UnionFind:
    def __init__(self):
        self.parent: dict = {}

    def find(self, node):
        parent = self.parent
        root = parent.setdefault(node, node)
        while root != parent[root]:
            parent[root] = parent[parent[root]]  # path halving keeps later finds short
            root = parent[root]
        return root

    def union(self, a, b) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _prepare(groups: list[list[Ident]]) -> list[list[tuple[str, str, str, str]]]:
    """Each group's usable (kind, namespace, normalized, index), house-blocked and invalid values dropped."""
    indexers, known = {}, {}  # one keyed hash per distinct identifier, however often it is named
    prepared = []
    for group in groups:
        entries, seen = [], set()
        for ident in group:
            entry = known.get(ident)
            if entry is None:
                try:
                    normalized = identity.normalize(ident.kind, ident.value)
                except ValueError:
                    continue
                purpose = (ident.kind, ident.namespace)
                if purpose not in indexers:
                    indexers[purpose] = keyring().blind_indexer(f"identifier:{ident.kind}:{ident.namespace}")
                entry = known[ident] = (ident.kind, ident.namespace, normalized, indexers[purpose](normalized))
            if entry not in seen:
                seen.add(entry)
                entries.append(entry)
        prepared.append(entries)
    return prepared


def _org_blocked(org_id, prepared) -> set[tuple[str, str]]:
    if not BlockedValue.objects.for_org(org_id).exists():
        return set()
    wanted = {(kind, identity.blocked_index(kind, normalized)) for entries in prepared
              for kind, _ns, normalized, _i in entries}
    found = set()
    for chunk in _chunks([index for _k, index in wanted]):
        found |= set(BlockedValue.objects.for_org(org_id).filter(value_index__in=chunk)
                     .values_list("kind", "value_index"))
    return {pair for pair in wanted if pair in found}


def _stored(model, org_id, indexes: list[str], fields: tuple[str, ...]) -> list[tuple]:
    """``fields`` of ``model``'s rows of ``org_id`` with one of ``indexes``: raw chunked reads (a million
    look-ups through the ORM's query building cost more than the database's index probes)."""
    table, columns = model._meta.db_table, ", ".join(fields)
    rows = []
    with connection.cursor() as cursor:
        for chunk in _chunks(indexes, 900):
            cursor.execute(f"SELECT {columns} FROM {table} WHERE org_id = %s AND value_index IN "
                           f"({', '.join(['%s'] * len(chunk))})", [org_id, *chunk])
            rows += cursor.fetchall()
    return rows


def _remark_phones(org_id, phones: set[str]) -> set[str]:
    """The phones (normalized) that a WeCom customer's remark holds."""
    from siyu.customers.models import CustomerPhone

    by_index = {keyring().blind_index(p, purpose="phone"): p for p in phones}
    found = set()
    for chunk in _chunks(list(by_index)):
        found |= set(CustomerPhone.objects.for_org(org_id).filter(phone_index__in=chunk)
                     .values_list("phone_index", flat=True))
    return {by_index[index] for index in found}


def resolve_many(org, groups: list[list[Ident]], *, source: str = "") -> list[int | None]:
    """The person id each group of identifiers belongs to (None for a group with no usable identifier or with an
    erased person's), as if :func:`~siyu.cdp.identity.resolve` had been called on each group in turn."""
    org_id = getattr(org, "pk", org)
    prepared = _prepare(groups)
    blocked = _org_blocked(org_id, prepared)
    if blocked:
        prepared = [[e for e in entries if (e[0], identity.blocked_index(e[0], e[2])) not in blocked]
                    for entries in prepared]
    indexes = list({e[3] for entries in prepared for e in entries})
    erased = {(k, ns, i) for k, ns, i in _stored(Suppression, org_id, indexes, ("kind", "namespace", "value_index"))}
    held = {(k, ns, i): p for k, ns, i, p in _stored(Identifier, org_id, indexes,
                                                     ("kind", "namespace", "value_index", "person_id"))}
    survivors = _survivors(org_id, set(held.values()))

    uf = _UnionFind()
    live = []  # indexes of the groups that take part
    for n, entries in enumerate(prepared):
        keys = [(k, ns, i) for k, ns, _v, i in entries]
        if not keys or any(key in erased for key in keys):
            continue
        live.append(n)
        for key in keys:
            uf.union(keys[0], key)
            if key in held:
                uf.union(keys[0], ("person", survivors[held[key]]))

    clusters: dict = defaultdict(list)
    for n in live:
        entries = prepared[n]
        clusters[uf.find((entries[0][0], entries[0][1], entries[0][3]))].append(n)
    phones = {e[2] for n in live for e in prepared[n] if e[0] == Kind.PHONE and (e[0], e[1], e[3]) not in held}
    remarked = _remark_phones(org_id, phones) if phones else set()

    answer: list[int | None] = [None] * len(groups)
    slow, bulk = [], []
    for members in clusters.values():
        entries = {(e[0], e[1], e[3]): e for n in members for e in prepared[n]}
        owners = {survivors[held[key]] for key in entries if key in held}
        new = [e for key, e in entries.items() if key not in held]
        kinds = Counter(e[0] for e in new)
        if len(owners) > 1 or any(e[2] in remarked for e in new if e[0] == Kind.PHONE) or \
                any(count > CAPS[kind] for kind, count in kinds.items()) or (owners and new):
            slow.append(members)
        else:
            bulk.append((members, owners.pop() if owners else None, new))
    with transaction.atomic():
        _write(org_id, bulk, answer, source)
    for members in slow:
        for n in members:
            answer[n] = identity.resolve(org_id, groups[n], source=source).pk
    return answer


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


def _write(org_id, bulk, answer, source: str) -> None:
    """New persons for the clusters nobody holds, their identifiers in bulk; known single owners as they are."""
    fresh = [item for item in bulk if item[1] is None]
    person_ids = _insert_persons(org_id, len(fresh), source)
    rows = []
    for (members, _owner, new), person_id in zip(fresh, person_ids, strict=True):
        for n in members:
            answer[n] = person_id
        rows += [(person_id, k, ns, v, i) for k, ns, v, i in new]
    _insert_identifiers(org_id, rows, source)
    for members, owner, _new in bulk:
        if owner is not None:
            for n in members:
                answer[n] = owner


# Raw multi-row inserts: the ORM's per-object bookkeeping costs more than the database does at a million rows.
def _db_values(obj, fields) -> list:
    return [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields]


def _insert_persons(org_id, count: int, source: str) -> list[int]:
    """Insert ``count`` new persons of ``org_id``; their ids in order. Call inside a transaction."""
    if not count:
        return []
    fields = [f for f in Person._meta.concrete_fields if not f.primary_key]
    row = _db_values(Person(org_id=org_id, sources=[source] if source else []), fields)
    table, columns = Person._meta.db_table, ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                           [table, count])
            ids = [pk for (pk,) in cursor.fetchall()]
            cursor.executemany(f"INSERT INTO {table} (id, {columns}) VALUES (%s, {', '.join(['%s'] * len(fields))})",
                               [[pk, *row] for pk in ids])
            return ids
        # SQLite: the transaction holds the database's write lock, so the rows get consecutive ids.
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})",
                           [row] * count)
        cursor.execute("SELECT last_insert_rowid()")
        last = cursor.fetchone()[0]
    return list(range(last - count + 1, last + 1))


def _insert_identifiers(org_id, rows: list[tuple], source: str) -> None:
    """Insert identifiers (person_id, kind, namespace, normalized value, index), values encrypted."""
    value = Identifier._meta.get_field("value")
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    table = Identifier._meta.db_table
    sql = (f"INSERT INTO {table} (org_id, person_id, kind, namespace, value, value_index, source, created_at) "
           "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)")
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 5000):
            cursor.executemany(sql, [(org_id, person_id, kind, ns, value.get_db_prep_save(v, connection), index,
                                      source[:40], now)
                                     for person_id, kind, ns, v, index in rows[start:start + 5000]])
