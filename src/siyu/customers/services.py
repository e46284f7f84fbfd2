"""Customers as WeCom knows them. WeCom events are only notifications, so handlers re-read the customer
(``externalcontact/get``) and reconcile: whatever order events arrive in, the rows end up as WeCom has them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from siyu.core import events
from siyu.customers import timeline
from siyu.customers.models import Customer, Relation, RelationTag, Tag, TagGroup, Transfer
from siyu.customers.queries import index_customer_phones
from siyu.orgs.staff import staff_for
from siyu.wecom import endpoints
from siyu.wecom.errors import NotExternalContact


def from_epoch(value) -> datetime | None:
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(seconds, tz=UTC) if seconds > 0 else None


def upsert_customer(org, contact: dict) -> Customer:
    customer, _ = Customer.objects.for_org(org).update_or_create(
        org=org,
        external_userid=contact["external_userid"],
        defaults={
            "name": (contact.get("name") or "")[:100],
            "avatar": (contact.get("avatar") or "")[:500],
            "type": int(contact.get("type") or 1),
            "gender": int(contact.get("gender") or 0),
            "unionid": contact.get("unionid") or "",
            "position": (contact.get("position") or "")[:100],
            "corp_name": (contact.get("corp_name") or "")[:100],
            "corp_full_name": (contact.get("corp_full_name") or "")[:200],
            "external_profile": contact.get("external_profile") or {},
            "synced_at": timezone.now(),
        },
    )
    return customer


# -- tags ------------------------------------------------------------------------------------------------
def upsert_tag_groups(org, tag_groups: list[dict]) -> None:
    """Mirror ``get_corp_tag_list``'s ``tag_group`` entries (groups and their tags)."""
    for entry in tag_groups:
        group, _ = TagGroup.objects.for_org(org).update_or_create(
            org=org, wecom_id=entry["group_id"],
            defaults={"name": entry.get("group_name", "")[:30], "order": int(entry.get("order") or 0),
                      "deleted": bool(entry.get("deleted"))},
        )
        for item in entry.get("tag", []):
            Tag.objects.for_org(org).update_or_create(
                org=org, wecom_id=item["id"],
                defaults={"group": group, "kind": Tag.Kind.CORP, "name": item.get("name", "")[:30],
                          "order": int(item.get("order") or 0), "deleted": bool(item.get("deleted"))},
            )


def delete_tag_or_group(org, wecom_id: str, tag_type: str) -> None:
    """WeCom deleted a tag (or a whole group, with no per-tag callbacks): it leaves every customer too."""
    if tag_type == "tag_group":
        tags = Tag.objects.for_org(org).filter(group__wecom_id=wecom_id)
        TagGroup.objects.for_org(org).filter(wecom_id=wecom_id).update(deleted=True)
    else:
        tags = Tag.objects.for_org(org).filter(wecom_id=wecom_id)
    RelationTag.objects.for_org(org).filter(tag__in=tags).delete()
    tags.update(deleted=True)


def _tags_for(org, entries: list[dict]) -> list[Tag]:
    """The corp tags WeCom names (``[{tag_id, tag_name?, group_name?}]``), creating the ones we do not know yet.

    One read for all of them: a new customer usually arrives with the channel's few tags, all known already.
    """
    known = {t.wecom_id: t for t in Tag.objects.for_org(org).filter(wecom_id__in=[e["tag_id"] for e in entries])}
    tags = []
    for entry in entries:
        tag = known.get(entry["tag_id"])
        if tag is None:
            group = None
            if entry.get("group_name"):
                group = TagGroup.objects.for_org(org).filter(name=entry["group_name"], deleted=False).first() or TagGroup.objects.create(
                    org=org, name=entry["group_name"][:30]
                )
            tag = known[entry["tag_id"]] = Tag.objects.create(
                org=org, wecom_id=entry["tag_id"], name=(entry.get("tag_name") or entry["tag_id"])[:30], group=group)
        tags.append(tag)
    return tags


def is_corp_tag_id(tag_id: str) -> bool:
    """Rule-group tags (规则组标签, ids ``st…``, reference §3.0) share tag lists with corp tags but are not
    corp tags: Siyu cannot list, edit or put them on customers, so it keeps them out of its tag rows."""
    return bool(tag_id) and not tag_id.startswith("st")


def set_wecom_tags(relation: Relation, tags: list[Tag]) -> None:
    """Make the relation's corp tags exactly WeCom's; personal (Siyu-only) tags are left alone."""
    org = relation.org_id
    wanted = {t.pk: t for t in tags}
    current = {rt.tag_id: rt for rt in RelationTag.objects.for_org(org).filter(relation=relation, tag__kind=Tag.Kind.CORP).select_related("tag")}
    added = [tag for tag_id, tag in wanted.items() if tag_id not in current]
    removed = [link for tag_id, link in current.items() if tag_id not in wanted]
    if added:
        RelationTag.objects.bulk_create([
            RelationTag(org_id=org, relation=relation, tag=tag, source=RelationTag.Source.WECOM) for tag in added])
        timeline.tagged(relation, added, source=RelationTag.Source.WECOM)
    if removed:
        RelationTag.objects.for_org(org).filter(pk__in=[link.pk for link in removed]).delete()
        timeline.untagged(relation, [link.tag for link in removed], source=RelationTag.Source.WECOM)


# -- relations -------------------------------------------------------------------------------------------
def apply_follow_info(org, customer: Customer, info: dict, *, adding: bool = False,
                      keep_tags: bool = False) -> tuple[Relation, bool]:
    """Mirror one ``follow_user`` / ``follow_info`` entry; returns the relation and whether it (re)started.

    WeCom keeps listing a customer who deleted the staff member (a one-sided friendship), so such a
    relation stays ended on a refresh; only an add event (``adding``) makes it a friendship again.
    ``keep_tags``: ``info`` was built by Siyu, not read from WeCom, so it says nothing about tags.
    """
    staff = staff_for(org, info["userid"])
    if not staff.is_customer_contact:  # whoever has customers has 客户联系 enabled
        staff.is_customer_contact = True
        staff.save(update_fields=["is_customer_contact"])
    relation, created = Relation.objects.for_org(org).get_or_create(org=org, customer=customer, staff=staff)
    one_sided = relation.status == Relation.Status.DELETED_BY_CUSTOMER and not adding
    started = not one_sided and (created or relation.status != Relation.Status.ACTIVE)
    if not one_sided:
        relation.status = Relation.Status.ACTIVE
        relation.deleted_at = None
    relation.remark = (info.get("remark") or "")[:100]
    relation.description = (info.get("description") or "")[:300]
    relation.remark_corp_name = (info.get("remark_corp_name") or "")[:100]
    mobiles = [m for m in info.get("remark_mobiles") or [] if m]
    relation.remark_mobiles = json.dumps(mobiles) if mobiles else ""
    relation.add_way = int(info.get("add_way") or 0)
    relation.state = (info.get("state") or "")[:64]
    relation.oper_userid = (info.get("oper_userid") or "")[:64]
    relation.added_at = from_epoch(info.get("createtime")) or relation.added_at or timezone.now()
    relation.synced_at = timezone.now()
    relation.save()
    index_customer_phones(relation)  # phone search finds customers by the numbers staff noted
    if keep_tags:
        pass
    elif "tag_id" in info:  # batch/get_by_user: a bare list of ids, rule-group (st…) ids among them
        set_wecom_tags(relation, _tags_for(org, [{"tag_id": tag_id} for tag_id in info["tag_id"] if is_corp_tag_id(tag_id)]))
    else:
        # externalcontact/get: [{group_name, tag_name, tag_id, type}], type 1 = corp tag. A follow_user without
        # tags has no "tags" key at all (official sample), so a missing key means the last tag was removed.
        set_wecom_tags(relation, _tags_for(org, [t for t in info.get("tags") or []
                                                 if int(t.get("type", 1)) == 1 and is_corp_tag_id(t.get("tag_id", ""))]))
    if started:
        timeline.added(relation)
    return relation, started


def _update_friendship(customer: Customer) -> None:
    relations = Relation.objects.for_org(customer.org_id).filter(customer=customer)
    is_friend = relations.filter(status=Relation.Status.ACTIVE).exists()
    first = relations.exclude(added_at=None).order_by("added_at").values_list("added_at", flat=True).first()
    Customer.objects.for_org(customer.org_id).filter(pk=customer.pk).update(is_friend=is_friend, first_added_at=first)


def refresh_customer(org, external_userid: str, client, *, adding_userid: str = "") -> Customer | None:
    """Re-read a customer and all their relations from WeCom and reconcile. None when WeCom no longer knows them.

    ``adding_userid``: the staff member whose add event triggered the refresh (that friendship is new again).
    WeCom is read first and the rows written after, in one transaction that holds no lock across the call.
    """
    try:
        found = endpoints.get_external_contact(client, external_userid)
    except NotExternalContact:
        return Customer.objects.for_org(org).filter(external_userid=external_userid).first()
    return _mirror_contact(org, found, adding_userid=adding_userid)


@transaction.atomic
def _mirror_contact(org, found: endpoints.ExternalContact, *, adding_userid: str) -> Customer:
    customer = upsert_customer(org, found.contact)
    for info in found.follow_users:
        apply_follow_info(org, customer, info, adding=info.get("userid") == adding_userid)
    _update_friendship(customer)
    return customer


def customer_added(org, *, userid: str, external_userid: str, state: str, welcome_code: str, client, at=None) -> Relation | None:
    """A staff member added a customer (or was added by one): mirror it, then let channels react to the add."""
    customer = refresh_customer(org, external_userid, client, adding_userid=userid)
    if customer is None:
        return None
    relation = Relation.objects.for_org(org).filter(customer=customer, staff__userid=userid).select_related("staff", "customer").first()
    if relation is None:  # WeCom does not (yet) list this follow_user: nothing to react to
        return None
    events.emit(org, events.Kind.RELATION_ADDED, relation, {
        "state": state, "welcome_code": welcome_code, "event_time": at.isoformat() if at else None})
    return relation


@transaction.atomic
def relation_ended(org, *, userid: str, external_userid: str, status: str, at=None) -> Relation | None:
    """The friendship ended: the customer deleted the staff member, or the other way round, or a transfer."""
    relation = (
        Relation.objects.for_org(org)
        .filter(customer__external_userid=external_userid, staff__userid=userid)
        .select_related("customer", "staff")
        .first()
    )
    if relation is None or relation.status == status:
        return relation
    relation.status = status
    relation.deleted_at = at or timezone.now()
    relation.save(update_fields=["status", "deleted_at"])
    {
        Relation.Status.DELETED_BY_CUSTOMER: timeline.deleted_by_customer,
        Relation.Status.DELETED_BY_STAFF: timeline.deleted_by_staff,
        Relation.Status.TRANSFERRED: timeline.transferred_away,
    }[status](relation, at=at)
    _update_friendship(relation.customer)
    events.emit(org, events.Kind.RELATION_LOST, relation, {"reason": status})
    return relation


@transaction.atomic
def transfer_failed(org, *, takeover_userid: str, external_userid: str, reason: str) -> Transfer | None:
    """WeCom's ``transfer_fail``: the customer refused, or the takeover member is full."""
    transfer = (
        Transfer.objects.for_org(org)
        .filter(customer__external_userid=external_userid, takeover__userid=takeover_userid)
        .exclude(status__in=[Transfer.Status.DONE, Transfer.Status.REFUSED, Transfer.Status.LIMIT, Transfer.Status.FAILED])
        .order_by("-requested_at").first()
    )
    if transfer is None:
        return None
    transfer.status = Transfer.Status.REFUSED if reason == "customer_refused" else Transfer.Status.LIMIT
    transfer.error = reason
    transfer.finished_at = timezone.now()
    transfer.save(update_fields=["status", "error", "finished_at"])
    timeline.transfer_finished(transfer)
    return transfer
