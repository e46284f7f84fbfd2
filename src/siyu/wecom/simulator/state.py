"""The simulated corp's data, and its JSON snapshot on disk.

Plain dataclasses keyed by their WeCom ids: the API handlers and the control
actions both read and write them under the simulator's lock. Everything here
is JSON-native so a snapshot is ``dataclasses.asdict`` and a restore is the
generic :func:`load` below, which lets the demo survive restarts.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import threading
import time
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

# Relation.status: WeCom shows "active" and "half" relations through the API; a
# customer who deleted the member stays in the member's list ("deleted_by_customer"),
# and a friend request waiting for the member ("pending") is invisible.
ACTIVE, HALF, PENDING, DELETED_BY_CUSTOMER = "active", "half", "pending", "deleted_by_customer"
VISIBLE = (ACTIVE, HALF, DELETED_BY_CUSTOMER)

# Transfer.status, as transfer_result reports it.
TRANSFER_DONE, TRANSFER_WAITING, TRANSFER_REFUSED = 1, 2, 3

# GroupChat.status (groupchat/list status_filter).
GROUP_NORMAL, GROUP_RESIGNED_PENDING, GROUP_RESIGNED_DONE = 0, 1, 3


@dataclass
class Department:
    id: int
    name: str
    parentid: int
    order: int = 0


@dataclass
class Staff:
    userid: str
    name: str
    department: list[int] = field(default_factory=lambda: [1])
    position: str = ""
    mobile: str = ""
    gender: str = "0"
    email: str = ""
    alias: str = ""
    avatar: str = ""
    status: int = 1
    # 客户联系 enabled (get_follow_user_list), and an admin-configured welcome
    # message (then WeCom sends no WelcomeCode for this member's new customers).
    external_contact: bool = True
    admin_welcome: bool = False
    left_at: float | None = None
    # Has logged in to the WeCom app once (「联系我」 refuses members who have not: 41054, doc 95724).
    activated: bool = True

    @property
    def active(self) -> bool:
        return self.left_at is None


@dataclass
class Customer:
    external_userid: str
    name: str
    type: int = 1
    gender: int = 0
    avatar: str = ""
    unionid: str = ""
    corp_name: str = ""
    corp_full_name: str = ""
    position: str = ""


@dataclass
class Relation:
    userid: str
    external_userid: str
    createtime: int
    add_way: int
    oper_userid: str
    status: str = ACTIVE
    remark: str = ""
    description: str = ""
    remark_corp_name: str = ""
    remark_mobiles: list[str] = field(default_factory=list)
    tag_ids: list[str] = field(default_factory=list)
    state: str = ""
    last_chat_at: float = 0.0
    # "pending" relations remember the welcome code decision for accept().
    had_relation_before: bool = False


@dataclass
class Tag:
    id: str
    name: str
    group_id: str
    create_time: int
    order: int = 0
    deleted: bool = False
    # The app that created it through add_corp_tag; 0 = the admin console. Doc 92117: "自建/第三方应用仅能编辑和
    # 删除本应用创建的标签", so only tags with the calling app's id may be edited or deleted through the API.
    agentid: int = 0


@dataclass
class TagGroup:
    group_id: str
    group_name: str
    create_time: int
    order: int = 0
    deleted: bool = False
    tag_ids: list[str] = field(default_factory=list)
    agentid: int = 0  # as Tag.agentid


@dataclass
class ContactWay:
    config_id: str
    type: int
    scene: int
    create_time: int
    style: int | None = None
    remark: str = ""
    skip_verify: bool = True
    state: str = ""
    user: list[str] = field(default_factory=list)
    party: list[int] = field(default_factory=list)
    is_temp: bool = False
    expires_in: int | None = None
    chat_expires_in: int | None = None
    unionid: str = ""
    is_exclusive: bool = False
    mark_source: bool = False
    conclusions: dict[str, Any] | None = None
    qr_code: str = ""
    scans: int = 0


@dataclass
class JoinWay:
    config_id: str
    scene: int
    create_time: int
    chat_id_list: list[str]
    remark: str = ""
    auto_create_room: int = 1
    room_base_name: str = ""
    room_base_id: int = 1
    state: str = ""
    mark_source: bool = False
    qr_code: str = ""
    rooms_created: int = 0


@dataclass
class GroupMember:
    userid: str
    type: int
    join_time: int
    join_scene: int
    name: str
    invitor: str = ""
    group_nickname: str = ""
    unionid: str = ""
    state: str = ""


@dataclass
class GroupChat:
    chat_id: str
    name: str
    owner: str
    create_time: int
    notice: str = ""
    members: list[GroupMember] = field(default_factory=list)
    admin_list: list[str] = field(default_factory=list)
    status: int = GROUP_NORMAL
    dismissed: bool = False
    # The 入群欢迎语 the owner chose for this group in the client (a group_welcome_template id, "" = none).
    welcome_template_id: str = ""

    def member_ids(self) -> list[str]:
        return [m.userid for m in self.members]


@dataclass
class SendResult:
    userid: str
    external_userid: str = ""
    chat_id: str = ""
    status: int = 0
    send_time: int = 0


@dataclass
class MsgTemplate:
    msgid: str
    chat_type: str
    create_time: int
    sender: str = ""
    text: dict[str, Any] | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    # userid -> send time (0 while the member has not confirmed the task).
    tasks: dict[str, int] = field(default_factory=dict)
    results: list[SendResult] = field(default_factory=list)
    # cancel_groupmsg_send: members who had not sent can no longer send.
    cancelled: bool = False
    # sim times of remind_groupmsg_send calls (at most 3 in 24 hours).
    reminders: list[float] = field(default_factory=list)


@dataclass
class Transfer:
    kind: str  # "onjob" | "resigned"
    handover_userid: str
    takeover_userid: str
    external_userid: str
    created_at: float
    status: int = TRANSFER_WAITING
    takeover_time: int = 0


@dataclass
class MomentTask:
    jobid: str
    moment_id: str
    created_at: float
    invalid_users: list[str] = field(default_factory=list)
    invalid_departments: list[int] = field(default_factory=list)
    invalid_tags: list[str] = field(default_factory=list)
    text: dict[str, Any] | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class MomentReaction:
    """A like or a comment on one member's copy of a moment, by a customer (or a member)."""

    external_userid: str = ""
    userid: str = ""
    create_time: int = 0


@dataclass
class Moment:
    """A 企业朋友圈 post: created by add_moment_task, published by each member on their own phone."""

    moment_id: str
    create_time: int
    visible_type: int  # 0 部分可见 (a tag_list was given), 1 公开
    text: dict[str, Any] | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    creator: str = ""
    create_type: int = 0  # 0 企业发表, 1 个人发表
    # member userid -> publish time (0 until the member publishes it).
    tasks: dict[str, int] = field(default_factory=dict)
    # member userid -> the customers who will see the member's copy (visible range ∩ the member's customers).
    audience: dict[str, list[str]] = field(default_factory=dict)
    # member userid -> the customers who can see the member's published copy (the audience, less those over
    # limits.moment_customer_daily_cap when it was published).
    seen: dict[str, list[str]] = field(default_factory=dict)
    # member userid -> likes / comments on that member's copy.
    likes: dict[str, list[MomentReaction]] = field(default_factory=dict)
    comments: dict[str, list[MomentReaction]] = field(default_factory=dict)
    cancelled: bool = False


@dataclass
class AppMessage:
    msgid: str
    agentid: int
    touser: list[str]
    msgtype: str
    content: dict[str, Any]
    sent_at: int


@dataclass
class WelcomeCode:
    code: str
    userid: str
    external_userid: str
    issued_at: float
    used: bool = False


@dataclass
class OAuthCode:
    """A code handed to ``redirect_uri`` by the authorize page or the web-login page (DOC 91022 / 98152)."""

    code: str
    issued_at: float
    userid: str = ""  # a member; empty for a WeChat user outside the corp, who gets ``openid`` instead
    openid: str = ""
    scope: str = "snsapi_base"
    used: bool = False


@dataclass
class JsTicket:
    """A JS-SDK ticket handed out by get_jsapi_ticket ("corp") or ticket/get?type=agent_config ("agent")."""

    kind: str
    expires_at: float


@dataclass
class WelcomeMessage:
    welcome_code: str
    userid: str
    external_userid: str
    sent_at: int
    text: dict[str, Any] | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class GroupWelcomeTemplate:
    """One 入群欢迎语素材 (group_welcome_template/add): text and at most one attachment."""

    template_id: str
    create_time: int
    text: dict[str, Any] | None = None
    # the one attachment WeCom keeps: {"msgtype": "image"|"link"|"miniprogram"|"file"|"video", <msgtype>: {...}}
    attachment: dict[str, Any] | None = None
    notify: int = 1


@dataclass
class GroupWelcomeDelivery:
    """WeCom sent a group's 入群欢迎语 to someone who just joined it."""

    chat_id: str
    external_userid: str
    template_id: str
    sent_at: int
    text: dict[str, Any] | None = None
    attachment: dict[str, Any] | None = None
    config_id: str = ""
    state: str = ""


@dataclass
class Media:
    """A file uploaded with media/upload: its media_id lives three days (doc 90253, errcode 40007 after)."""

    media_id: str
    type: str
    created_at: float
    filename: str = ""
    size: int = 0
    # media/upload_attachment: 1 朋友圈, 2 商品图册; 0 = a plain media/upload (not usable in moments).
    attachment_type: int = 0


@dataclass
class ArchiveMessage:
    seq: int
    msgid: str
    message: dict[str, Any]


@dataclass
class State:
    departments: dict[int, Department] = field(default_factory=dict)
    staff: dict[str, Staff] = field(default_factory=dict)
    customers: dict[str, Customer] = field(default_factory=dict)
    # key: relation_key(userid, external_userid)
    relations: dict[str, Relation] = field(default_factory=dict)
    tag_groups: dict[str, TagGroup] = field(default_factory=dict)
    tags: dict[str, Tag] = field(default_factory=dict)
    contact_ways: dict[str, ContactWay] = field(default_factory=dict)
    join_ways: dict[str, JoinWay] = field(default_factory=dict)
    groups: dict[str, GroupChat] = field(default_factory=dict)
    msg_templates: dict[str, MsgTemplate] = field(default_factory=dict)
    transfers: list[Transfer] = field(default_factory=list)
    moment_tasks: dict[str, MomentTask] = field(default_factory=dict)
    moments: dict[str, Moment] = field(default_factory=dict)
    app_messages: list[AppMessage] = field(default_factory=list)
    welcome_codes: dict[str, WelcomeCode] = field(default_factory=dict)
    welcome_messages: list[WelcomeMessage] = field(default_factory=list)
    # Messages members sent into a chat from a chat-toolbar page (sendChatMessage, DOC 96935).
    chat_tool_messages: list[dict] = field(default_factory=list)
    group_welcome_templates: dict[str, GroupWelcomeTemplate] = field(default_factory=dict)
    group_welcomes: list[GroupWelcomeDelivery] = field(default_factory=list)
    archive: list[ArchiveMessage] = field(default_factory=list)
    media: dict[str, Media] = field(default_factory=dict)
    # URLs handed out by media/uploadimg: the only pic_url values WeCom accepts in messages (doc 92137).
    uploaded_images: list[str] = field(default_factory=list)
    # The self-built app's visible range (应用可见范围): departments (with their sub-departments) and members.
    # Only members inside it can be named in API calls or are listed by them.
    visible_departments: list[int] = field(default_factory=lambda: [1])
    visible_users: list[str] = field(default_factory=list)
    # access token -> expiry (sim time); tokens are dropped by expire_tokens().
    tokens: dict[str, float] = field(default_factory=dict)
    revoked_tokens: list[str] = field(default_factory=list)
    # OAuth / web-login codes by value, the app's trusted domains (可信域名, host or host:port) that
    # redirect_uri must match, and the JS-SDK tickets issued with their expiry (sim time).
    oauth_codes: dict[str, OAuthCode] = field(default_factory=dict)
    trusted_domains: list[str] = field(default_factory=list)
    js_tickets: dict[str, JsTicket] = field(default_factory=dict)
    tickets_issued: dict[str, int] = field(default_factory=dict)
    # external_userid -> sim times a published moment became visible to them.
    moment_views: dict[str, list[float]] = field(default_factory=dict)
    # external_userid or chat_id -> sim times it received a 企业群发 message.
    groupmsg_receipts: dict[str, list[float]] = field(default_factory=dict)
    sim_time: float = 0.0

    def relation(self, userid: str, external_userid: str) -> Relation | None:
        return self.relations.get(relation_key(userid, external_userid))

    def relations_of_customer(self, external_userid: str, statuses=VISIBLE) -> list[Relation]:
        return sorted(
            (r for r in self.relations.values() if r.external_userid == external_userid and r.status in statuses),
            key=lambda r: r.createtime,  # stable: ties keep the order relations were made
        )

    def relations_of_staff(self, userid: str, statuses=VISIBLE) -> list[Relation]:
        return sorted(
            (r for r in self.relations.values() if r.userid == userid and r.status in statuses),
            key=lambda r: r.createtime,
        )

    def active_staff(self, userid: str) -> Staff | None:
        staff = self.staff.get(userid)
        return staff if staff is not None and staff.active else None

    def visible(self, userid: str) -> bool:
        """Whether the member is inside the app's visible range (reference §8: API lists hold only members inside it)."""
        staff = self.staff.get(userid)
        if staff is None:
            return False
        if userid in self.visible_users:
            return True
        return bool(set(self.department_tree(self.visible_departments)).intersection(staff.department))

    def visible_staff_count(self) -> int:
        return sum(1 for s in self.staff.values() if s.active and self.visible(s.userid))

    def department_tree(self, roots: list[int]) -> list[int]:
        """``roots`` and all their sub-departments, breadth first, children by descending order."""
        found: list[int] = []
        todo = [int(r) for r in roots if int(r) in self.departments]
        while todo:
            current = todo.pop(0)
            if current not in found:
                found.append(current)
                children = [d for d in self.departments.values() if d.parentid == current]
                todo += [d.id for d in sorted(children, key=lambda d: (-d.order, d.id))]
        return found

    def members_of(self, departments: list[int], recursive: bool = True) -> list[str]:
        """Active members in the departments (and their sub-departments when ``recursive``)."""
        wanted = set(self.department_tree(departments) if recursive else departments)
        return [s.userid for s in self.staff.values() if s.active and wanted.intersection(s.department)]

    def delete_tags(self, tag_ids: list[str], group_ids: list[str]) -> dict[str, list[str]]:
        """Mark tags and groups deleted and strip them from customers; a group left without tags goes too."""
        tags = list(tag_ids)
        for gid in group_ids:
            tags += [t for t in self.tag_groups[gid].tag_ids if not self.tags[t].deleted]
        tags = list(dict.fromkeys(tags))
        for tid in tags:
            self.tags[tid].deleted = True
        groups = list(group_ids)
        for tid in tag_ids:
            group = self.tag_groups[self.tags[tid].group_id]
            if group.group_id not in groups and all(self.tags[t].deleted for t in group.tag_ids):
                groups.append(group.group_id)
        for gid in groups:
            self.tag_groups[gid].deleted = True
        dead = set(tags)
        for rel in self.relations.values():
            if dead.intersection(rel.tag_ids):
                rel.tag_ids = [t for t in rel.tag_ids if t not in dead]
        return {"tags": tags, "groups": groups}


def relation_key(userid: str, external_userid: str) -> str:
    return f"{userid}|{external_userid}"


# --- snapshot ------------------------------------------------------------------------------------


def dump(state: State) -> dict[str, Any]:
    return dataclasses.asdict(state)


def load(data: dict[str, Any]) -> State:
    """Rebuild a :class:`State` from :func:`dump` output, using the dataclass type hints."""
    return _load(State, data)


def _load(tp: Any, data: Any) -> Any:
    if data is None:
        return None
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        names = {f.name for f in dataclasses.fields(tp)}
        return tp(**{k: _load(hints[k], v) for k, v in data.items() if k in names})
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is list:
        return [_load(args[0], item) for item in data]
    if origin is dict:
        key_type = args[0]
        return {key_type(k): _load(args[1], v) for k, v in data.items()}
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _load(inner[0], data) if len(inner) == 1 else data
    return data


class Snapshotter:
    """Writes the state to a JSON file atomically, at most once per ``interval`` seconds.

    ``changed()`` is cheap and is called after every change; the write happens
    on a timer thread. ``dump`` takes the simulator's lock itself, and this
    class never holds its own lock while calling it, so the two locks cannot
    deadlock.
    """

    def __init__(self, path: str | os.PathLike, dump: Callable[[], dict], interval: float = 1.0) -> None:
        self.path = Path(path)
        self._dump = dump
        self._interval = interval
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._last = 0.0

    def read(self) -> dict[str, Any] | None:
        if not self.path.exists():
            return None
        return json.loads(self.path.read_text(encoding="utf-8"))

    def changed(self) -> None:
        with self._lock:
            if self._timer is not None:
                return
            delay = max(0.0, self._last + self._interval - time.monotonic())
            self._timer = threading.Timer(delay, self.save)
            self._timer.daemon = True
            self._timer.start()

    def save(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        data = self._dump()
        with self._write_lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(data, fh, ensure_ascii=False)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            self._last = time.monotonic()
