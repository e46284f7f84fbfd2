"""企业群发 (group messages to customers and customer groups), 客户朋友圈 (moments) and their attachments.

Everything here is a WeCom rule with its source: reference §3.6 (DOC 92135 创建企业群发 and the pages of the
群发 results, reminders and cancelling), §3.10 (DOC 95094 企业发表内容到客户的朋友圈, DOC 93333 获取客户朋友圈
全部的发表记录), DOC 95098 (上传附件资源) and the Appendix A samples for the shapes. Nothing is sent when a
task is created: members confirm group messages (control ``confirm-groupmsg``) and publish moments
(``publish-moment``) on their phones, customers like and comment (``like-moment``, ``comment-moment``).
"""

from __future__ import annotations

import calendar
from datetime import datetime
from typing import Any

from . import ids
from .api import (
    MEDIA_RULES,
    _active_user,
    _bool,
    _check_file,
    _int,
    _list,
    _live_tag,
    _missing,
    _object,
    _page,
    _str,
    _uploaded_file,
    _validate_content,
    route,
)
from .errors import ApiError
from .limits import CHINA
from .state import VISIBLE, Media, Moment, MomentTask, MsgTemplate, SendResult

# DOC 92135: "external_userid … 最多可支持同时传入10000个客户"; "chat_id_list … 最多可支持同时传入2000个群".
MAX_EXTERNAL_USERIDS = 10_000
MAX_CHAT_IDS = 2_000
# DOC 92135: 提醒成员群发 "24小时内每个群发最多触发三次提醒" (reference §3.6).
REMINDERS_PER_DAY = 3


def _within_a_month(body: dict, *, max_days: int | None = None) -> tuple[int, int]:
    """``start_time``/``end_time`` of a list call: both required, start ≤ end, and the span at most one calendar
    month (get_groupmsg_list_v2: "起止时间间隔不能超过1个月") or ``max_days`` (get_moment_list: 30 days)."""
    start = _int(body, "start_time", required=True, lo=0)
    end = _int(body, "end_time", required=True, lo=0)
    if end < start:
        raise ApiError(40058, "end_time must not be before start_time")
    if max_days is not None:
        if end - start > max_days * 86400:
            raise ApiError(40058, f"the span of start_time and end_time exceeds {max_days} days")
        return start, end
    day = datetime.fromtimestamp(start, CHINA)
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    limit = day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))
    if end > limit.timestamp():
        raise ApiError(40058, "the span of start_time and end_time exceeds 1 month")
    return start, end


# --- group messaging (§3.6) ----------------------------------------------------------------------


def _tag_filter(sim, body: dict) -> list[set[str]]:
    """DOC 92135: "同组标签之间按或关系进行筛选，不同组标签按且关系筛选，每组最多指定100个标签"."""
    groups = _object(body, "tag_filter").get("group_list") or []
    if not isinstance(groups, list):
        raise ApiError(40058, "tag_filter.group_list must be a list")
    result = []
    for group in groups:
        tags = _list(group if isinstance(group, dict) else {}, "tag_list", max_items=100)
        for tid in tags:
            _live_tag(sim, tid)
        if tags:
            result.append(set(tags))
    return result


@route("externalcontact/add_msg_template")
def add_msg_template(sim, q, body):
    """Creates member tasks; nothing is sent until each member confirms (control: confirm_groupmsg).

    The receive cap is applied when a member sends, as WeCom does: a customer over it gets status 3 in
    get_groupmsg_send_result (DOC 92135), not a place in ``fail_list``.
    """
    state = sim.state
    chat_type = _str(body, "chat_type") or "single"
    if chat_type not in ("single", "group"):
        raise ApiError(40058, "chat_type must be single or group")
    text, attachments = _validate_content(sim, body)
    sender = _str(body, "sender")
    if sender:
        _active_user(sim, sender, "sender")
    fail_list: list[str] = []
    results: list[SendResult] = []
    if chat_type == "single":
        wanted = _list(body, "external_userid", max_items=MAX_EXTERNAL_USERIDS)
        tag_groups = _tag_filter(sim, body)
        _bool(body, "allow_select", False)  # validated only: simulated members send to everyone they were given

        def eligible(rel) -> bool:
            return (not sender or rel.userid == sender) and all(g.intersection(rel.tag_ids) for g in tag_groups)

        if wanted:
            # One pass over the relations, not one per customer: a call names up to 10,000 customers.
            asked = set(wanted)
            visible: dict[str, list] = {}
            for rel in sorted(state.relations.values(), key=lambda r: r.createtime):
                if rel.external_userid in asked and rel.status in VISIBLE:
                    visible.setdefault(rel.external_userid, []).append(rel)
            by_customer = {}
            for ext in dict.fromkeys(wanted):
                rels = [r for r in visible.get(ext, []) if not sender or r.userid == sender]
                if not rels:
                    fail_list.append(ext)
                    continue
                by_customer[ext] = [r for r in rels if eligible(r)]
        else:
            by_customer = {}
            for rel in state.relations.values():
                if rel.status in VISIBLE and eligible(rel):
                    by_customer.setdefault(rel.external_userid, []).append(rel)
        for ext, rels in by_customer.items():
            if rels:  # without a sender, the customer's last-interacting member gets the task (DOC 92135)
                chosen = max(rels, key=lambda r: (r.last_chat_at, r.createtime))
                results.append(SendResult(chosen.userid, external_userid=ext))
    else:
        if not sender:
            raise _missing("sender")
        chat_ids = _list(body, "chat_id_list", max_items=MAX_CHAT_IDS)
        owned = [g.chat_id for g in state.groups.values() if g.owner == sender and not g.dismissed]
        for chat_id in (dict.fromkeys(chat_ids) if chat_ids else owned):
            if chat_id in owned:
                results.append(SendResult(sender, chat_id=chat_id))
            else:
                fail_list.append(chat_id)
    template = MsgTemplate(ids.msgid(), chat_type, int(sim.now()), sender or "", text, attachments)
    template.results = results
    template.tasks = {r.userid: 0 for r in results}
    state.msg_templates[template.msgid] = template
    return {"fail_list": fail_list, "msgid": template.msgid}


def _template(sim, body) -> MsgTemplate:
    msgid = _str(body, "msgid", required=True)
    template = sim.state.msg_templates.get(msgid)
    if template is None:
        raise ApiError(40058, f"invalid msgid {msgid}")
    return template


@route("externalcontact/get_groupmsg_list_v2")
def get_groupmsg_list_v2(sim, q, body):
    """Group messages created in a span of at most a month, filtered by type, creator and who created them.

    Messages made with add_msg_template are 企业发表 (create_type 0); the simulator has no 个人群发, so
    ``filter_type`` 1 lists nothing. Its ``creator`` is the task's sender (empty when none was named).
    """
    chat_type = _str(body, "chat_type") or "single"
    if chat_type not in ("single", "group"):
        raise ApiError(40058, "chat_type must be single or group")
    start, end = _within_a_month(body)
    creator = _str(body, "creator")
    filter_type = _int(body, "filter_type", default=2, lo=0, hi=2)  # 0 企业发表 1 个人发表 2 所有
    limit = _int(body, "limit", default=50, lo=1, hi=100)
    rows = []
    for template in sorted(sim.state.msg_templates.values(), key=lambda t: (t.create_time, t.msgid)):
        if template.chat_type != chat_type or not start <= template.create_time <= end:
            continue
        if (creator and template.sender != creator) or filter_type == 1:
            continue
        row: dict[str, Any] = {"msgid": template.msgid, "creator": template.sender,
                               "create_time": str(template.create_time), "create_type": 0}
        if template.text:
            row["text"] = template.text
        if template.attachments:
            row["attachments"] = template.attachments
        rows.append(row)
    page, next_cursor = _page("groupmsg", rows, _str(body, "cursor"), limit)
    return {"next_cursor": next_cursor, "group_msg_list": page}


@route("externalcontact/get_groupmsg_task")
def get_groupmsg_task(sim, q, body):
    """Per member: status 0 未发送, 2 已发送 (reference §3.6)."""
    template = _template(sim, body)
    limit = _int(body, "limit", default=500, lo=1, hi=1000)
    rows = []
    for userid, sent in template.tasks.items():
        row = {"userid": userid, "status": 2 if sent else 0}
        if sent:
            row["send_time"] = sent
        rows.append(row)
    page, next_cursor = _page("task", rows, _str(body, "cursor"), limit)
    return {"next_cursor": next_cursor, "task_list": page}


@route("externalcontact/get_groupmsg_send_result")
def get_groupmsg_send_result(sim, q, body):
    """Per recipient of one member: status 0 未发送, 1 已发送, 2 因客户不是好友导致发送失败, 3 因客户已经收到其他
    群发消息导致发送失败 (the receive cap; reference §3.6)."""
    template = _template(sim, body)
    userid = _str(body, "userid", required=True)
    limit = _int(body, "limit", default=500, lo=1, hi=1000)
    rows = []
    for result in template.results:
        if result.userid != userid:
            continue
        row = {"external_userid": result.external_userid} if result.external_userid else {"chat_id": result.chat_id}
        row.update(userid=result.userid, status=result.status)
        if result.send_time:
            row["send_time"] = result.send_time
        rows.append(row)
    page, next_cursor = _page("send", rows, _str(body, "cursor"), limit)
    return {"next_cursor": next_cursor, "send_list": page}


@route("externalcontact/remind_groupmsg_send")
def remind_groupmsg_send(sim, q, body):
    """Notify the members who have not sent yet again: "24小时内每个群发最多触发三次提醒" (reference §3.6). WeCom
    names no errcode for a fourth reminder; 40058 says which rule."""
    template = _template(sim, body)
    now = sim.now()
    recent = [t for t in template.reminders if now - t < 86400]
    if len(recent) >= REMINDERS_PER_DAY:
        raise ApiError(40058, f"a group message can be reminded at most {REMINDERS_PER_DAY} times in 24 hours")
    if template.cancelled:
        raise ApiError(40058, f"group message {template.msgid} was cancelled")
    template.reminders = recent + [now]
    return {}


@route("externalcontact/cancel_groupmsg_send")
def cancel_groupmsg_send(sim, q, body):
    """Stop a group message: members who have not sent can no longer send it; what was sent stays sent
    (停止企业群发, reference §3.6). Cancelling twice changes nothing."""
    template = _template(sim, body)
    template.cancelled = True
    return {}


# --- attachments for moments (上传附件资源, DOC 95098) -----------------------------------------------------

# attachment_type: 1 朋友圈, 2 商品图册 (DOC 95098). The album takes images only; moments images and videos
# (and files, whose size rule the page lists with the others). The page also limits pixels (朋友圈 images
# 1440 x 1080, 商品图册 1080 x 1080) and video length (30 s); the simulator does not decode files to check those.
ATTACHMENT_MEDIA_TYPES = {1: ("image", "video", "file"), 2: ("image",)}


@route("media/upload_attachment", raw_body=True)
def media_upload_attachment(sim, q, raw):
    """A media_id for moments or the product album, valid three days like any temporary media (DOC 95098)."""
    kind = q.get("media_type") or ""
    if kind not in MEDIA_RULES or kind == "voice":
        raise ApiError(40005, f"media_type {kind!r}")  # 不合法的type参数
    try:
        attachment_type = int(q.get("attachment_type") or 0)
    except ValueError:
        attachment_type = 0
    if attachment_type not in ATTACHMENT_MEDIA_TYPES:
        raise ApiError(40058, "attachment_type must be 1 (朋友圈) or 2 (商品图册)")
    if kind not in ATTACHMENT_MEDIA_TYPES[attachment_type]:
        raise ApiError(40005, f"media_type {kind!r} with attachment_type {attachment_type}")
    filename, data = _uploaded_file(raw)
    _check_file(filename, data, MEDIA_RULES[kind])
    media = Media(ids.media_id(), kind, sim.now(), filename, len(data), attachment_type=attachment_type)
    sim.state.media[media.media_id] = media
    return {"type": kind, "media_id": media.media_id, "created_at": str(int(media.created_at))}


# --- moments (§3.10) -----------------------------------------------------------------------------------

# attachment msgtype -> the media type its media_id must have (a link's media_id is its cover image).
MOMENT_MEDIA = {"image": "image", "video": "video", "link": "image"}


def _moment_media(sim, media_id: str, kind: str, where: str) -> None:
    """Reference §3.10: a moment's media_id "must come from media/upload_attachment with attachment_type=1",
    and like every temporary media it lives three days (40007 after, DOC 90313)."""
    media = sim.state.media.get(media_id)
    if (media is None or media.attachment_type != 1 or media.type != MOMENT_MEDIA[kind]
            or sim.now() - media.created_at >= sim.limits.media_ttl):
        raise ApiError(40007, f"{where} {media_id} (needs a {MOMENT_MEDIA[kind]} from media/upload_attachment "
                              "with attachment_type 1, less than 3 days old)")


def _moment_members(sim, users: list[str], departments: list[int], tags: list[str]) -> dict[str, list[str]]:
    """Who gets a publishing task, and which of their customers will see it (DOC 95094 可见范围说明): senders
    outside the app's visible range are ignored; with only a tag list the task goes to those customers'
    members; with no sender list and no tags, to every member with customers. A customer matches the tag list
    when they carry any of its tags (the page does not say; the simulator takes the 同组=或 rule of §3.6)."""
    state = sim.state
    named = list(dict.fromkeys(users + state.members_of(departments)))
    members = [u for u in named if state.active_staff(u) and state.visible(u)]
    wanted = set(tags)
    audience: dict[str, list[str]] = {}
    for rel in state.relations.values():
        if rel.status not in VISIBLE or not state.visible(rel.userid):
            continue
        if (users or departments) and rel.userid not in members:
            continue
        if wanted and not wanted.intersection(rel.tag_ids):
            continue
        audience.setdefault(rel.userid, []).append(rel.external_userid)
    for userid in members:
        audience.setdefault(userid, [])
    return audience


@route("externalcontact/add_moment_task")
def add_moment_task(sim, q, body):
    """Images ≤9, or one video, or one link; text ≤2000 characters; rate-limited to 10 tasks a minute
    (limits.per_api_minute); asynchronous: the jobid's result carries the moment_id (DOC 95094)."""
    text = _object(body, "text")
    content = _str(text, "content", max_chars=2000) if text else None
    attachments = body.get("attachments") or []
    if not isinstance(attachments, list):
        raise ApiError(40058, "attachments must be a list")
    kinds = [a.get("msgtype") if isinstance(a, dict) else None for a in attachments]
    if any(k not in MOMENT_MEDIA for k in kinds):
        raise ApiError(40058, "attachments msgtype must be image, video or link")
    if set(kinds) - {"image"} and len(kinds) > 1:
        raise ApiError(40058, "attachments: up to 9 images, or 1 video, or 1 link")
    if len(kinds) > 9:
        raise ApiError(40058, "attachments exceed max count 9")
    payloads = []
    for att, kind in zip(attachments, kinds):
        payload = att.get(kind) if isinstance(att.get(kind), dict) else {}
        if not payload.get("media_id"):
            raise ApiError(40058, f"{kind}.media_id missing")
        if kind == "link":
            _str(payload, "url", required=True)
        payloads.append((kind, payload))
    if not content and not attachments:
        raise ApiError(40058, "text and attachments cannot both be empty")
    for index, (kind, payload) in enumerate(payloads):
        _moment_media(sim, payload["media_id"], kind, f"attachments[{index}].{kind}.media_id")
    visible = _object(body, "visible_range")
    senders = _object(visible, "sender_list")
    users = _list(senders, "user_list")
    departments = _list(senders, "department_list", item=int)
    tags = _list(_object(visible, "external_contact_list"), "tag_list")
    state = sim.state
    live_tags = [t for t in tags if t in state.tags and not state.tags[t].deleted]
    task = MomentTask(
        ids.jobid(),
        ids.moment_id(),
        sim.now(),
        invalid_users=[u for u in users if state.active_staff(u) is None],
        invalid_departments=[d for d in departments if d not in state.departments],
        invalid_tags=[t for t in tags if t not in live_tags],
        text={"content": content} if content else None,
        attachments=attachments,
    )
    audience = _moment_members(sim, users, [d for d in departments if d in state.departments], live_tags)
    state.moment_tasks[task.jobid] = task
    state.moments[task.moment_id] = Moment(
        task.moment_id, int(task.created_at), 0 if tags else 1, task.text, attachments,
        tasks={userid: 0 for userid in audience}, audience=audience)
    return {"jobid": task.jobid}


@route("externalcontact/get_moment_task_result", "GET")
def get_moment_task_result(sim, q, body):
    """status 1 开始创建, 2 正在创建, 3 创建完成; a jobid is valid for 24 hours (reference §3.10)."""
    task = sim.state.moment_tasks.get(q.get("jobid") or "")
    if task is None or sim.now() - task.created_at > 86400:
        raise ApiError(40058, "invalid jobid")
    if sim.now() - task.created_at < sim.limits.moment_task_seconds:
        return {"status": 2, "type": "add_moment_task"}
    return {
        "status": 3,
        "type": "add_moment_task",
        "result": {
            "errcode": 0,
            "errmsg": "ok",
            "moment_id": task.moment_id,
            "invalid_sender_list": {"user_list": task.invalid_users, "department_list": task.invalid_departments},
            "invalid_external_contact_list": {"tag_list": task.invalid_tags},
        },
    }


def _created(sim, moment: Moment) -> bool:
    """A moment exists for the read APIs once its creation job finished."""
    return sim.now() - moment.create_time >= sim.limits.moment_task_seconds


def _moment(sim, body) -> Moment:
    moment_id = _str(body, "moment_id", required=True)
    moment = sim.state.moments.get(moment_id)
    if moment is None or not _created(sim, moment):
        raise ApiError(40058, f"invalid moment_id {moment_id}")
    return moment


def _moment_json(moment: Moment) -> dict[str, Any]:
    """One entry of get_moment_list (Appendix-A-source sample of DOC 93333): the content under its kind's key.
    ``creator`` is left out of moments made by add_moment_task (DOC 93333: "企业发表内容到客户的朋友圈接口创建
    的朋友圈不再返回该字段")."""
    row: dict[str, Any] = {"moment_id": moment.moment_id}
    if moment.create_type == 1:
        row["creator"] = moment.creator
    row.update(create_time=str(moment.create_time), create_type=moment.create_type, visible_type=moment.visible_type)
    if moment.text:
        row["text"] = moment.text
    images = [a["image"] for a in moment.attachments if a.get("msgtype") == "image"]
    if images:
        row["image"] = [{"media_id": ids.moment_media_id(m["media_id"])} for m in images]
    for att in moment.attachments:
        if att.get("msgtype") == "video":
            video_id = ids.moment_media_id(att["video"]["media_id"])
            row["video"] = {"media_id": video_id, "thumb_media_id": ids.moment_media_id(video_id)}
        elif att.get("msgtype") == "link":
            row["link"] = {"title": att["link"].get("title", ""), "url": att["link"]["url"]}
    return row


@route("externalcontact/get_moment_list")
def get_moment_list(sim, q, body):
    """Moments created in a span of at most 30 days (reference §3.10), ≤20 a page."""
    start, end = _within_a_month(body, max_days=30)
    creator = _str(body, "creator")
    filter_type = _int(body, "filter_type", default=2, lo=0, hi=2)  # 0 企业发表 1 个人发表 2 所有
    limit = _int(body, "limit", default=20, lo=1, hi=20)
    rows = []
    for moment in sorted(sim.state.moments.values(), key=lambda m: (m.create_time, m.moment_id)):
        if not _created(sim, moment) or not start <= moment.create_time <= end:
            continue
        if (filter_type != 2 and moment.create_type != filter_type) or (creator and moment.creator != creator):
            continue
        rows.append(_moment_json(moment))
    page, next_cursor = _page("moment", rows, _str(body, "cursor"), limit)
    return {"next_cursor": next_cursor, "moment_list": page}


@route("externalcontact/get_moment_task")
def get_moment_task(sim, q, body):
    """Per member: publish_status 0 未发表, 1 已发表."""
    moment = _moment(sim, body)
    limit = _int(body, "limit", default=500, lo=1, hi=1000)
    rows = [{"userid": userid, "publish_status": 1 if sent else 0} for userid, sent in moment.tasks.items()]
    page, next_cursor = _page("momenttask", rows, _str(body, "cursor"), limit)
    return {"next_cursor": next_cursor, "task_list": page}


def _member_of(sim, moment: Moment, body) -> str:
    userid = _str(body, "userid", required=True)
    if userid not in moment.audience:
        raise ApiError(40003, f"userid {userid} has no task in {moment.moment_id}")
    return userid


@route("externalcontact/get_moment_customer_list")
def get_moment_customer_list(sim, q, body):
    """The customers a member's copy is meant for (whether or not it was published yet)."""
    moment = _moment(sim, body)
    userid = _member_of(sim, moment, body)
    limit = _int(body, "limit", default=500, lo=1, hi=1000)
    rows = [{"userid": userid, "external_userid": ext} for ext in moment.audience[userid]]
    page, next_cursor = _page("momentcustomer", rows, _str(body, "cursor"), limit)
    return {"next_cursor": next_cursor, "customer_list": page}


@route("externalcontact/get_moment_send_result")
def get_moment_send_result(sim, q, body):
    """The customers who can see a member's copy: none until the member published it; ≤5000 a page."""
    moment = _moment(sim, body)
    userid = _member_of(sim, moment, body)
    limit = _int(body, "limit", default=3000, lo=1, hi=5000)
    rows = [{"external_userid": ext} for ext in moment.seen.get(userid, [])]
    page, next_cursor = _page("momentsend", rows, _str(body, "cursor"), limit)
    return {"next_cursor": next_cursor, "customer_list": page}


def _reaction_json(reaction) -> dict[str, Any]:
    who = {"external_userid": reaction.external_userid} if reaction.external_userid else {"userid": reaction.userid}
    return {**who, "create_time": reaction.create_time}


@route("externalcontact/get_moment_comments")
def get_moment_comments(sim, q, body):
    """Who commented on and liked a member's copy, and when (WeCom gives no comment text)."""
    moment = _moment(sim, body)
    userid = _member_of(sim, moment, body)
    return {"comment_list": [_reaction_json(r) for r in moment.comments.get(userid, [])],
            "like_list": [_reaction_json(r) for r in moment.likes.get(userid, [])]}


@route("externalcontact/cancel_moment_task")
def cancel_moment_task(sim, q, body):
    """停止发表企业朋友圈 (DOC 95094): members who have not published can no longer publish; only moments made
    by add_moment_task (企业发表) can be stopped."""
    moment = _moment(sim, body)
    if moment.create_type != 0:
        raise ApiError(40058, f"{moment.moment_id} was not created by the enterprise")
    moment.cancelled = True
    return {}
