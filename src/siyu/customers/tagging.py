"""Putting tags on customers and taking them off — the one way every capability does it.

A tag lives on a relation (WeCom marks corp tags per staff member and customer). Corp tags are pushed to
WeCom with ``mark_tag`` in the same call (API changes produce no callback, so nothing echoes back);
personal tags stay in Siyu. Every change records its source and writes the timeline.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from siyu.core import events
from siyu.customers import timeline
from siyu.customers.models import Relation, RelationTag, Tag
from siyu.wecom import endpoints
from siyu.wecom.client import WeComClient

# Tags newly put on a relation, whoever put them (journeys start from it).
TAGGED = events.define_kind("customer.tagged", gettext_lazy("客户被打上标签"))


def check(relation: Relation, tags: list[Tag]) -> None:
    """Raise ValidationError unless every tag may go on the relation (callers validate before any WeCom call)."""
    for tag in tags:
        if tag.org_id != relation.org_id or tag.deleted:
            raise ValidationError({"tags": _("标签“%(name)s”不存在或已删除。") % {"name": tag.name}})
        if tag.kind == Tag.Kind.PERSONAL and tag.owner_id not in (None, relation.staff_id):
            raise ValidationError({"tags": _("个人标签“%(name)s”只能由其所属员工使用。") % {"name": tag.name}})
        if tag.kind == Tag.Kind.CORP and not tag.wecom_id:
            raise ValidationError({"tags": _("标签“%(name)s”尚未同步到企业微信。") % {"name": tag.name}})


def _mark(relation: Relation, client, *, add: list[str] = (), remove: list[str] = ()) -> None:
    """One ``mark_tag`` for the relation, with the caller's client or a client of our own that we close."""
    if client is not None:
        endpoints.mark_tag(client, userid=relation.staff.userid, external_userid=relation.customer.external_userid,
                           add=add, remove=remove)
        return
    with WeComClient.for_org(relation.org_id) as own:
        _mark(relation, own, add=add, remove=remove)


def tag_relation(relation: Relation, tags: list[Tag], *, source: str, source_ref: str = "", actor=None, client=None) -> list[Tag]:
    """Add ``tags`` to one relation; returns the tags that were newly added.

    Corp tags go to WeCom first, outside any transaction; if writing them here then fails, they are taken off
    in WeCom again, so both sides keep agreeing.
    """
    check(relation, tags)
    have = set(RelationTag.objects.for_org(relation.org_id).filter(relation=relation).values_list("tag_id", flat=True))
    new = [t for t in tags if t.pk not in have]
    corp = [t.wecom_id for t in new if t.kind == Tag.Kind.CORP]
    if corp:
        _mark(relation, client, add=corp)
    try:
        with transaction.atomic():
            RelationTag.objects.bulk_create([
                RelationTag(org_id=relation.org_id, relation=relation, tag=tag, source=source, source_ref=source_ref[:100])
                for tag in new
            ], ignore_conflicts=True)  # the same add processed twice at once must not undo the other's mark
            timeline.tagged(relation, new, source=source, source_ref=source_ref, actor=actor)
            if new:
                events.emit(relation.org_id, TAGGED, relation,
                            {"customer_id": relation.customer_id, "tag_ids": [t.pk for t in new]})
    except Exception:
        if corp:
            _mark(relation, client, remove=corp)
        raise
    return new


def untag_relation(relation: Relation, tags: list[Tag], *, source: str, actor=None, client=None) -> list[Tag]:
    """Remove ``tags`` from one relation; returns the tags that were removed (taken off in WeCom first)."""
    links = {rt.tag_id: rt for rt in RelationTag.objects.for_org(relation.org_id).filter(relation=relation, tag__in=tags)}
    gone = [t for t in tags if t.pk in links]
    corp = [t.wecom_id for t in gone if t.kind == Tag.Kind.CORP and t.wecom_id]
    if corp:
        _mark(relation, client, remove=corp)
    try:
        with transaction.atomic():
            RelationTag.objects.for_org(relation.org_id).filter(pk__in=[links[t.pk].pk for t in gone]).delete()
            timeline.untagged(relation, gone, source=source, actor=actor)
    except Exception:
        if corp:
            _mark(relation, client, add=corp)
        raise
    return gone


def tag_customer(customer, tags: list[Tag], *, source: str, source_ref: str = "", actor=None, client=None) -> int:
    """Tag every active relation of a customer (what "tag this customer" means to an operator)."""
    added = 0
    for relation in Relation.objects.for_org(customer.org_id).filter(customer=customer, status=Relation.Status.ACTIVE).select_related("staff", "customer"):
        added += len(tag_relation(relation, tags, source=source, source_ref=source_ref, actor=actor, client=client))
    return added


def untag_customer(customer, tags: list[Tag], *, source: str, actor=None, client=None) -> int:
    """Take ``tags`` off every relation of a customer; returns the links removed."""
    removed = 0
    for relation in Relation.objects.for_org(customer.org_id).filter(customer=customer).select_related("staff", "customer"):
        removed += len(untag_relation(relation, tags, source=source, actor=actor, client=client))
    return removed
