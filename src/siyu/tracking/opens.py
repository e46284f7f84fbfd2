"""The open path of the tracked page, kept lean: one indexed join for the link and its material's state, one INSERT
of the visit; and the beats that add reading time and depth to a visit whose reader consented.

Everything else an open causes (timeline, behaviour rules, the guide's notice, deciding whether it was a forward)
is the visit's durable work, performed by the dispatcher out of the request.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import threading
from contextlib import nullcontext
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


def _found(token: str) -> tuple | None:
    """The link a token names, with its material's status and last change: one indexed join, no ORM (an open
    is on the hot path). The token is the scope: the address carries no organization."""
    if not (8 <= len(token) <= 16):
        return None
    with connection.cursor() as cursor:
        cursor.execute(_FIND_SQL, [token])
        return cursor.fetchone()


def target(token: str) -> LinkTarget | None:
    found = _found(token)
    return LinkTarget(*found[:4]) if found else None


# Materials read by this process, with the state they were read in: an open learns the material's status and last
# change with its link, and the whole row is read again only when either moved.
_materials: dict[int, tuple[tuple, Material]] = {}
MATERIALS_KEPT = 4096


def readable(token: str) -> tuple[LinkTarget, Material] | None:
    """The link and its material if the material may still be read (approved); unknown token, withdrawn or
    changed back to draft: None."""
    found = _found(token)
    if found is None or found[4] != Material.Status.APPROVED:
        return None
    link, state = LinkTarget(*found[:4]), found[4:]
    kept = _materials.get(link.material_id)
    if kept is not None and kept[0] == state:
        return link, kept[1]
    with system_read("tracked page: the material a link names"):
        material = Material.objects.for_org(link.org_id).select_related("org").get(pk=link.material_id)
    if len(_materials) >= MATERIALS_KEPT:
        _materials.clear()
    _materials[link.material_id] = (state, material)
    return link, material


def new_visitor() -> str:
    return secrets.token_urlsafe(VISITOR_BYTES)


def record_open(link: LinkTarget, *, visitor: str, consented: bool | None) -> int:
    """Insert the visit row (the open itself, recorded whatever the reader decides about tracking, due at once for
    its reactions) in one prepared statement; returns its id."""
    # Only the columns of this open are filled per request, already as the database takes them (times through
    # the backend's adapter, the rest plain Python values); the others are the model's defaults, prepared once.
    stamp = connection.ops.adapt_datetimefield_value
    now = stamp(clock.now())
    values = {"org_id": link.org_id, "link_id": link.pk, "visitor": visitor, "opened_at": now, "consented": consented,
              "due_at": now, "created_at": stamp(timezone.now()), "idempotency_key": f"visit:{secrets.token_hex(12)}"}
    params = list(_defaults())
    for index, attname in _dynamic():
        params[index] = values[attname]
    with _one_writer(), connection.cursor() as cursor:
        cursor.execute(_insert_sql(), params)
        return cursor.fetchone()[0]


def _beside_the_database() -> str | None:
    """The lock file of the opens' writers: beside the SQLite file, or None for an in-memory database, which lives
    in one process (the process's lock is enough there)."""
    if connection.is_in_memory_db():
        return None
    return f"{connection.settings_dict['NAME']}-opens.lock"


class OneWriter:
    """On SQLite, one open at a time is written, across the processes of this host: a thread waits for its turn
    on this process's lock, then on an exclusive ``flock`` on a file shared by every web process. Both wake the
    waiter the moment the one before it commits. Without them a writer refused by SQLite's write lock sleeps in its
    busy handler, whose first back-off (1 ms) is many times an insert: with two web processes that sleep cost a
    sixth of the opens a second, and with four threads a process lost a fifth of their time to it."""

    def __init__(self, lock_path=_beside_the_database):
        self.lock_path = lock_path
        self.turn = threading.Lock()
        self.file = None  # (pid, fd): a forked worker opens its own, so that its flock is its own

    def __enter__(self):
        self.turn.acquire()
        try:
            fd = self._fd()
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            self.turn.release()
            raise

    def __exit__(self, *exc_info):
        try:
            if self.file is not None and self.file[0] == os.getpid():
                fcntl.flock(self.file[1], fcntl.LOCK_UN)
        finally:
            self.turn.release()

    def _fd(self) -> int | None:
        path = self.lock_path()
        if path is None:
            return None
        if self.file is None or self.file[0] != os.getpid():
            self.file = (os.getpid(), os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
        return self.file[1]


_writer = OneWriter()


def _one_writer():
    """PostgreSQL locks rows, not the database: no turns there."""
    return _writer if connection.vendor == "sqlite" else nullcontext()


_FIND_SQL = (
    f"SELECT link.id, link.org_id, link.material_id, link.customer_id, material.status, material.updated_at "
    f"FROM {TrackedLink._meta.db_table} link JOIN {Material._meta.db_table} material "
    f"ON material.id = link.material_id AND material.org_id = link.org_id WHERE link.token = %s LIMIT 1")
_VISIT_FIELDS = [f for f in Visit._meta.concrete_fields if not f.primary_key]


_DYNAMIC = {"org_id", "link_id", "visitor", "opened_at", "consented", "due_at", "created_at", "idempotency_key"}


@lru_cache(maxsize=1)
def _dynamic() -> tuple:
    return tuple((i, f.attname) for i, f in enumerate(_VISIT_FIELDS) if f.attname in _DYNAMIC)


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
