"""Consent (授权同意): the organization's versioned privacy notice, each customer's grants and withdrawals per
purpose, and the one question every send asks — who may be contacted for this purpose right now.

Consent records are append-only: a grant or a withdrawal is a new row, and a customer's state for a purpose is
their latest record (latest ``at``, then the latest row). So the state at any past instant can be answered
(``consenting(..., at=...)``), and a withdrawal is in force for the very next send because every send reads the
records themselves, never a cached flag.

Biometric data is never collected: there is no such purpose, so nobody can be asked to consent to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, OuterRef, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from siyu.core import clock, events
from siyu.customers import timeline
from siyu.customers.models import Customer
from siyu.orgs import audit
from siyu.privacy.models import ConsentRecord, PrivacyNotice, Purpose

CHANGED = events.define_kind("consent.changed", gettext_lazy("授权同意变更"))
TIMELINE_KIND = "consent_changed"
LINK_SALT = "siyu.privacy.consent-link"
STATES = ("granted", "withdrawn", "unknown")
# SQLite refuses statements with more than 32,766 parameters; the guard may ask about a million customers at once.
CHUNK = 5_000


# -- the privacy notice ----------------------------------------------------------------------------------------------


def current_notice(org) -> PrivacyNotice | None:
    """The organization's latest published notice, or None before the first one."""
    return PrivacyNotice.objects.for_org(org).order_by("-version").first()


@transaction.atomic
def publish_notice(org, *, title: str, body: str, by) -> PrivacyNotice:
    """Publish a new version of the privacy notice. Earlier versions stay as they were: consent given under them
    names them."""
    if by is not None and not by.can("privacy.notices"):
        raise PermissionDenied("privacy.notices")
    title, body = (title or "").strip(), (body or "").strip()
    errors = {}
    if not title:
        errors["title"] = _("请填写标题。")
    if not body:
        errors["body"] = _("请填写正文。")
    if errors:
        raise ValidationError(errors)
    # Locks the organization's notices so two publishers cannot take the same version number.
    latest = (PrivacyNotice.objects.for_org(org).select_for_update().aggregate(v=Max("version"))["v"] or 0)
    notice = PrivacyNotice.objects.create(org_id=getattr(org, "pk", org), version=latest + 1, title=title[:100],
                                          body=body, published_at=timezone.now(), published_by=getattr(by, "user", None))
    if by is not None:
        audit.record("privacy.notice_published", org=notice.org_id, actor=by.user, obj=notice,
                     details={"version": notice.version, "title": notice.title})
    return notice


# -- recording consent ----------------------------------------------------------------------------------------------


def _check(org, purpose: str, source: str, notice_version: int | None) -> None:
    errors = {}
    if purpose not in Purpose.values:
        errors["purpose"] = _("未知的用途：%(value)s。") % {"value": purpose}
    if source not in ConsentRecord.Source.values:
        errors["source"] = _("未知的来源：%(value)s。") % {"value": source}
    if notice_version is not None and not PrivacyNotice.objects.for_org(org).filter(version=notice_version).exists():
        errors["notice_version"] = _("没有第 %(version)s 版隐私政策。") % {"version": notice_version}
    if errors:
        raise ValidationError(errors)


def _person_id(customer: Customer) -> int | None:
    """The customer's person when the CDP already knows one (followed through merges); consent never creates one."""
    from siyu.cdp.identity import survivor
    from siyu.cdp.models import Person

    person = Person.objects.for_org(customer.org_id).filter(customer=customer).first()
    return survivor(person).pk if person is not None else None


@transaction.atomic
def _record(customer: Customer, purpose: str, granted: bool, *, by, source: str, notice_version: int | None,
            evidence: dict | None, at: datetime | None) -> ConsentRecord:
    _check(customer.org_id, purpose, source, notice_version)
    user = getattr(by, "user", None)
    record = ConsentRecord.objects.create(
        org_id=customer.org_id, customer=customer, person_id=_person_id(customer), purpose=purpose, granted=granted,
        notice_version=notice_version, source=source, evidence=evidence or {}, at=at or timezone.now(),
        recorded_by=user)
    timeline.record(customer, TIMELINE_KIND, at=record.at, actor=user, purpose=purpose, granted=granted,
                    source=source, notice_version=notice_version)
    if by is not None:
        audit.record("privacy.consent_granted" if granted else "privacy.consent_withdrawn", org=customer.org_id,
                     actor=user, obj=customer, details={"purpose": purpose, "consent_source": source})
    events.emit(customer.org_id, CHANGED, record, {"customer_id": customer.pk, "purpose": purpose, "granted": granted})
    return record


def grant_consent(customer: Customer, purpose: str, *, by, source: str, notice_version: int | None = None,
                  evidence: dict | None = None, at: datetime | None = None) -> ConsentRecord:
    """Record that ``customer`` agreed to ``purpose`` (under notice ``notice_version``), with its evidence.
    ``by`` is the member who recorded it, or None when the customer acted themselves (H5 page, chat, an import)."""
    return _record(customer, purpose, True, by=by, source=source, notice_version=notice_version, evidence=evidence,
                   at=at)


def withdraw_consent(customer: Customer, purpose: str, *, by, source: str, notice_version: int | None = None,
                     evidence: dict | None = None, at: datetime | None = None) -> ConsentRecord:
    """Record that ``customer`` withdrew ``purpose``; every send from now on leaves them out."""
    return _record(customer, purpose, False, by=by, source=source, notice_version=notice_version, evidence=evidence,
                   at=at)


# -- reading consent ------------------------------------------------------------------------------------------------


def latest_records(org, purpose: str, *, at: datetime | None = None):
    """Each customer's latest record for ``purpose`` at ``at`` (now by default): one row per customer."""
    org_id = getattr(org, "pk", org)
    at = at or timezone.now()
    mine = ConsentRecord.objects.for_org(org_id).filter(purpose=purpose, at__lte=at)
    latest = mine.filter(customer_id=OuterRef("customer_id")).order_by("-at", "-id").values("pk")[:1]
    return mine.filter(pk=Subquery(latest))


def consenting(org, customer_ids: Iterable[int], purpose: str, *, at: datetime | None = None) -> set[int]:
    """The ids among ``customer_ids`` whose latest record for ``purpose`` at ``at`` (now by default) is a grant.
    A customer without any record has not consented."""
    if purpose not in Purpose.values:
        raise ValueError(f"unknown consent purpose {purpose!r}")
    ids = sorted({int(pk) for pk in customer_ids})
    latest = latest_records(org, purpose, at=at)
    found: set[int] = set()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        found.update(latest.filter(customer_id__in=chunk, granted=True).values_list("customer_id", flat=True))
    return found


def consent_state(org, customer_id: int) -> dict:
    """Every purpose's current state for one customer: ``{purpose: {"state": "granted"|"withdrawn"|"unknown",
    "at", "source", "notice_version"}}`` (the last three None when unknown)."""
    now = timezone.now()
    rows = (ConsentRecord.objects.for_org(org).filter(customer_id=customer_id, at__lte=now)
            .order_by("purpose", "-at", "-id"))
    state = {purpose: {"state": "unknown", "at": None, "source": None, "notice_version": None}
             for purpose in Purpose.values}
    seen = set()
    for row in rows:
        if row.purpose in seen or row.purpose not in state:
            continue
        seen.add(row.purpose)
        state[row.purpose] = {"state": row.state, "at": row.at, "source": row.source,
                              "notice_version": row.notice_version}
    return state


# -- the customer's own link ----------------------------------------------------------------------------------------


class LinkExpired(Exception):
    """The link is genuine but older than ``SIYU_CONSENT_LINK_DAYS``: a forwarded or long-kept link stops working."""


def link_token(customer: Customer) -> str:
    """A signed token naming the customer and when it was issued (the schedule clock, so tests can age it): it
    cannot be guessed or altered without the secret key."""
    issued = int(clock.now().timestamp())
    return signing.dumps({"o": customer.org_id, "c": customer.pk, "t": issued}, salt=LINK_SALT, compress=True)


def customer_for_token(token: str) -> Customer | None:
    """The customer a link token names, or None when it was altered or the customer is gone; raises
    :class:`LinkExpired` for a genuine link past its life."""
    try:
        data = signing.loads(token, salt=LINK_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), int) for k in ("o", "c", "t")):
        return None
    if clock.now().timestamp() - data["t"] > settings.CONSENT_LINK_DAYS * 86400:
        raise LinkExpired
    return Customer.objects.for_org(data["o"]).filter(pk=data["c"]).select_related("org").first()


def consent_link(customer: Customer) -> str:
    """The public address of the customer's consent page, to send them in a chat."""
    return f"{settings.PUBLIC_URL}{reverse('privacy:consent_page', args=[link_token(customer)])}"
