"""OneID: which person an identifier belongs to.

Every touchpoint (tracking SDKs, order imports, the orders API, WeCom) hands its identifiers to :func:`resolve`,
which answers with the one person they belong to, creating the person and attaching the identifiers it has not
seen yet. Values are normalized per kind and stored encrypted; lookups go through a keyed blind index.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from siyu.cdp.models import Identifier, Person, Suppression
from siyu.privacy.keyring import normalize_email, normalize_phone
from siyu.privacy.keys import keyring

Kind = Identifier.Kind


@dataclass(frozen=True)
class Ident:
    """One identifier as a touchpoint saw it: ``Ident("phone", "138 0013 8000")``; ``namespace`` is an openid's
    app id."""

    kind: str
    value: str
    namespace: str = ""


class Suppressed(ValueError):
    """One of the identifiers belongs to a person who was erased: nothing about them may be stored again."""


def normalize(kind: str, value) -> str:
    """The canonical form of ``value`` for ``kind``; ValueError when it is not a usable identifier."""
    if kind not in Kind.values:
        raise ValueError(f"unknown identifier type {kind!r}")
    text = str(value if value is not None else "").strip()
    if not text:
        raise ValueError("empty identifier")
    if kind == Kind.PHONE:
        return normalize_phone(text)
    if kind == Kind.EMAIL:
        return normalize_email(text)
    return text


def value_index(kind: str, namespace: str, normalized: str) -> str:
    # The kind and namespace are part of the MAC's purpose: the same string as a user_id and as a member_id are
    # two different identifiers.
    return keyring().blind_index(normalized, purpose=f"identifier:{kind}:{namespace}")


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
    for ident in idents:
        normalized = normalize(ident.kind, ident.value)
        Identifier.objects.for_org(customer.org_id).get_or_create(
            org_id=customer.org_id, kind=ident.kind, namespace="",
            value_index=value_index(ident.kind, "", normalized),
            defaults={"person": person, "value": normalized, "source": "wecom"})
    return person


@transaction.atomic
def resolve(org, idents: list[Ident], *, source: str = "", evidence: str = "") -> Person:
    """The one person ``idents`` belong to: the holder of the first known identifier, or a new person. Identifiers
    nobody holds yet are attached to that person. Invalid values are skipped; at least one must be valid
    (ValueError otherwise). Raises :class:`Suppressed` when any identifier belonged to an erased person."""
    usable: list[tuple[Ident, str]] = []
    for ident in idents:
        try:
            usable.append((ident, normalize(ident.kind, ident.value)))
        except ValueError:
            continue
    if not usable:
        raise ValueError("no usable identifier")
    indexes = {(ident.kind, ident.namespace, value_index(ident.kind, ident.namespace, n)) for ident, n in usable}
    erased = Suppression.objects.for_org(org).filter(value_index__in=[i for _k, _ns, i in indexes])
    if any((row.kind, row.namespace, row.value_index) in indexes for row in erased):
        raise Suppressed("an identifier of an erased person")
    holders = {}
    for ident, normalized in usable:
        row = Identifier.objects.for_org(org).filter(
            kind=ident.kind, namespace=ident.namespace,
            value_index=value_index(ident.kind, ident.namespace, normalized)).first()
        holders[(ident.kind, ident.namespace, normalized)] = row
    known = [row for row in holders.values() if row is not None]
    if known:
        person = survivor(known[0].person)
    else:
        customer = _customer_with_phone(org, [n for (kind, _ns, n) in holders if kind == Kind.PHONE])
        person = person_for_customer(customer) if customer else Person.objects.create(org=org)
    for (kind, namespace, normalized), row in holders.items():
        if row is None:
            Identifier.objects.create(org=org, person=person, kind=kind, namespace=namespace, value=normalized,
                                      value_index=value_index(kind, namespace, normalized), source=source)
    return person
