"""Normalizing landed batches into events, identifiers and traits (the job behind the event API).

Each ``RawBatch`` is normalized in one transaction: its events are inserted with INSERT … ON CONFLICT DO NOTHING
on (org, source, messageId), so a batch performed again (a worker killed after the commit but before the row was
marked done, or a re-driven row) adds nothing twice, and a worker killed before the commit leaves nothing at all.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import transaction

from siyu.cdp import identity
from siyu.cdp.identity import Ident
from siyu.cdp.messages import Message, stored_decoder, text
from siyu.cdp.models import Event, Identifier, Person, Source

Kind = Identifier.Kind

# Identify traits that are personal data: they become identifiers (phone, email) or the encrypted name, and never
# land in the plain ``Person.traits`` that segments query.
PERSONAL_TRAITS = frozenset({"phone", "email", "name", "firstName", "lastName", "address", "birthday"})


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
        return {k: v for k, v in traits.items() if k not in PERSONAL_TRAITS}
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
            self.traits.update((k, v) for k, v in traits.items() if k not in PERSONAL_TRAITS)
            self.name = _person_name(traits) or self.name

    def fold_into(self, person: Person, kind: str) -> None:
        if person.first_seen_at is None or self.first < person.first_seen_at:
            person.first_seen_at = self.first
        if person.last_seen_at is None or self.last > person.last_seen_at:
            person.last_seen_at = self.last
        if kind not in person.sources:
            person.sources = [*person.sources, kind]
        if self.traits:
            person.traits = {**person.traits, **self.traits}
        if self.name:
            person.name = self.name


def normalize_batch(row, source: Source) -> int:
    """Normalize one landed batch; returns how many events it offered for insertion. Erased persons' events are
    dropped and counted as the source's ``erased_person`` rejects."""
    from siyu.cdp.ingest import count_reject

    org = source.org
    messages = stored_decoder.decode(row.body)
    resolved: dict[tuple, Person | str] = {}
    seen: dict[int, _Seen] = {}
    events: list[Event] = []
    dropped: dict[str, int] = {}
    for m in messages:
        traits = identify_traits(m) if m.type == "identify" else {}
        idents = _idents(org, m, traits)
        key = tuple(idents)
        if key not in resolved:
            try:
                resolved[key] = identity.resolve(org, idents, source=f"source:{source.pk}",
                                                 evidence=f"{m.type} {m.messageId}")
            except identity.Suppressed:
                resolved[key] = "erased_person"
            except ValueError:  # every identifier unusable (e.g. a blocked value): nobody to attach it to
                resolved[key] = "no_usable_identifier"
        person = resolved[key]
        if not isinstance(person, Person):
            dropped[person] = dropped.get(person, 0) + 1
            continue
        when = event_time(m, row.received_at)
        events.append(Event(org_id=org.pk, source=source, person=person, type=m.type,
                            name=(m.event if m.type == "track" else m.name) or "", message_id=m.messageId,
                            timestamp=when, received_at=row.received_at, properties=_properties(m, traits),
                            context=m.context))
        seen.setdefault(person.pk, _Seen()).add(m.type, traits, when)
    Event.objects.bulk_create(events, ignore_conflicts=True)
    # Read the persons again, locked, after this transaction has written (on SQLite it now holds the write lock):
    # another batch of the same person committed meanwhile must not have its traits overwritten by a stale copy.
    for person in Person.objects.for_org(org).select_for_update().filter(pk__in=seen).order_by("pk"):
        seen[person.pk].fold_into(person, source.kind)
        person.save(update_fields=["name", "traits", "first_seen_at", "last_seen_at", "sources", "updated_at"])
    for reason, n in dropped.items():
        count_reject(org.pk, source.pk, reason, n)
    return len(events)
