"""The ``/cgi-bin/`` endpoints Siyu calls, with WeCom's JSON shapes, limits and errcodes.

Every handler validates its whole request before touching state, so a
rejected call changes nothing (what WeCom does, and what Siyu's retry logic
relies on). Handlers run under the simulator's lock and return the payload
that follows ``"errcode": 0, "errmsg": "ok"``; failures raise
:class:`~.errors.ApiError`. Changes made here never call back (§2.0).

Field names are copied from reference §3 and Appendix A. Where WeCom has a
specific errcode (the global list, doc 90313) the handler answers it; where no
source gives one, 40058 (不合法的参数) with an errmsg that names the field and
the limit. docs/simulator.md lists every rule with its source.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import json
from dataclasses import dataclass
from typing import Any, Callable

from . import ids
from .errors import ERRMSG, ApiError
from .limits import JSAPI_TICKET_PER_APP
from .state import (
    GROUP_RESIGNED_DONE,
    TRANSFER_DONE,
    TRANSFER_REFUSED,
    TRANSFER_WAITING,
    VISIBLE,
    AppMessage,
    ContactWay,
    Media,
    GroupMember,
    GroupWelcomeTemplate,
    JoinWay,
    Tag,
    TagGroup,
    Transfer,
    WelcomeMessage,
)

NINETY_DAYS = 90 * 86400
FOLLOW_USER_PAGE = 500  # externalcontact/get pages follow_user above 500 (DOC 92114)
TRANSFER_RESULT_PAGE = 1000


@dataclass(frozen=True)
class Route:
    method: str
    handler: Callable[[Any, dict[str, str], Any], dict[str, Any]]
    needs_token: bool = True
    # The handler takes the raw body (a multipart/form-data upload) instead of parsed JSON.
    raw_body: bool = False


ROUTES: dict[str, Route] = {}


def route(path: str, method: str = "POST", *, needs_token: bool = True, raw_body: bool = False):
    def register(handler):
        ROUTES[path] = Route(method, handler, needs_token, raw_body)
        return handler

    return register


def parse_body(raw: bytes) -> dict[str, Any]:
    """A POST body: JSON object or nothing; anything else is WeCom's 47001."""
    if not raw or not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(47001, "request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(47001, "request body must be a JSON object")
    return data


# --- field readers: each raises 40058 with the field name and the rule ---------------------------


def _missing(key: str, **extra) -> ApiError:
    if key == "external_userid":
        return ApiError(41035, **extra)
    return ApiError(40058, f"{key} missing", **extra)


def _str(d: dict, key: str, *, required: bool = False, max_chars: int | None = None,
         max_bytes: int | None = None, **extra) -> str | None:
    value = d.get(key)
    if value is None or value == "":
        if required:
            raise _missing(key, **extra)
        return None if value is None else ""
    if not isinstance(value, str):
        raise ApiError(40058, f"{key} must be a string", **extra)
    if max_chars is not None and len(value) > max_chars:
        raise ApiError(40058, f"{key} exceed max length {max_chars} characters", **extra)
    if max_bytes is not None and len(value.encode("utf-8")) > max_bytes:
        raise ApiError(40058, f"{key} exceed max length {max_bytes} bytes", **extra)
    return value


def _int(d: dict, key: str, *, required: bool = False, default: int | None = None,
         lo: int | None = None, hi: int | None = None) -> int | None:
    value = d.get(key)
    if value is None or value == "":
        if required:
            raise _missing(key)
        return default
    if isinstance(value, bool):
        value = int(value)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ApiError(40058, f"{key} must be an integer") from None
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        raise ApiError(40058, f"{key} must be between {lo} and {hi}")
    return number


def _bool(d: dict, key: str, default: bool) -> bool:
    value = d.get(key)
    if value is None:
        return default
    if isinstance(value, (bool, int)):
        return bool(value)
    raise ApiError(40058, f"{key} must be a boolean")


def _list(d: dict, key: str, *, item: type = str, max_items: int | None = None, required: bool = False,
          **extra) -> list:
    value = d.get(key)
    if value is None or value == []:
        if required:
            raise _missing(key, **extra)
        return []
    if not isinstance(value, list) or not all(isinstance(v, item) and not isinstance(v, bool) for v in value):
        raise ApiError(40058, f"{key} must be a list of {item.__name__}", **extra)
    if max_items is not None and len(value) > max_items:
        raise ApiError(40058, f"{key} exceed max size {max_items}", **extra)
    return list(value)


def _object(d: dict, key: str) -> dict:
    value = d.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ApiError(40058, f"{key} must be an object")
    return value


# --- cursors ---------------------------------------------------------------------------------------


def _encode_cursor(kind: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{offset}".encode()).decode().rstrip("=")


def _decode_cursor(kind: str, cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor.strip() + "=" * (-len(cursor.strip()) % 4)).decode()
        prefix, offset = text.split(":")
        if prefix == kind and int(offset) >= 0:
            return int(offset)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise ApiError(40058, "invalid cursor")


def _page(kind: str, items: list, cursor: str | None, limit: int) -> tuple[list, str]:
    """One page and the next cursor; ``""`` marks the last page, as WeCom does."""
    start = _decode_cursor(kind, cursor)
    end = start + limit
    return items[start:end], (_encode_cursor(kind, end) if end < len(items) else "")


# --- shared checks ---------------------------------------------------------------------------------


def _active_user(sim, userid: str | None, key: str = "userid", **extra) -> str:
    if not userid:
        raise _missing(key, **extra)
    if sim.state.active_staff(userid) is None:
        raise ApiError(40003, f"{key} {userid}", **extra)
    if not sim.state.visible(userid):
        # Global code 60011 "指定的成员/部门/标签参数无权限": the member is outside the app's visible range.
        raise ApiError(60011, f"{key} {userid} is outside the app's visible range", **extra)
    return userid


def _contact_member(sim, userid: str, key: str = "user") -> str:
    """A member a 「联系我」 may name (doc 95724: activated, with 客户联系, inside the app's visible range)."""
    _active_user(sim, userid, key)
    staff = sim.state.staff[userid]
    if not staff.activated:
        raise ApiError(41054, f"{key} {userid}")  # 41054 该用户尚未激活 (doc 90313)
    if not staff.external_contact:
        raise ApiError(84074, f"{key} {userid} has no 客户联系 permission")  # 84074 没有外部联系人权限 (doc 90313)
    return userid


def _media(sim, media_id: str, where: str) -> None:
    """A media_id must come from media/upload and is valid for three days (doc 90313, 40007: "上传临时素材生成的
    media_id，有效期是3天")."""
    media = sim.state.media.get(media_id)
    if media is None or sim.now() - media.created_at >= sim.limits.media_ttl:
        raise ApiError(40007, f"{where} {media_id}")


def _pic_url(sim, url: str, where: str) -> None:
    """Doc 92137: an image's pic_url is "通过上传图片接口（media/uploadimg）得到的图片链接"; WeCom gives no code for
    other URLs, so 40058 names the rule."""
    if url not in sim.state.uploaded_images:
        raise ApiError(40058, f"{where}.pic_url must be a URL returned by media/uploadimg")


def _check_agentid(sim, body: dict) -> None:
    agentid = _int(body, "agentid")
    if agentid is not None and agentid != sim.agent_id:
        raise ApiError(40056, f"agentid {agentid}")


def _visible_relation(sim, userid: str, ext: str, **extra):
    rel = sim.state.relation(userid, ext)
    if rel is None or rel.status not in VISIBLE:
        raise ApiError(84061, **extra)
    return rel


def _live_tag(sim, tag_id: str) -> Tag:
    tag = sim.state.tags.get(tag_id)
    if tag is None or tag.deleted:
        raise ApiError(40068, f"tag {tag_id}")
    return tag


def _own_tag(sim, target) -> None:
    """Doc 92117: "自建/第三方应用仅能编辑和删除本应用创建的标签". The doc names no errcode; the simulator answers
    81011 (无权限操作标签, doc 90313), documented as unverified in docs/simulator.md."""
    if target.agentid != sim.agent_id:
        name = getattr(target, "name", None) or getattr(target, "group_name", "")
        raise ApiError(81011, f"{name} was not created by this app")


ATTACHMENT_TYPES = ("image", "link", "miniprogram", "video", "file")


def _validate_content(sim, body: dict, *, max_attachments: int = 9, text_bytes: int = 4000) -> tuple[dict | None, list]:
    """text + attachments of send_welcome_msg / add_msg_template (§3.5, §3.6)."""
    text = _object(body, "text")
    content = _str(text, "content", max_bytes=text_bytes) if text else None
    attachments = body.get("attachments") or []
    if not isinstance(attachments, list):
        raise ApiError(40058, "attachments must be a list")
    if len(attachments) > max_attachments:
        raise ApiError(40058, f"attachments exceed max count {max_attachments}")
    if not content and not attachments:
        raise ApiError(40058, "text and attachments cannot both be empty")
    for index, att in enumerate(attachments):
        msgtype = att.get("msgtype") if isinstance(att, dict) else None
        if msgtype not in ATTACHMENT_TYPES:
            raise ApiError(40058, f"attachments[{index}].msgtype must be one of {', '.join(ATTACHMENT_TYPES)}")
        payload = att.get(msgtype)
        if not isinstance(payload, dict):
            raise ApiError(40058, f"attachments[{index}].{msgtype} missing")
        where = f"attachments[{index}].{msgtype}"
        if msgtype == "image":
            if not payload.get("media_id") and not payload.get("pic_url"):
                raise ApiError(40058, f"{where} needs media_id or pic_url")
            if payload.get("media_id"):
                _media(sim, payload["media_id"], f"{where}.media_id")
            else:
                _pic_url(sim, payload["pic_url"], where)
        elif msgtype == "link":
            _str(payload, "title", required=True, max_bytes=128)
            _str(payload, "url", required=True, max_bytes=2048)
            _str(payload, "desc", max_bytes=512)
        elif msgtype == "miniprogram":
            _str(payload, "title", required=True, max_bytes=64)
            pic_media_id = _str(payload, "pic_media_id", required=True)
            _str(payload, "appid", required=True)
            page = _str(payload, "page", required=True)
            if not page.split("?", 1)[0].endswith(".html"):
                raise ApiError(40058, f"{where}.page must end with .html")
            _media(sim, pic_media_id, f"{where}.pic_media_id")
        elif not payload.get("media_id"):
            raise ApiError(40058, f"{where}.media_id missing")
        else:
            _media(sim, payload["media_id"], f"{where}.media_id")
    return ({"content": content} if content else None), attachments


# --- access token and tickets (§3.1, §6.1) -------------------------------------------------------


@route("gettoken", "GET", needs_token=False)
def gettoken(sim, q, body):
    corpid, secret = q.get("corpid"), q.get("corpsecret")
    if not corpid:
        raise ApiError(41002)
    if not secret:
        raise ApiError(41004)
    if corpid != sim.corp_id:
        raise ApiError(40013)
    if secret != sim.corp_secret:
        raise ApiError(40001)
    token, ttl = sim.issue_token()
    return {"access_token": token, "expires_in": ttl}


@route("get_jsapi_ticket", "GET")
def get_jsapi_ticket(sim, q, body):
    """The corp ticket for ``wx.config`` (DOC 90506): 400 an hour per corp (the route's window), 100 per app."""
    if not sim.rate_allows(JSAPI_TICKET_PER_APP):
        raise ApiError(45009, "jsapi_ticket fetched more than 100 times this hour by this app")
    return sim.issue_js_ticket("corp")


@route("ticket/get", "GET")
def ticket_get(sim, q, body):
    """The app ticket for ``wx.agentConfig`` (DOC 90506): ``type=agent_config``, 100 an hour per app."""
    if q.get("type") != "agent_config":
        raise ApiError(40058, "type must be agent_config")
    return sim.issue_js_ticket("agent")


# --- identity of a visitor (获取访问用户身份 DOC 91023; web login DOC 98176 uses the same call) -------------


@route("auth/getuserinfo", "GET")
def auth_getuserinfo(sim, q, body):
    """Trade a code from the authorize or web-login page for who the visitor is: a member's ``userid``, or a
    WeChat user's ``openid``. A code works once and for 5 minutes ("code只能使用一次，5分钟未被使用自动过期");
    a missing code is 41008, an unknown, used or expired one 40029 (global errcodes, DOC 90313)."""
    code = q.get("code")
    if not code:
        raise ApiError(41008)
    grant = sim.state.oauth_codes.get(code)
    if grant is None or grant.used or sim.now() - grant.issued_at >= sim.limits.oauth_code_ttl:
        raise ApiError(40029)
    grant.used = True
    if not grant.userid:
        return {"openid": grant.openid}
    if grant.scope == "snsapi_privateinfo":
        return {"userid": grant.userid, "user_ticket": ids.oauth_code(), "expires_in": 1800}
    return {"userid": grant.userid}


# --- media (上传临时素材 doc 90253, 上传图片 doc 90256) ----------------------------------------------------

# type -> (extensions, max bytes), doc 90253 "上传的媒体文件限制"; every file must be larger than 5 bytes.
MEDIA_RULES = {
    "image": ((".jpg", ".jpeg", ".png"), 10 * 1024 * 1024),
    "voice": ((".amr",), 2 * 1024 * 1024),
    "video": ((".mp4",), 10 * 1024 * 1024),
    "file": ((), 20 * 1024 * 1024),
}
UPLOADIMG_RULE = ((".jpg", ".jpeg", ".png"), 2 * 1024 * 1024)  # doc 90256: jpg/png, 5 B to 2 MB


def _uploaded_file(raw: bytes) -> tuple[str, bytes]:
    """The ``media`` part of a multipart/form-data body (the boundary is the body's first line)."""
    first = raw.split(b"\r\n", 1)[0]
    if not first.startswith(b"--") or len(first) < 3:
        raise ApiError(40058, "the body must be multipart/form-data with a media part")
    message = email.message_from_bytes(
        b"Content-Type: multipart/form-data; boundary=\"" + first[2:] + b"\"\r\n\r\n" + raw, policy=email.policy.HTTP)
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "media":
            return part.get_filename() or "", part.get_payload(decode=True) or b""
    raise ApiError(40058, "the multipart body has no media part")


def _check_file(filename: str, data: bytes, rule: tuple[tuple[str, ...], int]) -> None:
    extensions, max_bytes = rule
    if extensions and not filename.lower().endswith(extensions):
        raise ApiError(40004, f"{filename!r}: allowed {', '.join(extensions)}")  # 不合法的媒体文件类型
    if not 5 < len(data) <= max_bytes:
        raise ApiError(40006, f"{len(data)} bytes: allowed 6..{max_bytes}")  # 不合法的文件大小


@route("media/upload", raw_body=True)
def media_upload(sim, q, raw):
    """Temporary media: the media_id lives ``limits.media_ttl`` (3 days), then messages using it get 40007."""
    kind = q.get("type") or ""
    if kind not in MEDIA_RULES:
        raise ApiError(40005, f"type {kind!r}")  # 不合法的type参数
    filename, data = _uploaded_file(raw)
    _check_file(filename, data, MEDIA_RULES[kind])
    media = Media(ids.media_id(), kind, sim.now(), filename, len(data))
    sim.state.media[media.media_id] = media
    return {"type": kind, "media_id": media.media_id, "created_at": str(int(media.created_at))}


@route("media/uploadimg", raw_body=True)
def media_uploadimg(sim, q, raw):
    """A permanent image URL, the only kind of pic_url messages accept (doc 92137)."""
    filename, data = _uploaded_file(raw)
    _check_file(filename, data, UPLOADIMG_RULE)
    url = ids.image_url()
    sim.state.uploaded_images.append(url)
    return {"url": url}


# --- 通讯录 read (shapes of WeCom's 通讯录管理 pages; not in the reference) -------------------------------------


def _department_json(dept) -> dict[str, Any]:
    return {"id": dept.id, "name": dept.name, "department_leader": [], "parentid": dept.parentid, "order": dept.order}


def _root_departments(sim, q, key: str) -> list[int]:
    root = _int(q, key)
    if root is not None and root not in sim.state.departments:
        raise ApiError(60123, f"{key} {root}")
    return [root if root is not None else 1]


@route("department/list", "GET")
def department_list(sim, q, body):
    tree = sim.state.department_tree(_root_departments(sim, q, "id"))
    return {"department": [_department_json(sim.state.departments[d]) for d in tree]}


@route("department/simplelist", "GET")
def department_simplelist(sim, q, body):
    tree = sim.state.department_tree(_root_departments(sim, q, "id"))
    return {"department_id": [{"id": d, "parentid": sim.state.departments[d].parentid,
                               "order": sim.state.departments[d].order} for d in tree]}


# Notice of 2022-06-20 (reference §8): apps created after it no longer receive these member fields.
PRIVATE_MEMBER_FIELDS = ("mobile", "gender", "email", "avatar", "thumb_avatar")


def _user_json(sim, staff, detail: bool) -> dict[str, Any]:
    data = {"userid": staff.userid, "name": staff.name, "department": list(staff.department)}
    if detail:
        data.update({
            "order": [0] * len(staff.department),
            "position": staff.position,
            "mobile": staff.mobile,
            "gender": staff.gender,
            "email": staff.email,
            "is_leader_in_dept": [0] * len(staff.department),
            "direct_leader": [],
            "avatar": staff.avatar,
            "thumb_avatar": staff.avatar,
            "telephone": "",
            "alias": staff.alias,
            "status": staff.status,
            "main_department": staff.department[0] if staff.department else 1,
        })
        if sim.limits.app_created_after_2022_06_20:
            for key in PRIVATE_MEMBER_FIELDS:
                del data[key]
    return data


def _department_users(sim, q, detail: bool) -> dict[str, Any]:
    roots = _root_departments(sim, q, "department_id")
    fetch_child = _int(q, "fetch_child", default=0) == 1
    members = [u for u in sim.state.members_of(roots, recursive=fetch_child) if sim.state.visible(u)]
    if fetch_child and len(members) > sim.limits.fetch_child_max_users:
        # Doc 90313, 45029 回包大小超过上限: "由于通讯录组织架构庞大，建议按部门分别拉取，同时不要指定fetch_child=1".
        raise ApiError(45029, "fetch the departments one by one without fetch_child=1")
    return {"userlist": [_user_json(sim, sim.state.staff[u], detail) for u in members]}


@route("user/simplelist", "GET")
def user_simplelist(sim, q, body):
    return _department_users(sim, q, detail=False)


@route("user/list", "GET")
def user_list(sim, q, body):
    return _department_users(sim, q, detail=True)


@route("user/get", "GET")
def user_get(sim, q, body):
    userid = q.get("userid")
    staff = sim.state.active_staff(userid) if userid else None
    if staff is None:
        raise ApiError(60111, f"userid {userid}")
    if not sim.state.visible(userid):
        raise ApiError(60011, f"userid {userid} is outside the app's visible range")
    return _user_json(sim, staff, detail=True)


@route("user/list_id", "POST")
def user_list_id(sim, q, body):
    limit = _int(body, "limit", default=10000, lo=1, hi=10000)
    rows = [{"userid": s.userid, "department": d} for s in sim.state.staff.values()
            if s.active and sim.state.visible(s.userid) for d in s.department]
    page, next_cursor = _page("user", rows, _str(body, "cursor"), limit)
    return {"next_cursor": next_cursor, "dept_user": page}


# --- customers (§3.2) ------------------------------------------------------------------------------


def _customer_json(customer) -> dict[str, Any]:
    data = {
        "external_userid": customer.external_userid,
        "name": customer.name,
        "avatar": customer.avatar,
        "type": customer.type,
        "gender": customer.gender,
    }
    if customer.unionid:
        data["unionid"] = customer.unionid
    if customer.type == 2:
        data.update(position=customer.position, corp_name=customer.corp_name, corp_full_name=customer.corp_full_name)
    return data


def _follow_json(sim, rel, *, expand_tags: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "userid": rel.userid,
        "remark": rel.remark,
        "description": rel.description,
        "createtime": rel.createtime,
    }
    if expand_tags:
        # Appendix A (get.response): a follow_user without tags has no "tags" key at all.
        if rel.tag_ids:
            data["tags"] = [
                {"group_name": sim.state.tag_groups[sim.state.tags[t].group_id].group_name,
                 "tag_name": sim.state.tags[t].name, "tag_id": t, "type": 1}
                for t in rel.tag_ids
            ]
    else:
        data["tag_id"] = list(rel.tag_ids)
    if rel.remark_corp_name:
        data["remark_corp_name"] = rel.remark_corp_name
    data.update(remark_mobiles=list(rel.remark_mobiles), oper_userid=rel.oper_userid, add_way=rel.add_way)
    if rel.state:
        data["state"] = rel.state
    return data


@route("externalcontact/get_follow_user_list", "GET")
def get_follow_user_list(sim, q, body):
    # Members with 客户联系, inside the app's visible range (reference §8).
    return {"follow_user": [s.userid for s in sim.state.staff.values()
                            if s.active and s.external_contact and sim.state.visible(s.userid)]}


@route("externalcontact/list", "GET")
def externalcontact_list(sim, q, body):
    userid = _active_user(sim, q.get("userid"), external_userid=[])
    rels = sim.state.relations_of_staff(userid)
    if not rels:
        raise ApiError(84061, external_userid=[])
    return {"external_userid": [r.external_userid for r in rels]}


@route("externalcontact/get", "GET")
def externalcontact_get(sim, q, body):
    ext = q.get("external_userid")
    if not ext:
        raise ApiError(41035, follow_user=[])
    customer = sim.state.customers.get(ext)
    if customer is None:
        raise ApiError(40096, follow_user=[])
    # follow_user holds only members inside the app's visible range (reference §8).
    rels = [r for r in sim.state.relations_of_customer(ext) if sim.state.visible(r.userid)]
    if not rels or all(sim.now() - r.createtime < sim.limits.not_contact_after_add for r in rels):
        # Unverified (community reports): right after add_external_contact, get may still answer 84061.
        raise ApiError(84061, follow_user=[])
    page, next_cursor = _page("follow", rels, q.get("cursor"), FOLLOW_USER_PAGE)
    result = {
        "external_contact": _customer_json(customer),
        "follow_user": [_follow_json(sim, r, expand_tags=True) for r in page],
    }
    if next_cursor:
        result["next_cursor"] = next_cursor
    return result


@route("externalcontact/batch/get_by_user")
def batch_get_by_user(sim, q, body):
    userids = _list(body, "userid_list", required=True, max_items=100)
    limit = _int(body, "limit", default=50, lo=1, hi=100)
    unknown = [u for u in userids if u not in sim.state.staff]
    if unknown:
        raise ApiError(40003, f"userid {unknown[0]}")
    hidden = [u for u in userids if not sim.state.visible(u)]
    if hidden:
        raise ApiError(60011, f"userid {hidden[0]} is outside the app's visible range")
    rows = [r for u in dict.fromkeys(userids) for r in sim.state.relations_of_staff(u)]
    page, next_cursor = _page("batch", rows, _str(body, "cursor"), limit)
    return {
        "external_contact_list": [
            {"external_contact": _customer_json(sim.state.customers[r.external_userid]),
             "follow_info": _follow_json(sim, r, expand_tags=False)}
            for r in page
        ],
        "next_cursor": next_cursor,
    }


@route("externalcontact/remark")
def remark(sim, q, body):
    userid = _active_user(sim, body.get("userid"))
    ext = _str(body, "external_userid", required=True)
    remark_text = _str(body, "remark", max_chars=20)
    description = _str(body, "description", max_chars=150)
    company = _str(body, "remark_company", max_chars=20)
    mobiles = body.get("remark_mobiles")
    if mobiles is not None:
        mobiles = _list(body, "remark_mobiles", max_items=5)
        if any(len(m) > 32 for m in mobiles):
            raise ApiError(40058, "remark_mobiles item exceed max length 32")
    rel = _visible_relation(sim, userid, ext)
    if company and sim.state.customers[ext].type != 1:
        raise ApiError(40058, "remark_company only applies to WeChat customers (type 1)")
    if remark_text is not None:
        rel.remark = remark_text
    if description is not None:
        rel.description = description
    if company is not None:
        rel.remark_corp_name = company
    if mobiles is not None:
        rel.remark_mobiles = [m for m in mobiles if m]  # [""] clears
    return {}


# --- corp tags (§3.3) -------------------------------------------------------------------------------


def _tag_json(tag: Tag, with_deleted: bool) -> dict[str, Any]:
    data = {"id": tag.id, "name": tag.name, "create_time": tag.create_time, "order": tag.order}
    if with_deleted:
        data["deleted"] = tag.deleted
    return data


def _group_json(group: TagGroup, tags: list[Tag], with_deleted: bool = True) -> dict[str, Any]:
    data = {"group_id": group.group_id, "group_name": group.group_name, "create_time": group.create_time,
            "order": group.order}
    if with_deleted:
        data["deleted"] = group.deleted
    data["tag"] = [_tag_json(t, with_deleted) for t in sorted(tags, key=lambda t: (-t.order, t.create_time))]
    return data


@route("externalcontact/get_corp_tag_list")
def get_corp_tag_list(sim, q, body):
    """No filter: every live group and tag. ``group_id`` (wins over ``tag_id``) or ``tag_id``: those, deleted ones flagged."""
    state = sim.state
    group_ids = _list(body, "group_id")
    tag_ids = _list(body, "tag_id")
    if group_ids:
        groups = [state.tag_groups[g] for g in dict.fromkeys(group_ids) if g in state.tag_groups]
        selected = {g.group_id: [state.tags[t] for t in g.tag_ids if g.deleted or not state.tags[t].deleted] for g in groups}
    elif tag_ids:
        selected = {}
        for tid in dict.fromkeys(tag_ids):
            if tid in state.tags:
                selected.setdefault(state.tags[tid].group_id, []).append(state.tags[tid])
    else:
        selected = {g.group_id: [state.tags[t] for t in g.tag_ids if not state.tags[t].deleted]
                    for g in state.tag_groups.values() if not g.deleted}
    groups = sorted((state.tag_groups[g] for g in selected), key=lambda g: (-g.order, g.create_time))
    return {"tag_group": [_group_json(g, selected[g.group_id]) for g in groups]}


@route("externalcontact/add_corp_tag")
def add_corp_tag(sim, q, body):
    state = sim.state
    _check_agentid(sim, body)
    group_id = _str(body, "group_id")
    group_name = _str(body, "group_name", max_chars=30)
    order = _int(body, "order", default=0)
    specs = body.get("tag")
    if not specs:
        raise _missing("tag")
    if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
        raise ApiError(40058, "tag must be a list of objects")
    new_names = []
    for spec in specs:
        new_names.append(_str(spec, "name", required=True, max_chars=30))
        _int(spec, "order", default=0)
    if group_id:
        group = state.tag_groups.get(group_id)
        if group is None or group.deleted:
            raise ApiError(40068, f"group_id {group_id}")
    elif group_name:
        # An existing group with that name receives the tags (WeCom does not make a twin group).
        group = next((g for g in state.tag_groups.values() if g.group_name == group_name and not g.deleted), None)
    else:
        raise ApiError(40058, "group_id or group_name missing")
    existing = {state.tags[t].name for t in group.tag_ids if not state.tags[t].deleted} if group else set()
    duplicate = next((n for i, n in enumerate(new_names) if n in existing or n in new_names[:i]), None)
    if duplicate is not None:
        raise ApiError(40071, f"tag name {duplicate}")
    live = sum(1 for t in state.tags.values() if not t.deleted)
    if live + len(new_names) > sim.limits.max_corp_tags:
        # 40126 企业标签个数达到上限，最多为3000个 (doc 90313; doc 92117 counts strategy tags too)
        raise ApiError(40126, f"corp tags exceed max count {sim.limits.max_corp_tags}")
    now = int(sim.now())
    if group is None:
        group = TagGroup(ids.tag_id(), group_name, now, order, agentid=sim.agent_id)
        state.tag_groups[group.group_id] = group
    created = []
    for spec, name in zip(specs, new_names):
        tag = Tag(ids.tag_id(), name, group.group_id, now, _int(spec, "order", default=0), agentid=sim.agent_id)
        state.tags[tag.id] = tag
        group.tag_ids.append(tag.id)
        created.append(tag)
    return {"tag_group": _group_json(group, created, with_deleted=False)}


@route("externalcontact/edit_corp_tag")
def edit_corp_tag(sim, q, body):
    state = sim.state
    _check_agentid(sim, body)
    target_id = _str(body, "id", required=True)
    name = _str(body, "name", max_chars=30)
    order = _int(body, "order")
    if name == "":
        raise ApiError(40058, "name cannot be empty")
    tag, group = state.tags.get(target_id), state.tag_groups.get(target_id)
    if (tag is None or tag.deleted) and (group is None or group.deleted):
        raise ApiError(40068, f"id {target_id}")
    if tag is not None and name is not None:
        siblings = [state.tags[t] for t in state.tag_groups[tag.group_id].tag_ids if t != tag.id]
        if any(s.name == name and not s.deleted for s in siblings):
            raise ApiError(40071, f"tag name {name}")
    if group is not None and name is not None:
        if any(g.group_name == name and not g.deleted and g is not group for g in state.tag_groups.values()):
            raise ApiError(40071, f"group name {name}")
    target = tag if tag is not None else group
    _own_tag(sim, target)
    if name is not None:
        if tag is not None:
            tag.name = name
        else:
            group.group_name = name
    if order is not None:
        target.order = order
    return {}


@route("externalcontact/del_corp_tag")
def del_corp_tag(sim, q, body):
    state = sim.state
    _check_agentid(sim, body)
    tag_ids = _list(body, "tag_id")
    group_ids = _list(body, "group_id")
    if not tag_ids and not group_ids:
        raise ApiError(40058, "tag_id and group_id cannot both be empty")
    for tid in tag_ids:
        _own_tag(sim, _live_tag(sim, tid))
    for gid in group_ids:
        if gid not in state.tag_groups or state.tag_groups[gid].deleted:
            raise ApiError(40068, f"group_id {gid}")
        _own_tag(sim, state.tag_groups[gid])
        for tid in state.tag_groups[gid].tag_ids:
            if not state.tags[tid].deleted:
                _own_tag(sim, state.tags[tid])
    state.delete_tags(list(dict.fromkeys(tag_ids)), list(dict.fromkeys(group_ids)))
    return {}


@route("externalcontact/mark_tag")
def mark_tag(sim, q, body):
    userid = _active_user(sim, body.get("userid"))
    ext = _str(body, "external_userid", required=True)
    add = _list(body, "add_tag")
    remove = _list(body, "remove_tag")
    if not add and not remove:
        raise ApiError(40058, "add_tag and remove_tag cannot both be empty")
    for tid in add + remove:
        _live_tag(sim, tid)
    rel = _visible_relation(sim, userid, ext)
    drop = set(remove)
    rel.tag_ids = [t for t in dict.fromkeys(rel.tag_ids + add) if t not in drop]
    return {}


# --- 「联系我」 (§3.4) -----------------------------------------------------------------------------------


def _contact_way_changes(sim, body: dict, way: ContactWay | None) -> dict[str, Any]:
    """Validate add/update_contact_way fields; returns what to set. ``way`` is None for add."""
    changes: dict[str, Any] = {}
    if way is None:
        # Doc 90313: 41037/41038 缺少「联系我」type/scene参数, 41039/41040 无效的「联系我」type/scene参数.
        for key, missing, invalid in (("type", 41037, 41039), ("scene", 41038, 41040)):
            if body.get(key) in (None, ""):
                raise ApiError(missing)
            if body.get(key) not in (1, 2) or isinstance(body.get(key), bool):
                raise ApiError(invalid, f"{key} {body.get(key)!r}")
            changes[key] = body[key]
        changes["is_temp"] = _bool(body, "is_temp", False)
        changes["is_exclusive"] = _bool(body, "is_exclusive", False)
    for key, limit in (("remark", 30), ("state", 30)):
        if key in body:
            changes[key] = _str(body, key, max_chars=limit) or ""
    if "style" in body:
        changes["style"] = _int(body, "style")
    if "skip_verify" in body:
        changes["skip_verify"] = _bool(body, "skip_verify", True)
    elif way is not None and not sim.limits.update_keeps_skip_verify:
        # Unverified: whether update_contact_way resets an omitted skip_verify to its default (true).
        changes["skip_verify"] = True
    if "mark_source" in body:
        changes["mark_source"] = _bool(body, "mark_source", False)
    if "user" in body or way is None:
        users = _list(body, "user")
        for userid in users:
            _contact_member(sim, userid)
        changes["user"] = list(dict.fromkeys(users))
    if "party" in body or way is None:
        party = _list(body, "party", item=int)
        bad = [p for p in party if p not in sim.state.departments]
        if bad:
            raise ApiError(60123, f"party {bad[0]}")
        changes["party"] = party
    people = set(changes.get("user", way.user if way else [])) | set(
        sim.state.members_of(changes.get("party", way.party if way else [])))
    if len(people) > 100:
        # 41041 「联系我」使用人数超过限制: "默认限制不超过100人(包括部门展开后的人数)" (doc 90313).
        raise ApiError(41041, f"{len(people)} members")
    for key, default in (("expires_in", 7 * 86400), ("chat_expires_in", 86400)):
        if key in body or (way is None and changes.get("is_temp")):
            changes[key] = _int(body, key, default=default, lo=1, hi=14 * 86400)
    if "unionid" in body:
        changes["unionid"] = _str(body, "unionid") or ""
    if "conclusions" in body:
        changes["conclusions"] = _object(body, "conclusions") or None
    kind = changes.get("type", way.type if way else None)
    users = changes.get("user", way.user if way else [])
    party = changes.get("party", way.party if way else [])
    if kind == 1 and (len(users) != 1 or party):
        raise ApiError(40058, "a type 1 (单人) contact way needs exactly one user and no party")
    if kind == 2 and not users and not party:
        raise ApiError(40058, "user and party cannot both be empty")
    if changes.get("is_temp", way.is_temp if way else False) and kind != 1:
        raise ApiError(40058, "is_temp is only allowed for type 1 (单人)")
    return changes


def _contact_way_json(way: ContactWay) -> dict[str, Any]:
    data: dict[str, Any] = {"config_id": way.config_id, "type": way.type, "scene": way.scene}
    if way.style is not None:
        data["style"] = way.style
    data.update(remark=way.remark, skip_verify=way.skip_verify, state=way.state)
    if way.qr_code:
        data["qr_code"] = way.qr_code
    data.update(user=list(way.user), party=list(way.party), is_temp=way.is_temp)
    if way.is_temp:
        data.update(expires_in=way.expires_in, chat_expires_in=way.chat_expires_in)
        if way.unionid:
            data["unionid"] = way.unionid
        if way.conclusions:
            data["conclusions"] = way.conclusions
    return data


def _contact_way(sim, body) -> ContactWay:
    config_id = _str(body, "config_id")
    if not config_id:
        raise ApiError(41043)  # 缺少「联系我」config_id参数 (doc 90313)
    way = sim.state.contact_ways.get(config_id)
    if way is None:
        raise ApiError(41044, f"config_id {config_id}")  # 无效的「联系我」config_id参数 (doc 90313)
    return way


@route("externalcontact/add_contact_way")
def add_contact_way(sim, q, body):
    changes = _contact_way_changes(sim, body, None)
    way = ContactWay(ids.config_id(), changes.pop("type"), changes.pop("scene"), int(sim.now()))
    for key, value in changes.items():
        setattr(way, key, value)
    if way.scene == 2:
        way.qr_code = ids.qr_code_url()
    sim.state.contact_ways[way.config_id] = way
    result = {"config_id": way.config_id}
    if way.qr_code:
        result["qr_code"] = way.qr_code
    return result


@route("externalcontact/get_contact_way")
def get_contact_way(sim, q, body):
    return {"contact_way": _contact_way_json(_contact_way(sim, body))}


@route("externalcontact/list_contact_way")
def list_contact_way(sim, q, body):
    now = int(sim.now())
    end = _int(body, "end_time", default=now)
    start = _int(body, "start_time", default=end - NINETY_DAYS)
    if end < start or end - start > NINETY_DAYS:
        raise ApiError(40058, "start_time/end_time span must be 0..90 days")
    limit = _int(body, "limit", default=100, lo=1, hi=1000)
    ways = sorted((w for w in sim.state.contact_ways.values() if start <= w.create_time <= end),
                  key=lambda w: w.create_time)
    page, next_cursor = _page("way", ways, _str(body, "cursor"), limit)
    return {"contact_way": [{"config_id": w.config_id} for w in page], "next_cursor": next_cursor}


@route("externalcontact/update_contact_way")
def update_contact_way(sim, q, body):
    way = _contact_way(sim, body)
    for key, value in _contact_way_changes(sim, body, way).items():
        setattr(way, key, value)
    return {}


@route("externalcontact/del_contact_way")
def del_contact_way(sim, q, body):
    del sim.state.contact_ways[_contact_way(sim, body).config_id]
    return {}


# --- welcome message (§3.5) ----------------------------------------------------------------------


@route("externalcontact/send_welcome_msg")
def send_welcome_msg(sim, q, body):
    """Valid for ``limits.welcome_code_ttl`` (20 s) after the event (41050 after), once (41051 after)."""
    code = _str(body, "welcome_code")
    if not code:
        raise ApiError(41049)  # 缺少欢迎语code参数 (doc 90313)
    text, attachments = _validate_content(sim, body)
    welcome = sim.state.welcome_codes.get(code)
    if welcome is None or sim.now() - welcome.issued_at > sim.limits.welcome_code_ttl:
        # 41050 无效的欢迎语code: "具有时效性，须在添加好友后20秒内使用" (doc 90313).
        raise ApiError(41050, f"welcome_code {code}")
    if welcome.used:
        raise ApiError(41051)  # "只可调用一次" (doc 92599): a spent code reads as already chatting
    welcome.used = True
    sim.state.welcome_messages.append(
        WelcomeMessage(code, welcome.userid, welcome.external_userid, int(sim.now()), text, attachments)
    )
    return {}


# --- group welcome templates (入群欢迎语素材, DOC 92366) -----------------------------------------------------

GROUP_WELCOME_TEMPLATES_MAX = 100  # "每个企业的入群欢迎语素材库中，最多容纳100个素材"
# "image、link、miniprogram、file、video 只能有一个，如果同时填，按 image、link、miniprogram、file、video 的优先顺序取参"
GROUP_WELCOME_ATTACHMENTS = ("image", "link", "miniprogram", "file", "video")


def _group_welcome_content(sim, body: dict) -> tuple[dict | None, dict | None]:
    """text (≤3000 bytes) and the one attachment WeCom keeps; text and attachment not both empty."""
    text = _object(body, "text")
    content = _str(text, "content", max_bytes=3000) if text else None
    attachment = None
    for kind in GROUP_WELCOME_ATTACHMENTS:
        payload = _object(body, kind)
        if not payload:
            continue
        if kind == "image":
            if not payload.get("media_id") and not payload.get("pic_url"):
                raise ApiError(40058, "image needs media_id or pic_url")
            if _str(payload, "media_id"):
                _media(sim, payload["media_id"], "image.media_id")
            elif _str(payload, "pic_url", max_bytes=2048):
                _pic_url(sim, payload["pic_url"], "image")
        elif kind == "link":
            _str(payload, "title", required=True, max_bytes=128)
            _str(payload, "url", required=True, max_bytes=2048)
            _str(payload, "desc", max_bytes=512)
            _str(payload, "picurl", max_bytes=2048)
        elif kind == "miniprogram":
            _str(payload, "title", required=True, max_bytes=64)
            _str(payload, "pic_media_id", required=True)
            _str(payload, "appid", required=True)
            _str(payload, "page", required=True)
        else:
            _str(payload, "media_id", required=True)
        if attachment is None:  # later kinds are ignored, as WeCom does
            attachment = {"msgtype": kind, kind: dict(payload)}
    if not content and attachment is None:
        raise ApiError(40058, "text, image, link, miniprogram, file and video cannot all be empty")
    return ({"content": content} if content else None), attachment


def _group_welcome_template(sim, body: dict):
    template_id = _str(body, "template_id", required=True)
    template = sim.state.group_welcome_templates.get(template_id)
    if template is None:
        raise ApiError(40058, f"invalid template_id {template_id}")
    return template


@route("externalcontact/group_welcome_template/add")
def group_welcome_template_add(sim, q, body):
    """A 入群欢迎语 template; group owners apply it to their groups in the client (control: set_group_welcome)."""
    _check_agentid(sim, body)
    text, attachment = _group_welcome_content(sim, body)
    notify = _int(body, "notify", default=1, lo=0, hi=1)
    if len(sim.state.group_welcome_templates) >= GROUP_WELCOME_TEMPLATES_MAX:
        # 41055 群欢迎语模板数量达到上限 (doc 90313)
        raise ApiError(41055, f"group welcome templates exceed max count {GROUP_WELCOME_TEMPLATES_MAX}")
    template = GroupWelcomeTemplate(ids.msgid(), int(sim.now()), text, attachment, notify)
    sim.state.group_welcome_templates[template.template_id] = template
    return {"template_id": template.template_id}


@route("externalcontact/group_welcome_template/edit")
def group_welcome_template_edit(sim, q, body):
    """Replaces the template's content; the groups using it send the new content from now on."""
    template = _group_welcome_template(sim, body)
    _check_agentid(sim, body)
    template.text, template.attachment = _group_welcome_content(sim, body)
    return {}


@route("externalcontact/group_welcome_template/get")
def group_welcome_template_get(sim, q, body):
    template = _group_welcome_template(sim, body)
    result: dict[str, Any] = {}
    if template.text:
        result["text"] = dict(template.text)
    if template.attachment:
        kind = template.attachment["msgtype"]
        result[kind] = dict(template.attachment[kind])
    return result


@route("externalcontact/group_welcome_template/del")
def group_welcome_template_del(sim, q, body):
    """Groups that used the template stop sending a welcome."""
    template = _group_welcome_template(sim, body)
    _check_agentid(sim, body)
    del sim.state.group_welcome_templates[template.template_id]
    for group in sim.state.groups.values():
        if group.welcome_template_id == template.template_id:
            group.welcome_template_id = ""
    return {}


# --- customer groups (§3.7, §3.8) ---------------------------------------------------------------------


@route("externalcontact/groupchat/list")
def groupchat_list(sim, q, body):
    limit = _int(body, "limit", required=True, lo=1, hi=1000)
    status_filter = _int(body, "status_filter", default=0, lo=0, hi=3)
    owners = _list(_object(body, "owner_filter"), "userid_list", max_items=100)
    if not owners and sim.state.visible_staff_count() > sim.limits.groupchat_list_unfiltered_max:
        # Doc 92120: without owner_filter an app whose visible range holds more than 1,000 people gets 81017.
        raise ApiError(81017, "owner_filter is required when the app's visible range exceeds 1000 members")
    groups = sorted((g for g in sim.state.groups.values() if not g.dismissed), key=lambda g: g.create_time)
    if status_filter:
        groups = [g for g in groups if g.status == status_filter]
    # Doc 92120: "当群主为离职成员时，必须要指定群主过滤才可拉取对应数据" — a departed owner's groups are listed only
    # when owner_filter names that owner.
    if owners:
        groups = [g for g in groups if g.owner in owners]
    else:
        groups = [g for g in groups if sim.state.active_staff(g.owner)]
    page, next_cursor = _page("chat", groups, _str(body, "cursor"), limit)
    return {"group_chat_list": [{"chat_id": g.chat_id, "status": g.status} for g in page], "next_cursor": next_cursor}


def _live_group(sim, chat_id: str):
    group = sim.state.groups.get(chat_id)
    if group is None or group.dismissed:
        raise ApiError(90501, f"chat_id {chat_id}")
    return group


def _member_json(member: GroupMember, need_name: bool) -> dict[str, Any]:
    data: dict[str, Any] = {"userid": member.userid, "type": member.type}
    if member.unionid:
        data["unionid"] = member.unionid
    data.update(join_time=member.join_time, join_scene=member.join_scene)
    if member.invitor:
        data["invitor"] = {"userid": member.invitor}
    data["group_nickname"] = member.group_nickname
    if need_name:
        data["name"] = member.name
    if member.state:
        data["state"] = member.state
    return data


@route("externalcontact/groupchat/get")
def groupchat_get(sim, q, body):
    chat_id = _str(body, "chat_id", required=True)
    group = sim.state.groups.get(chat_id)
    if group is not None and group.dismissed:
        # Unverified which code WeCom gives a dismissed group: 90501 or 49008 (群已经解散), a Limits switch.
        raise ApiError(sim.limits.dismissed_group_errcode, f"chat_id {chat_id}")
    group = _live_group(sim, chat_id)
    need_name = _int(body, "need_name", default=0, lo=0, hi=1) == 1
    return {
        "group_chat": {
            "chat_id": group.chat_id,
            "name": group.name,
            "owner": group.owner,
            "create_time": group.create_time,
            "notice": group.notice,
            "member_list": [_member_json(m, need_name) for m in group.members],
            "admin_list": [{"userid": a} for a in group.admin_list],
            "member_version": ids.member_version(group.member_ids()),
        }
    }


def _join_way_changes(sim, body: dict) -> dict[str, Any]:
    """add/update_join_way overwrite the whole configuration (DOC 92229)."""
    chat_ids = _list(body, "chat_id_list", required=True)
    if len(chat_ids) > 5:
        raise ApiError(41091, "chat_id_list holds at most 5 groups")  # doc 92229: "最多可关联5个群"
    for chat_id in chat_ids:
        _live_group(sim, chat_id)
    return {
        "scene": _int(body, "scene", required=True, lo=1, hi=2),
        "remark": _str(body, "remark", max_chars=30) or "",
        "auto_create_room": _int(body, "auto_create_room", default=1, lo=0, hi=1),
        "room_base_name": _str(body, "room_base_name", max_chars=40) or "",
        "room_base_id": _int(body, "room_base_id", default=1, lo=0),
        "chat_id_list": list(dict.fromkeys(chat_ids)),
        "state": _str(body, "state", max_chars=30) or "",
        "mark_source": _bool(body, "mark_source", False),
    }


def _join_way(sim, body) -> JoinWay:
    config_id = _str(body, "config_id", required=True)
    way = sim.state.join_ways.get(config_id)
    if way is None:
        raise ApiError(40058, f"invalid config_id {config_id}")
    return way


@route("externalcontact/groupchat/add_join_way")
def add_join_way(sim, q, body):
    changes = _join_way_changes(sim, body)
    way = JoinWay(ids.config_id(), changes.pop("scene"), int(sim.now()), changes.pop("chat_id_list"))
    for key, value in changes.items():
        setattr(way, key, value)
    if way.scene == 2:
        way.qr_code = ids.qr_code_url()
    sim.state.join_ways[way.config_id] = way
    return {"config_id": way.config_id}


@route("externalcontact/groupchat/get_join_way")
def get_join_way(sim, q, body):
    way = _join_way(sim, body)
    return {"join_way": {
        "config_id": way.config_id,
        "scene": way.scene,
        "remark": way.remark,
        "auto_create_room": way.auto_create_room,
        "room_base_name": way.room_base_name,
        "room_base_id": way.room_base_id,
        "chat_id_list": list(way.chat_id_list),
        "qr_code": way.qr_code,
        "state": way.state,
    }}


@route("externalcontact/groupchat/update_join_way")
def update_join_way(sim, q, body):
    way = _join_way(sim, body)
    for key, value in _join_way_changes(sim, body).items():
        setattr(way, key, value)
    if way.scene == 2 and not way.qr_code:
        way.qr_code = ids.qr_code_url()
    return {}


@route("externalcontact/groupchat/del_join_way")
def del_join_way(sim, q, body):
    del sim.state.join_ways[_join_way(sim, body).config_id]
    return {}


# --- transfers (§3.9) -----------------------------------------------------------------------------------


def _transfer_request(sim, body, *, resigned: bool) -> tuple[str, str, list[str]]:
    handover = _str(body, "handover_userid", required=True)
    takeover = _active_user(sim, body.get("takeover_userid"), "takeover_userid")
    staff = sim.state.staff.get(handover)
    if staff is None:
        raise ApiError(40003, f"handover_userid {handover}")
    if resigned and staff.active:
        raise ApiError(40097, f"handover_userid {handover}")
    if not resigned and not staff.active:
        raise ApiError(40003, f"handover_userid {handover} has resigned")
    if handover == takeover:
        raise ApiError(40130)  # 原跟进人与接手人一样，不可继承 (doc 90313)
    customers = _list(body, "external_userid", required=True, max_items=100)
    return handover, takeover, list(dict.fromkeys(customers))


def _start_transfers(sim, kind: str, handover: str, takeover: str, customers: list[str]) -> list[dict[str, Any]]:
    state, now = sim.state, sim.now()
    verdicts = []
    for ext in customers:
        history = [t for t in state.transfers if t.external_userid == ext]
        if ext not in state.customers:
            code = 40096
        elif state.relation(handover, ext) is None or state.relation(handover, ext).status not in VISIBLE:
            code = 40131  # handover_userid 并不是外部联系人的跟进人 (doc 90313)
        elif any(t.status == TRANSFER_WAITING for t in history):
            code = 40129
        elif kind == "onjob" and sum(
            1 for t in history if t.kind == "onjob" and now - t.created_at < NINETY_DAYS
        ) >= sim.limits.transfer_max_per_90_days:
            code = 40128
        else:
            code = 0
        verdicts.append({"external_userid": ext, "errcode": code})
    for verdict in verdicts:
        if verdict["errcode"] == 0:
            state.transfers.append(Transfer(kind, handover, takeover, verdict["external_userid"], now))
    return verdicts


def _transfer_results(sim, kind: str, body) -> dict[str, Any]:
    handover = _str(body, "handover_userid", required=True)
    takeover = _str(body, "takeover_userid", required=True)
    rows = []
    for t in sim.state.transfers:
        if t.kind == kind and t.handover_userid == handover and t.takeover_userid == takeover:
            when = t.takeover_time
            if t.status == TRANSFER_WAITING:  # WeCom shows the scheduled takeover time while waiting
                when = int(t.created_at + sim.limits.transfer_wait_seconds)
            rows.append({"external_userid": t.external_userid, "status": t.status,
                         "takeover_time": 0 if t.status == TRANSFER_REFUSED else when})
    page, next_cursor = _page(kind, rows, _str(body, "cursor"), TRANSFER_RESULT_PAGE)
    return {"customer": page, "next_cursor": next_cursor}


@route("externalcontact/transfer_customer")
def transfer_customer(sim, q, body):
    """On-job: each customer may refuse within 24 h; at most 2 transfers per customer in 90 days."""
    handover, takeover, customers = _transfer_request(sim, body, resigned=False)
    _str(body, "transfer_success_msg", max_chars=200)
    return {"customer": _start_transfers(sim, "onjob", handover, takeover, customers)}


@route("externalcontact/transfer_result")
def transfer_result(sim, q, body):
    return _transfer_results(sim, "onjob", body)


@route("externalcontact/resigned/transfer_customer")
def resigned_transfer_customer(sim, q, body):
    handover, takeover, customers = _transfer_request(sim, body, resigned=True)
    return {"customer": _start_transfers(sim, "resigned", handover, takeover, customers)}


@route("externalcontact/resigned/transfer_result")
def resigned_transfer_result(sim, q, body):
    return _transfer_results(sim, "resigned", body)


@route("externalcontact/get_unassigned_list")
def get_unassigned_list(sim, q, body):
    state = sim.state
    page_size = _int(body, "page_size", default=1000, lo=1, hi=1000)
    page_id = _int(body, "page_id", default=0, lo=0)
    busy = {(t.handover_userid, t.external_userid) for t in state.transfers if t.status in (TRANSFER_WAITING, TRANSFER_DONE)}
    rows = []
    for staff in sorted((s for s in state.staff.values() if not s.active), key=lambda s: (s.left_at, s.userid)):
        for rel in state.relations_of_staff(staff.userid):
            if (staff.userid, rel.external_userid) not in busy:
                rows.append({"handover_userid": staff.userid, "external_userid": rel.external_userid,
                             "dimission_time": int(staff.left_at)})
    cursor = _str(body, "cursor")
    if cursor:
        page, next_cursor = _page("unassigned", rows, cursor, page_size)
    else:
        start = page_id * page_size
        page = rows[start:start + page_size]
        next_cursor = _encode_cursor("unassigned", start + page_size) if start + page_size < len(rows) else ""
    return {"info": page, "is_last": next_cursor == "", "next_cursor": next_cursor}


def _transfer_groups(sim, body, *, resigned: bool) -> dict[str, Any]:
    chat_ids = _list(body, "chat_id_list", required=True, max_items=100)
    new_owner = _active_user(sim, body.get("new_owner"), "new_owner")
    failed = []
    for chat_id in dict.fromkeys(chat_ids):
        group = sim.state.groups.get(chat_id)
        if group is None or group.dismissed:
            failed.append((chat_id, 90501))
            continue
        owner_active = sim.state.active_staff(group.owner) is not None
        if resigned and owner_active:
            failed.append((chat_id, 90500))
        elif not resigned and not owner_active:
            failed.append((chat_id, 90502))
    if len(failed) < len(set(chat_ids)):
        bad = {c for c, _ in failed}
        for chat_id in dict.fromkeys(chat_ids):
            if chat_id not in bad:
                _hand_over_group(sim, sim.state.groups[chat_id], new_owner, resigned)
    return {"failed_chat_list": [{"chat_id": c, "errcode": code, "errmsg": ERRMSG[code]} for c, code in failed]}


def _hand_over_group(sim, group, new_owner: str, resigned: bool) -> None:
    if new_owner not in group.member_ids():
        staff = sim.state.staff[new_owner]
        group.members.append(GroupMember(new_owner, 1, int(sim.now()), 1, staff.name, invitor=group.owner))
    group.owner = new_owner
    if resigned:
        group.status = GROUP_RESIGNED_DONE


@route("externalcontact/groupchat/transfer")
def groupchat_transfer(sim, q, body):
    """Groups of resigned owners; a group whose owner is still employed fails with 90500."""
    return _transfer_groups(sim, body, resigned=True)


@route("externalcontact/groupchat/onjob_transfer")
def groupchat_onjob_transfer(sim, q, body):
    return _transfer_groups(sim, body, resigned=False)


# --- app messages to staff (message/send) ---------------------------------------------------


APP_MSG_LIMITS = {"text": ("content", 2048), "markdown": ("content", 2048)}


@route("message/send")
def message_send(sim, q, body):
    """Siyu's reminders to staff; recorded for tests (``sim.messages()``) instead of reaching a phone."""
    agentid = _int(body, "agentid", required=True)
    if agentid != sim.agent_id:
        raise ApiError(40056, f"agentid {agentid}")
    msgtype = _str(body, "msgtype", required=True)
    if msgtype not in ("text", "textcard", "markdown"):
        raise ApiError(40008, f"msgtype {msgtype} (the simulator supports text, textcard, markdown)")
    content = _object(body, msgtype)
    if msgtype in APP_MSG_LIMITS:
        key, limit = APP_MSG_LIMITS[msgtype]
        _str(content, key, required=True, max_bytes=limit)
    else:
        _str(content, "title", required=True, max_bytes=128)
        _str(content, "description", required=True, max_bytes=512)
        _str(content, "url", required=True, max_bytes=2048)
        _str(content, "btntxt", max_chars=4)
    touser = _str(body, "touser") or ""
    toparty = _str(body, "toparty") or ""
    totag = _str(body, "totag") or ""
    state = sim.state
    if touser == "@all":
        valid, invalid_users = [s.userid for s in state.staff.values() if s.active], []
    else:
        names = [u for u in touser.split("|") if u]
        valid = [u for u in names if state.active_staff(u)]
        invalid_users = [u for u in names if not state.active_staff(u)]
    parties = [p for p in toparty.split("|") if p]
    invalid_parties = [p for p in parties if not p.isdigit() or int(p) not in state.departments]
    valid += state.members_of([int(p) for p in parties if p not in invalid_parties])
    invalid_tags = [t for t in totag.split("|") if t]  # the simulator has no 通讯录 tags
    result: dict[str, Any] = {}
    for key, bad in (("invaliduser", invalid_users), ("invalidparty", invalid_parties), ("invalidtag", invalid_tags)):
        if bad:
            result[key] = "|".join(bad)
    valid = list(dict.fromkeys(valid))
    if not valid:
        raise ApiError(81013, **result)
    message = AppMessage(ids.app_msgid(), agentid, valid, msgtype, content, int(sim.now()))
    state.app_messages.append(message)
    result["msgid"] = message.msgid
    return result


# 企业群发 and 客户朋友圈 live in their own module; importing it registers their routes.
from . import messaging  # noqa: E402,F401
