"""Welcome messages (欢迎语): validating them against WeCom's limits, choosing one, and sending it in time.

Choosing: for an add by staff member S through code C, the first scope that has a message wins, in the order
code+staff → code → staff → default. Within a scope a time-slot variant whose window covers the add beats the
plain message. ``{customer_nickname}``, ``{staff_name}`` and ``{channel}`` in the text are filled in.

Sending: WeCom hands a ``WelcomeCode`` with the add event; it works once, within 20 seconds. A
:class:`~siyu.channels.models.WelcomeSend` row (idempotency key = the welcome code) is created when the
callback is received and sends it before any other work: 41051 (already sent, or the customer already chats)
ends it without a retry; 41096 (another app is sending) retries shortly while the window lasts; 41050 or a
window that has passed ends it as expired, with the reason.

Materials chosen from the library are stored as references and resolved at send time
(:mod:`siyu.channels.welcome_materials`): one withdrawn or rejected meanwhile is skipped.

Media: an image's ``pic_url`` and an http(s) URL given for a file, video or mini-program cover are sources
that :mod:`siyu.wecom.media` uploads to WeCom before the send (``uploadimg`` once; temporary media again
after its three days); a plain ``media_id`` goes out as given.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.channels import queries, welcome_materials
from siyu.channels.models import ATTACHMENTS_MAX, ChannelCode, WelcomeMessage, WelcomeSend
from siyu.core.durable import PermanentFailure, RetryLater
from siyu.customers import timeline
from siyu.wecom import media
from siyu.customers.models import Customer
from siyu.customers.services import from_epoch
from siyu.orgs.models import Staff
from siyu.wecom import attachments as wecom_attachments
from siyu.wecom import endpoints
from siyu.wecom.client import WeComClient
from siyu.wecom.errors import (
    NotConnected,
    NotExternalContact,
    RateLimited,
    SystemBusy,
    TokenInvalid,
    WelcomeAlreadySent,
    WelcomeBeingSent,
    WelcomeCodeInvalid,
    WeComError,
    WeComNetworkError,
)

log = logging.getLogger(__name__)

WINDOW = timedelta(seconds=20)  # WeCom: a welcome code is valid for 20 s after the add event
BEING_SENT_RETRY = 2.0
TEXT_MAX_BYTES = wecom_attachments.TEXT_MAX_BYTES
VARIABLES = ("customer_nickname", "staff_name", "channel")
_VARIABLE = re.compile(r"\{([^{}]*)\}")


# -- validation -----------------------------------------------------------------------------------------------
def unknown_variables(text: str, allowed=VARIABLES) -> list[str]:
    return sorted({name for name in _VARIABLE.findall(text or "") if name not in allowed})


def clean_welcome(text: str, attachments: list, *, org=None) -> tuple[str, list[dict]]:
    """Validate a welcome message; returns (text, attachments in WeCom's shape and references to ``org``'s
    materials) or raises a field-keyed error."""
    errors: dict[str, list[str]] = {}
    text = (text or "").strip()
    if wecom_attachments.byte_length(text) > TEXT_MAX_BYTES:
        errors.setdefault("text", []).append(_("欢迎语最多 4000 字节（约 1300 个汉字）。"))
    unknown = unknown_variables(text)
    if unknown:
        errors.setdefault("text", []).append(
            _("未知的变量：%(names)s。可用变量：{customer_nickname}、{staff_name}、{channel}。") % {"names": "、".join("{%s}" % n for n in unknown)}
        )
    cleaned, problems = welcome_materials.clean_list(org, attachments, limit=ATTACHMENTS_MAX)
    if problems:
        errors.setdefault("attachments", []).extend(problems)
    if not text and not attachments:
        errors.setdefault("text", []).append(_("欢迎语的文字和附件不能都为空。"))
    if errors:
        raise ValidationError(errors)
    return text, cleaned


# -- choosing --------------------------------------------------------------------------------------------------
def _window_covers(message: WelcomeMessage, moment: datetime) -> bool:
    local = timezone.localtime(moment)
    if local.weekday() not in message.window_days:
        return False
    now = local.time().replace(tzinfo=None)
    start = message.window_start
    end = message.window_end
    return (start is None or now >= start) and (end is None or now < end)


def resolve(org, *, code: ChannelCode | None, staff, at: datetime | None = None) -> WelcomeMessage | None:
    """The welcome message for an add by ``staff`` through ``code`` (None: not through a code) at ``at``."""
    at = at or timezone.now()
    wanted = Q(code=None, staff=staff) | Q(code=None, staff=None)
    if code is not None:
        wanted |= Q(code=code, staff=staff) | Q(code=code, staff=None)
    messages = list(WelcomeMessage.objects.for_org(org).filter(wanted).order_by("id"))
    scopes = [(None, staff.pk), (None, None)]
    if code is not None:
        scopes = [(code.pk, staff.pk), (code.pk, None), *scopes]
    for code_id, staff_id in scopes:
        candidates = [m for m in messages if m.code_id == code_id and m.staff_id == staff_id]
        variant = next((m for m in candidates if m.is_variant and _window_covers(m, at)), None)
        if variant is not None:
            return variant
        plain = next((m for m in candidates if not m.is_variant), None)
        if plain is not None:
            return plain
    return None


def render(text: str, *, nickname: str, staff, code: ChannelCode | None) -> str:
    values = {
        "customer_nickname": nickname or "",
        "staff_name": (staff.name or staff.userid) if staff else "",
        "channel": code.name if code else "",
    }
    rendered = _VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), text or "")
    encoded = rendered.encode("utf-8")
    if len(encoded) > TEXT_MAX_BYTES:  # a very long nickname must not make WeCom refuse the whole message
        rendered = encoded[:TEXT_MAX_BYTES].decode("utf-8", "ignore")
    return rendered


def payload_for(message: WelcomeMessage, *, nickname: str, staff, code: ChannelCode | None, welcome_code: str,
                customer: Customer | None = None) -> dict | None:
    """The ``send_welcome_msg`` body: the rendered text and the message's attachments in WeCom's wire form, its
    materials as they are now; None when nothing is left to send (no text, and every material withdrawn)."""
    text = render(message.text, nickname=nickname, staff=staff, code=code)
    attachments = welcome_materials.resolved(message.org_id, message.attachments, customer=customer, staff=staff)
    if not text and not attachments:
        return None
    return {"welcome_code": welcome_code, **wecom_attachments.content(text, attachments)}


# -- sending --------------------------------------------------------------------------------------------------
ADD_CHANGES = ("add_external_contact", "add_half_external_contact")


def queue_from_callback(org_id: int, fields: dict, received_at: datetime) -> None:
    """Create the send for an add event's welcome code the moment its callback is received.

    The add itself is processed later, in arrival order, and a burst can queue it for longer than WeCom's 20 s;
    the welcome needs nothing from that processing, so it starts here and is claimed before all other work.
    One insert, ignored when this welcome code is already known (WeCom retries a callback it thinks was lost).
    """
    welcome_code = str(fields.get("WelcomeCode") or "")
    if not welcome_code:
        return  # WeCom sends the admin's own welcome message, or none: nothing for us to send
    event_at = from_epoch(fields.get("CreateTime")) or received_at
    row = WelcomeSend(
        org_id=org_id, idempotency_key=f"welcome:{welcome_code}"[:128], welcome_code=welcome_code[:128],
        userid=str(fields.get("UserID") or "")[:64], external_userid=str(fields.get("ExternalUserID") or "")[:64],
        state=str(fields.get("State") or "")[:64], event_at=event_at, deadline=event_at + WINDOW, due_at=event_at,
    )
    WelcomeSend.objects.for_org(org_id).bulk_create([row], ignore_conflicts=True)


def link_relation(relation, *, welcome_code: str) -> None:
    """The add of ``welcome_code`` has been processed into ``relation``: link the send to it.

    A relation keeps its first welcome only (a later add of the same friendship is not welcomed again), so a
    send for a relation that already has one stays unlinked. Records "welcomed" if the send went out first.
    """
    if not welcome_code:
        return
    rows = WelcomeSend.objects.for_org(relation.org_id).filter(idempotency_key=f"welcome:{welcome_code}"[:128], relation=None)
    try:
        with transaction.atomic():
            linked = rows.update(relation=relation)
    except IntegrityError:
        return
    if linked:
        _record_welcomed(relation.org_id, welcome_code)


def _record_welcomed(org_id: int, welcome_code: str) -> None:
    """Write "welcomed" on the timeline once the send is out and its relation known, whichever came second."""
    row = (WelcomeSend.objects.for_org(org_id).filter(idempotency_key=f"welcome:{welcome_code}"[:128])
           .exclude(relation=None).select_related("relation__customer", "relation__staff").first())
    if row is None or row.outcome != WelcomeSend.Outcome.SENT:
        return
    # The compare-and-set makes exactly one of the two sides write it, even when both get here at once.
    if WelcomeSend.objects.for_org(org_id).filter(pk=row.pk, timeline_recorded=False).update(timeline_recorded=True):
        relation = row.relation
        timeline.record(relation.customer, "welcomed", at=row.sent_at, staff=relation.staff, code_id=row.code_id,
                        welcome_id=row.welcome_id, attachments=len(row.payload.get("attachments", [])))


def _settle(row: WelcomeSend, outcome: str, errcode: int | None = None, **changes) -> None:
    changes.update(outcome=outcome, errcode=errcode)
    if outcome == WelcomeSend.Outcome.SENT:
        changes["sent_at"] = timezone.now()
    WelcomeSend.objects.for_org(row.org_id).filter(pk=row.pk).update(**changes)


def _expired(row: WelcomeSend, why: str, errcode: int | None = None):
    _settle(row, WelcomeSend.Outcome.EXPIRED, errcode)
    return PermanentFailure(why)


def _welcomed_before(row: WelcomeSend) -> bool:
    return (WelcomeSend.objects.for_org(row.org_id)
            .filter(userid=row.userid, external_userid=row.external_userid,
                    outcome__in=[WelcomeSend.Outcome.SENT, WelcomeSend.Outcome.ALREADY])
            .exclude(pk=row.pk).exists())


def _nickname(row: WelcomeSend, client) -> str:
    """The customer's WeCom name: ours if the add was processed already, else one ``externalcontact/get``."""
    name = (Customer.objects.for_org(row.org_id).filter(external_userid=row.external_userid)
            .values_list("name", flat=True).first())
    if name:
        return name
    try:
        return endpoints.get_external_contact(client, row.external_userid).name
    except NotExternalContact:
        return ""


def _prepare(row: WelcomeSend, client) -> dict | None:
    """Choose and render the message for this add; None when none applies (or this friendship had one)."""
    staff = Staff.objects.for_org(row.org_id).filter(userid=row.userid).first()
    if staff is None or _welcomed_before(row):
        return None
    code = queries.code_for_state(row.org_id, row.state)
    if code is not None and not code.welcome_enabled:
        return None
    active = code if code is not None and code.status == ChannelCode.Status.ACTIVE else None
    message = resolve(row.org_id, code=active, staff=staff, at=row.event_at)
    if message is None:
        return None
    nickname = _nickname(row, client) if "{customer_nickname}" in message.text else ""
    customer = Customer.objects.for_org(row.org_id).filter(external_userid=row.external_userid).first()
    payload = payload_for(message, nickname=nickname, staff=staff, code=active, welcome_code=row.welcome_code,
                          customer=customer)
    if payload is None:
        return None
    WelcomeSend.objects.for_org(row.org_id).filter(pk=row.pk).update(code=active, welcome=message, payload=payload)
    row.code, row.welcome, row.payload = active, message, payload
    return payload


def perform_send(row: WelcomeSend) -> None:
    """Send one welcome message (WelcomeSend.perform). Raises RetryLater / PermanentFailure as described above."""
    if row.outcome:
        return  # settled by an earlier attempt whose completion was lost
    try:
        with WeComClient.for_org(row.org_id) as client:
            payload = row.payload or _prepare(row, client)
            if payload is None:
                _settle(row, WelcomeSend.Outcome.NONE)
                return
            media.post_with_media(client, row.org_id, endpoints.SEND_WELCOME_MSG, payload)  # uploads first
    except WelcomeAlreadySent as error:
        if timezone.now() > row.deadline:
            raise _expired(row, _("企业微信回复 41051：欢迎语的 20 秒有效期已过。"), error.errcode) from error
        _settle(row, WelcomeSend.Outcome.ALREADY, error.errcode)  # already delivered: done, never retried
        return
    except WelcomeCodeInvalid as error:
        raise _expired(row, _("企业微信回复 41050：欢迎码无效或 20 秒有效期已过。"), error.errcode) from error
    except WelcomeBeingSent as error:
        if timezone.now() + timedelta(seconds=BEING_SENT_RETRY) > row.deadline:
            raise _expired(row, _("其他应用正在发送欢迎语，20 秒有效期内未能发出。"), error.errcode) from error
        raise RetryLater(BEING_SENT_RETRY, str(error)) from error
    except (RateLimited, SystemBusy, TokenInvalid, WeComNetworkError) as error:
        delay = getattr(error, "retry_after", 1.0) if isinstance(error, RateLimited) else 1.0
        if timezone.now() + timedelta(seconds=delay) > row.deadline:
            raise _expired(row, _("企业微信暂时不可用，20 秒有效期内未能发出：%(error)s") % {"error": error}, error.errcode) from error
        raise RetryLater(delay, str(error)) from error
    except NotConnected as error:
        _settle(row, WelcomeSend.Outcome.REFUSED)
        raise PermanentFailure(str(error.hint)) from error
    except WeComError as error:
        _settle(row, WelcomeSend.Outcome.REFUSED, error.errcode)
        raise PermanentFailure(f"{error} ({error.hint})") from error
    _settle(row, WelcomeSend.Outcome.SENT, 0)
    _record_welcomed(row.org_id, row.welcome_code)
