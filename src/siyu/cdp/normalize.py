"""Normalizing landed batches into events, identifiers and traits (the job behind the event API).

Each ``RawBatch`` is normalized in one transaction: its events are inserted with INSERT … ON CONFLICT DO NOTHING
on (org, source, messageId), so a batch performed again (a worker killed after the commit but before the row was
marked done, or a re-driven row) adds nothing twice, and a worker killed before the commit leaves nothing at all.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import transaction

from siyu.cdp import identity, identity_batch
from siyu.cdp.identity import Ident
from siyu.cdp.messages import Message, stored_decoder, text
from siyu.cdp.models import Event, Identifier, Person, Source
from siyu.cdp.traits import PERSONAL_KEYS, apply_traits

Kind = Identifier.Kind



def normalize_batches(rows) -> dict[int, Exception]:
    """``RawBatch.perform_many``: each row in its own transaction; returns the error of each row that failed."""
    errors: dict[int, Exception] = {}
    sources: dict[int, Source] = {}
    for row in rows:
        try:
            if row.source_id not in sources:
                sources[row.source_id] = Source.objects.for_org(row.org_id).get(pk=row.source_id)
            with transaction.atomic():
                normalize_batch(row, sources[row.source_id])
        except Exception as error:  # noqa: BLE001 - recorded on the row, retried with backoff
            errors[row.pk] = error
    return errors


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # the spec's timestamps are ISO 8601; one without an offset is UTC
    return value


def event_time(m: Message, received_at: datetime) -> datetime:
    """When it happened, by the server's clock: receivedAt - (sentAt - timestamp) corrects the device's skew."""
    happened, sent = _aware(m.timestamp or m.originalTimestamp), _aware(m.sentAt)
    if happened is None:
        return received_at
    if sent is None:
        return happened
    return received_at - (sent - happened)


def identify_traits(m: Message) -> dict:
    """An identify call's traits: RudderStack's SDKs send them in ``context.traits``, Segment's at the top."""
    inner = m.context.get("traits") if isinstance(m.context, dict) else None
    return {**inner, **m.traits} if isinstance(inner, dict) else m.traits


def _idents(org, m: Message, traits: dict) -> list[Ident]:
    user_id, anonymous_id = text(m.userId), text(m.anonymousId)
    idents = []
    if m.type == "alias":
        previous = text(m.previousId)
        # previousId is whatever id the person had before: an earlier userId if one is known, else anonymous.
        earlier = identity.find(org, Ident(Kind.USER_ID, previous))
        idents.append(Ident(Kind.USER_ID if earlier else Kind.ANONYMOUS_ID, previous))
    if user_id:
        idents.append(Ident(Kind.USER_ID, user_id))
    if anonymous_id:
        idents.append(Ident(Kind.ANONYMOUS_ID, anonymous_id))
    if m.type == "identify":
        for key, kind in (("phone", Kind.PHONE), ("email", Kind.EMAIL)):
            value = traits.get(key)
            if isinstance(value, (str, int)) and text(value):
                idents.append(Ident(kind, text(value)))
    device = m.context.get("device") if isinstance(m.context, dict) else None
    if isinstance(device, dict) and text(device.get("id") if isinstance(device.get("id"), (str, int)) else None):
        idents.append(Ident(Kind.DEVICE_ID, text(device["id"])))
    return idents


def _person_name(traits: dict) -> str:
    name = traits.get("name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    parts = [traits.get("firstName"), traits.get("lastName")]
    return " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())


def _properties(m: Message, traits: dict) -> dict:
    if m.type == "identify":
        return {k: v for k, v in traits.items() if k not in PERSONAL_KEYS}
    if m.type == "group":
        return {"groupId": text(m.groupId), "traits": m.traits}
    if m.type == "alias":
        return {"previousId": text(m.previousId)}
    properties = dict(m.properties)
    if m.category:
        properties.setdefault("category", m.category)
    return properties


class _Seen:
    """What one batch says about one person, folded into the stored person at the end of the batch."""

    def __init__(self):
        self.first: datetime | None = None
        self.last: datetime | None = None
        self.traits: dict = {}
        self.name = ""

    def add(self, kind_of_call: str, traits: dict, when: datetime) -> None:
        self.first = when if self.first is None else min(self.first, when)
        self.last = when if self.last is None else max(self.last, when)
        if kind_of_call == "identify":
            # Personal keys are kept out of plain traits by apply_traits; the name goes to the encrypted column.
            self.traits.update(traits)
            self.name = _person_name(traits) or self.name

    def fold_into(self, person: Person) -> None:
        if person.first_seen_at is None or self.first < person.first_seen_at:
            person.first_seen_at = self.first
        if person.last_seen_at is None or self.last > person.last_seen_at:
            person.last_seen_at = self.last
        if self.name:
            person.name = self.name


def _nobody(org, idents: list[Ident]) -> str:
    """Why no person takes a message's events: all its identifiers unusable, or one of them an erased person's."""
    return "erased_person" if identity.usable_idents(org.pk, idents) else "no_usable_identifier"


def normalize_batch(row, source: Source) -> int:
    """Normalize one landed batch; returns how many events it offered for insertion. The events of erased persons
    and of messages with no usable identifier are dropped and counted as the source's rejects."""
    from siyu.cdp.ingest import count_reject

    org = source.org
    messages = stored_decoder.decode(row.body)
    traits_of = [identify_traits(m) if m.type == "identify" else {} for m in messages]
    groups = [_idents(org, m, traits) for m, traits in zip(messages, traits_of)]
    # One call for the whole batch: identifiers are clustered in memory and new persons written in bulk.
    person_ids = identity_batch.resolve_many(org, groups, source=source.kind)
    seen: dict[int, _Seen] = {}
    events: list[Event] = []
    dropped: dict[str, int] = {}
    for m, traits, group, person_id in zip(messages, traits_of, groups, person_ids):
        if person_id is None:
            reason = _nobody(org, group)
            dropped[reason] = dropped.get(reason, 0) + 1
            continue
        when = event_time(m, row.received_at)
        events.append(Event(org_id=org.pk, source=source, person_id=person_id, type=m.type,
                            name=(m.event if m.type == "track" else m.name) or "", message_id=m.messageId,
                            timestamp=when, received_at=row.received_at, properties=_properties(m, traits),
                            context=m.context))
        seen.setdefault(person_id, _Seen()).add(m.type, traits, when)
    Event.objects.bulk_create(events, ignore_conflicts=True)
    # Read the persons again, locked, after this transaction has written (on SQLite it now holds the write lock):
    # another batch of the same person committed meanwhile must not be overwritten by a stale copy.
    for person in Person.objects.for_org(org).select_for_update().filter(pk__in=seen).order_by("pk"):
        batch = seen[person.pk]
        batch.fold_into(person)
        person.save(update_fields=["name", "first_seen_at", "last_seen_at", "updated_at"])
        if batch.traits:
            apply_traits(person, batch.traits, source=source.kind, at=batch.last)
    for reason, n in dropped.items():
        count_reject(org.pk, source.pk, reason, n)
    return len(events)
