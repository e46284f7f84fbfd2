"""The simulated corp: state, clock, API dispatch, and the client-side actions that call back.

One :class:`Simulator` is one WeCom corp with one self-built app. Siyu talks
to it exactly as to ``qyapi.weixin.qq.com`` (through :attr:`Simulator.wsgi_app`),
and tests or the demo play customers, staff and the admin through the
control methods below. The split follows WeCom's own rule (reference §2.0):
changes made through the API produce no callback; changes made "in the
client or admin console" (every control action) do.

Concurrency: one re-entrant lock guards the state; API handlers and control
actions run entirely under it. Callbacks are built under the lock but
delivered after it is released, so an app that calls the API back from its
callback handler cannot deadlock the simulator.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import threading
from typing import Any, Iterator

from siyu.wecom.crypto import WXBizMsgCrypt, jsapi_signature

from . import api, callbacks, chat_tools, ids, names
from .callbacks import CallbackSender, Deliver, Delivery, Event
from .clock import SimClock
from .errors import ApiError, NotFound, SimulatorError, format_errmsg
from .limits import Limits, RateLimiter, receipts_in_period, receive_cap, start_of_day
from .wsgi import application
from .state import (
    ACTIVE,
    DELETED_BY_CUSTOMER,
    GROUP_RESIGNED_PENDING,
    HALF,
    PENDING,
    TRANSFER_DONE,
    TRANSFER_REFUSED,
    TRANSFER_WAITING,
    VISIBLE,
    ArchiveMessage,
    Customer,
    Department,
    GroupChat,
    GroupMember,
    GroupWelcomeDelivery,
    JsTicket,
    MomentReaction,
    OAuthCode,
    Relation,
    Snapshotter,
    Staff,
    State,
    Tag,
    TagGroup,
    WelcomeCode,
    dump,
    load,
    relation_key,
)

# add_way values (DOC 92114): 1 扫描二维码, 2 搜索手机号, 202 管理员/负责人分配.
ADD_WAY_QR, ADD_WAY_SEARCH_MOBILE, ADD_WAY_ASSIGNED = 1, 2, 202
# groupchat/get member join_scene: 1 direct invite, 3 scanned the group QR code;
# the callback's JoinScene says 0 for any invitation and 3 for a QR scan.
MEMBER_SCENE_INVITE, MEMBER_SCENE_QR = 1, 3
CALLBACK_SCENE_INVITE, CALLBACK_SCENE_QR = 0, 3


@dataclasses.dataclass
class Stall:
    """An answer held back (:meth:`Simulator.stall_next`): ``reached`` once performed, sent when ``release`` is set."""

    path: str
    reached: threading.Event
    release: threading.Event
    timeout: float


class Simulator:
    """A faithful local WeCom for one corp and one self-built app.

    ``deliver(url, params, body) -> HTTP status`` replaces the HTTP transport
    for callbacks (raise ``TimeoutError`` to simulate a timeout); tests use it
    to deliver in-process. ``state_file`` keeps the corp across restarts.
    """

    def __init__(
        self,
        corp_id: str,
        corp_secret: str,
        agent_id: int | str,
        token: str,
        encoding_aes_key: str,
        callback_url: str | None = None,
        *,
        clock: SimClock | None = None,
        deliver: Deliver | None = None,
        state_file: str | os.PathLike | None = None,
        limits: Limits | None = None,
        async_delivery: bool = False,
        callback_senders: int = 1,
        duplicate_deliveries: bool = False,
        corp_name: str = "思语示例品牌",
        snapshot_interval: float = 1.0,
    ) -> None:
        self.corp_id = corp_id
        self.corp_secret = corp_secret
        self.agent_id = int(agent_id)
        self.clock = clock or SimClock()
        self.limits = limits or Limits()
        self.crypt = WXBizMsgCrypt(token, encoding_aes_key, corp_id)
        self._lock = threading.RLock()
        self._rate = RateLimiter(self.limits)
        self._failures: list[dict[str, Any]] = []
        self._stalls: list[Stall] = []
        self._rng = random.Random()
        self._callbacks = CallbackSender(
            self.crypt,
            corp_id,
            self.agent_id,
            callback_url,
            self.clock.now,
            deliver,
            async_mode=async_delivery,
            senders=callback_senders,
            duplicate=duplicate_deliveries,
        )
        self._snapshots = Snapshotter(state_file, self._dump, snapshot_interval) if state_file else None
        saved = self._snapshots.read() if self._snapshots else None
        if saved is not None:
            self.state = load(saved)
            lag = self.state.sim_time - self.clock.now()
            if lag > 0:  # resume the saved simulation's time so due dates keep their meaning
                self.clock.advance(lag)
        else:
            self.state = State()
            self.state.departments[1] = Department(1, corp_name, 0, 100000000)

    # --- infrastructure -----------------------------------------------------------------------

    def wsgi_app(self, environ, start_response):
        """The WSGI entry point: ``/cgi-bin/…`` is WeCom, ``/sim/…`` the control API."""
        return application(self, environ, start_response)

    def now(self) -> float:
        return self.clock.now()

    def _ts(self) -> int:
        return int(self.clock.now())

    @contextlib.contextmanager
    def _change(self) -> Iterator[list[Event]]:
        """Run a change under the lock, then deliver its callbacks and schedule a snapshot."""
        events: list[Event] = []
        try:
            with self._lock:
                self._settle(events)
                yield events
        finally:
            if events:
                self._callbacks.send(events)
            if self._snapshots:
                self._snapshots.changed()

    def _dump(self) -> dict[str, Any]:
        with self._lock:
            self.state.sim_time = self.clock.now()
            return dump(self.state)

    def save(self) -> dict[str, Any]:
        """Write the state file now (it is otherwise written at most once a second after changes)."""
        if self._snapshots:
            self._snapshots.save()
        return {"state_file": str(self._snapshots.path) if self._snapshots else None}

    def close(self) -> None:
        """Deliver queued callbacks and write the state file: call before exiting."""
        self._callbacks.close()
        self.save()

    def flush(self, timeout: float = 10.0) -> bool:
        """In async delivery mode, wait until every queued callback was delivered."""
        return self._callbacks.flush(timeout)

    @property
    def callback_url(self) -> str | None:
        return self._callbacks.url

    def set_callback_url(self, url: str | None) -> dict[str, Any]:
        """Point callbacks at another URL (e.g. once the app under test is listening)."""
        self._callbacks.url = url or None
        return {"callback_url": self._callbacks.url}

    @property
    def deliveries(self) -> list[Delivery]:
        return list(self._callbacks.deliveries)

    def set_duplicate_deliveries(self, enabled: bool) -> dict[str, bool]:
        """Send every future callback twice, as WeCom may, to prove the app deduplicates."""
        self._callbacks.duplicate = bool(enabled)
        return {"duplicate_deliveries": self._callbacks.duplicate}

    def redeliver_all(self) -> dict[str, int]:
        """Send every recorded callback again, unchanged, to test the app's idempotency."""
        return {"redelivered": self._callbacks.redeliver_all()}

    def advance(self, seconds: float) -> dict[str, float]:
        """Move the simulator clock; due transfers complete (and call back) right away."""
        self.clock.advance(float(seconds))
        with self._change():
            pass
        return {"now": self.clock.now()}

    def set_limits(self, **changes) -> dict[str, Any]:
        with self._lock:
            try:
                self.limits.update(**changes)
            except ValueError as exc:
                raise SimulatorError(str(exc)) from None
            return dict(vars(self.limits))

    def fail_next(self, path: str, errcode: int, times: int = 1, errmsg: str | None = None) -> dict[str, Any]:
        """Make the next ``times`` calls to ``path`` (e.g. ``externalcontact/get``, or ``*``) fail with ``errcode``."""
        api_path = _api_path(path)
        if times < 1:
            raise SimulatorError("times must be at least 1")
        with self._lock:
            self._failures.append({"path": api_path, "errcode": int(errcode), "times": int(times), "errmsg": errmsg})
        return {"path": api_path, "errcode": int(errcode), "times": int(times)}

    def stall_next(self, path: str, timeout: float = 600.0) -> Stall:
        """Perform the next call to ``path``, then hold its answer until ``release`` is set (or ``timeout``): WeCom
        acted but the caller has not heard back, as when the network stalls; a caller that dies meanwhile never
        learns the answer. ``reached`` is set once the call was performed."""
        stall = Stall(_api_path(path), threading.Event(), threading.Event(), timeout)
        with self._lock:
            self._stalls.append(stall)
        return stall

    def expire_tokens(self) -> dict[str, int]:
        """Invalidate every issued token early (WeCom may do so): the next call with one gets 42001."""
        with self._change():
            count = len(self.state.tokens)
            self.state.revoked_tokens.extend(self.state.tokens)
            self.state.tokens.clear()
        return {"expired": count}

    # --- the API --------------------------------------------------------------------------------

    def call_api(self, method: str, path: str, query: dict[str, str], body: bytes, ip: str = "127.0.0.1"):
        """Serve one ``/cgi-bin/`` request: returns ``(http_status, json_dict)``.

        Order of checks: injected failures, unknown endpoint/method, rate limit,
        access token, body parsing, then the handler; WeCom answers HTTP 200
        whatever the errcode.
        """
        api_path = _api_path(path)
        answer = self._answer(api_path, method, query, body, ip)
        with self._lock:
            stall = next((s for s in self._stalls if s.path == api_path), None)
            if stall is not None:
                self._stalls.remove(stall)
        if stall is not None:  # held outside the lock: the simulator goes on answering other calls
            stall.reached.set()
            stall.release.wait(stall.timeout)
        return answer

    def _answer(self, api_path: str, method: str, query: dict[str, str], body: bytes, ip: str):
        with self._change():
            now = self.clock.now()
            try:
                injected = self._take_failure(api_path)
                if injected is not None:
                    raise injected
                route = api.ROUTES.get(api_path)
                if route is None:
                    return 404, self._error_body(ApiError(48001, f"no such api /cgi-bin/{api_path}"), now, ip)
                if method != route.method:
                    raise ApiError(43001 if route.method == "GET" else 43002)
                if not self._rate.allow(api_path, now):
                    raise ApiError(45009)
                if route.needs_token:
                    self._check_token(query.get("access_token"), now)
                if route.raw_body:
                    payload = body
                else:
                    payload = api.parse_body(body) if method == "POST" else {}
                result = route.handler(self, query, payload)
            except ApiError as exc:
                return 200, self._error_body(exc, now, ip)
            return 200, {"errcode": 0, "errmsg": "ok", **result}

    def _error_body(self, exc: ApiError, now: float, ip: str) -> dict[str, Any]:
        errmsg = format_errmsg(exc.errcode, exc.detail, now, ip, text=exc.text)
        return {"errcode": exc.errcode, "errmsg": errmsg, **exc.extra}

    def _take_failure(self, api_path: str) -> ApiError | None:
        for failure in self._failures:
            if failure["path"] in (api_path, "*"):
                failure["times"] -= 1
                if failure["times"] <= 0:
                    self._failures.remove(failure)
                return ApiError(failure["errcode"], text=failure["errmsg"])
        return None

    def _check_token(self, token: str | None, now: float) -> None:
        if not token:
            raise ApiError(41001)
        expires = self.state.tokens.get(token)
        if expires is None:
            raise ApiError(42001 if token in self.state.revoked_tokens else 40014)
        if now >= expires:
            raise ApiError(42001)

    def issue_token(self) -> tuple[str, int]:
        """Mint an access token valid for ``limits.token_ttl`` seconds of simulator time."""
        with self._lock:
            now = self.clock.now()
            for stale in [t for t, exp in self.state.tokens.items() if exp <= now]:
                del self.state.tokens[stale]
                self.state.revoked_tokens.append(stale)
            del self.state.revoked_tokens[:-1000]  # remember enough to answer 42001, not forever
            token = ids.access_token()
            self.state.tokens[token] = now + self.limits.token_ttl
            return token, self.limits.token_ttl

    def rate_allows(self, key: str) -> bool:
        """Count one call against a quota of its own (a per-app share of an API's quota) at the current time."""
        return self._rate.allow(key, self.clock.now())

    # --- JS-SDK tickets and sign-in codes (DOC 90506, 91022, 91023, 98152) --------------------------

    def issue_js_ticket(self, kind: str) -> dict[str, Any]:
        """Mint a ticket of ``kind`` ("corp" or "agent") valid for ``limits.ticket_ttl`` seconds."""
        with self._lock:
            now = self.clock.now()
            tickets = self.state.js_tickets
            for stale in [t for t, held in tickets.items() if held.expires_at <= now]:
                del tickets[stale]
            ticket = ids.ticket()
            tickets[ticket] = JsTicket(kind, now + self.limits.ticket_ttl)
            self.state.tickets_issued[kind] = self.state.tickets_issued.get(kind, 0) + 1
            return {"ticket": ticket, "expires_in": self.limits.ticket_ttl}

    def check_jsapi_signature(self, kind: str, url: str, timestamp: str | int, noncestr: str, signature: str) -> dict[str, Any]:
        """What the WeCom client does with ``wx.config`` (kind "corp") or ``wx.agentConfig`` (kind "agent"): the
        signature must be made with a live ticket of that kind (DOC 96909), else "invalid signature"."""
        if kind not in ("corp", "agent"):
            raise SimulatorError("kind must be corp or agent")
        with self._lock:
            now = self.clock.now()
            live = [t for t, held in self.state.js_tickets.items() if held.kind == kind and held.expires_at > now]
        if not any(jsapi_signature(t, noncestr, timestamp, url) == signature for t in live):
            raise SimulatorError(f"{'config' if kind == 'corp' else 'agentConfig'}:invalid signature")
        return {"ok": True}

    def send_chat_message(self, userid: str, message: dict, external_userid: str | None = None,
                          chat_id: str | None = None) -> dict[str, Any]:
        """What the client does with ``sendChatMessage`` from a chat-toolbar page (DOC 96935): the member's message
        goes into the open chat with a customer or a group (rules in :mod:`.chat_tools`)."""
        if not isinstance(message, dict):
            raise SimulatorError("sendChatMessage:fail message must be an object")
        with self._change():
            chat_tools.check_chat(self, userid, external_userid, chat_id)
            sent = {"userid": userid, "external_userid": external_userid or "", "chat_id": chat_id or "",
                    "sent_at": self.clock.now(), **chat_tools.check_message(self, message)}
            self.state.chat_tool_messages.append(sent)
            return {"errMsg": "sendChatMessage:ok", "message": sent}

    def chat_tool_messages(self, userid: str | None = None) -> list[dict[str, Any]]:
        """Messages members sent from a chat-toolbar page, oldest first."""
        with self._lock:
            return [dict(m) for m in self.state.chat_tool_messages if userid is None or m["userid"] == userid]

    def set_trusted_domains(self, domains: list[str]) -> dict[str, Any]:
        """The app's trusted domains (可信域名): the only hosts the sign-in pages redirect to (else 50001)."""
        if isinstance(domains, str) or not all(isinstance(d, str) and d.strip() for d in domains):
            raise SimulatorError("domains must be a list of host names (host or host:port)")
        with self._change():
            self.state.trusted_domains = [d.strip().lower() for d in domains]
            return {"trusted_domains": list(self.state.trusted_domains)}

    def issue_oauth_code(self, userid: str | None, scope: str = "snsapi_base") -> str:
        """The code the sign-in pages hand to ``redirect_uri`` for a member (``userid``) or, with ``None``, for a
        WeChat user outside the corp. Departed members cannot sign in."""
        with self._change():
            if userid is not None and self.state.active_staff(userid) is None:
                raise NotFound(f"no active member {userid!r}")
            now = self.clock.now()
            codes = self.state.oauth_codes
            for stale in [c for c, g in codes.items() if g.used or now - g.issued_at >= self.limits.oauth_code_ttl]:
                del codes[stale]
            code = ids.oauth_code()
            codes[code] = OAuthCode(code, now, userid or "", "" if userid else ids.openid(), scope)
            return code

    # --- time-driven changes --------------------------------------------------------------------

    def _settle(self, events: list[Event]) -> None:
        """Complete transfers whose 24 hours have passed (WeCom's own change, so it calls back)."""
        now = self.clock.now()
        for transfer in self.state.transfers:
            due = transfer.created_at + self.limits.transfer_wait_seconds
            if transfer.status == TRANSFER_WAITING and now >= due:
                self._complete_transfer(transfer, int(due), events)

    def _complete_transfer(self, transfer, when: int, events: list[Event]) -> None:
        transfer.status, transfer.takeover_time = TRANSFER_DONE, when
        ext = transfer.external_userid
        old = self.state.relation(transfer.handover_userid, ext)
        new = self.state.relation(transfer.takeover_userid, ext)
        if new is None or new.status not in (ACTIVE, HALF):
            # "如果接替成员在转接前已成为客户好友，则不会触发添加企业客户事件" (DOC 96325)
            self.state.relations[relation_key(transfer.takeover_userid, ext)] = Relation(
                transfer.takeover_userid,
                ext,
                when,
                ADD_WAY_ASSIGNED,
                transfer.handover_userid,
                remark=old.remark if old else "",
                description=old.description if old else "",
                tag_ids=list(old.tag_ids) if old else [],
            )
            events.append(self._contact_event("add_external_contact", transfer.takeover_userid, ext, at=when))
        if old is not None:
            del self.state.relations[relation_key(transfer.handover_userid, ext)]
            if transfer.kind == "onjob":
                events.append(
                    self._contact_event(
                        "del_external_contact", transfer.handover_userid, ext, source="DELETE_BY_TRANSFER", at=when
                    )
                )

    # --- event helpers --------------------------------------------------------------------------

    def _contact_event(self, change_type: str, userid: str, ext: str, at: int | None = None, **kw) -> Event:
        return callbacks.external_contact(self.corp_id, at or self._ts(), change_type, userid, ext, **kw)

    def _chat_event(self, change_type: str, chat_id: str, **kw) -> Event:
        return callbacks.external_chat(self.corp_id, self._ts(), change_type, chat_id, **kw)

    def _member_event(self, change_type: str, staff: Staff) -> Event:
        partial = self.limits.callback_set_after_2022_08_15
        return callbacks.contact_user(self.corp_id, self._ts(), change_type, staff, partial=partial)

    def _tag_event(self, change_type: str, id: str, tag_type: str | None = None) -> Event:
        return callbacks.external_tag(self.corp_id, self._ts(), change_type, id, tag_type)

    # --- lookups that raise control errors ------------------------------------------------------

    def _staff(self, userid: str) -> Staff:
        staff = self.state.active_staff(userid)
        if staff is None:
            raise NotFound(f"no active member {userid!r}")
        return staff

    def _customer(self, external_userid: str) -> Customer:
        customer = self.state.customers.get(external_userid)
        if customer is None:
            raise NotFound(f"no customer {external_userid!r}")
        return customer

    def _group(self, chat_id: str) -> GroupChat:
        group = self.state.groups.get(chat_id)
        if group is None or group.dismissed:
            raise NotFound(f"no customer group {chat_id!r}")
        return group

    def _new_customer(self, external_userid: str | None, name: str | None, gender: int = 0) -> Customer:
        ext = external_userid or ids.external_userid()
        customer = self.state.customers.get(ext)
        if customer is None:
            customer = Customer(ext, name or names.person_name(self._rng), gender=int(gender))
            customer.avatar = f"http://wx.qlogo.cn/mmhead/{ids.config_id()}/0"
            self.state.customers[ext] = customer
        return customer

    # --- 通讯录: departments and staff (change_contact) ------------------------------------------

    def add_department(self, name: str, parentid: int = 1, order: int = 0, id: int | None = None) -> dict[str, Any]:
        with self._change() as events:
            if parentid not in self.state.departments:
                raise NotFound(f"no parent department {parentid}")
            new_id = int(id) if id is not None else max(self.state.departments) + 1
            if new_id in self.state.departments:
                raise SimulatorError(f"department {new_id} already exists")
            dept = Department(new_id, name, int(parentid), int(order))
            self.state.departments[new_id] = dept
            events.append(callbacks.contact_party(self.corp_id, self._ts(), "create_party", dept))
            return vars(dept).copy()

    def update_department(self, id: int, name: str | None = None, parentid: int | None = None, order: int | None = None):
        with self._change() as events:
            dept = self.state.departments.get(int(id))
            if dept is None:
                raise NotFound(f"no department {id}")
            if parentid is not None and (parentid not in self.state.departments or parentid == dept.id):
                raise SimulatorError(f"invalid parent department {parentid}")
            dept.name = name if name is not None else dept.name
            dept.parentid = int(parentid) if parentid is not None else dept.parentid
            dept.order = int(order) if order is not None else dept.order
            events.append(callbacks.contact_party(self.corp_id, self._ts(), "update_party", dept))
            return vars(dept).copy()

    def delete_department(self, id: int) -> dict[str, Any]:
        """WeCom refuses to delete a department that still has members or sub-departments."""
        with self._change() as events:
            dept = self.state.departments.get(int(id))
            if dept is None or dept.id == 1:
                raise NotFound(f"no deletable department {id}")
            if any(d.parentid == dept.id for d in self.state.departments.values()):
                raise SimulatorError("department has sub-departments")
            if any(s.active and dept.id in s.department for s in self.state.staff.values()):
                raise SimulatorError("department has members")
            del self.state.departments[dept.id]
            events.append(callbacks.contact_party(self.corp_id, self._ts(), "delete_party", dept))
            return {"deleted": dept.id}

    def add_staff(
        self,
        userid: str | None = None,
        name: str | None = None,
        department: list[int] | None = None,
        *,
        position: str = "",
        mobile: str = "",
        gender: str = "0",
        email: str = "",
        alias: str = "",
        external_contact: bool = True,
        admin_welcome: bool = False,
        activated: bool = True,
    ) -> dict[str, Any]:
        """A member joins the corp (create_user). ``admin_welcome`` = admin set a welcome message for them;
        ``activated=False``: has never logged in to WeCom (「联系我」 refuses them with 41054)."""
        with self._change() as events:
            if userid is None:
                userid = next(f"staff{n:03d}" for n in range(1, 100000) if f"staff{n:03d}" not in self.state.staff)
            existing = self.state.staff.get(userid)
            if existing is not None and existing.active:
                raise SimulatorError(f"member {userid!r} already exists")
            departments = [int(d) for d in (department or [1])]
            missing = [d for d in departments if d not in self.state.departments]
            if missing:
                raise NotFound(f"no department {missing[0]}")
            staff = Staff(
                userid,
                name or names.person_name(self._rng),
                departments,
                position=position,
                mobile=mobile,
                gender=str(gender),
                email=email,
                alias=alias,
                external_contact=bool(external_contact),
                admin_welcome=bool(admin_welcome),
                activated=bool(activated),
            )
            staff.avatar = f"https://wework.qpic.cn/wwhead/{ids.config_id()}/0"
            self.state.staff[userid] = staff
            events.append(self._member_event("create_user", staff))
            return _staff_dict(staff)

    def update_staff(self, userid: str, **changes) -> dict[str, Any]:
        """A member's profile changes in the admin console (update_user)."""
        allowed = {"name", "department", "position", "mobile", "gender", "email", "alias", "external_contact", "admin_welcome",
                   "activated"}
        unknown = set(changes) - allowed
        if unknown:
            raise SimulatorError(f"cannot change {', '.join(sorted(unknown))}")
        with self._change() as events:
            staff = self._staff(userid)
            if "department" in changes:
                changes["department"] = [int(d) for d in changes["department"]]
                if any(d not in self.state.departments for d in changes["department"]):
                    raise NotFound("no such department")
            for key, value in changes.items():
                setattr(staff, key, value)
            events.append(self._member_event("update_user", staff))
            return _staff_dict(staff)

    def remove_staff(self, userid: str) -> dict[str, Any]:
        """A member leaves (delete_user): their customers become unassigned and their groups await a new owner."""
        with self._change() as events:
            staff = self._staff(userid)
            staff.left_at = self.clock.now()
            staff.status = 5
            for group in self.state.groups.values():
                if group.owner == userid and not group.dismissed:
                    group.status = GROUP_RESIGNED_PENDING
            events.append(self._member_event("delete_user", staff))
            unassigned = len(self.state.relations_of_staff(userid))
            return {"userid": userid, "unassigned_customers": unassigned}

    def set_visible_range(self, departments: list[int] = (1,), users: list[str] = ()) -> dict[str, Any]:
        """The admin sets the app's visible range (应用可见范围): departments with their sub-departments, and members.

        API calls naming a member outside it are refused (60011) and API lists leave such members out.
        """
        with self._change():
            missing = [d for d in departments if int(d) not in self.state.departments]
            if missing:
                raise NotFound(f"no department {missing[0]}")
            self.state.visible_departments = [int(d) for d in departments]
            self.state.visible_users = list(users)
            return {"departments": self.state.visible_departments, "users": self.state.visible_users,
                    "visible_members": self.state.visible_staff_count()}

    # --- customers (change_external_contact) ----------------------------------------------------

    def scan(
        self,
        config_id: str | None = None,
        state: str | None = None,
        *,
        external_userid: str | None = None,
        name: str | None = None,
        gender: int = 0,
        half: bool = False,
    ) -> dict[str, Any]:
        """A customer scans a 「联系我」 code, found by ``config_id`` or by its ``state``.

        WeCom picks the member round-robin over the code's users (then its
        departments' members). With ``skip_verify`` the customer is added at
        once (add_external_contact with State and a fresh WelcomeCode); without
        it the request waits for :meth:`accept`. ``half=True`` models a member
        with 免验证 who has not confirmed yet: add_half_external_contact now,
        add_external_contact on :meth:`accept`.
        """
        with self._change() as events:
            way = self._find_contact_way(config_id, state)
            now = self.clock.now()
            if way.is_temp and now > way.create_time + (way.expires_in or 7 * 86400):
                raise SimulatorError("this temporary contact way has expired")
            candidates = self._way_members(way)
            if not candidates:
                raise SimulatorError("no active member on this contact way")
            userid = candidates[way.scans % len(candidates)]
            way.scans += 1
            customer = self._new_customer(external_userid, name, gender)
            result = {"external_userid": customer.external_userid, "userid": userid, "config_id": way.config_id}
            result.update(self._befriend(userid, customer.external_userid, ADD_WAY_QR, way.state, customer.external_userid,
                                         verify=not way.skip_verify, half=half, events=events))
            return result

    def add_customer(
        self, userid: str, external_userid: str | None = None, name: str | None = None, *, add_way: int = ADD_WAY_SEARCH_MOBILE
    ) -> dict[str, Any]:
        """A member adds a customer (e.g. by mobile number) and the customer accepts: add_external_contact."""
        with self._change() as events:
            self._staff(userid)
            customer = self._new_customer(external_userid, name)
            result = {"external_userid": customer.external_userid, "userid": userid}
            result.update(self._befriend(userid, customer.external_userid, int(add_way), "", userid, events=events))
            return result

    def import_contacts(self, contacts: list[dict[str, Any]]) -> dict[str, int]:
        """Friendships the corp had before the simulator started (a demo's past), with no callbacks: WeCom
        calls back only when a change happens, and these happened before the app listened.

        Each entry: external_userid, name, gender, avatar, userid, createtime, state, and status ``active`` or
        ``deleted_by_customer`` (WeCom keeps listing a customer who deleted the member, doc 92994 follow_user;
        a member who deleted the customer is no longer listed, so such a friendship is not imported).
        Entries whose friendship exists already are left alone, so importing twice changes nothing.
        """
        added = 0
        with self._change():
            for item in contacts:  # all checked before any is imported: a refused list changes nothing
                if item.get("status", ACTIVE) not in (ACTIVE, DELETED_BY_CUSTOMER):
                    raise SimulatorError(f"cannot import a friendship with status {item.get('status')!r}")
                self._staff(item["userid"])
            for item in contacts:
                customer = self._new_customer(item["external_userid"], item["name"], item.get("gender", 0))
                customer.avatar = item.get("avatar") or customer.avatar
                key = relation_key(item["userid"], customer.external_userid)
                if key in self.state.relations:
                    continue
                self.state.relations[key] = Relation(
                    item["userid"], customer.external_userid, int(item["createtime"]), ADD_WAY_QR,
                    customer.external_userid, status=item.get("status", ACTIVE), state=item.get("state", ""),
                )
                added += 1
        return {"imported": added}

    def accept(self, userid: str, external_userid: str) -> dict[str, Any]:
        """The member accepts a pending request or confirms a half-added customer: add_external_contact."""
        with self._change() as events:
            rel = self.state.relation(userid, external_userid)
            if rel is None or rel.status not in (PENDING, HALF):
                raise NotFound(f"no pending request from {external_userid!r} to {userid!r}")
            code = None
            if rel.status == PENDING and not (rel.had_relation_before or self._staff(userid).admin_welcome):
                code = self._issue_welcome_code(userid, external_userid)
            rel.status, rel.createtime = ACTIVE, self._ts()
            events.append(self._contact_event("add_external_contact", userid, external_userid, state=rel.state,
                                              welcome_code=code))
            return {"external_userid": external_userid, "userid": userid, "status": ACTIVE, "welcome_code": code}

    def _befriend(self, userid, ext, add_way, state, oper, *, events, verify=False, half=False) -> dict[str, Any]:
        rel = self.state.relation(userid, ext)
        if rel is not None and rel.status in (ACTIVE, HALF, PENDING):
            return {"status": rel.status, "welcome_code": None}  # already friends or waiting: nothing happens
        had_before = rel is not None
        staff = self._staff(userid)
        if rel is None:
            rel = Relation(userid, ext, self._ts(), add_way, oper, state=state or "")
            self.state.relations[relation_key(userid, ext)] = rel
        else:  # the customer had deleted the member and adds them again: remark and tags survive
            rel.createtime, rel.add_way, rel.oper_userid, rel.state = self._ts(), add_way, oper, state or ""
        rel.had_relation_before = had_before
        if verify:
            rel.status = PENDING
            return {"status": PENDING, "welcome_code": None}
        # WelcomeCode is absent when the admin configured a welcome message or the two were already chatting.
        code = None if (staff.admin_welcome or had_before) else self._issue_welcome_code(userid, ext)
        rel.status = HALF if half else ACTIVE
        change = "add_half_external_contact" if half else "add_external_contact"
        events.append(self._contact_event(change, userid, ext, state=rel.state, welcome_code=code))
        return {"status": rel.status, "welcome_code": code}

    def _way_members(self, way) -> list[str]:
        """The active members a scan can land on: the way's users, then its departments' members."""
        return [u for u in _unique(way.user + self.state.members_of(way.party)) if self.state.active_staff(u)]

    def _issue_welcome_code(self, userid: str, ext: str) -> str:
        code = ids.welcome_code()
        self.state.welcome_codes[code] = WelcomeCode(code, userid, ext, self.clock.now())
        return code

    def _find_contact_way(self, config_id: str | None, state: str | None):
        if config_id:
            way = self.state.contact_ways.get(config_id)
            if way is None:
                raise NotFound(f"no contact way {config_id!r}")
            return way
        if state:
            matches = [w for w in self.state.contact_ways.values() if w.state == state]
            if not matches:
                raise NotFound(f"no contact way with state {state!r}")
            return max(matches, key=lambda w: w.create_time)  # several codes may share a state: the newest wins
        raise SimulatorError("give config_id or state")

    def customer_deletes_staff(self, external_userid: str, userid: str) -> dict[str, Any]:
        """The customer removes the member from WeChat (del_follow_user); the member still lists them."""
        with self._change() as events:
            rel = self.state.relation(userid, external_userid)
            if rel is None or rel.status not in (ACTIVE, HALF):
                raise NotFound(f"{external_userid!r} is not a customer of {userid!r}")
            rel.status = DELETED_BY_CUSTOMER
            events.append(self._contact_event("del_follow_user", userid, external_userid))
            return {"external_userid": external_userid, "userid": userid, "status": rel.status}

    def staff_deletes_customer(self, userid: str, external_userid: str) -> dict[str, Any]:
        """The member deletes the customer (del_external_contact): the relation is gone."""
        with self._change() as events:
            rel = self.state.relation(userid, external_userid)
            if rel is None or rel.status not in VISIBLE:
                raise NotFound(f"{external_userid!r} is not a customer of {userid!r}")
            del self.state.relations[relation_key(userid, external_userid)]
            events.append(self._contact_event("del_external_contact", userid, external_userid))
            return {"external_userid": external_userid, "userid": userid, "deleted": True}

    def staff_edits_customer(
        self,
        userid: str,
        external_userid: str,
        *,
        remark: str | None = None,
        description: str | None = None,
        remark_mobiles: list[str] | None = None,
        add_tags: list[str] = (),
        remove_tags: list[str] = (),
    ) -> dict[str, Any]:
        """The member edits remark/description/tags in the client: edit_external_contact.

        Changing only the remark mobiles does not call back ("不包括备注手机号码").
        """
        with self._change() as events:
            rel = self.state.relation(userid, external_userid)
            if rel is None or rel.status not in VISIBLE:
                raise NotFound(f"{external_userid!r} is not a customer of {userid!r}")
            bad = [t for t in list(add_tags) + list(remove_tags) if t not in self.state.tags or self.state.tags[t].deleted]
            if bad:
                raise NotFound(f"no tag {bad[0]!r}")
            notify = False
            if remark is not None and remark != rel.remark:
                rel.remark, notify = remark, True
            if description is not None and description != rel.description:
                rel.description, notify = description, True
            if remark_mobiles is not None:
                rel.remark_mobiles = [m for m in remark_mobiles if m]
            before = list(rel.tag_ids)
            rel.tag_ids = [t for t in _unique(rel.tag_ids + list(add_tags)) if t not in set(remove_tags)]
            notify = notify or rel.tag_ids != before
            if notify:
                events.append(self._contact_event("edit_external_contact", userid, external_userid))
            return {"external_userid": external_userid, "userid": userid, "called_back": notify}

    def chat(
        self,
        external_userid: str,
        text: str,
        *,
        userid: str | None = None,
        chat_id: str | None = None,
        from_staff: bool = False,
    ) -> dict[str, Any]:
        """A message in a 1:1 chat or a customer group, recorded for the archive (no callback)."""
        with self._change():
            self._customer(external_userid)
            now = self.clock.now()
            if chat_id:
                group = self._group(chat_id)
                if external_userid not in group.member_ids():
                    raise SimulatorError(f"{external_userid!r} is not in group {chat_id!r}")
                sender = userid if from_staff else external_userid
                if from_staff and (userid is None or userid not in group.member_ids()):
                    raise SimulatorError("from_staff in a group needs a userid that is a member")
                tolist = [m for m in group.member_ids() if m != sender]
                roomid = chat_id
            else:
                rels = [r for r in self.state.relations_of_customer(external_userid) if r.status in (ACTIVE, HALF)]
                rel = next((r for r in rels if r.userid == userid), None) if userid else (rels[0] if rels else None)
                if rel is None:
                    raise SimulatorError(f"{external_userid!r} has no member to chat with" + (f" ({userid})" if userid else ""))
                rel.last_chat_at = now
                sender, tolist, roomid = (rel.userid, [external_userid], "") if from_staff else (
                    external_userid, [rel.userid], "")
            message = {
                "msgid": ids.archive_msgid(),
                "action": "send",
                "from": sender,
                "tolist": tolist,
                "roomid": roomid,
                "msgtime": int(now * 1000),
                "msgtype": "text",
                "text": {"content": text},
            }
            seq = len(self.state.archive) + 1
            self.state.archive.append(ArchiveMessage(seq, message["msgid"], message))
            return {"seq": seq, **message}

    def refuse_transfer(self, external_userid: str) -> dict[str, Any]:
        """The customer refuses the pending transfer: status 3; on-job transfers call back transfer_fail."""
        with self._change() as events:
            pending = [t for t in self.state.transfers if t.external_userid == external_userid and t.status == TRANSFER_WAITING]
            if not pending:
                raise NotFound(f"no pending transfer for {external_userid!r}")
            transfer = pending[-1]
            transfer.status, transfer.takeover_time = TRANSFER_REFUSED, 0
            if transfer.kind == "onjob":
                events.append(self._contact_event("transfer_fail", transfer.takeover_userid, external_userid,
                                                  fail_reason="customer_refused"))
            return {"external_userid": external_userid, "status": TRANSFER_REFUSED, "kind": transfer.kind}

    # --- corp tags in the admin console (change_external_tag) -----------------------------------

    def admin_add_tags(self, names: list[str], group_name: str | None = None, group_id: str | None = None) -> dict[str, Any]:
        """The admin creates tags: a new group calls back once (tag_group), tags added to a group once each (tag)."""
        with self._change() as events:
            if not names:
                raise SimulatorError("give at least one tag name")
            group = self.state.tag_groups.get(group_id) if group_id else None
            if group_id and (group is None or group.deleted):
                raise NotFound(f"no tag group {group_id!r}")
            if group is None and not group_name:
                raise SimulatorError("give group_name or group_id")
            if group is None:
                group = next((g for g in self.state.tag_groups.values() if g.group_name == group_name and not g.deleted), None)
            existing = {self.state.tags[t].name for t in group.tag_ids if not self.state.tags[t].deleted} if group else set()
            if len(set(names)) != len(names) or existing.intersection(names):
                raise SimulatorError("tag name already exists in the group")
            new_group = group is None
            now = self._ts()
            if new_group:
                group = TagGroup(ids.tag_id(), group_name, now)
                self.state.tag_groups[group.group_id] = group
            created = []
            for name in names:
                tag = Tag(ids.tag_id(), name, group.group_id, now)
                self.state.tags[tag.id] = tag
                group.tag_ids.append(tag.id)
                created.append({"id": tag.id, "name": name})
                if not new_group:
                    events.append(self._tag_event("create", tag.id, "tag"))
            if new_group:
                events.append(self._tag_event("create", group.group_id, "tag_group"))
            return {"group_id": group.group_id, "group_name": group.group_name, "tags": created}

    def admin_edit_tag(self, id: str, name: str | None = None, order: int | None = None) -> dict[str, Any]:
        """The admin renames or reorders a tag or a tag group: update."""
        with self._change() as events:
            target = self.state.tags.get(id) or self.state.tag_groups.get(id)
            if target is None or target.deleted:
                raise NotFound(f"no tag or tag group {id!r}")
            is_tag = isinstance(target, Tag)
            if name is not None:
                if is_tag:
                    target.name = name
                else:
                    target.group_name = name
            if order is not None:
                target.order = int(order)
            events.append(self._tag_event("update", id, "tag" if is_tag else "tag_group"))
            return {"id": id, "tag_type": "tag" if is_tag else "tag_group"}

    def admin_delete_tags(self, tag_ids: list[str] = (), group_ids: list[str] = ()) -> dict[str, Any]:
        """The admin deletes tags/groups: a group calls back once (no per-tag callbacks); a group left empty is deleted too."""
        with self._change() as events:
            for tid in tag_ids:
                if tid not in self.state.tags or self.state.tags[tid].deleted:
                    raise NotFound(f"no tag {tid!r}")
            for gid in group_ids:
                if gid not in self.state.tag_groups or self.state.tag_groups[gid].deleted:
                    raise NotFound(f"no tag group {gid!r}")
            removed = self.state.delete_tags(list(tag_ids), list(group_ids))
            for tid in tag_ids:
                if self.state.tags[tid].group_id not in group_ids:
                    events.append(self._tag_event("delete", tid, "tag"))
            for gid in removed["groups"]:
                events.append(self._tag_event("delete", gid, "tag_group"))
            return removed

    def admin_reorder_tags(self, group_id: str, tag_ids: list[str]) -> dict[str, Any]:
        """The admin drags the tags of a group into a new order: shuffle."""
        with self._change() as events:
            group = self.state.tag_groups.get(group_id)
            if group is None or group.deleted:
                raise NotFound(f"no tag group {group_id!r}")
            live = [t for t in group.tag_ids if not self.state.tags[t].deleted]
            if sorted(tag_ids) != sorted(live):
                raise SimulatorError("tag_ids must list every tag of the group exactly once")
            for position, tid in enumerate(tag_ids):
                self.state.tags[tid].order = len(tag_ids) - position  # larger order = earlier
            events.append(self._tag_event("shuffle", group_id))
            return {"group_id": group_id, "tag_ids": list(tag_ids)}

    def admin_reorder_tag_groups(self, group_ids: list[str]) -> dict[str, Any]:
        """The admin drags the tag groups into a new order: one shuffle with an empty Id ("every group")."""
        with self._change() as events:
            live = [g.group_id for g in self.state.tag_groups.values() if not g.deleted]
            if sorted(group_ids) != sorted(live):
                raise SimulatorError("group_ids must list every tag group exactly once")
            for position, gid in enumerate(group_ids):
                self.state.tag_groups[gid].order = len(group_ids) - position  # larger order = earlier
            events.append(self._tag_event("shuffle", ""))
            return {"group_ids": list(group_ids)}

    # --- customer groups (change_external_chat) -------------------------------------------------

    def create_group(
        self,
        owner: str,
        name: str = "",
        members: list[str] = (),
        staff: list[str] = (),
        new_members: int = 0,
    ) -> dict[str, Any]:
        """A member creates a customer group with existing customers and/or ``new_members`` new WeChat users."""
        with self._change() as events:
            self._staff(owner)
            extra_staff = [u for u in _unique(list(staff)) if u != owner]
            for userid in extra_staff:
                self._staff(userid)
            for ext in members:
                self._customer(ext)
            total = 1 + len(extra_staff) + len(_unique(list(members))) + int(new_members)
            if total > self.limits.group_max_members:
                raise SimulatorError(f"a customer group holds at most {self.limits.group_max_members} members")
            group = self._create_group(owner, name, events)
            for userid in extra_staff:
                self._add_member(group, userid, 1, MEMBER_SCENE_INVITE, owner, "")
            for ext in _unique(list(members)):
                self._add_member(group, ext, 2, MEMBER_SCENE_INVITE, owner, "")
            for _ in range(int(new_members)):
                self._add_member(group, self._new_customer(None, None).external_userid, 2, MEMBER_SCENE_INVITE, owner, "")
            return _group_dict(group)

    def _create_group(self, owner: str, name: str, events: list[Event]) -> GroupChat:
        owner_staff = self._staff(owner)
        now = self._ts()
        group = GroupChat(ids.chat_id(), name, owner, now)
        group.members.append(GroupMember(owner, 1, now, MEMBER_SCENE_INVITE, owner_staff.name))
        self.state.groups[group.chat_id] = group
        events.append(self._chat_event("create", group.chat_id))
        return group

    def _add_member(self, group: GroupChat, userid: str, type_: int, scene: int, invitor: str, state: str) -> None:
        if userid in group.member_ids():
            raise SimulatorError(f"{userid!r} is already in group {group.chat_id!r}")
        person = self.state.staff.get(userid) if type_ == 1 else self.state.customers.get(userid)
        group.members.append(GroupMember(
            userid, type_, self._ts(), scene, person.name if person else "",
            invitor=invitor if scene != MEMBER_SCENE_QR else "", unionid=getattr(person, "unionid", ""), state=state,
        ))

    def join_group(
        self,
        chat_id: str | None = None,
        config_id: str | None = None,
        *,
        external_userid: str | None = None,
        name: str | None = None,
        via: str = "qr",
    ) -> dict[str, Any]:
        """A WeChat user joins a group: by a join way's QR code (``config_id``), or a group's own QR / an invitation.

        Joining by QR code stops at ``limits.group_qr_cap`` members (200); an
        invitation works up to ``limits.group_max_members`` (500). A join way
        with ``auto_create_room`` makes a new group named ``room_base_name`` +
        serial when all its groups are full.
        """
        if via not in ("qr", "invite"):
            raise SimulatorError("via must be 'qr' or 'invite'")
        with self._change() as events:
            if external_userid:
                self._customer(external_userid)
            state, created = "", None
            if config_id:
                way = self.state.join_ways.get(config_id)
                if way is None:
                    raise NotFound(f"no join way {config_id!r}")
                group, created = self._join_way_target(way, events)
                state, via = way.state, "qr"
            elif chat_id:
                group = self._group(chat_id)
                cap = self.limits.group_qr_cap if via == "qr" else self.limits.group_max_members
                if len(group.members) >= cap:
                    raise SimulatorError(f"group {chat_id!r} is full for joining by {via} ({cap} members)")
            else:
                raise SimulatorError("give chat_id or config_id")
            if external_userid in group.member_ids():
                raise SimulatorError(f"{external_userid!r} is already in group {group.chat_id!r}")
            customer = self._new_customer(external_userid, name)
            last = ids.member_version(group.member_ids())
            scene = MEMBER_SCENE_QR if via == "qr" else MEMBER_SCENE_INVITE
            self._add_member(group, customer.external_userid, 2, scene, group.owner, state)
            events.append(self._chat_event(
                "update", group.chat_id, update_detail="add_member",
                join_scene=CALLBACK_SCENE_QR if via == "qr" else CALLBACK_SCENE_INVITE,
                mem_change_list=[customer.external_userid], last_mem_ver=last,
                cur_mem_ver=ids.member_version(group.member_ids()),
            ))
            self._send_group_welcome(group, customer, config_id=config_id or "", state=state)
            return {"chat_id": group.chat_id, "external_userid": customer.external_userid, "created_chat": created,
                    "member_count": len(group.members)}

    def _join_way_target(self, way, events: list[Event]) -> tuple[GroupChat, str | None]:
        live = [self.state.groups[c] for c in way.chat_id_list if c in self.state.groups and not self.state.groups[c].dismissed]
        for group in live:
            if len(group.members) < self.limits.group_qr_cap:
                return group, None
        if not way.auto_create_room or not live:
            raise SimulatorError("every group of this join way is full")
        template = live[-1]
        serial = way.room_base_id + way.rooms_created
        group = self._create_group(template.owner, f"{way.room_base_name or template.name}{serial}", events)
        group.welcome_template_id = template.welcome_template_id  # the new room keeps the welcome of its template
        way.rooms_created += 1
        way.chat_id_list.append(group.chat_id)
        while len(way.chat_id_list) > 5:  # a join way lists at most 5 groups: drop the oldest full one
            way.chat_id_list.pop(0)
        return group, group.chat_id

    def _send_group_welcome(self, group: GroupChat, customer: Customer, *, config_id: str, state: str) -> None:
        """WeCom itself greets a new member of a group whose owner set a 入群欢迎语 (no API call, no callback)."""
        template = self.state.group_welcome_templates.get(group.welcome_template_id)
        if template is None:
            return
        text = None
        if template.text:
            text = {"content": template.text["content"].replace("%NICKNAME%", customer.name)}
        self.state.group_welcomes.append(GroupWelcomeDelivery(
            group.chat_id, customer.external_userid, template.template_id, self._ts(), text,
            dict(template.attachment) if template.attachment else None, config_id, state,
        ))

    def set_group_welcome(self, chat_id: str, template_id: str = "") -> dict[str, Any]:
        """The owner picks a 入群欢迎语 template for the group in the client ("" removes it). No callback."""
        with self._change():
            group = self._group(chat_id)
            if template_id and template_id not in self.state.group_welcome_templates:
                raise NotFound(f"no group welcome template {template_id!r}")
            group.welcome_template_id = template_id
            return _group_dict(group)

    def leave_group(self, chat_id: str, userid: str, kicked: bool = False) -> dict[str, Any]:
        """A member quits (QuitScene 0) or is removed by the owner/admin (QuitScene 1)."""
        with self._change() as events:
            group = self._group(chat_id)
            if userid not in group.member_ids():
                raise NotFound(f"{userid!r} is not in group {chat_id!r}")
            if userid == group.owner:
                raise SimulatorError("the owner cannot leave; change the owner or dismiss the group")
            last = ids.member_version(group.member_ids())
            group.members = [m for m in group.members if m.userid != userid]
            group.admin_list = [a for a in group.admin_list if a != userid]
            events.append(self._chat_event(
                "update", chat_id, update_detail="del_member", quit_scene=1 if kicked else 0,
                mem_change_list=[userid], last_mem_ver=last, cur_mem_ver=ids.member_version(group.member_ids()),
            ))
            return {"chat_id": chat_id, "userid": userid, "member_count": len(group.members)}

    def rename_group(self, chat_id: str, name: str) -> dict[str, Any]:
        with self._change() as events:
            group = self._group(chat_id)
            group.name = name
            events.append(self._chat_event("update", chat_id, update_detail="change_name"))
            return _group_dict(group)

    def set_group_notice(self, chat_id: str, notice: str) -> dict[str, Any]:
        with self._change() as events:
            group = self._group(chat_id)
            group.notice = notice
            events.append(self._chat_event("update", chat_id, update_detail="change_notice"))
            return _group_dict(group)

    def change_group_owner(self, chat_id: str, new_owner: str) -> dict[str, Any]:
        """The owner hands the group to another member in the client (change_owner)."""
        with self._change() as events:
            group = self._group(chat_id)
            staff = self._staff(new_owner)
            if new_owner not in group.member_ids():
                group.members.append(GroupMember(new_owner, 1, self._ts(), MEMBER_SCENE_INVITE, staff.name, invitor=group.owner))
            group.owner = new_owner
            events.append(self._chat_event("update", chat_id, update_detail="change_owner"))
            return _group_dict(group)

    def dismiss_group(self, chat_id: str) -> dict[str, Any]:
        with self._change() as events:
            group = self._group(chat_id)
            group.dismissed = True
            events.append(self._chat_event("dismiss", chat_id))
            return {"chat_id": chat_id, "dismissed": True}

    # --- group messaging ------------------------------------------------------------------------

    def confirm_groupmsg(self, msgid: str, userid: str) -> dict[str, Any]:
        """The member taps "send" on a 企业群发 task; each recipient is sent or skipped like WeCom does.

        Per recipient: 1 sent; 2 not a friend any more; 3 over the receive cap
        (``limits.groupmsg_receive_cap``) because of other group messages.
        """
        with self._change():
            template = self.state.msg_templates.get(msgid)
            if template is None:
                raise NotFound(f"no group message {msgid!r}")
            if userid not in template.tasks:
                raise NotFound(f"{userid!r} has no task in {msgid!r}")
            if template.tasks[userid]:
                raise SimulatorError("this member already sent the task")
            if template.cancelled:
                raise SimulatorError("the group message was cancelled (cancel_groupmsg_send): it can no longer be sent")
            now = self.clock.now()
            template.tasks[userid] = int(now)
            counts = {1: 0, 2: 0, 3: 0}
            for row in template.results:
                if row.userid != userid:
                    continue
                target = row.external_userid or row.chat_id
                if row.external_userid:
                    rel = self.state.relation(userid, row.external_userid)
                    reachable = rel is not None and rel.status in (ACTIVE, HALF)
                else:
                    group = self.state.groups.get(row.chat_id)
                    reachable = group is not None and not group.dismissed
                if not reachable:
                    row.status = 2
                elif receipts_in_period(self.state, self.limits, target, now) >= receive_cap(self.limits, now):
                    row.status = 3
                else:
                    row.status, row.send_time = 1, int(now)
                    self.state.groupmsg_receipts.setdefault(target, []).append(now)
                counts[row.status] += 1
            return {"msgid": msgid, "userid": userid, "sent": counts[1], "not_friend": counts[2], "over_cap": counts[3]}

    def set_groupmsg_rule(self, rule: str) -> dict[str, str]:
        """The admin's 群发助手 → 设置群发规则 (DOC 92135): each customer and group receives at most as many
        enterprise group messages a month as the month has days (``month``), or 7 a week (``week7``), or 1 a day
        (``day1``)."""
        self.set_limits(groupmsg_receive_cap=rule)
        return {"groupmsg_receive_cap": rule}

    # --- moments ---------------------------------------------------------------------------------

    def _moment_copy(self, moment_id: str, userid: str):
        moment = self.state.moments.get(moment_id)
        if moment is None:
            raise NotFound(f"no moment {moment_id!r}")
        if userid not in moment.tasks:
            raise NotFound(f"{userid!r} has no task in {moment_id!r}")
        return moment

    def publish_moment(self, moment_id: str, userid: str) -> dict[str, Any]:
        """The member publishes their 企业朋友圈 task; their customers in its range can see it from now on."""
        with self._change():
            moment = self._moment_copy(moment_id, userid)
            if moment.tasks[userid]:
                raise SimulatorError("this member already published the moment")
            if moment.cancelled:
                raise SimulatorError("the moment was cancelled (cancel_moment_task): it can no longer be published")
            now = self.clock.now()
            moment.tasks[userid] = int(now)
            cap, today = self.limits.moment_customer_daily_cap, start_of_day(now)
            seen = []
            for ext in moment.audience[userid]:
                views = self.state.moment_views.setdefault(ext, [])
                if cap and sum(1 for t in views if t >= today) >= cap:
                    continue
                views.append(now)
                seen.append(ext)
            moment.seen[userid] = seen
            return {"moment_id": moment_id, "userid": userid, "visible_to": len(seen),
                    "over_daily_cap": len(moment.audience[userid]) - len(seen)}

    def _react(self, kind: str, moment_id: str, userid: str, external_userid: str) -> dict[str, Any]:
        with self._change():
            moment = self._moment_copy(moment_id, userid)
            if not moment.tasks[userid]:
                raise SimulatorError(f"{userid!r} has not published {moment_id!r}: nobody can see it yet")
            if external_userid not in moment.seen.get(userid, []):
                raise SimulatorError(f"{external_userid!r} cannot see {userid!r}'s copy of {moment_id!r}")
            reactions = getattr(moment, kind).setdefault(userid, [])
            if kind == "likes" and any(r.external_userid == external_userid for r in reactions):
                raise SimulatorError("a customer likes a moment once")
            reactions.append(MomentReaction(external_userid=external_userid, create_time=self._ts()))
            return {"moment_id": moment_id, "userid": userid, kind: len(reactions)}

    def like_moment(self, moment_id: str, userid: str, external_userid: str) -> dict[str, Any]:
        """A customer who sees the member's copy likes it (once)."""
        return self._react("likes", moment_id, userid, external_userid)

    def comment_moment(self, moment_id: str, userid: str, external_userid: str) -> dict[str, Any]:
        """A customer who sees the member's copy comments on it (WeCom reports who and when, not the text)."""
        return self._react("comments", moment_id, userid, external_userid)

    # --- inspection ------------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        with self._lock:
            s = self.state
            return {
                "corp_id": self.corp_id,
                "agent_id": self.agent_id,
                "now": self.clock.now(),
                "callback_url": self.callback_url,
                "departments": len(s.departments),
                "staff": sum(1 for x in s.staff.values() if x.active),
                "departed_staff": sum(1 for x in s.staff.values() if not x.active),
                "customers": len({r.external_userid for r in s.relations.values() if r.status in VISIBLE}),
                "relations": sum(1 for r in s.relations.values() if r.status in VISIBLE),
                "pending_requests": sum(1 for r in s.relations.values() if r.status == PENDING),
                "groups": sum(1 for g in s.groups.values() if not g.dismissed),
                "tags": sum(1 for t in s.tags.values() if not t.deleted),
                "contact_ways": len(s.contact_ways),
                "join_ways": len(s.join_ways),
                "group_messages": len(s.msg_templates),
                "transfers_waiting": sum(1 for t in s.transfers if t.status == TRANSFER_WAITING),
                "app_messages": len(s.app_messages),
                "welcome_messages": len(s.welcome_messages),
                "group_welcome_templates": len(s.group_welcome_templates),
                "group_welcomes": len(s.group_welcomes),
                "archive_messages": len(s.archive),
                "deliveries": len(self._callbacks.deliveries),
                "jsapi_tickets_issued": s.tickets_issued.get("corp", 0),
                "agent_tickets_issued": s.tickets_issued.get("agent", 0),
            }

    def choices(self) -> dict[str, list]:
        """What an actor can act on right now (ids only): used by the scenario driver and demo UIs."""
        with self._lock:
            s = self.state
            return {
                "staff": [x.userid for x in s.staff.values() if x.active],
                "contact_ways": [{"config_id": w.config_id, "state": w.state, "users": self._way_members(w)}
                                 for w in s.contact_ways.values()],
                "join_ways": list(s.join_ways),
                "groups": [g.chat_id for g in s.groups.values() if not g.dismissed],
                "relations": [{"userid": r.userid, "external_userid": r.external_userid, "status": r.status}
                              for r in s.relations.values() if s.active_staff(r.userid)],
            }

    def list_staff(self) -> list[dict[str, Any]]:
        with self._lock:
            return [_staff_dict(s) for s in self.state.staff.values()]

    def list_customers(self, userid: str | None = None) -> list[dict[str, Any]]:
        """Customers with their relations (including pending ones, which the API hides)."""
        with self._lock:
            out = []
            for customer in self.state.customers.values():
                rels = [vars(r).copy() for r in self.state.relations.values()
                        if r.external_userid == customer.external_userid and (userid is None or r.userid == userid)]
                if rels:
                    out.append({**vars(customer), "relations": rels})
            return out

    def list_groups(self) -> list[dict[str, Any]]:
        with self._lock:
            return [_group_dict(g) for g in self.state.groups.values()]

    def messages(self, touser: str | None = None) -> list[dict[str, Any]]:
        """App messages Siyu sent to staff through message/send."""
        with self._lock:
            return [vars(m).copy() for m in self.state.app_messages if touser is None or touser in m.touser]

    def moments(self) -> list[dict[str, Any]]:
        """Moments created with add_moment_task: each member's publish time, audience, likes and comments."""
        with self._lock:
            return [dataclasses.asdict(m) for m in self.state.moments.values()]

    def welcomes(self) -> list[dict[str, Any]]:
        """Welcome messages Siyu sent through send_welcome_msg, with their attachments."""
        with self._lock:
            return [vars(m).copy() for m in self.state.welcome_messages]

    def group_welcomes(self, chat_id: str | None = None) -> list[dict[str, Any]]:
        """入群欢迎语 WeCom sent to people joining groups that have one."""
        with self._lock:
            return [vars(d).copy() for d in self.state.group_welcomes if chat_id is None or d.chat_id == chat_id]

    def delivery_log(self, limit: int | None = None) -> list[dict[str, Any]]:
        records = [d.as_dict() for d in self._callbacks.deliveries]
        return records[-int(limit):] if limit else records

    def archive(self, seq: int = 0, limit: int = 100) -> dict[str, Any]:
        """The ArchiveSource feed: messages after ``seq`` in GetChatData's envelope, with plaintext messages.

        The real 会话存档 data is encrypted and only readable through Tencent's
        closed SDK; the simulator hands out the decrypted ``message`` directly.
        """
        seq, limit = int(seq), int(limit)
        if not 1 <= limit <= 1000:
            return {"errcode": 10000, "errmsg": "invalid limit: 1..1000", "chatdata": []}
        with self._lock:
            batch = [m for m in self.state.archive if m.seq > seq][:limit]
            return {
                "errcode": 0,
                "errmsg": "ok",
                "chatdata": [{"seq": m.seq, "msgid": m.msgid, "publickey_ver": 1, "message": m.message} for m in batch],
            }


def _api_path(path: str) -> str:
    path = path.split("?", 1)[0].strip("/")
    return path[len("cgi-bin/"):] if path.startswith("cgi-bin/") else path


def _unique(items: list) -> list:
    return list(dict.fromkeys(items))


def _staff_dict(staff: Staff) -> dict[str, Any]:
    return vars(staff).copy()


def _group_dict(group: GroupChat) -> dict[str, Any]:
    data = {k: v for k, v in vars(group).items() if k != "members"}
    data["members"] = [vars(m).copy() for m in group.members]
    data["member_version"] = ids.member_version(group.member_ids())
    return data
