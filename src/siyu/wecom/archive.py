"""The chat archive (会话存档): pull archived messages into :class:`ChatMessage` rows, once each.

WeCom serves the archive only through Tencent's closed native SDK (reference §4), so where the messages come
from is an :class:`ArchiveSource`:

* :class:`SimulatorArchiveSource`: the simulator's ``GET /sim/archive`` feed (plaintext messages), for the
  demo and the tests;
* ``siyu.wecom.archive_wecom.WeComSdkArchiveSource``: the real SDK through ctypes, imported only when an
  organization selects it (docs/archive.md).

The source is chosen per organization by the ``SIYU_ARCHIVE_SOURCE`` setting (or environment variable):
``simulator`` (default), ``wecom_sdk`` or ``off``, or a JSON object by organization slug with ``"*"`` as
the default, e.g. ``{"brand-a": "wecom_sdk", "*": "off"}``.

:func:`fetch_archive` reads from the organization's :class:`ArchiveCursor` in pages, stores the new
messages and advances the cursor in the same transaction (a compare-and-set on the cursor, so two fetchers
never store the same range twice), writes ``chatted`` timeline events and a ``message.archived`` domain event for each
new message, all in one transaction.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from siyu.core import events
from siyu.customers import timeline
from siyu.customers.models import Customer
from siyu.orgs.models import Staff
from siyu.wecom.models import DEFAULT_API_BASE, ArchiveCursor, ChatMessage, WeComConnection

PAGE_LIMIT = 1000  # GetChatData: at most 1000 messages per call
MAX_PAGES = 20  # per fetch; the next minute's run continues from the cursor
SOURCES = ("simulator", "wecom_sdk", "off")
# external_userid prefixes (reference §3.0): wm… WeChat customer, wo… WeCom customer.
_CUSTOMER_PREFIXES = ("wm", "wo")


class ArchiveError(Exception):
    """The archive source refused or failed; ``errcode`` is the SDK's (10000–10011) when there is one."""

    def __init__(self, message: str, errcode: int | None = None):
        super().__init__(message if errcode is None else f"errcode {errcode}: {message}")
        self.errcode = errcode


class ArchiveSourceUnavailable(ArchiveError):
    """The selected source cannot be used here: not configured, or the SDK is missing."""


@dataclass(frozen=True)
class ArchiveMessage:
    """One archived message: its ``seq`` in the corp's archive, its ``msgid`` and the plaintext message
    JSON of reference §4.2 (``action``, ``from``, ``tolist``, ``roomid``, ``msgtime`` in ms, ``msgtype``, …)."""

    seq: int
    msgid: str
    message: dict


class ArchiveSource(ABC):
    """Where archived messages come from."""

    @abstractmethod
    def fetch(self, seq: int, limit: int) -> list[ArchiveMessage]:
        """Up to ``limit`` (1..1000) messages after ``seq``, in seq order; empty when there are none."""

    def close(self) -> None:  # noqa: B027 - sources without resources need no cleanup
        """Release what the source holds (connections, the SDK handle)."""


class SimulatorArchiveSource(ArchiveSource):
    """The simulator's archive feed, on the host of the connection's API base (``…/cgi-bin/`` → ``…/sim/archive``)."""

    def __init__(self, conn: WeComConnection):
        self.url = archive_url(conn.api_base)
        self._http = httpx.Client(timeout=float(getattr(settings, "WECOM_TIMEOUT", 10.0)))

    def fetch(self, seq: int, limit: int) -> list[ArchiveMessage]:
        try:
            response = self._http.get(self.url, params={"seq": seq, "limit": limit})
            data = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise ArchiveError(f"{self.url}: {type(error).__name__}: {error}") from None
        if response.status_code != 200 or not isinstance(data, dict):
            raise ArchiveError(f"{self.url}: HTTP {response.status_code}")
        if int(data.get("errcode") or 0):
            raise ArchiveError(str(data.get("errmsg") or ""), int(data["errcode"]))
        return [
            ArchiveMessage(int(item["seq"]), str(item.get("msgid") or ""), item.get("message"))
            for item in data.get("chatdata") or []
        ]

    def close(self) -> None:
        self._http.close()


def archive_url(api_base: str) -> str:
    """The simulator's archive endpoint next to its ``/cgi-bin/`` API."""
    parts = urlsplit(api_base)
    path = parts.path.rstrip("/")
    if path.endswith("/cgi-bin"):
        path = path[: -len("/cgi-bin")]
    return urlunsplit((parts.scheme, parts.netloc, f"{path}/sim/archive", "", ""))


# -- choosing the source ----------------------------------------------------------------------------------------
def org_setting(name: str, org, default=None):
    """A per-organization setting: Django setting or environment variable ``name``, either one value for every
    organization or a JSON object (a dict in Django settings) by organization slug, ``"*"`` as the default."""
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name)
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            value = json.loads(value)
        except ValueError:
            raise ArchiveSourceUnavailable(f"{name} is not valid JSON") from None
    if isinstance(value, dict):
        value = value.get(org.slug, value.get("*"))
    return default if value in (None, "") else value


def source_name(org) -> str:
    name = str(org_setting("SIYU_ARCHIVE_SOURCE", org, "simulator")).strip()
    if name not in SOURCES:
        raise ArchiveSourceUnavailable(f"SIYU_ARCHIVE_SOURCE for {org.slug}: {name!r} is not one of {', '.join(SOURCES)}")
    return name


def _effective_source(org, conn: WeComConnection) -> str:
    """The selected source, except that the simulator feed is off for a connection to WeCom itself (which has
    no such endpoint): the default must not make production organizations fail every minute."""
    name = source_name(org)
    if name == "simulator" and urlsplit(conn.api_base).netloc == urlsplit(DEFAULT_API_BASE).netloc:
        return "off"
    return name


def archive_enabled(org, conn: WeComConnection) -> bool:
    """Whether there is anything to pull for this organization's connection."""
    return _effective_source(org, conn) != "off"


def source_for(org) -> ArchiveSource | None:
    """The organization's archive source, or None when the archive is off or it has no active connection."""
    conn = WeComConnection.objects.for_org(org).filter(is_active=True).first()
    if conn is None:
        return None
    name = _effective_source(org, conn)
    if name == "off":
        return None
    if name == "wecom_sdk":
        from siyu.wecom.archive_wecom import WeComSdkArchiveSource  # ctypes and the .so only when selected

        return WeComSdkArchiveSource.for_org(org, conn)
    return SimulatorArchiveSource(conn)


# -- fetching ---------------------------------------------------------------------------------------------------
def fetch_archive(org, *, source: ArchiveSource | None = None, limit: int = PAGE_LIMIT, max_pages: int = MAX_PAGES) -> int:
    """Pull new archived messages of ``org`` from its cursor; returns how many messages were stored.

    Idempotent: a message already stored (same ``msgid``) is not stored, timelined or announced again.
    """
    own_source = source is None
    source = source or source_for(org)
    if source is None:
        return 0
    try:
        cursor, _ = ArchiveCursor.objects.for_org(org).get_or_create(org=org)
        stored = 0
        for _page in range(max_pages):
            seq = ArchiveCursor.objects.for_org(org).values_list("seq", flat=True).get(pk=cursor.pk)
            batch = source.fetch(seq, limit)
            if not batch:
                ArchiveCursor.objects.for_org(org).filter(pk=cursor.pk).update(fetched_at=timezone.now())
                break
            stored += _store_batch(org, cursor.pk, seq, batch)
            if len(batch) < limit:
                break
        return stored
    finally:
        if own_source:
            source.close()


def _store_batch(org, cursor_pk: int, seq: int, batch: list[ArchiveMessage]) -> int:
    with transaction.atomic():
        new_seq = max([seq, *(m.seq for m in batch)])
        moved = ArchiveCursor.objects.for_org(org).filter(pk=cursor_pk, seq=seq).update(seq=new_seq, fetched_at=timezone.now())
        if not moved:
            return 0  # another fetcher stored this range first
        rows: dict[str, ChatMessage] = {}
        for item in batch:
            if item.seq > seq:
                row = _message_row(org, item)
                rows.setdefault(row.msgid, row)
        known = set(ChatMessage.objects.for_org(org).filter(msgid__in=list(rows)).values_list("msgid", flat=True))
        new = [row for msgid, row in rows.items() if msgid not in known]
        _link_people(org, new)
        ChatMessage.objects.bulk_create(new)
        for message in new:
            if message.customer_id is not None:
                timeline.chatted(message)
        events.emit_many(org, events.Kind.MESSAGE_ARCHIVED, new)
    return len(new)


def _message_row(org, item: ArchiveMessage) -> ChatMessage:
    """A ChatMessage from whatever the archive holds: unknown types and malformed fields are kept, never fatal."""
    message = item.message if isinstance(item.message, dict) else {"raw": item.message}
    msgid = str(item.msgid or message.get("msgid") or f"seq-{item.seq}")[:128]
    action = str(message.get("action") or "send")
    sender = message.get("from") or message.get("user") or ""  # "switch" messages name the member in "user"
    tolist = message.get("tolist")
    receivers = [str(x) for x in tolist] if isinstance(tolist, list) else []
    msgtype = str(message.get("msgtype") or (action if action != "send" else "") or "unknown")
    return ChatMessage(
        org=org, msgid=msgid, seq=item.seq, action=action[:10], sender=str(sender)[:64], receivers=receivers,
        room_id=str(message.get("roomid") or "")[:64], msgtype=msgtype[:20], text=_text_of(message, msgtype),
        content=message, sent_at=_sent_at(message.get("msgtime")),
    )


def _text_of(message: dict, msgtype: str) -> str:
    if msgtype != "text":
        return ""
    body = message.get("text")
    content = body.get("content") if isinstance(body, dict) else body
    return "" if content is None else str(content)


def _sent_at(msgtime) -> datetime:
    """``msgtime`` is in milliseconds; a missing or impossible value becomes the time it was archived."""
    try:
        return datetime.fromtimestamp(int(msgtime) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return timezone.now()


def _link_people(org, messages: list[ChatMessage]) -> None:
    """Map sender and receivers to the customer and the staff member of each message (1:1 chats: both)."""
    ids = {m.sender for m in messages} | {r for m in messages for r in m.receivers}
    ids.discard("")
    staff = {s.userid: s for s in Staff.objects.for_org(org).filter(userid__in=ids)}
    customers = {c.external_userid: c for c in Customer.objects.for_org(org).filter(external_userid__in=ids)}
    for message in messages:
        sender = message.sender
        direct = not message.room_id
        if sender in staff and sender not in customers:
            message.staff = staff[sender]
            if direct:
                message.customer = next((customers[r] for r in message.receivers if r in customers), None)
        elif sender in customers or sender.startswith(_CUSTOMER_PREFIXES):
            message.from_customer = True
            message.customer = customers.get(sender)
            if direct:
                message.staff = next((staff[r] for r in message.receivers if r in staff), None)
