"""Consent API: record a grant or a withdrawal that another system collected, and read a customer's consent history.

A record names the customer by ``customer_id`` or ``external_userid``, the purpose, and the notice version the
customer saw (required for a grant). Bad input is a 422 naming the field, and nothing is written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Router, Schema, Status

from siyu.customers.models import Customer
from siyu.privacy import consent
from siyu.privacy.models import ConsentRecord, Purpose

router = Router(tags=["consent"])


class ConsentIn(Schema):
    customer_id: int | None = Field(None, description="Siyu's customer id; or give external_userid")
    external_userid: str = Field("", max_length=64, description="the WeCom customer's external_userid")
    purpose: Literal["marketing", "profiling", "location"]
    state: Literal["granted", "withdrawn"]
    notice_version: int | None = Field(None, ge=1, le=1_000_000,
                                       description="the privacy notice version the customer saw; required to grant")
    at: datetime | None = Field(None, description="when the customer decided (ISO 8601 with a time zone); now if omitted")
    evidence: dict = Field({}, description="what proves it: page, IP (masked), user agent, form id …")


class ConsentOut(Schema):
    id: int
    customer_id: int
    purpose: str
    state: str
    notice_version: int | None
    source: str
    evidence: dict
    at: datetime


class ConsentStateOut(Schema):
    state: str
    at: datetime | None
    source: str | None
    notice_version: int | None


class CustomerConsentsOut(Schema):
    customer_id: int
    current: dict[str, ConsentStateOut]
    history: list[ConsentOut]


def _out(record: ConsentRecord) -> dict:
    return {"id": record.pk, "customer_id": record.customer_id, "purpose": record.purpose, "state": record.state,
            "notice_version": record.notice_version, "source": record.source, "evidence": record.evidence,
            "at": record.at}


def _customer(viewer, payload: ConsentIn) -> Customer:
    visible = Customer.objects.visible_to(viewer)
    if payload.customer_id is not None and payload.external_userid:
        raise ValidationError({"customer_id": ["give customer_id or external_userid, not both"]})
    if payload.customer_id is not None:
        customer = visible.filter(pk=payload.customer_id).first()
        field = "customer_id"
    elif payload.external_userid.strip():
        customer = visible.filter(external_userid=payload.external_userid.strip()).first()
        field = "external_userid"
    else:
        raise ValidationError({"customer_id": ["give customer_id or external_userid"]})
    if customer is None:
        raise ValidationError({field: ["no such customer"]})
    return customer


def _check(payload: ConsentIn) -> None:
    errors = {}
    if payload.state == "granted" and payload.notice_version is None:
        errors["notice_version"] = ["required to grant: the version of the privacy notice the customer saw"]
    if payload.at is not None:
        if payload.at.tzinfo is None:
            errors["at"] = ["needs a time zone, e.g. 2024-01-31T13:45:00+08:00"]
        elif payload.at > timezone.now():
            errors["at"] = ["must not be in the future"]
    if len(str(payload.evidence)) > 4000:
        errors["evidence"] = ["at most 4,000 characters"]
    if errors:
        raise ValidationError(errors)


@router.post("/consents", response={201: ConsentOut})
def record_consent(request, payload: ConsentIn):
    """Record a customer's grant or withdrawal of one purpose (source ``api``). In force for the next send."""
    viewer = request.auth
    viewer.require("privacy.consents")
    _check(payload)
    customer = _customer(viewer, payload)
    change = consent.grant_consent if payload.state == "granted" else consent.withdraw_consent
    record = change(customer, payload.purpose, by=viewer, source=ConsentRecord.Source.API,
                    notice_version=payload.notice_version, evidence=payload.evidence, at=payload.at)
    return Status(201, _out(record))


@router.get("/customers/{customer_id}/consents", response=CustomerConsentsOut)
def customer_consents(request, customer_id: int):
    """A customer's current state per purpose (``granted``, ``withdrawn`` or ``unknown``) and every record,
    newest first."""
    viewer = request.auth
    viewer.require("customers.view")
    customer = get_object_or_404(Customer.objects.visible_to(viewer), pk=customer_id)
    history = list(ConsentRecord.objects.visible_to(viewer).filter(customer=customer).order_by("-at", "-id"))
    current = {p: {"state": "unknown", "at": None, "source": None, "notice_version": None} for p in Purpose.values}
    now = timezone.now()
    for record in reversed(history):
        if record.at <= now:
            current[record.purpose] = {"state": record.state, "at": record.at, "source": record.source,
                                       "notice_version": record.notice_version}
    return {"customer_id": customer.pk, "current": current, "history": [_out(r) for r in history]}
