"""Merging persons, the review queue for merges a guard stopped, and splitting a wrong merge.

A merge moves the absorbed person's identifiers, events and orders to the survivor and points the absorbed row at
it (``merged_into``); the absorbed row keeps its own traits and name, and the :class:`Merge` row lists what moved,
so :func:`split` can give everything back. A person has at most one WeCom customer: tags, stages, notes and consent
hang on that customer and stay where they are, so two persons each with a different customer are never merged
(review instead), and when only one has a customer, that one survives.
"""

from __future__ import annotations

from collections import Counter

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.cdp.models import Event, Identifier, KeepApart, Merge, MergeReview, Order, Person
from siyu.orgs import audit
from siyu.privacy.masking import mask_email, mask_name, mask_phone, mask_text

Guard = MergeReview.Guard


def mask(kind: str, value: str) -> str:
    """An identifier as the console and explanations show it."""
    if kind == Identifier.Kind.PHONE:
        return mask_phone(value)
    if kind == Identifier.Kind.EMAIL:
        return mask_email(value)
    return mask_text(value, min(4, len(value) // 3), min(2, len(value) // 4))


def describe(person: Person, *, remark: bool = False) -> str:
    """How an explanation names a person: its WeCom customer (masked name) or its number."""
    if person.customer_id:
        name = mask_name(person.customer.name) or person.customer.external_userid[:6]
        if remark:
            return _("企业微信客户 %(name)s 的备注手机号") % {"name": name}
        return _("企业微信客户 %(name)s") % {"name": name}
    return _("用户 #%(id)s") % {"id": person.pk}


def describe_source(source: str) -> str:
    from siyu.cdp.labels import source_label

    return _("来源 %(source)s 的同一条数据") % {"source": source_label(source)} if source else _("同一条数据")


def guard(a: Person, b: Person) -> str | None:
    """Why ``a`` and ``b`` must not be merged without an operator, or None. See siyu.cdp.identity for the rules."""
    from siyu.cdp.identity import CAPS

    if a.customer_id and b.customer_id and a.customer_id != b.customer_id:
        return Guard.TWO_CUSTOMERS
    kinds = Counter(Identifier.objects.for_org(a.org_id).filter(person__in=[a, b]).values_list("kind", flat=True))
    for kind, limited in ((Identifier.Kind.MEMBER_ID, Guard.MEMBER_ID), (Identifier.Kind.UNIONID, Guard.UNIONID)):
        if kinds[kind] > 1:  # identifiers are unique per org: two rows are two different values
            return limited
    if any(count > CAPS[kind] for kind, count in kinds.items()):
        return Guard.CAP
    return None


def kept_apart(a: Person, b: Person) -> bool:
    low, high = sorted((a.pk, b.pk))
    return KeepApart.objects.for_org(a.org_id).filter(low_id=low, high_id=high).exists()


@transaction.atomic
def link(person: Person, other: Person, *, kind: str, normalized: str, index: str, here: str, there: str) -> Person:
    """``person`` and ``other`` were named as one human (``kind``/``normalized`` seen in ``here`` and held by
    ``there``): merge them and answer the survivor, or, when a guard objects, queue the merge for review and
    answer ``person`` unchanged. A pair kept apart by an operator stays apart silently."""
    if kept_apart(person, other):
        return person
    masked = mask(kind, normalized)
    evidence = _("%(kind)s %(value)s 同时出现在%(here)s和%(there)s") % {
        "kind": Identifier.Kind(kind).label, "value": masked, "here": here, "there": there}
    stopped = guard(person, other)
    if stopped:
        review, created = MergeReview.objects.for_org(person.org_id).get_or_create(
            org_id=person.org_id, link_kind=kind, link_index=index, guard=stopped, status=MergeReview.Status.PENDING,
            defaults={"person_a": person, "person_b": other, "link_masked": masked, "evidence": evidence[:500]})
        if not created:
            MergeReview.objects.for_org(person.org_id).filter(pk=review.pk).update(occurrences=review.occurrences + 1)
        return person
    keep, gone = _order(person, other)
    merge(keep, gone, kind=kind, masked=masked, evidence=evidence)
    return keep


def _order(a: Person, b: Person) -> tuple[Person, Person]:
    """(survivor, absorbed): the one with the WeCom customer survives (it carries tags, stages, notes, consent),
    else the older one."""
    if bool(a.customer_id) != bool(b.customer_id):
        return (a, b) if a.customer_id else (b, a)
    return (a, b) if a.pk < b.pk else (b, a)


@transaction.atomic
def merge(keep: Person, gone: Person, *, kind: str, masked: str, evidence: str, by=None) -> Merge:
    """Move ``gone``'s identifiers, events and orders to ``keep`` and record why. No guards: callers check."""
    from siyu.cdp import traits

    org_id = keep.org_id
    moved = {
        "identifiers": list(Identifier.objects.for_org(org_id).filter(person=gone).values_list("pk", flat=True)),
        "events": list(Event.objects.for_org(org_id).filter(person=gone).values_list("pk", flat=True)),
        "orders": list(Order.objects.for_org(org_id).filter(person=gone).values_list("pk", flat=True)),
    }
    Identifier.objects.for_org(org_id).filter(pk__in=moved["identifiers"]).update(person=keep)
    Event.objects.for_org(org_id).filter(pk__in=moved["events"]).update(person=keep)
    Order.objects.for_org(org_id).filter(pk__in=moved["orders"]).update(person=keep)
    gone.merged_into = keep
    gone.save(update_fields=["merged_into", "updated_at"])
    keep.sources = sorted(set(keep.sources) | set(gone.sources))
    keep.traits = {**gone.traits, **keep.traits}
    keep.name = keep.name or gone.name
    seen = [t for t in (keep.first_seen_at, gone.first_seen_at) if t]
    keep.first_seen_at = min(seen) if seen else None
    seen = [t for t in (keep.last_seen_at, gone.last_seen_at) if t]
    keep.last_seen_at = max(seen) if seen else None
    keep.save()
    traits.refresh_orders(keep)
    record = Merge.objects.create(org_id=org_id, survivor=keep, absorbed=gone, link_kind=kind, link_masked=masked,
                                  evidence=evidence[:500], moved=moved, by=by)
    audit.record("person.merged", org=org_id, actor=by, obj=keep,
                 details={"absorbed": gone.pk, "evidence": record.evidence})
    return record


@transaction.atomic
def split(record: Merge, *, by) -> Person:
    """Undo a merge: the absorbed person comes back with the identifiers, events and orders it brought, and the
    pair is kept apart for good, so the same data arriving again does not merge them. Audited."""
    from siyu.cdp import traits

    record = Merge.objects.for_org(record.org_id).select_for_update().get(pk=record.pk)
    gone = Person.objects.for_org(record.org_id).get(pk=record.absorbed_id)
    if record.split_at is not None or gone.merged_into_id != record.survivor_id:
        raise ValidationError(_("这次合并已经拆分过。"))
    keep = record.survivor
    org_id = record.org_id
    for model, key in ((Identifier, "identifiers"), (Event, "events"), (Order, "orders")):
        model.objects.for_org(org_id).filter(pk__in=record.moved.get(key, []), person=keep).update(person=gone)
    gone.merged_into = None
    gone.save(update_fields=["merged_into", "updated_at"])
    low, high = sorted((keep.pk, gone.pk))
    KeepApart.objects.for_org(org_id).get_or_create(org_id=org_id, low_id=low, high_id=high)
    record.split_at, record.split_by = timezone.now(), by
    record.save(update_fields=["split_at", "split_by"])
    traits.refresh_orders(keep)
    traits.refresh_orders(gone)
    audit.record("person.split", org=org_id, actor=by, obj=gone,
                 details={"survivor": keep.pk, "merge": record.pk, "evidence": record.evidence})
    return gone


@transaction.atomic
def approve(review: MergeReview, *, by) -> Merge:
    """An operator says the two persons of ``review`` are one: merge them despite the guard. Two WeCom customers
    cannot share a person, so that guard cannot be overridden."""
    from siyu.cdp.identity import survivor

    review = MergeReview.objects.for_org(review.org_id).select_for_update().get(pk=review.pk)
    if review.status != MergeReview.Status.PENDING:
        raise ValidationError(_("这条待审合并已经处理过。"))
    a, b = survivor(review.person_a), survivor(review.person_b)
    if a.customer_id and b.customer_id and a.customer_id != b.customer_id:
        raise ValidationError(_("两人各有不同的企业微信客户，一个用户最多对应一个企业微信客户，不能合并。"))
    if a.pk == b.pk:
        raise ValidationError(_("两人已经是同一个用户。"))
    keep, gone = _order(a, b)
    record = merge(keep, gone, kind=review.link_kind, masked=review.link_masked,
                   evidence=_("人工确认：%(evidence)s") % {"evidence": review.evidence}, by=by)
    _decide(review, MergeReview.Status.MERGED, by)
    return record


@transaction.atomic
def keep_apart(review: MergeReview, *, by) -> MergeReview:
    """An operator says the two persons of ``review`` are different people: they stay apart from now on."""
    review = MergeReview.objects.for_org(review.org_id).select_for_update().get(pk=review.pk)
    if review.status != MergeReview.Status.PENDING:
        raise ValidationError(_("这条待审合并已经处理过。"))
    low, high = sorted((review.person_a_id, review.person_b_id))
    KeepApart.objects.for_org(review.org_id).get_or_create(org_id=review.org_id, low_id=low, high_id=high)
    _decide(review, MergeReview.Status.KEPT_APART, by)
    return review


def _decide(review: MergeReview, status: str, by) -> None:
    review.status, review.decided_by, review.decided_at = status, by, timezone.now()
    review.save(update_fields=["status", "decided_by", "decided_at"])
    audit.record(f"person.review_{status}", org=review.org_id, actor=by, obj=review,
                 details={"persons": [review.person_a_id, review.person_b_id], "evidence": review.evidence})


def merges_of(person: Person):
    """Every merge this person took part in, newest first (the profile explains them)."""
    return (Merge.objects.for_org(person.org_id).filter(Q(survivor=person) | Q(absorbed=person))
            .select_related("survivor", "absorbed"))
