"""The open path of the tracked page, kept lean: a token lookup cached in the process, the material, one INSERT of
the visit; and the beats that add reading time and depth to a visit whose reader consented.

Everything else an open causes (timeline, behaviour rules, the guide's notice, deciding whether it was a forward)
is the visit's durable work, performed by the dispatcher out of the request.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import lru_cache

from django.core import signing
from django.db import connection
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from siyu.content.models import Material
from siyu.core import clock
from siyu.core.durable import DurableRow
from siyu.core.tenancy import system_read
from siyu.tracking.models import TrackedLink, Visit

# A beat reports at most this many visible seconds: the page beats every 10 s, and a phone that slept with the
# page open must not add the hours it slept when it wakes.
BEAT_MAX_SECONDS = 15
VISITOR_BYTES = 12
_VISIT_SIGNER = signing.Signer(salt="tracking.visit", sep=".")


@dataclass(frozen=True)
class LinkTarget:
    pk: int
    org_id: int
    material_id: int
    customer_id: int | None


@lru_cache(maxsize=65_536)
def _target(token: str) -> LinkTarget | None:
    # A link never changes after it is made, so its ids can be kept for the life of the process.
    row = TrackedLink.objects.by_token(token).values_list("pk", "org_id", "material_id", "customer_id").first()
    return LinkTarget(*row) if row else None


def target(token: str) -> LinkTarget | None:
    if not (8 <= len(token) <= 16):
        return None
    return _target(token)


# Materials read by this process, with the state they were read in: an open asks the database only for the
# material's status and last change (one indexed row, no ORM), and reads the whole row again when either moved.
_materials: dict[int, tuple[tuple, Material]] = {}
MATERIALS_KEPT = 4096


def material_of(link: LinkTarget) -> Material | None:
    """The link's material if it may still be read (approved); withdrawn or changed back to draft: None."""
    with connection.cursor() as cursor:
        cursor.execute(_STATE_SQL, [link.material_id, link.org_id])
        state = cursor.fetchone()
    if state is None or state[0] != Material.Status.APPROVED:
        return None
    kept = _materials.get(link.material_id)
    if kept is not None and kept[0] == state:
        return kept[1]
    with system_read("tracked page: the material a link names"):
        material = Material.objects.for_org(link.org_id).select_related("org").get(pk=link.material_id)
    if len(_materials) >= MATERIALS_KEPT:
        _materials.clear()
    _materials[link.material_id] = (state, material)
    return material


def new_visitor() -> str:
    return secrets.token_urlsafe(VISITOR_BYTES)


def record_open(link: LinkTarget, *, visitor: str, consented: bool | None) -> int:
    """Insert the visit row (the open itself, recorded whatever the reader decides about tracking, due at once for
    its reactions) in one prepared statement; returns its id."""
    now = clock.now()
    values = {"org_id": link.org_id, "link_id": link.pk, "visitor": visitor, "opened_at": now, "consented": consented,
              "due_at": now, "created_at": timezone.now(), "idempotency_key": f"visit:{secrets.token_hex(12)}"}
    params = list(_defaults())
    # Only the fields of this open are prepared per request; the rest are the model's defaults, prepared once.
    for index, field in _dynamic():
        params[index] = field.get_db_prep_save(values[field.attname], connection)
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(), params)
        return cursor.fetchone()[0]


_STATE_SQL = (f"SELECT status, updated_at FROM {Material._meta.db_table} WHERE id = %s AND org_id = %s")
_VISIT_FIELDS = [f for f in Visit._meta.concrete_fields if not f.primary_key]


_DYNAMIC = {"org_id", "link_id", "visitor", "opened_at", "consented", "due_at", "created_at", "idempotency_key"}


@lru_cache(maxsize=1)
def _dynamic() -> tuple:
    return tuple((i, f) for i, f in enumerate(_VISIT_FIELDS) if f.attname in _DYNAMIC)


@lru_cache(maxsize=1)
def _defaults() -> tuple:
    """Every column's prepared value for a new visit, from the model's own defaults (the dynamic ones are
    overwritten per open)."""
    blank = Visit()
    return tuple(None if f.attname in _DYNAMIC else f.get_db_prep_save(getattr(blank, f.attname), connection)
                 for f in _VISIT_FIELDS)


@lru_cache(maxsize=1)
def _insert_sql() -> str:
    q = connection.ops.quote_name
    return (f"INSERT INTO {q(Visit._meta.db_table)} ({', '.join(q(f.column) for f in _VISIT_FIELDS)}) "
            f"VALUES ({', '.join(['%s'] * len(_VISIT_FIELDS))}) RETURNING {q('id')}")


def visit_key(visit_pk: int) -> str:
    """What the page sends back with each beat: the visit's id, signed, so a reader reaches only their own visit."""
    return _VISIT_SIGNER.sign(str(visit_pk))


def visit_of(key: str) -> int | None:
    try:
        return int(_VISIT_SIGNER.unsign(key))
    except (signing.BadSignature, ValueError):
        return None


def _visit(link: LinkTarget, visit_pk: int):
    return Visit.objects.for_org(link.org_id).filter(pk=visit_pk, link_id=link.pk)


def set_consent(link: LinkTarget, visit_pk: int, consented: bool) -> bool:
    with system_read("tracked page: the reader's own visit"):
        return bool(_visit(link, visit_pk).update(consented=consented))


def beat(link: LinkTarget, visit_pk: int, *, seconds: int, depth: int, final: bool) -> bool:
    """Add ``seconds`` of visible reading (capped) and a scroll depth (the deepest is kept) to a consented visit.
    A final beat (the page was hidden) makes the visit due again, which writes its reading time on the timeline.
    False when the visit is not this link's or its reader did not consent: nothing changes."""
    changes = {"seconds": F("seconds") + min(seconds, BEAT_MAX_SECONDS), "depth": Greatest(F("depth"), depth)}
    if final:
        # Clearing the lease owner too: a worker performing the visit right now cannot mark it done over this.
        changes.update(status=DurableRow.Status.PENDING, due_at=clock.now(), lease_owner="")
    with system_read("tracked page: the reader's own visit"):
        return bool(_visit(link, visit_pk).filter(consented=True).update(**changes))
