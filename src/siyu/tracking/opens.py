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
from django.db.models import F
from django.db.models.functions import Greatest

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


def material_of(link: LinkTarget) -> Material | None:
    """The link's material if it may still be read (approved); withdrawn or changed back to draft: None."""
    with system_read("tracked page: the material a link names"):
        return (Material.objects.for_org(link.org_id).filter(pk=link.material_id, status=Material.Status.APPROVED)
                .select_related("org").first())


def new_visitor() -> str:
    return secrets.token_urlsafe(VISITOR_BYTES)


def record_open(link: LinkTarget, *, visitor: str, consented: bool | None) -> Visit:
    """The visit row: the open itself, recorded whatever the reader decides about tracking, and due at once."""
    return Visit.objects.create(org_id=link.org_id, link_id=link.pk, visitor=visitor, opened_at=clock.now(),
                                consented=consented, idempotency_key=f"visit:{secrets.token_hex(12)}")


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
