"""Data-subject requests (《个人信息保护法》 §45 access and copy, §47 deletion): export everything Siyu holds about a
person, or erase it.

Both act on the person's whole identity cluster: the surviving person and every person merged into it. Export
writes a ZIP bundle (``person.json`` and ``person.xlsx``) encrypted at rest, downloadable by the requester until
the export retention ends. Erase removes the persons, their identifiers, traits, events and merge records, the
WeCom customer with everything hanging on it (relations, tags, notes, follow-ups, timeline, stages, chat archive,
welcome payloads), and the personal fields of their orders (the orders themselves stay for the books, detached).
Each identifier is kept only as its keyed hash in :class:`~siyu.cdp.models.Suppression`, so receiving it again
(an SDK still sending the old ``userId``, an order re-imported) brings nobody back.
"""

from __future__ import annotations

import io
import json
import secrets
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.cdp import identity
from siyu.cdp.models import Event, Identifier, Order, Person, RawBatch, Suppression
from siyu.core import spreadsheets
from siyu.orgs import audit
from siyu.privacy.fields import BlindIndexField, EncryptedTextField
from siyu.privacy import sealed
from siyu.privacy.masking import mask_phone, mask_text

BUNDLE_CONTEXT = b"siyu.privacy.subject-export"


# -- finding the person --------------------------------------------------------------------------------------
def parse_identifier(text: str) -> identity.Ident:
    """``"phone:13800138000"`` → Ident; a field-level ValidationError for anything else."""
    kind, sep, value = (text or "").partition(":")
    kind = kind.strip()
    if not sep or kind not in Identifier.Kind.values or not value.strip():
        raise ValidationError({"identifier": _("请按“类型:值”填写，类型为 %(kinds)s 之一。")
                               % {"kinds": "、".join(Identifier.Kind.values)}})
    namespace = ""
    if kind == Identifier.Kind.OPENID and "/" in value:
        namespace, value = value.split("/", 1)  # openid:<appid>/<openid>
    return identity.Ident(kind, value.strip(), namespace.strip())


def find_person(org, ident: identity.Ident) -> Person:
    """The (surviving) person holding ``ident``; ValidationError when nobody does."""
    person = identity.find(org, ident)
    if person is None:
        raise ValidationError({"identifier": _("没有找到持有该标识的用户。")})
    return person


def cluster(person: Person) -> list[Person]:
    """The person and every person merged into it, directly or through others."""
    ids, frontier = {person.pk}, {person.pk}
    while frontier:
        frontier = set(Person.objects.for_org(person.org_id).filter(merged_into_id__in=frontier)
                       .values_list("pk", flat=True)) - ids
        ids |= frontier
    return list(Person.objects.for_org(person.org_id).filter(pk__in=ids).order_by("pk"))


def masked(ident: identity.Ident) -> str:
    """An identifier as the audit log and the request list show it."""
    if ident.kind == Identifier.Kind.PHONE:
        return f"{ident.kind}:{mask_phone(ident.value)}"
    return f"{ident.kind}:{mask_text(ident.value, 2, 2)}"


# -- export --------------------------------------------------------------------------------------------------
def _plain(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _fields(obj: models.Model, skip=("org",)) -> dict:
    """Every concrete column of ``obj`` (foreign keys as their ids), decrypted, JSON-ready."""
    out = {}
    for field in obj._meta.concrete_fields:
        if field.name in skip or isinstance(field, BlindIndexField):
            continue
        out[field.name if not field.is_relation else field.attname] = _plain(getattr(obj, field.attname))
    return out


def collect(person: Person) -> dict:
    """Everything Siyu holds about ``person``'s cluster, as plain data."""
    from siyu.customers.models import FollowUp, Note, RelationTag, TimelineEvent
    from siyu.privacy.models import ConsentRecord
    from siyu.wecom.models import ChatMessage

    persons = cluster(person)
    ids = [p.pk for p in persons]
    org = person.org_id
    data = {
        "generated_at": timezone.now().isoformat(),
        "persons": [_fields(p) for p in persons],
        "identifiers": [{"type": i.kind, "namespace": i.namespace, "value": i.value, "source": i.source,
                         "created_at": _plain(i.created_at)}
                        for i in Identifier.objects.for_org(org).filter(person_id__in=ids).order_by("kind", "pk")],
        "events": [{"type": e.type, "event": e.name, "message_id": e.message_id, "timestamp": _plain(e.timestamp),
                    "received_at": _plain(e.received_at), "properties": e.properties, "context": e.context}
                   for e in Event.objects.for_org(org).filter(person_id__in=ids).order_by("timestamp", "pk")],
        "orders": [],
        "wecom": None,
    }
    customers = [p.customer for p in persons if p.customer_id]
    orders = Order.objects.for_org(org).filter(models.Q(person_id__in=ids) | models.Q(customer__in=customers))
    for order in orders.prefetch_related("lines__product").order_by("ordered_at", "pk"):
        row = _fields(order)
        row["lines"] = [{"product": line.product.name, "sku": line.product.sku, "quantity": line.quantity,
                         "unit_price": _plain(line.unit_price), "amount": _plain(line.amount)}
                        for line in order.lines.all()]
        data["orders"].append(row)
    if customers:
        data["wecom"] = []
        for customer in customers:
            relations = list(customer.relations.select_related("staff").order_by("pk"))
            data["wecom"].append({
                "customer": _fields(customer),
                "relations": [{**_fields(r), "staff": str(r.staff)} for r in relations],
                "tags": sorted({t.tag.name for t in RelationTag.objects.for_org(org)
                                .filter(relation__customer=customer).select_related("tag")}),
                "notes": [_fields(n) for n in Note.objects.for_org(org).filter(customer=customer).order_by("pk")],
                "follow_ups": [_fields(f) for f in FollowUp.objects.for_org(org).filter(customer=customer).order_by("pk")],
                "timeline": [_fields(t) for t in TimelineEvent.objects.for_org(org).filter(customer=customer).order_by("pk")],
                "chat_messages": [_fields(m) for m in ChatMessage.objects.for_org(org).filter(customer=customer).order_by("seq")],
                "consents": [_fields(c) for c in ConsentRecord.objects.for_org(org).filter(customer=customer)
                             .order_by("at", "pk")],
            })
    return data


def _xlsx(data: dict) -> bytes:
    """One sheet per section, one row per item, for a person who does not read JSON."""
    sections = [
        (_("标识"), data["identifiers"]),
        (_("用户"), data["persons"]),
        (_("事件"), data["events"]),
        (_("订单"), data["orders"]),
    ]
    for customer in data["wecom"] or []:
        sections += [(_("企业微信客户"), [customer["customer"]]), (_("好友关系"), customer["relations"]),
                     (_("备注记录"), customer["notes"]), (_("跟进"), customer["follow_ups"]),
                     (_("客户动态"), customer["timeline"]), (_("授权记录"), customer["consents"])]
    buffer = io.BytesIO()
    spreadsheets.write_sheets(buffer, [(title, _table(rows)) for title, rows in sections])
    return buffer.getvalue()


def _table(rows: list[dict]) -> tuple[list[str], list[list]]:
    header = list(dict.fromkeys(key for row in rows for key in row))
    return header, [[_cell(row.get(key)) for key in header] for row in rows]


def _cell(value):
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value


def bundle_dir(org_id: int) -> Path:
    path = Path(settings.DATA_DIR) / "exports" / f"org-{org_id}" / "subjects"
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_bundle(data: dict, org_id: int) -> str:
    """The ZIP of ``data``, encrypted with the current key, in the org's export folder; returns the file name."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("person.json", json.dumps(data, ensure_ascii=False, indent=2, default=str))
        archive.writestr("person.xlsx", _xlsx(data))
    name = f"subject-{secrets.token_hex(8)}.zip.enc"
    sealed.write(bundle_dir(org_id) / name, buffer.getvalue(), context=BUNDLE_CONTEXT)
    return name


def read_bundle(org_id: int, name: str) -> bytes | None:
    """The decrypted ZIP of an export, or None when it is gone (retention) or the name is not one of ours."""
    if not name or "/" in name or "\\" in name:
        return None
    path = bundle_dir(org_id) / name
    if not path.is_file():
        return None
    return sealed.read(path, context=BUNDLE_CONTEXT)


def export_subject(org, ident: identity.Ident, *, by=None):
    """Export everything about the holder of ``ident``; returns the recorded request (its ``file`` is the bundle)."""
    from siyu.privacy.models import SubjectRequest

    person = find_person(org, ident)
    data = collect(person)
    name = write_bundle(data, org.pk)
    request = SubjectRequest.objects.create(
        org=org, kind=SubjectRequest.Kind.EXPORT, identifier=masked(ident), file=name,
        requested_by=getattr(by, "user", by), summary=_summary(data))
    audit.record("privacy.subject_exported", org=org, actor=getattr(by, "user", by), obj=request,
                 details={"identifier": masked(ident), **request.summary})
    return request


def _summary(data: dict) -> dict:
    return {"persons": len(data["persons"]), "identifiers": len(data["identifiers"]), "events": len(data["events"]),
            "orders": len(data["orders"]), "wecom_customers": len(data["wecom"] or [])}


# -- erase ---------------------------------------------------------------------------------------------------
def _personal_order_fields() -> dict:
    """Order columns that hold personal data (encrypted columns and their blind indexes), set to empty."""
    cleared = {}
    for field in Order._meta.concrete_fields:
        if isinstance(field, (EncryptedTextField, BlindIndexField)):
            cleared[field.attname] = None if field.null else ""
    return cleared


@transaction.atomic
def _scrub_mass_tasks(org, external_userids: set[str]) -> None:
    """Take the erased customers out of the recipient lists that group-message tasks keep (a JSON list the database
    cannot search on SQLite, so the lists are read in pages; erasure is rare)."""
    from siyu.messaging.models import MassTask

    if not external_userids:
        return
    last = 0
    while True:
        page = list(MassTask.objects.for_org(org).filter(pk__gt=last).order_by("pk")
                    .values_list("pk", "external_userids", "fail_list")[:500])
        for pk, recipients, failed in page:
            if external_userids.intersection(recipients) or external_userids.intersection(failed):
                MassTask.objects.for_org(org).filter(pk=pk).update(
                    external_userids=[e for e in recipients if e not in external_userids],
                    fail_list=[e for e in failed if e not in external_userids])
        if len(page) < 500:
            return
        last = page[-1][0]


def erase_subject(org, ident: identity.Ident, *, by=None):
    """Erase the holder of ``ident`` and their whole cluster (see the module docstring); returns the request."""
    from siyu.channels.models import WelcomeSend
    from siyu.privacy.models import SubjectRequest
    from siyu.wecom.models import ChatMessage

    person = find_person(org, ident)
    persons = cluster(person)
    ids = [p.pk for p in persons]
    customers = [p.customer for p in persons if p.customer_id]
    identifiers = list(Identifier.objects.for_org(org).filter(person_id__in=ids))
    Suppression.objects.for_org(org).bulk_create(
        [Suppression(org=org, kind=i.kind, namespace=i.namespace, value_index=i.value_index) for i in identifiers],
        ignore_conflicts=True)
    summary = {"persons": len(ids), "identifiers": len(identifiers),
               "events": Event.objects.for_org(org).filter(person_id__in=ids).count(),
               "wecom_customers": len(customers)}
    orders = Order.objects.for_org(org).filter(models.Q(person_id__in=ids) | models.Q(customer__in=customers))
    summary["orders"] = orders.update(person=None, customer=None, **_personal_order_fields())
    Event.objects.for_org(org).filter(person_id__in=ids).delete()
    # Everything else hanging on these persons (identifiers, trait history, merge records, review cases) goes with
    # them: each such table references Person with a cascade, or is cleared here when it only points at one.
    for relation in Person._meta.related_objects:
        model = relation.related_model
        if model in (Person, Order, Event) or not hasattr(model, "org"):
            continue
        model._base_manager.filter(org=org, **{f"{relation.field.name}__in": ids}).delete()
    Person.objects.for_org(org).filter(pk__in=ids).update(merged_into=None)
    Person.objects.for_org(org).filter(pk__in=ids).delete()
    # Normalized raw batches are kept a while for re-drives; their bodies may quote this person, so they go now.
    # (A batch not normalized yet meets the suppression list when it is.)
    summary["raw_batches"] = RawBatch.objects.for_org(org).filter(status=RawBatch.Status.DONE).exclude(body="").update(body="")
    _scrub_mass_tasks(org, {c.external_userid for c in customers})
    for customer in customers:
        ChatMessage.objects.for_org(org).filter(customer=customer).delete()
        WelcomeSend.objects.for_org(org).filter(external_userid=customer.external_userid).delete()
        customer.delete()
    request = SubjectRequest.objects.create(org=org, kind=SubjectRequest.Kind.ERASE, identifier=masked(ident),
                                            requested_by=getattr(by, "user", by), summary=summary)
    audit.record("privacy.subject_erased", org=org, actor=getattr(by, "user", by), obj=request,
                 details={"identifier": masked(ident), **summary})
    return request
