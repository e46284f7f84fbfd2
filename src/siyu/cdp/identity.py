"""OneID: which person an identifier belongs to.

Every touchpoint (tracking SDKs, order imports, the orders API, WeCom) hands its identifiers to :func:`resolve`,
which answers with the one person they belong to. Identifiers sent together are the same human, so the persons
holding them are merged (union-find over persons: each absorbed person points at its survivor), unless a guard
says the link is doubtful; then the merge waits in the review queue (:mod:`siyu.cdp.merges`).

Guards against over-merging (see README "Persons and OneID"):

- blocked values never link anyone: empty, ``0``, ``null``, ``anonymous``, ``unknown``, ``undefined``, test ids
  (``test``, ``123456`` …) and the organization's own block list (:class:`~siyu.cdp.models.BlockedValue`);
- a person holds at most :data:`CAPS` identifiers of one type (one WeCom customer, one unionid, one member id,
  five phones, twenty anonymous ids …): a value beyond the cap is not attached, a merge beyond it goes to review;
- two persons that each hold a different WeCom customer, member id or unionid are never merged automatically;
- a pair an operator kept apart (a split, a rejected review) is never merged again.

Values are normalized per kind and stored encrypted; lookups go through a keyed blind index.
"""

from __future__ import annotations

from collections import Counter
from typing import NamedTuple

from django.db import transaction

from siyu.cdp.identifier_values import canonical, index_purpose
from siyu.cdp.models import BlockedValue, Identifier, Person, Suppression
from siyu.privacy.keys import keyring

Kind = Identifier.Kind
KINDS = frozenset(Kind.values)

# How many identifiers of one type a person may hold. One WeCom customer, one unionid and one member id per
# person is what makes them reliable links; a handful of phones and emails covers real people (work, home, old
# numbers); devices and anonymous ids grow with every browser and reinstall.
CAPS = {
    Kind.EXTERNAL_USERID: 1, Kind.UNIONID: 1, Kind.MEMBER_ID: 1, Kind.USER_ID: 3, Kind.PHONE: 5, Kind.EMAIL: 5,
    Kind.OPENID: 10, Kind.ANONYMOUS_ID: 20, Kind.DEVICE_ID: 20,
}

# Which identifier a merge is explained by when several link the same persons: shared, human-readable ones first.
LINK_ORDER = [Kind.PHONE, Kind.EMAIL, Kind.UNIONID, Kind.MEMBER_ID, Kind.OPENID, Kind.USER_ID, Kind.DEVICE_ID,
              Kind.ANONYMOUS_ID, Kind.EXTERNAL_USERID]


class Ident(NamedTuple):
    """One identifier as a touchpoint saw it: ``Ident("phone", "138 0013 8000")``; ``namespace`` is an openid's
    app id. A named tuple, not a dataclass: batches hash a million of them, and a tuple hashes in C."""

    kind: str
    value: str
    namespace: str = ""


class Suppressed(ValueError):
    """One of the identifiers belongs to a person who was erased: nothing about them may be stored again."""


def normalize(kind: str, value) -> str:
    """The canonical form of ``value`` for ``kind``; ValueError when it is not a usable identifier (unknown type,
    empty, or one of :data:`siyu.cdp.identifier_values.BLOCKED_VALUES`)."""
    if kind not in KINDS:
        raise ValueError(f"unknown identifier type {kind!r}")
    return canonical(kind, value)


def value_index(kind: str, namespace: str, normalized: str) -> str:
    return keyring().blind_index(normalized, purpose=index_purpose(kind, namespace))


def find(org, ident: Ident) -> Person | None:
    """The person holding ``ident`` (followed through merges), or None."""
    try:
        normalized = normalize(ident.kind, ident.value)
    except ValueError:
        return None
    row = (Identifier.objects.for_org(org).select_related("person")
           .filter(kind=ident.kind, namespace=ident.namespace,
                   value_index=value_index(ident.kind, ident.namespace, normalized)).first())
    return survivor(row.person) if row else None


def survivor(person: Person) -> Person:
    """The person a merged person now lives in."""
    seen = set()
    while person.merged_into_id and person.pk not in seen:
        seen.add(person.pk)
        person = Person.objects.for_org(person.org_id).get(pk=person.merged_into_id)
    return person


def _customer_with_phone(org, phones: list[str]):
    """The WeCom customer a guide noted one of ``phones`` for (remark phones, by blind index), or None."""
    from siyu.customers.models import CustomerPhone
    from siyu.privacy.fields import blind_lookup

    for phone in phones:
        row = CustomerPhone.objects.for_org(org).filter(blind_lookup(CustomerPhone, "phone", phone)).first()
        if row is not None:
            return row.customer
    return None


def _attach(person: Person, new: list[tuple[str, str, str, str]], *, source: str) -> None:
    """Give ``person`` the unheld identifiers ``new`` ((kind, namespace, normalized, index)), within the caps:
    a value beyond its type's cap stays unattached (a shared store phone must not pile up on one person)."""
    held = Counter(Identifier.objects.for_org(person.org_id).filter(person=person).values_list("kind", flat=True))
    rows = []
    for kind, namespace, normalized, index in new:
        if held[kind] >= CAPS[kind]:
            continue
        held[kind] += 1
        rows.append(Identifier(org_id=person.org_id, person=person, kind=kind, namespace=namespace, value=normalized,
                               value_index=index, source=source[:40]))
    Identifier.objects.bulk_create(rows)


@transaction.atomic
def person_for_customer(customer) -> Person:
    """The person of a WeCom customer, created with its ``external_userid`` (and ``unionid``) on first use."""
    person = Person.objects.for_org(customer.org_id).filter(customer=customer).first()
    if person is not None:
        return survivor(person)
    person = Person.objects.create(org_id=customer.org_id, customer=customer, first_seen_at=customer.first_added_at,
                                   sources=["wecom"])
    idents = [Ident(Kind.EXTERNAL_USERID, customer.external_userid)]
    if customer.unionid:
        idents.append(Ident(Kind.UNIONID, customer.unionid))
    rows = Identifier.objects.for_org(customer.org_id).select_related("person")
    for ident in idents:
        normalized = normalize(ident.kind, ident.value)
        index = value_index(ident.kind, "", normalized)
        holder = rows.filter(kind=ident.kind, namespace="", value_index=index).first()
        if holder is None:
            _attach(person, [(ident.kind, "", normalized, index)], source="wecom")
        else:
            # The unionid came first from the mini-program: that person is this customer.
            from siyu.cdp import merges

            other = survivor(holder.person)
            person = merges.link(person, other, kind=ident.kind, normalized=normalized, index=index,
                                 here=merges.describe(person), there=merges.describe(other))
    return person


def sync_customer(customer) -> Person:
    """The customer's person, holding the customer's remark phones (CustomerPhone) as phone identifiers."""
    from siyu.customers.models import CustomerPhone

    person = person_for_customer(customer)
    phones = CustomerPhone.objects.for_org(customer.org_id).filter(customer=customer).values_list("phone", flat=True)
    idents = [Ident(Kind.EXTERNAL_USERID, customer.external_userid)] + [Ident(Kind.PHONE, p) for p in phones]
    if len(idents) > 1:
        from siyu.cdp import merges

        return resolve(customer.org_id, idents, source="wecom",
                       evidence=merges.describe(person, remark=True))
    return person


def usable_idents(org, idents: list[Ident]) -> list[tuple[str, str, str, str]]:
    """(kind, namespace, normalized, index) of the identifiers that may link persons: valid, not blocked by the
    house list or the organization's, de-duplicated in order."""
    out, seen = [], set()
    for ident in idents:
        try:
            normalized = normalize(ident.kind, ident.value)
        except ValueError:
            continue
        key = (ident.kind, ident.namespace, value_index(ident.kind, ident.namespace, normalized))
        if key not in seen:
            seen.add(key)
            out.append((ident.kind, ident.namespace, normalized, key[2]))
    if out:
        blocked = set(BlockedValue.objects.for_org(org).filter(value_index__in=[blocked_index(k, n) for k, _ns, n, _i
                                                                                 in out])
                      .values_list("kind", "value_index"))
        out = [row for row in out if (row[0], blocked_index(row[0], row[2])) not in blocked]
    return out


def blocked_index(kind: str, normalized: str) -> str:
    """The blind index an organization's block list keys a value by (namespace-free: blocking a value blocks it
    for every app id)."""
    return keyring().blind_index(normalized, purpose=f"blocked:{kind}")


@transaction.atomic
def resolve(org, idents: list[Ident], *, source: str = "", evidence: str = "") -> Person:
    """The one person ``idents`` belong to. Identifiers sent together are the same human: the persons holding
    them are merged (guards permitting, else the merge is queued for review), identifiers nobody holds yet are
    attached to the result (within the caps), and when none is known a new person is created (or, for a phone a
    WeCom customer's remark holds, that customer's person). ``evidence`` names where the data comes from
    ("订单 X") for merge explanations. Blocked and invalid values are skipped; at least one must be usable
    (ValueError otherwise). Raises :class:`Suppressed` when any identifier belonged to an erased person."""
    from siyu.cdp import merges

    org_id = getattr(org, "pk", org)
    usable = usable_idents(org_id, idents)
    if not usable:
        raise ValueError("no usable identifier")
    keys = {(kind, ns, index) for kind, ns, _n, index in usable}
    erased = Suppression.objects.for_org(org_id).filter(value_index__in=[index for *_rest, index in keys])
    if any((row.kind, row.namespace, row.value_index) in keys for row in erased):
        raise Suppressed("an identifier of an erased person")
    rows = {(row.kind, row.namespace, row.value_index): row for row in Identifier.objects.for_org(org_id)
            .select_related("person").filter(value_index__in=[index for *_rest, index in keys])}
    held: list[tuple[tuple, Person]] = []  # (usable entry, its holder's survivor), in the order given
    for entry in usable:
        row = rows.get((entry[0], entry[1], entry[3]))
        if row is not None:
            held.append((entry, survivor(row.person)))
    if not held:
        customer = _customer_with_phone(org_id, [n for kind, _ns, n, _i in usable if kind == Kind.PHONE])
        person = person_for_customer(customer) if customer else Person.objects.create(org_id=org_id)
    else:
        # The person with a WeCom customer is the natural survivor; otherwise the first one named.
        first: dict[int, tuple] = {}
        for entry, holder in held:
            first.setdefault(holder.pk, (entry, holder))
        person = next((p for _e, p in first.values() if p.customer_id), held[0][1])
        here = evidence or merges.describe_source(source)
        for entry, other in list(first.values()):
            if other.pk == person.pk:
                continue
            # Explain (and queue reviews) by the more telling of the two identifiers: "phone X appeared on order
            # Y and on WeCom customer Z" says more than the customer's own external_userid would.
            candidates = [c for c in (first.get(person.pk), (entry, other)) if c]
            via, holder = min(candidates, key=lambda c: LINK_ORDER.index(c[0][0]))
            person = merges.link(person, other, kind=via[0], normalized=via[2], index=via[3], here=here,
                                 there=merges.describe(holder))
    _attach(person, [entry for entry in usable if (entry[0], entry[1], entry[3]) not in rows], source=source)
    if source and source not in person.sources:
        person.sources = [*person.sources, source]
        Person.objects.for_org(org_id).filter(pk=person.pk).update(sources=person.sources)
    return person


@transaction.atomic
def block_value(org, *, kind: str, value: str, note: str = "", by) -> BlockedValue:
    """Add ``value`` to the organization's block list: it links nobody from now on (identifiers already stored
    stay where they are). Audited. ValidationError (field ``value``) for an unusable value."""
    from django.core.exceptions import ValidationError
    from django.utils.translation import gettext as _

    from siyu.orgs import audit

    try:
        normalized = normalize(kind, value)
    except ValueError:
        raise ValidationError({"value": _("不是有效的标识，或本来就不会用来关联。")}) from None
    row, _created = BlockedValue.objects.for_org(org).get_or_create(
        org=org, kind=kind, value_index=blocked_index(kind, normalized),
        defaults={"value": normalized, "note": (note or "").strip()[:100]})
    audit.record("person.value_blocked", org=org, actor=by, obj=row, details={"kind": kind})
    return row


@transaction.atomic
def unblock_value(row: BlockedValue, *, by) -> None:
    from siyu.orgs import audit

    audit.record("person.value_unblocked", org=row.org_id, actor=by, obj=row, details={"kind": row.kind})
    row.delete()
