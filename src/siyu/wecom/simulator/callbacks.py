"""Callback events: the exact XML of reference §2, encrypted, signed and POSTed like WeCom.

Each builder returns an :class:`Event` whose ``xml`` is the plaintext a
receiver gets after ``WXBizMsgCrypt.decrypt_message``: the self-built-app
header (``ToUserName`` = CorpID, ``FromUserName`` = ``sys``, ``MsgType`` =
``event``), then the fields in the order of the official samples. Optional
fields are omitted, never sent empty, because receivers test for presence
(no ``State`` means "not from a channel code").

:class:`CallbackSender` delivers them the way WeCom does: 5-second timeout,
up to 3 attempts on a timeout or a non-200 answer, every attempt recorded.
"""

from __future__ import annotations

import collections
import itertools
import queue
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable
from xml.sax.saxutils import escape

import httpx

from siyu.wecom.crypto import WXBizMsgCrypt

from . import ids

DELIVERY_TIMEOUT = 5.0
MAX_ATTEMPTS = 3

Deliver = Callable[[str, dict[str, str], bytes], int]
_STOP = object()


@dataclass(frozen=True)
class Event:
    event: str
    change_type: str
    xml: str


class _Bare(str):
    """A value WeCom's samples print as bare text rather than CDATA (e.g. ``<Mobile>``)."""


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _render(name: str, value: Any) -> str:
    if isinstance(value, list):
        items = "".join(f"\n\t\t<Item>{escape(str(v))}</Item>" for v in value)
        return f"<{name}>{items}\n\t</{name}>"
    if isinstance(value, (int, _Bare)):
        return f"<{name}>{escape(str(value))}</{name}>"
    return f"<{name}>{_cdata(str(value))}</{name}>"


def _xml(corp_id: str, create_time: int, event: str, change_type: str, fields: list[tuple[str, Any]]) -> Event:
    head = [
        ("ToUserName", corp_id),
        ("FromUserName", "sys"),
        ("CreateTime", int(create_time)),
        ("MsgType", "event"),
        ("Event", event),
    ]
    body = "".join(f"\n\t{_render(n, v)}" for n, v in head + fields if v is not None)
    return Event(event, change_type, f"<xml>{body}\n</xml>")


# --- §2.1 change_external_contact ----------------------------------------------------------------


def external_contact(
    corp_id: str,
    create_time: int,
    change_type: str,
    userid: str,
    external_userid: str,
    *,
    state: str | None = None,
    welcome_code: str | None = None,
    source: str | None = None,
    fail_reason: str | None = None,
) -> Event:
    """add/edit/add_half/del_external_contact, del_follow_user, transfer_fail."""
    fields = [
        ("ChangeType", change_type),
        ("FailReason", fail_reason),
        ("UserID", userid),
        ("ExternalUserID", external_userid),
        ("State", state or None),
        ("WelcomeCode", welcome_code or None),
        ("Source", source),
    ]
    return _xml(corp_id, create_time, "change_external_contact", change_type, fields)


# --- §2.2 change_external_chat --------------------------------------------------------------------


def external_chat(
    corp_id: str,
    create_time: int,
    change_type: str,
    chat_id: str,
    *,
    update_detail: str | None = None,
    join_scene: int | None = None,
    quit_scene: int | None = None,
    mem_change_list: list[str] | None = None,
    last_mem_ver: str | None = None,
    cur_mem_ver: str | None = None,
) -> Event:
    """create / update (add_member, del_member, change_owner, change_name, change_notice) / dismiss."""
    fields: list[tuple[str, Any]] = [("ChatId", chat_id), ("ChangeType", change_type), ("UpdateDetail", update_detail)]
    if update_detail in ("add_member", "del_member"):
        fields += [
            ("JoinScene", join_scene if update_detail == "add_member" else None),
            ("QuitScene", quit_scene if update_detail == "del_member" else None),
            ("MemChangeCnt", len(mem_change_list or [])),
            ("MemChangeList", list(mem_change_list or [])),
            ("LastMemVer", _Bare(last_mem_ver or "")),
            ("CurMemVer", _Bare(cur_mem_ver or "")),
        ]
    return _xml(corp_id, create_time, "change_external_chat", change_type, fields)


# --- §2.3 change_external_tag ---------------------------------------------------------------------


def external_tag(corp_id: str, create_time: int, change_type: str, id: str, tag_type: str | None = None) -> Event:
    """create/update/delete carry TagType (tag | tag_group); shuffle carries none."""
    fields = [("Id", id), ("TagType", None if change_type == "shuffle" else tag_type), ("ChangeType", change_type)]
    return _xml(corp_id, create_time, "change_external_tag", change_type, fields)


# --- §2.4 change_contact --------------------------------------------------------------------------


def contact_user(corp_id: str, create_time: int, change_type: str, staff, new_userid: str | None = None,
                 *, partial: bool = False) -> Event:
    """create_user/update_user carry the member's details; delete_user only the UserID.

    ``partial``: for callback URLs set after 2022-08-15 only UserID and Department are sent (doc 90970).
    """
    fields: list[tuple[str, Any]] = [("ChangeType", _Bare(change_type)), ("UserID", staff.userid)]
    if change_type != "delete_user" and partial:
        fields += [("NewUserID", new_userid), ("Department", ",".join(str(d) for d in staff.department))]
    elif change_type != "delete_user":
        fields += [
            ("NewUserID", new_userid),
            ("Name", staff.name),
            ("Department", ",".join(str(d) for d in staff.department)),
            ("MainDepartment", staff.department[0] if staff.department else None),
            ("Position", staff.position or None),
            ("Mobile", _Bare(staff.mobile) if staff.mobile else None),
            ("Gender", int(staff.gender)),
            ("Email", staff.email or None),
            ("Status", staff.status),
            ("Avatar", staff.avatar or None),
            ("Alias", staff.alias or None),
        ]
    return _xml(corp_id, create_time, "change_contact", change_type, fields)


def contact_party(corp_id: str, create_time: int, change_type: str, department) -> Event:
    """create_party/update_party carry Name/ParentId/Order; delete_party only the Id."""
    fields: list[tuple[str, Any]] = [("ChangeType", _Bare(change_type)), ("Id", department.id)]
    if change_type != "delete_party":
        fields += [("Name", department.name), ("ParentId", department.parentid), ("Order", department.order)]
    return _xml(corp_id, create_time, "change_contact", change_type, fields)


# --- delivery -------------------------------------------------------------------------------------


@dataclass
class Delivery:
    """One callback sent to the app, with every attempt WeCom made."""

    id: int
    event: str
    change_type: str
    xml: str
    url: str
    params: dict[str, str]
    body: bytes
    status: str = "pending"  # pending | delivered | failed | skipped (no callback URL)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    copy_of: int | None = None  # set on duplicates and redeliveries

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event": self.event,
            "change_type": self.change_type,
            "status": self.status,
            "attempts": list(self.attempts),
            "copy_of": self.copy_of,
            "xml": self.xml,
        }


_clients = threading.local()


def _delivery_client() -> httpx.Client:
    """One keep-alive client per delivering thread: a new client per callback cost ~40 ms of CPU (it loads
    the CA bundle), which capped the simulator below the rates the app is tested at."""
    client = getattr(_clients, "client", None)
    if client is None:
        client = _clients.client = httpx.Client(timeout=DELIVERY_TIMEOUT)
    return client


def http_deliver(url: str, params: dict[str, str], body: bytes) -> int:
    """Default transport: POST the envelope with WeCom's 5-second timeout; timeouts raise TimeoutError."""
    # WeCom appends its parameters to the configured URL, keeping any query string it already has.
    target = httpx.URL(url).copy_merge_params(params)
    try:
        response = _delivery_client().post(target, content=body, headers={"Content-Type": "text/xml"})
    except httpx.TimeoutException as exc:
        raise TimeoutError(str(exc) or "timed out") from exc
    return response.status_code


_SUBJECT = re.compile(r"<(?:ExternalUserID|ChatId|UserID)><!\[CDATA\[(.*?)\]\]>")


def _subject(xml: str) -> str:
    """The customer, group or member an event is about (its first such field), for ordering deliveries."""
    match = _SUBJECT.search(xml)
    return match.group(1) if match else ""


class CallbackSender:
    """Encrypts, signs and delivers events; synchronous by default, or through one worker thread.

    Synchronous delivery means a control call returns only after the app
    answered, which makes tests deterministic. The asynchronous mode (the
    scenario driver, ``serve --senders N``) delivers through ``senders`` worker
    threads; with one it keeps the global order, with more it keeps the order
    of each customer's, group's or member's events, as WeCom does.
    """

    def __init__(
        self,
        crypt: WXBizMsgCrypt,
        corp_id: str,
        agent_id: int | str,
        url: str | None,
        now: Callable[[], float],
        deliver: Deliver | None = None,
        *,
        async_mode: bool = False,
        senders: int = 1,
        duplicate: bool = False,
        keep: int = 10_000,
    ) -> None:
        self._crypt = crypt
        self._corp_id = corp_id
        self._agent_id = str(agent_id)
        self.url = url
        self._now = now
        self._deliver = deliver or http_deliver
        self.duplicate = duplicate
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.deliveries: collections.deque[Delivery] = collections.deque(maxlen=keep)
        self._queues: list[queue.Queue] = []
        self._workers: list[threading.Thread] = []
        if async_mode:
            for n in range(max(1, senders)):
                self._queues.append(queue.Queue())
                self._workers.append(threading.Thread(target=self._run, args=(self._queues[-1],),
                                                      name=f"wecom-sim-callbacks-{n}", daemon=True))
                self._workers[-1].start()

    def envelope(self, xml: str) -> tuple[dict[str, str], bytes]:
        """The query parameters and POST body WeCom sends for one event."""
        encrypted = self._crypt.encrypt(xml.encode("utf-8"))
        timestamp, nonce = str(int(self._now())), ids.nonce()
        params = {"msg_signature": self._crypt.signature(timestamp, nonce, encrypted), "timestamp": timestamp, "nonce": nonce}
        body = (
            "<xml>\n"
            f"\t<ToUserName>{_cdata(self._corp_id)}</ToUserName>\n"
            f"\t<AgentID>{_cdata(self._agent_id)}</AgentID>\n"
            f"\t<Encrypt>{_cdata(encrypted)}</Encrypt>\n"
            "</xml>"
        ).encode("utf-8")
        return params, body

    def send(self, events: list[Event]) -> list[Delivery]:
        sent = []
        for event in events:
            params, body = self.envelope(event.xml)
            delivery = self._record(event.event, event.change_type, event.xml, params, body)
            sent.append(delivery)
            self._dispatch(delivery)
            if self.duplicate:
                self._dispatch(self._copy(delivery))
        return sent

    def redeliver_all(self) -> int:
        """Send every recorded callback again, byte for byte (what a WeCom retry storm looks like)."""
        with self._lock:
            originals = [d for d in self.deliveries if d.copy_of is None]
        for delivery in originals:
            self._dispatch(self._copy(delivery))
        return len(originals)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until queued deliveries are done (async mode); True when the queues drained."""
        marks = []
        for pending in self._queues:
            marks.append(threading.Event())
            pending.put_nowait(marks[-1])  # the worker sets it after everything queued before it
        return all(mark.wait(timeout) for mark in marks)

    def close(self) -> None:
        """Deliver what is queued, then stop the workers."""
        for pending in self._queues:
            pending.put_nowait(_STOP)
        for worker in self._workers:
            worker.join()
        self._queues, self._workers = [], []

    # internals

    def _record(self, event: str, change_type: str, xml: str, params, body, copy_of=None) -> Delivery:
        delivery = Delivery(next(self._ids), event, change_type, xml, self.url or "", params, body, copy_of=copy_of)
        with self._lock:
            self.deliveries.append(delivery)
        return delivery

    def _copy(self, original: Delivery) -> Delivery:
        return self._record(
            original.event, original.change_type, original.xml, dict(original.params), original.body, original.id
        )

    def _dispatch(self, delivery: Delivery) -> None:
        if self._queues:
            # Events about one customer, group or member go through one sender, in order; WeCom promises no
            # order across them, and delivers them side by side.
            self._queues[hash(_subject(delivery.xml)) % len(self._queues)].put_nowait(delivery)
        else:
            self._attempt_all(delivery)

    def _run(self, pending: queue.Queue) -> None:
        while True:
            item = pending.get()
            if item is _STOP:
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            self._attempt_all(item)

    def _attempt_all(self, delivery: Delivery) -> None:
        if not delivery.url:
            delivery.status = "skipped"
            return
        for _ in range(MAX_ATTEMPTS):
            attempt: dict[str, Any] = {"at": self._now()}
            try:
                attempt["status"] = int(self._deliver(delivery.url, delivery.params, delivery.body))
            except TimeoutError:
                attempt["status"], attempt["error"] = None, "timeout"
            except Exception as exc:  # noqa: BLE001 - any transport failure is a failed attempt, like WeCom
                attempt["status"], attempt["error"] = None, f"{type(exc).__name__}: {exc}"
            delivery.attempts.append(attempt)
            if attempt["status"] == 200:
                delivery.status = "delivered"
                return
        delivery.status = "failed"
