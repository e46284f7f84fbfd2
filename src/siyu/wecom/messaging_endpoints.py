"""The WeCom APIs of outbound messaging, one typed function each: 企业群发, 客户朋友圈 and their uploads.

Like :mod:`siyu.wecom.endpoints`, each takes a :class:`~siyu.wecom.client.WeComClient` first, names its path
once, returns plain dataclasses and raises the client's typed errors (a refusal is a
:class:`~siyu.wecom.errors.WeComError` with WeCom's errcode). Paging is done here: callers get every row.
Facts and limits: reference §3.6 (DOC 92135) and §3.10 (DOC 95094, DOC 93333).

Nothing is sent by these calls: a group message or a moment becomes a task each member confirms on their
phone; the results functions report what happened since.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

ADD_MSG_TEMPLATE = "externalcontact/add_msg_template"
GROUPMSG_LIST = "externalcontact/get_groupmsg_list_v2"
GROUPMSG_TASK = "externalcontact/get_groupmsg_task"
GROUPMSG_SEND_RESULT = "externalcontact/get_groupmsg_send_result"
REMIND_GROUPMSG = "externalcontact/remind_groupmsg_send"
CANCEL_GROUPMSG = "externalcontact/cancel_groupmsg_send"
MEDIA_UPLOAD = "media/upload"
UPLOAD_ATTACHMENT = "media/upload_attachment"
ADD_MOMENT_TASK = "externalcontact/add_moment_task"
MOMENT_TASK_RESULT = "externalcontact/get_moment_task_result"
MOMENT_LIST = "externalcontact/get_moment_list"
MOMENT_TASK = "externalcontact/get_moment_task"
MOMENT_CUSTOMERS = "externalcontact/get_moment_customer_list"
MOMENT_SEND_RESULT = "externalcontact/get_moment_send_result"
MOMENT_COMMENTS = "externalcontact/get_moment_comments"
CANCEL_MOMENT_TASK = "externalcontact/cancel_moment_task"

# DOC 92135: at most 10,000 customers (external_userid) or 2,000 groups (chat_id_list) in one call.
MAX_CUSTOMERS_PER_CALL = 10_000
MAX_GROUPS_PER_CALL = 2_000
# Largest pages each list API allows (reference §3.6, §3.10).
_GROUPMSG_LIST_PAGE, _GROUPMSG_TASK_PAGE, _MOMENT_LIST_PAGE, _MOMENT_TASK_PAGE, _MOMENT_SEND_PAGE = 100, 1000, 20, 1000, 5000


class SendStatus:
    """A recipient's status in get_groupmsg_send_result (reference §3.6)."""

    UNSENT = 0  # 未发送
    SENT = 1  # 已发送
    NOT_FRIEND = 2  # 因客户不是好友导致发送失败
    OVER_CAP = 3  # 因客户已经收到其他群发消息导致发送失败: the receive cap (month's days, 7 a week or 1 a day)


class MomentJob:
    """get_moment_task_result's ``status``: 1 开始创建, 2 正在创建, 3 创建完成."""

    STARTED = 1
    CREATING = 2
    DONE = 3


# -- 企业群发 ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MsgTemplate:
    """What add_msg_template answered: the message's id and the recipients WeCom could not take."""

    msgid: str
    fail_list: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class GroupMsg:
    msgid: str
    creator: str
    create_time: int
    create_type: int  # 0 企业发表, 1 个人发表
    text: dict | None = None
    attachments: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class GroupMsgTask:
    userid: str
    sent: bool  # status 0 未发送, 2 已发送 (the doc's own sample prints 1: any other than 0 is sent)
    send_time: int = 0


@dataclass(frozen=True)
class GroupMsgResult:
    userid: str
    status: int  # a SendStatus value
    external_userid: str = ""
    chat_id: str = ""
    send_time: int = 0


def add_msg_template(client, *, content: dict, external_userids: Iterable[str] = (), chat_ids: Iterable[str] = (),
                     sender: str | None = None, tag_groups: Iterable[Iterable[str]] = (),
                     allow_select: bool = False) -> MsgTemplate:
    """Create a group message to customers (``external_userids`` and/or ``tag_groups``: tags OR'ed within a
    group, groups AND'ed) or, with ``chat_ids``, to the sender's customer groups. ``content``: ``text`` and up
    to 9 ``attachments`` (:mod:`siyu.wecom.attachments`). More recipients than one call takes is a
    ``ValueError``: split them with :func:`batches` so each batch gets its own idempotency key."""
    customers, groups = list(external_userids), list(chat_ids)
    if customers and groups:
        raise ValueError("a group message goes to customers or to groups, not both")
    if len(customers) > MAX_CUSTOMERS_PER_CALL or len(groups) > MAX_GROUPS_PER_CALL:
        raise ValueError(f"at most {MAX_CUSTOMERS_PER_CALL} customers or {MAX_GROUPS_PER_CALL} groups per call")
    body: dict = {"chat_type": "group" if groups else "single", **content}
    if customers:
        body["external_userid"] = customers
    if groups:
        body["chat_id_list"] = groups
    if sender:
        body["sender"] = sender
    tag_list = [{"tag_list": list(group)} for group in tag_groups]
    if tag_list:
        body["tag_filter"] = {"group_list": tag_list}
    if allow_select:
        body["allow_select"] = True
    data = client.post(ADD_MSG_TEMPLATE, body)
    return MsgTemplate(data["msgid"], list(data.get("fail_list") or []))


def batches(ids: Iterable[str], size: int = MAX_CUSTOMERS_PER_CALL) -> Iterator[list[str]]:
    """``ids`` in lists of at most ``size`` (one add_msg_template call each), in order."""
    batch: list[str] = []
    for item in ids:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def group_messages(client, *, start: int, end: int, chat_type: str = "single", creator: str | None = None,
                   filter_type: int = 2) -> list[GroupMsg]:
    """Group messages created between ``start`` and ``end`` (epoch seconds, at most one month apart);
    ``filter_type`` 0 企业发表, 1 个人发表, 2 both."""
    body: dict = {"chat_type": chat_type, "start_time": start, "end_time": end, "filter_type": filter_type,
                  "limit": _GROUPMSG_LIST_PAGE}
    if creator:
        body["creator"] = creator
    return [GroupMsg(row["msgid"], row.get("creator") or "", int(row.get("create_time") or 0),
                     int(row.get("create_type") or 0), row.get("text"), list(row.get("attachments") or []))
            for row in client.iter_cursor(GROUPMSG_LIST, body, "group_msg_list")]


def group_message_tasks(client, msgid: str) -> list[GroupMsgTask]:
    """Each member's task of a group message: sent or not, and when."""
    rows = client.iter_cursor(GROUPMSG_TASK, {"msgid": msgid, "limit": _GROUPMSG_TASK_PAGE}, "task_list")
    return [GroupMsgTask(row["userid"], bool(row.get("status")), int(row.get("send_time") or 0)) for row in rows]


def group_message_results(client, msgid: str, userid: str) -> list[GroupMsgResult]:
    """What became of each recipient of one member's task (:class:`SendStatus`)."""
    body = {"msgid": msgid, "userid": userid, "limit": _GROUPMSG_TASK_PAGE}
    return [GroupMsgResult(row.get("userid") or userid, int(row["status"]), row.get("external_userid") or "",
                           row.get("chat_id") or "", int(row.get("send_time") or 0))
            for row in client.iter_cursor(GROUPMSG_SEND_RESULT, body, "send_list")]


def remind_group_message(client, msgid: str) -> None:
    """Notify the members who have not sent yet again (WeCom allows 3 reminders per message in 24 hours)."""
    client.post(REMIND_GROUPMSG, {"msgid": msgid})


def cancel_group_message(client, msgid: str) -> None:
    """Stop a group message: members who have not sent can no longer send it; what was sent stays sent."""
    client.post(CANCEL_GROUPMSG, {"msgid": msgid})


# -- uploads -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class UploadedMedia:
    """A temporary media id: valid three days from ``created_at`` (reference §8, 40007 after)."""

    media_id: str
    type: str
    created_at: int


def _uploaded(data: dict) -> UploadedMedia:
    return UploadedMedia(data["media_id"], data.get("type") or "", int(data.get("created_at") or 0))


def upload_media(client, *, kind: str, filename: str, data: bytes) -> UploadedMedia:
    """``media/upload``: ``kind`` image (jpg/png ≤10 MB), voice (amr ≤2 MB), video (mp4 ≤10 MB), file (≤20 MB)."""
    return _uploaded(client.upload(MEDIA_UPLOAD, filename, data, type=kind))


def upload_attachment(client, *, media_type: str, filename: str, data: bytes, for_moments: bool = True) -> UploadedMedia:
    """``media/upload_attachment``: a file for moments (attachment_type 1; images and videos) or, with
    ``for_moments=False``, for the product album (attachment_type 2; images only). Moments accept no other ids."""
    return _uploaded(client.upload(UPLOAD_ATTACHMENT, filename, data, media_type=media_type,
                                   attachment_type=1 if for_moments else 2))


# -- 客户朋友圈 --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MomentTaskResult:
    status: int  # a MomentJob value
    moment_id: str = ""
    invalid_users: list[str] = field(default_factory=list)
    invalid_departments: list[int] = field(default_factory=list)
    invalid_tags: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.status == MomentJob.DONE


@dataclass(frozen=True)
class MomentSummary:
    moment_id: str
    create_time: int
    create_type: int  # 0 企业发表, 1 个人发表
    visible_type: int  # 0 部分可见, 1 公开
    creator: str = ""  # absent for moments made by add_moment_task
    text: str = ""
    image_ids: list[str] = field(default_factory=list)
    video: dict | None = None
    link: dict | None = None


@dataclass(frozen=True)
class Reaction:
    """A like or a comment: by a customer (``external_userid``) or a member (``userid``)."""

    create_time: int
    external_userid: str = ""
    userid: str = ""


@dataclass(frozen=True)
class MomentReactions:
    comments: list[Reaction]
    likes: list[Reaction]


def add_moment_task(client, *, text: str = "", attachments: Iterable[dict] = (), senders: Iterable[str] = (),
                    departments: Iterable[int] = (), tags: Iterable[str] = ()) -> str:
    """Create a 企业朋友圈 post (text ≤2000 characters; ≤9 images, or one video, or one link, with media ids
    from :func:`upload_attachment`) for ``senders``/``departments`` to publish to customers with ``tags``.
    Returns the job id: the moment exists once :func:`moment_task_result` is done (10 tasks a minute)."""
    body: dict = {}
    if text:
        body["text"] = {"content": text}
    attachments = list(attachments)
    if attachments:
        body["attachments"] = attachments
    sender_list: dict = {}
    if senders:
        sender_list["user_list"] = list(senders)
    if departments:
        sender_list["department_list"] = [int(d) for d in departments]
    visible: dict = {}
    if sender_list:
        visible["sender_list"] = sender_list
    if tags:
        visible["external_contact_list"] = {"tag_list": list(tags)}
    if visible:
        body["visible_range"] = visible
    return client.post(ADD_MOMENT_TASK, body)["jobid"]


def moment_task_result(client, jobid: str) -> MomentTaskResult:
    data = client.get(MOMENT_TASK_RESULT, jobid=jobid)
    result = data.get("result") or {}
    senders = result.get("invalid_sender_list") or {}
    return MomentTaskResult(
        int(data.get("status") or 0), result.get("moment_id") or "",
        list(senders.get("user_list") or []), [int(d) for d in senders.get("department_list") or []],
        list((result.get("invalid_external_contact_list") or {}).get("tag_list") or []),
    )


def moments(client, *, start: int, end: int, creator: str | None = None, filter_type: int = 2) -> list[MomentSummary]:
    """Moments created between ``start`` and ``end`` (epoch seconds, at most 30 days apart)."""
    body: dict = {"start_time": start, "end_time": end, "filter_type": filter_type, "limit": _MOMENT_LIST_PAGE}
    if creator:
        body["creator"] = creator
    return [MomentSummary(row["moment_id"], int(row.get("create_time") or 0), int(row.get("create_type") or 0),
                          int(row.get("visible_type") or 0), row.get("creator") or "",
                          (row.get("text") or {}).get("content") or "",
                          [image["media_id"] for image in row.get("image") or []], row.get("video"), row.get("link"))
            for row in client.iter_cursor(MOMENT_LIST, body, "moment_list")]


def moment_tasks(client, moment_id: str) -> dict[str, bool]:
    """Each member of a moment: whether they published it."""
    rows = client.iter_cursor(MOMENT_TASK, {"moment_id": moment_id, "limit": _MOMENT_TASK_PAGE}, "task_list")
    return {row["userid"]: row.get("publish_status") == 1 for row in rows}


def moment_customers(client, moment_id: str, userid: str) -> list[str]:
    """The customers ``userid``'s copy of the moment is meant for."""
    body = {"moment_id": moment_id, "userid": userid, "limit": _MOMENT_TASK_PAGE}
    return [row["external_userid"] for row in client.iter_cursor(MOMENT_CUSTOMERS, body, "customer_list")]


def moment_seen_by(client, moment_id: str, userid: str) -> list[str]:
    """The customers who can see ``userid``'s published copy (none before the member publishes)."""
    body = {"moment_id": moment_id, "userid": userid, "limit": _MOMENT_SEND_PAGE}
    return [row["external_userid"] for row in client.iter_cursor(MOMENT_SEND_RESULT, body, "customer_list")]


def moment_reactions(client, moment_id: str, userid: str) -> MomentReactions:
    """Who commented on and liked ``userid``'s copy, and when (WeCom does not give the comments' text)."""
    data = client.post(MOMENT_COMMENTS, {"moment_id": moment_id, "userid": userid})

    def read(rows) -> list[Reaction]:
        return [Reaction(int(r.get("create_time") or 0), r.get("external_userid") or "", r.get("userid") or "")
                for r in rows or []]

    return MomentReactions(read(data.get("comment_list")), read(data.get("like_list")))


def cancel_moment_task(client, moment_id: str) -> None:
    """Stop a 企业朋友圈 post: members who have not published can no longer publish it."""
    client.post(CANCEL_MOMENT_TASK, {"moment_id": moment_id})
