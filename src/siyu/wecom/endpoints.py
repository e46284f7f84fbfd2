"""The WeCom APIs Siyu calls, one typed function each: the one place that names each path and its parameters.

Each takes a :class:`~siyu.wecom.client.WeComClient` first, returns the answer's useful part (or nothing) and
raises the client's typed errors. Callers never spell a path or a body by hand. Facts: reference §3.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

# Paths, named once.
EXTERNAL_CONTACT_GET = "externalcontact/get"
FOLLOW_USER_LIST = "externalcontact/get_follow_user_list"
SEND_WELCOME_MSG = "externalcontact/send_welcome_msg"
MARK_TAG = "externalcontact/mark_tag"
REMARK = "externalcontact/remark"
CORP_TAG_LIST = "externalcontact/get_corp_tag_list"
ADD_CONTACT_WAY = "externalcontact/add_contact_way"
UPDATE_CONTACT_WAY = "externalcontact/update_contact_way"
DEL_CONTACT_WAY = "externalcontact/del_contact_way"
TRANSFER_CUSTOMER = "externalcontact/transfer_customer"
TRANSFER_RESULT = "externalcontact/transfer_result"
RESIGNED_TRANSFER_CUSTOMER = "externalcontact/resigned/transfer_customer"
RESIGNED_TRANSFER_RESULT = "externalcontact/resigned/transfer_result"
GROUPCHAT_TRANSFER = "externalcontact/groupchat/transfer"
GROUPCHAT_ONJOB_TRANSFER = "externalcontact/groupchat/onjob_transfer"
GROUPCHAT_LIST = "externalcontact/groupchat/list"
GROUPCHAT_GET = "externalcontact/groupchat/get"
ADD_JOIN_WAY = "externalcontact/groupchat/add_join_way"
GET_JOIN_WAY = "externalcontact/groupchat/get_join_way"
UPDATE_JOIN_WAY = "externalcontact/groupchat/update_join_way"
DEL_JOIN_WAY = "externalcontact/groupchat/del_join_way"
GROUP_WELCOME_ADD = "externalcontact/group_welcome_template/add"
GROUP_WELCOME_EDIT = "externalcontact/group_welcome_template/edit"
GROUP_WELCOME_DEL = "externalcontact/group_welcome_template/del"
MESSAGE_SEND = "message/send"

_MAX_CONTACT_PAGES = 100  # follow_user pages of 500 staff each: far beyond any corp


@dataclass(frozen=True)
class ExternalContact:
    """``externalcontact/get``: the customer (``contact``, WeCom's ``external_contact``) and every staff member
    who has them (``follow_users``, all pages joined)."""

    contact: dict
    follow_users: list[dict] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.contact.get("name") or "")


# -- customers ------------------------------------------------------------------------------------------------
def get_external_contact(client, external_userid: str) -> ExternalContact:
    """The customer and all their relations; over 500 staff WeCom pages ``follow_user`` with a GET cursor."""
    follow_users: list[dict] = []
    contact: dict = {}
    cursor = ""
    for _ in range(_MAX_CONTACT_PAGES):
        page = client.get(EXTERNAL_CONTACT_GET, external_userid=external_userid, cursor=cursor)
        contact = contact or page.get("external_contact") or {}
        follow_users += page.get("follow_user") or []
        cursor = page.get("next_cursor") or ""
        if not cursor:
            break
    return ExternalContact(contact, follow_users)


def follow_user_list(client) -> list[str]:
    """Userids of the members with 客户联系 enabled."""
    return list(client.get(FOLLOW_USER_LIST).get("follow_user") or [])


def send_welcome_msg(client, body: dict) -> None:
    """``body``: ``welcome_code`` plus :func:`siyu.wecom.attachments.content` (text and attachments)."""
    client.post(SEND_WELCOME_MSG, body)


def mark_tag(client, *, userid: str, external_userid: str, add: Iterable[str] = (), remove: Iterable[str] = ()) -> None:
    """Put corp tags (WeCom tag ids) on one relation and take others off, in one call."""
    body: dict = {"userid": userid, "external_userid": external_userid}
    if add:
        body["add_tag"] = list(add)
    if remove:
        body["remove_tag"] = list(remove)
    client.post(MARK_TAG, body)


def remark(client, *, userid: str, external_userid: str, remark: str) -> None:
    client.post(REMARK, {"userid": userid, "external_userid": external_userid, "remark": remark})


def corp_tag_list(client, *, tag_ids: Iterable[str] = (), group_ids: Iterable[str] = ()) -> list[dict]:
    """``tag_group`` entries: every group, or only those holding ``tag_ids`` / named by ``group_ids``."""
    body: dict = {}
    if tag_ids:
        body["tag_id"] = list(tag_ids)
    if group_ids:
        body["group_id"] = list(group_ids)
    return list(client.post(CORP_TAG_LIST, body).get("tag_group") or [])


# -- contact ways (联系我) ---------------------------------------------------------------------------------------
def add_contact_way(client, body: dict) -> dict:
    """Returns ``{"config_id", "qr_code"}``."""
    data = client.post(ADD_CONTACT_WAY, body)
    return {"config_id": data.get("config_id", ""), "qr_code": data.get("qr_code", "")}


def update_contact_way(client, body: dict) -> None:
    client.post(UPDATE_CONTACT_WAY, body)


def del_contact_way(client, config_id: str) -> None:
    client.post(DEL_CONTACT_WAY, {"config_id": config_id})


# -- customer groups ---------------------------------------------------------------------------------------------
def group_chat(client, chat_id: str) -> dict:
    """``group_chat`` of ``groupchat/get`` (names of members included)."""
    return client.post(GROUPCHAT_GET, {"chat_id": chat_id, "need_name": 1}).get("group_chat") or {}


def group_chat_ids(client, *, owners: Iterable[str] = (), limit: int = 1000) -> list[str]:
    """Every group's chat id (all statuses), cursor-paged; ``owners`` filters by owner (WeCom's 81017 asks it)."""
    body: dict = {"status_filter": 0, "limit": limit}
    if owners:
        body["owner_filter"] = {"userid_list": list(owners)}
    return [item["chat_id"] for item in client.iter_cursor(GROUPCHAT_LIST, body, "group_chat_list")]


def add_join_way(client, body: dict) -> str:
    return client.post(ADD_JOIN_WAY, body)["config_id"]


def get_join_way(client, config_id: str) -> dict:
    return client.post(GET_JOIN_WAY, {"config_id": config_id}).get("join_way") or {}


def update_join_way(client, body: dict) -> None:
    client.post(UPDATE_JOIN_WAY, body)


def del_join_way(client, config_id: str) -> None:
    client.post(DEL_JOIN_WAY, {"config_id": config_id})


def add_group_welcome_template(client, body: dict) -> str:
    """``body``: :func:`siyu.wecom.attachments.template_content` (+ ``notify``); returns the template id."""
    return client.post(GROUP_WELCOME_ADD, body)["template_id"]


def edit_group_welcome_template(client, template_id: str, body: dict) -> None:
    client.post(GROUP_WELCOME_EDIT, {"template_id": template_id, **body})


# -- application messages ----------------------------------------------------------------------------------------
def send_app_message(client, *, touser: Iterable[str], msgtype: str, content: dict,
                     duplicate_check_seconds: int | None = None) -> dict:
    """An application message (``message/send``) of ``msgtype`` (text, textcard…) to members; returns WeCom's
    answer (``invaliduser``…). ``duplicate_check_seconds``: WeCom drops the same message repeated within it."""
    body = {"touser": "|".join(touser), "msgtype": msgtype, "agentid": int(client.connection.agent_id), msgtype: content}
    if duplicate_check_seconds:
        body.update(enable_duplicate_check=1, duplicate_check_interval=duplicate_check_seconds)
    return client.post(MESSAGE_SEND, body)
