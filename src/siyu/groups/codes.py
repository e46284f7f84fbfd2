"""Group live codes (群活码 / 自动拉群 / 无限拉群): every state change, and keeping codes in step with WeCom.

A code is one WeCom 「加入群聊」 join way (``groupchat/add_join_way``) over up to 5 groups. When every group is
full (200 members by QR code), WeCom creates the next room itself (``auto_create_room``, named
``room_base_name`` + a serial from ``room_base_id``) and appends it to the join way, so one printed code keeps
working for thousands of people. Siyu learns of the new room from the ``change_external_chat`` callbacks:
:func:`on_group_changed` wakes a :class:`~siyu.groups.models.GroupCodeSync` row when a group of a code fills or a
new group of the same owner appears, and the row re-reads the join way (``get_join_way``). A periodic check
(:func:`sync_all_codes`) catches anything a lost callback would miss.

Changes WeCom must know about follow one order: validate everything (nothing invalid reaches WeCom), call
WeCom, then write Siyu's rows in one transaction; a WeCom refusal is a form error, and should the database
write fail after WeCom said yes, the WeCom side is undone.

The 入群欢迎语 is a WeCom ``group_welcome_template`` (text and at most one attachment). WeCom has no API to put
it on a group: creating it with ``notify`` asks the group owners to choose it for their groups in the client,
and WeCom then greets every new member by itself. ``{customer_nickname}`` in the text becomes WeCom's
``%NICKNAME%``.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.core import published
from siyu.core.durable import DurableRow, PermanentFailure, RetryLater
from siyu.groups import services as group_services
from siyu.groups.models import (
    JOIN_WAY_GROUPS_MAX,
    QR_JOIN_CAP,
    CustomerGroup,
    GroupCode,
    GroupCodeSync,
    GroupMember,
)
from siyu.orgs import audit
from siyu.orgs.models import Membership, Organization, Store
from siyu.wecom import attachments as wecom_attachments
from siyu.wecom import endpoints, media
from siyu.wecom.client import WeComClient
from siyu.wecom.states import state_error
from siyu.wecom.errors import InvalidParameter, NotConnected, RateLimited, WeComError, as_validation_error

log = logging.getLogger(__name__)

STATE_PATTERN = re.compile(r"^[A-Za-z0-9_.\-]+$")
NAME_MAX = 30  # the join way's remark: WeCom allows 30 characters
ROOM_BASE_NAME_MAX = 40  # WeCom: room_base_name ≤ 40 characters
ROOM_BASE_ID_MAX = 99_999
WELCOME_TEXT_MAX_BYTES = 3000  # WeCom: group_welcome_template text ≤ 3000 bytes
NICKNAME = "{customer_nickname}"

CODE_FIELDS = ("name", "store", "groups", "state", "auto_create_room", "room_base_name", "room_base_id",
               "welcome_text", "welcome_attachment")


def _actor(by):
    return by.user if isinstance(by, Membership) else by


def _error(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})



def _client(org, client):
    if client is not None:
        return client, False
    try:
        return WeComClient.for_org(org), True
    except NotConnected as error:
        raise as_validation_error(error, _("连接")) from error


def new_state(org) -> str:
    """A fresh state: ``g_`` and ten random letters and digits (well under WeCom's 30 characters)."""
    return published.new_state(org, "g_")


# -- validation -----------------------------------------------------------------------------------------------
def _clean_groups(org, raw, errors: dict, by) -> list[CustomerGroup]:
    wanted = []
    for item in raw or []:
        key = item.pk if isinstance(item, CustomerGroup) else item
        try:
            key = int(key)
        except (TypeError, ValueError):
            errors.setdefault("groups", []).append(_("群“%(id)s”不存在。") % {"id": key})
            continue
        if key not in wanted:
            wanted.append(key)
    if not wanted and "groups" not in errors:
        errors.setdefault("groups", []).append(_("请至少选择一个客户群。"))
    if len(wanted) > JOIN_WAY_GROUPS_MAX:
        errors.setdefault("groups", []).append(
            _("一个群活码最多关联 %(max)d 个群（企业微信的限制），当前选择了 %(n)d 个。") % {"max": JOIN_WAY_GROUPS_MAX, "n": len(wanted)})
    visible = CustomerGroup.objects.visible_to(by) if isinstance(by, Membership) else CustomerGroup.objects.for_org(org)
    found = {g.pk: g for g in visible.filter(pk__in=wanted)}
    for key in wanted:
        group = found.get(key)
        if group is None:
            errors.setdefault("groups", []).append(_("群（编号 %(id)s）不存在或不在你的管理范围内。") % {"id": key})
        elif group.status != CustomerGroup.Status.ACTIVE:
            errors.setdefault("groups", []).append(_("群“%(name)s”已解散。") % {"name": group})
    return [found[k] for k in wanted if k in found]


def clean_code(org, data: dict, *, code: GroupCode | None = None, by=None) -> dict:
    """Validate a code's settings (every field at once); returns them cleaned or raises a field-keyed error."""
    errors: dict[str, list[str]] = {}
    cleaned: dict = {}
    name = (data.get("name") or "").strip()
    if not name:
        errors.setdefault("name", []).append(_("请填写名称。"))
    elif len(name) > NAME_MAX:
        errors.setdefault("name", []).append(_("名称最多 %(n)d 个字（企业微信的限制）。") % {"n": NAME_MAX})
    cleaned["name"] = name

    groups = _clean_groups(org, data.get("groups"), errors, by)
    cleaned["groups"] = groups

    state = (data.get("state") or "").strip()
    if not state:
        state = code.state if code is not None else new_state(org)
    problem = state_error(state)
    if problem:
        errors.setdefault("state", []).append(problem)
    else:
        taken = published.state_taken_error(org, state, exclude=code)
        if taken:
            errors.setdefault("state", []).append(taken)
    cleaned["state"] = state

    store = data.get("store")
    if store is not None and not isinstance(store, Store):
        store = Store.objects.for_org(org).filter(pk=store).first() if str(store).isdigit() else None
        if store is None:
            errors.setdefault("store", []).append(_("门店不存在。"))
    if isinstance(store, Store):
        visible = Store.objects.visible_to(by) if isinstance(by, Membership) else Store.objects.for_org(org)
        if store.org_id != org.pk or not visible.filter(pk=store.pk).exists():
            errors.setdefault("store", []).append(_("门店不存在或不在你的管理范围内。"))
        elif store.kind != Store.Kind.STORE:
            errors.setdefault("store", []).append(_("请选择门店，而不是区域或总部。"))
    cleaned["store"] = store if isinstance(store, Store) else None

    cleaned["auto_create_room"] = bool(data.get("auto_create_room", True))
    base_name = (data.get("room_base_name") or "").strip()
    if len(base_name) > ROOM_BASE_NAME_MAX:
        errors.setdefault("room_base_name", []).append(
            _("新群名称最多 %(n)d 个字（企业微信的限制）。") % {"n": ROOM_BASE_NAME_MAX})
    cleaned["room_base_name"] = base_name
    base_id = data.get("room_base_id")
    try:
        base_id = 1 if base_id in (None, "") else int(base_id)
        if not 0 <= base_id <= ROOM_BASE_ID_MAX:
            raise ValueError
    except (TypeError, ValueError):
        errors.setdefault("room_base_id", []).append(_("起始序号必须是 0 到 %(max)d 之间的整数。") % {"max": ROOM_BASE_ID_MAX})
        base_id = 1
    cleaned["room_base_id"] = base_id

    text = (data.get("welcome_text") or "").strip()
    if wecom_attachments.byte_length(_wecom_text(text)) > WELCOME_TEXT_MAX_BYTES:
        errors.setdefault("welcome_text", []).append(
            _("入群欢迎语最多 %(n)d 字节（约 1000 个汉字）。") % {"n": WELCOME_TEXT_MAX_BYTES})
    unknown = sorted(set(re.findall(r"\{([^{}]*)\}", text)) - {"customer_nickname"})
    if unknown:
        errors.setdefault("welcome_text", []).append(
            _("不认识的变量：%(names)s（可用：{customer_nickname}）。") % {"names": "、".join("{%s}" % n for n in unknown)})
    cleaned["welcome_text"] = text
    attachment, problems = wecom_attachments.clean(data.get("welcome_attachment"))
    if problems:
        errors.setdefault("welcome_attachment", []).extend(problems)
    cleaned["welcome_attachment"] = attachment
    if errors:
        raise ValidationError(errors)
    return cleaned


# -- WeCom ------------------------------------------------------------------------------------------------
def _wecom_text(text: str) -> str:
    return text.replace(NICKNAME, "%NICKNAME%")


def _way(cleaned: dict, chat_ids: list[str], config_id: str | None = None) -> dict:
    body = {
        "scene": 2, "remark": cleaned["name"][:NAME_MAX], "auto_create_room": 1 if cleaned["auto_create_room"] else 0,
        "room_base_id": cleaned["room_base_id"], "chat_id_list": chat_ids, "state": cleaned["state"],
    }
    if cleaned["room_base_name"]:
        body["room_base_name"] = cleaned["room_base_name"]
    if config_id:
        body = {"config_id": config_id, **body}
    return body


def _template(text: str, attachment: dict | None) -> dict:
    return wecom_attachments.template_content(_wecom_text(text) if text else "", attachment)


def _has_welcome(values: dict) -> bool:
    return bool(values["welcome_text"] or values["welcome_attachment"])


def _values(code: GroupCode) -> dict:
    return {
        "name": code.name, "state": code.state, "auto_create_room": code.auto_create_room,
        "room_base_name": code.room_base_name, "room_base_id": code.room_base_id,
        "welcome_text": code.welcome_text, "welcome_attachment": code.welcome_attachment,
    }


def _summary(code: GroupCode) -> dict:
    return {**_values(code), "store": code.store_id, "chat_ids": list(code.chat_ids)}


def _undo(client, path: str, body: dict, what: str) -> None:
    try:
        client.post(path, body)
    except WeComError:
        log.exception("group code: could not undo %s (%s)", what, body)


def _read_way(client, config_id: str) -> dict:
    return endpoints.get_join_way(client, config_id)


def create_group_code(org, *, by=None, client: WeComClient | None = None, **data) -> GroupCode:
    """Create a group code: its welcome template (``group_welcome_template/add``, when it has a welcome) and its
    join way (``add_join_way``). ``data`` holds :data:`CODE_FIELDS`: ``name`` (≤30), ``groups``
    (CustomerGroup rows or ids, 1..5), ``state`` (blank: generated; ≤30, unique), ``store``,
    ``auto_create_room``, ``room_base_name`` (≤40), ``room_base_id``, ``welcome_text``, ``welcome_attachment``
    (one WeCom attachment object). Raises ValidationError keyed by those names; nothing changes then."""
    cleaned = clean_code(org, data, by=by)
    chat_ids = [g.chat_id for g in cleaned["groups"]]
    client, own = _client(org, client)
    try:
        template_id = ""
        if _has_welcome(cleaned):
            try:
                body = media.wire_template(client, getattr(org, "pk", org), _template(cleaned["welcome_text"], cleaned["welcome_attachment"]))
                template_id = endpoints.add_group_welcome_template(client, {**body, "notify": 1})
            except WeComError as error:
                raise as_validation_error(error, _("创建入群欢迎语")) from error
        try:
            config_id = endpoints.add_join_way(client, _way(cleaned, chat_ids))
            way = _read_way(client, config_id)
        except WeComError as error:
            if template_id:
                _undo(client, endpoints.GROUP_WELCOME_DEL, {"template_id": template_id}, "welcome template")
            raise as_validation_error(error, _("创建加入群聊二维码")) from error
        try:
            with transaction.atomic():
                code = GroupCode.objects.create(
                    org=org, public_id=published.new_public_id(org, GroupCode), name=cleaned["name"], store=cleaned["store"],
                    state=cleaned["state"], chat_ids=way.get("chat_id_list") or chat_ids,
                    auto_create_room=cleaned["auto_create_room"], room_base_name=cleaned["room_base_name"],
                    room_base_id=cleaned["room_base_id"], welcome_text=cleaned["welcome_text"],
                    welcome_attachment=cleaned["welcome_attachment"], welcome_template_id=template_id,
                    config_id=config_id, qr_code=way.get("qr_code", ""), synced_at=timezone.now(), created_by=_actor(by),
                )
                audit.record("groupcode.created", org=org, actor=_actor(by), obj=code, details=_summary(code))
        except BaseException:
            # The join way exists in WeCom but not here: take it back so nothing is left behind.
            _undo(client, endpoints.DEL_JOIN_WAY, {"config_id": config_id}, "join way")
            if template_id:
                _undo(client, endpoints.GROUP_WELCOME_DEL, {"template_id": template_id}, "welcome template")
            raise
    finally:
        if own:
            client.close()
    return code


def update_group_code(code: GroupCode, *, by=None, client: WeComClient | None = None, **data) -> GroupCode:
    """Change a code's settings (same ``data`` as :func:`create_group_code`, every field given): the join way
    (``update_join_way`` overwrites it whole) and the welcome template (added, edited, or deleted)."""
    if code.status == GroupCode.Status.DELETED:
        raise _error(NON_FIELD_ERRORS, _("已删除的群活码不能修改。"))
    org = code.org
    cleaned = clean_code(org, data, code=code, by=by)
    chat_ids = [g.chat_id for g in cleaned["groups"]]
    before, before_chats = _values(code), list(code.chat_ids)
    live = code.status == GroupCode.Status.ACTIVE and bool(code.config_id)
    welcome_changed = (cleaned["welcome_text"], cleaned["welcome_attachment"]) != (code.welcome_text, code.welcome_attachment)
    client, own = _client(org, client)
    added_template = edited_template = False
    template_id, drop_template = code.welcome_template_id, ""
    try:
        way = {}
        if live:
            try:
                endpoints.update_join_way(client, _way(cleaned, chat_ids, code.config_id))
                way = _read_way(client, code.config_id)
            except WeComError as error:
                raise as_validation_error(error, _("更新加入群聊二维码")) from error
        try:
            if welcome_changed and _has_welcome(cleaned):
                body = media.wire_template(client, code.org_id,
                                           _template(cleaned["welcome_text"], cleaned["welcome_attachment"]))
                if template_id:
                    endpoints.edit_group_welcome_template(client, template_id, body)
                    edited_template = True
                else:
                    template_id = endpoints.add_group_welcome_template(client, {**body, "notify": 1})
                    added_template = True
            elif welcome_changed and template_id:
                drop_template, template_id = template_id, ""
            with transaction.atomic():
                past = [s for s in code.states if s != cleaned["state"]]
                for key in ("name", "store", "state", "auto_create_room", "room_base_name", "room_base_id",
                            "welcome_text", "welcome_attachment"):
                    setattr(code, key, cleaned[key])
                code.past_states, code.welcome_template_id = past, template_id
                code.chat_ids = way.get("chat_id_list") or chat_ids
                if way.get("qr_code"):
                    code.qr_code = way["qr_code"]
                code.save()
                after = _values(code)
                changed = sorted(k for k in after if after[k] != before[k])
                if code.chat_ids != before_chats:
                    changed.append("chat_ids")
                audit.record("groupcode.updated", org=org, actor=_actor(by), obj=code,
                             details={"changed": changed, **{k: _summary(code)[k] for k in changed}})
        except BaseException as error:
            if live:
                _undo(client, endpoints.UPDATE_JOIN_WAY, _way(before, before_chats, code.config_id), "join way")
            if added_template:
                _undo(client, endpoints.GROUP_WELCOME_DEL, {"template_id": template_id}, "welcome template")
            elif edited_template:
                _undo(client, endpoints.GROUP_WELCOME_EDIT,
                      {"template_id": template_id, **_template(before["welcome_text"], before["welcome_attachment"])}, "welcome template")
            code.refresh_from_db()
            if isinstance(error, WeComError):
                raise as_validation_error(error, _("保存入群欢迎语")) from error
            raise
        if drop_template:
            _undo(client, endpoints.GROUP_WELCOME_DEL, {"template_id": drop_template}, "old welcome template")
    finally:
        if own:
            client.close()
    code.refresh_from_db()
    return code


class _ClientFor:
    """The given client, or one of the org's own that is closed afterwards."""

    def __init__(self, org, client):
        self.client, self.own = _client(org, client)

    def __enter__(self):
        return self.client

    def __exit__(self, *exc):
        if self.own:
            self.client.close()


def pause_group_code(code: GroupCode, *, by=None, client=None) -> GroupCode:
    """Pause a code. A join way cannot be switched off in WeCom, so pausing deletes it (``del_join_way``): its
    QR stops working at once. The printed poster points at Siyu's page for the code, which says it is paused;
    resuming makes a new join way with the same settings, and the same poster works again."""
    if code.status != GroupCode.Status.ACTIVE:
        raise _error(NON_FIELD_ERRORS, _("只有使用中的群活码可以暂停。"))
    _delete_way(code, client, _("暂停加入群聊二维码"))
    with transaction.atomic():
        code.status, code.paused_at, code.config_id, code.qr_code = GroupCode.Status.PAUSED, timezone.now(), "", ""
        code.save(update_fields=["status", "paused_at", "config_id", "qr_code", "updated_at"])
        audit.record("groupcode.paused", org=code.org_id, actor=_actor(by), obj=code)
    return code


def resume_group_code(code: GroupCode, *, by=None, client=None) -> GroupCode:
    """Resume a paused code with a new join way over its groups (``add_join_way``)."""
    if code.status != GroupCode.Status.PAUSED:
        raise _error(NON_FIELD_ERRORS, _("只有已暂停的群活码可以恢复。"))
    live = list(CustomerGroup.objects.for_org(code.org_id).filter(chat_id__in=code.chat_ids, status=CustomerGroup.Status.ACTIVE)
                .values_list("chat_id", flat=True))
    chat_ids = [c for c in code.chat_ids if c in live][-JOIN_WAY_GROUPS_MAX:]
    if not chat_ids:
        raise _error(NON_FIELD_ERRORS, _("该群活码的群都已解散，请先编辑群活码选择新的群。"))
    client, own = _client(code.org, client)
    try:
        try:
            config_id = endpoints.add_join_way(client, _way(_values(code), chat_ids))
            way = _read_way(client, config_id)
        except WeComError as error:
            raise as_validation_error(error, _("恢复加入群聊二维码")) from error
        try:
            with transaction.atomic():
                code.status, code.paused_at, code.config_id = GroupCode.Status.ACTIVE, None, config_id
                code.qr_code, code.chat_ids = way.get("qr_code", ""), way.get("chat_id_list") or chat_ids
                code.save(update_fields=["status", "paused_at", "config_id", "qr_code", "chat_ids", "updated_at"])
                audit.record("groupcode.resumed", org=code.org_id, actor=_actor(by), obj=code)
        except BaseException:
            _undo(client, endpoints.DEL_JOIN_WAY, {"config_id": config_id}, "join way")
            raise
    finally:
        if own:
            client.close()
    return code


def delete_group_code(code: GroupCode, *, by=None, client=None) -> GroupCode:
    """Delete a code's join way and welcome template; its QR stops working. The row and its state stay, so
    statistics still name the code."""
    if code.status == GroupCode.Status.DELETED:
        raise _error(NON_FIELD_ERRORS, _("该群活码已删除。"))
    if code.config_id:
        _delete_way(code, client, _("删除加入群聊二维码"))
    if code.welcome_template_id:
        with _ClientFor(code.org, client) as wecom:
            _undo(wecom, endpoints.GROUP_WELCOME_DEL, {"template_id": code.welcome_template_id}, "welcome template")
    with transaction.atomic():
        code.status, code.deleted_at, code.config_id, code.qr_code = GroupCode.Status.DELETED, timezone.now(), "", ""
        code.save(update_fields=["status", "deleted_at", "config_id", "qr_code", "updated_at"])
        audit.record("groupcode.deleted", org=code.org_id, actor=_actor(by), obj=code)
    return code


def _delete_way(code: GroupCode, client, what: str) -> None:
    with _ClientFor(code.org, client) as wecom:
        try:
            endpoints.del_join_way(wecom, code.config_id)
        except InvalidParameter:
            log.info("group code %s: WeCom no longer has join way %s", code.pk, code.config_id)
        except WeComError as error:
            raise as_validation_error(error, what) from error


# -- following WeCom ----------------------------------------------------------------------------------------
def wake(code: GroupCode, *, delay: float = 0) -> None:
    """Ask for a re-read of ``code``'s join way (one row per code, re-armed; concurrent wakes collapse)."""
    due = timezone.now() + timedelta(seconds=delay)
    row, created = GroupCodeSync.objects.for_org(code.org_id).get_or_create(
        org_id=code.org_id, idempotency_key=f"groupcode:{code.pk}", defaults={"code": code, "due_at": due},
    )
    if not created and not (row.status == DurableRow.Status.PENDING and row.due_at <= due):
        GroupCodeSync.objects.for_org(code.org_id).filter(pk=row.pk).update(
            status=DurableRow.Status.PENDING, due_at=due, lease_until=None, lease_owner="", attempts=0,
            finished_at=None, last_error="",
        )


def on_group_changed(event) -> None:
    """A group was re-read from WeCom (callbacks re-read groups on every change; the ``group.changed`` event).
    Wake the codes that may have a new room: a code one of whose groups just filled up, and, for a group seen
    for the first time, the auto-creating codes whose groups have the same owner (WeCom gives a new room the
    owner of the group it was modelled on)."""
    group = event.subject()
    if group is None or group.status != CustomerGroup.Status.ACTIVE:
        return
    created = bool(event.payload.get("created"))
    codes = GroupCode.objects.for_org(group.org_id).filter(status=GroupCode.Status.ACTIVE, auto_create_room=True).exclude(config_id="")
    for code in codes.only("pk", "org_id", "chat_ids"):
        if group.chat_id in code.chat_ids:
            if group.member_count >= QR_JOIN_CAP:
                wake(code)
        elif created and group.owner_userid and CustomerGroup.objects.for_org(group.org_id).filter(
                chat_id__in=code.chat_ids, owner_userid=group.owner_userid).exists():
            wake(code)


def sync_code(code: GroupCode, client) -> GroupCode:
    """Copy the join way's group list and QR image from WeCom; groups Siyu has not seen yet are read too."""
    way = _read_way(client, code.config_id)
    chat_ids = list(way.get("chat_id_list") or [])
    changed = chat_ids != list(code.chat_ids)
    GroupCode.objects.for_org(code.org_id).filter(pk=code.pk).update(
        chat_ids=chat_ids, qr_code=way.get("qr_code") or code.qr_code, synced_at=timezone.now())
    if changed:
        log.info("group code %s now lists %d groups", code.pk, len(chat_ids))
    code.chat_ids = chat_ids
    known = set(CustomerGroup.objects.for_org(code.org_id).filter(chat_id__in=chat_ids).values_list("chat_id", flat=True))
    for chat_id in chat_ids:
        if chat_id not in known:
            group_services.refresh_group(code.org, chat_id, client)
    return code


def perform_sync(row: GroupCodeSync) -> None:
    code = GroupCode.objects.for_org(row.org_id).select_related("org").get(pk=row.code_id)
    if code.status != GroupCode.Status.ACTIVE or not code.config_id:
        return
    try:
        with WeComClient.for_org(code.org) as client:
            sync_code(code, client)
    except RateLimited as error:
        raise RetryLater(error.retry_after, str(error)) from error
    except (InvalidParameter, NotConnected) as error:
        raise PermanentFailure(f"{error} ({error.hint})") from error


def sync_all_codes() -> int:
    """The periodic check: re-read the join way of every active auto-creating code. Returns how many were read."""
    done = 0
    for org in Organization.objects.filter(is_active=True):
        codes = list(GroupCode.objects.for_org(org).filter(status=GroupCode.Status.ACTIVE, auto_create_room=True)
                     .exclude(config_id="").select_related("org"))
        if not codes:
            continue
        try:
            client = WeComClient.for_org(org)
        except NotConnected:
            continue
        with client:
            for code in codes:
                try:
                    sync_code(code, client)
                    done += 1
                except WeComError:
                    log.warning("group code %s: join way not readable", code.pk, exc_info=True)
    return done


# -- figures -------------------------------------------------------------------------------------------------
def today_start(now: datetime | None = None) -> datetime:
    local = timezone.localtime(now or timezone.now())
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def join_counts(codes, *, members, groups, now: datetime | None = None) -> dict[int, dict]:
    """Per code: joins today and in total (members who joined by the code's states), and its groups' members,
    counted over ``members`` (GroupMember rows) and ``groups`` (CustomerGroup rows) in the reader's scope."""
    codes = list(codes)
    by_state = {s: code.pk for code in codes for s in code.states}
    start = today_start(now)
    result = {code.pk: {"joins_today": 0, "joins_total": 0, "members": 0, "groups": 0} for code in codes}
    if not codes:
        return result
    joins = (members.filter(type=GroupMember.Type.EXTERNAL, state__in=list(by_state))
             .values("state").annotate(total=Count("id"), today=Count("id", filter=Q(join_time__gte=start))))
    for row in joins:
        figures = result[by_state[row["state"]]]
        figures["joins_total"] += row["total"]
        figures["joins_today"] += row["today"]
    chats = {chat: code.pk for code in codes for chat in code.chat_ids}
    for chat_id, count in (groups.filter(chat_id__in=list(chats), status=CustomerGroup.Status.ACTIVE)
                           .values_list("chat_id", "member_count")):
        result[chats[chat_id]]["members"] += count
        result[chats[chat_id]]["groups"] += 1
    return result


def groups_of(code: GroupCode) -> list[CustomerGroup | str]:
    """The code's groups in WeCom's order: the row when Siyu has it, else the bare chat id."""
    rows = {g.chat_id: g for g in CustomerGroup.objects.for_org(code.org_id).filter(chat_id__in=code.chat_ids).select_related("owner")}
    return [rows.get(chat_id, chat_id) for chat_id in code.chat_ids]


def code_values(code: GroupCode) -> dict:
    """The settings of ``code`` in the shape :func:`update_group_code` takes (for an edit form's initial data)."""
    groups = [g for g in groups_of(code) if isinstance(g, CustomerGroup)]
    return {**_values(code), "store": code.store, "groups": groups}

