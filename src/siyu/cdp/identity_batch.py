"""OneID for many identifier groups at once (order imports, event normalization, the benchmark).

The answer is what calling :func:`siyu.cdp.identity.resolve` once per group would give, computed with a few
queries: the groups are clustered in memory by union-find over their identifiers, and every cluster that touches
no stored person, or exactly one, is written in bulk (new persons, new identifiers). The rare clusters that would
merge stored persons, exceed a per-type cap or reach a WeCom customer's remark phone go through ``resolve`` one
group at a time, so the guards, the review queue and the explanations apply to them unchanged.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from django.db import transaction

from siyu.cdp import identity
from siyu.cdp.identity import CAPS, Ident, Kind
from siyu.cdp.models import BlockedValue, Identifier, Person, Suppression

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
    prepared = []
    for group in groups:
        entries, seen = [], set()
        for ident in group:
            try:
                normalized = identity.normalize(ident.kind, ident.value)
            except ValueError:
                continue
            index = identity.value_index(ident.kind, ident.namespace, normalized)
            if (ident.kind, ident.namespace, index) not in seen:
                seen.add((ident.kind, ident.namespace, index))
                entries.append((ident.kind, ident.namespace, normalized, index))
        prepared.append(entries)
    return prepared


def _org_blocked(org_id, prepared) -> set[tuple[str, str]]:
    wanted = {(kind, identity.blocked_index(kind, normalized)) for entries in prepared
              for kind, _ns, normalized, _i in entries}
    if not BlockedValue.objects.for_org(org_id).exists():
        return set()
    found = set()
    for chunk in _chunks([index for _k, index in wanted]):
        found |= set(BlockedValue.objects.for_org(org_id).filter(value_index__in=chunk)
                     .values_list("kind", "value_index"))
    return {pair for pair in wanted if pair in found}


def _stored(model, org_id, indexes: list[str], fields: tuple[str, ...]) -> list[tuple]:
    rows = []
    for chunk in _chunks(indexes):
        rows += list(model.objects.for_org(org_id).filter(value_index__in=chunk).values_list(*fields))
    return rows


def _remark_phones(org_id, phones: set[str]) -> set[str]:
    """The phones (normalized) that a WeCom customer's remark holds."""
    from siyu.customers.models import CustomerPhone
    from siyu.privacy.keys import keyring

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
    persons = Person.objects.bulk_create([Person(org_id=org_id, sources=[source] if source else [])
                                          for _ in fresh], batch_size=2000)
    rows = []
    for (members, _owner, new), person in zip(fresh, persons, strict=True):
        for n in members:
            answer[n] = person.pk
        rows += [Identifier(org_id=org_id, person_id=person.pk, kind=k, namespace=ns, value=v, value_index=i,
                            source=source[:40]) for k, ns, v, i in new]
    Identifier.objects.bulk_create(rows, batch_size=2000)
    for members, owner, _new in bulk:
        if owner is not None:
            for n in members:
                answer[n] = owner
