"""Every state change of channel codes, welcome messages, folders and partners, and what an add through a code
sets off. Views, the API, signal receivers and durable rows are thin shells around these functions.

Changes that WeCom must know about follow one order: validate everything (nothing invalid ever reaches WeCom),
call WeCom, then write Siyu's rows in one transaction. A WeCom refusal is a form error and leaves nothing
behind; should the database write fail after WeCom said yes, the WeCom side is undone (a created contact way is
deleted again, an edited one is restored).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.channels import queries, redpackets, rotation, welcome
from siyu.channels.models import (
    STAFF_MAX,
    STATE_MAX,
    AddFollowUp,
    ChannelCode,
    ChannelCodeTag,
    ChannelFolder,
    ChannelStaff,
    ChannelState,
    CustomerChannel,
    Partner,
    RedPacketRule,
    WelcomeMessage,
)
from siyu.core import published
from siyu.core.durable import PermanentFailure, RetryLater
from siyu.customers import tagging, timeline
from siyu.customers.models import Relation, RelationTag, Tag
from siyu.orgs import audit
from siyu.orgs.models import Membership, Staff
from siyu.wecom import endpoints
from siyu.wecom.client import WeComClient
from siyu.wecom.states import state_error
from siyu.wecom.errors import (
    InvalidParameter,
    NotConnected,
    NotExternalContact,
    RateLimited,
    WeComError,
    as_validation_error,
)

log = logging.getLogger(__name__)

STATE_PATTERN = re.compile(r"^[A-Za-z0-9_.\-]+$")
REMARK_MAX = 20  # WeCom: a relation's remark ≤ 20 characters
WAY_REMARK_MAX = 30  # WeCom: a contact way's remark ≤ 30 characters
REMARK_VARIABLES = ("channel", "date", "customer_nickname", "staff_name")
SLOTS_MAX = 50
TAGS_MAX = 100
PACKET_MIN_FEN, PACKET_MAX_FEN = 30, 20_000  # ¥0.30 … ¥200, what WeChat Pay lets a brand pay one person
BUDGET_MAX_FEN = 100_000_000
Policy = ChannelCode.Policy

# The fields of a code an operator sets (the form's and the API's names); see create_channel_code.
CODE_FIELDS = (
    "name", "state", "folder", "folder_name", "partner", "partner_name", "owner", "staff", "backup_staff", "policy", "daily_cap", "time_slots",
    "skip_verify", "tags", "remark_template", "welcome_enabled", "welcome_text", "welcome_attachments", "red_packet",
)


def _actor(by):
    if isinstance(by, Membership):
        return by.user
    return by


def _error(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})



def new_state(org) -> str:
    """A fresh state: ``c_`` and ten random letters and digits (well under WeCom's 30 characters)."""
    return published.new_state(org, "c_")


# -- validation -------------------------------------------------------------------------------------------
def _clean_staff(org, people, field: str, errors: dict, by) -> list[Staff]:
    people = list(dict.fromkeys(people or []))
    visible = Staff.objects.visible_to(by) if isinstance(by, Membership) else Staff.objects.for_org(org)
    known = set(visible.filter(pk__in=[s.pk for s in people]).values_list("pk", flat=True))
    for person in people:
        if person.org_id != org.pk or person.pk not in known:
            errors.setdefault(field, []).append(_("员工“%(name)s”不存在或不在你的管理范围内。") % {"name": person})
        elif person.status != Staff.Status.ACTIVE:
            errors.setdefault(field, []).append(_("员工“%(name)s”不是在职状态，不能接待客户。") % {"name": person})
        elif not person.is_customer_contact:
            # Doc 95724: WeCom refuses members without 客户联系 or outside the app's visible range; the directory
            # sync marks both as not customer-contact (get_follow_user_list lists only visible members).
            errors.setdefault(field, []).append(_(
                "员工“%(name)s”未开通客户联系功能，或不在本应用的可见范围内，企业微信不允许其接待客户。"
                "请在企业微信管理后台为其开通客户联系并加入应用可见范围，再同步通讯录。") % {"name": person})
    return people


def _clean_slots(raw, primary: list[Staff], errors: dict) -> list[dict]:
    primary_ids = {s.pk for s in primary}
    cleaned = []
    if len(raw) > SLOTS_MAX:
        errors.setdefault("time_slots", []).append(_("最多 %(n)d 个时段。") % {"n": SLOTS_MAX})
        return []
    for index, slot in enumerate(raw, 1):
        where = _("第 %(n)d 个时段：") % {"n": index}
        try:
            days = sorted({int(d) for d in slot.get("days", [])})
            start, end = str(slot.get("start", "")), str(slot.get("end", ""))
            start_min, end_min = rotation.minutes_of(start), rotation.minutes_of(end)
        except (TypeError, ValueError, AttributeError):
            errors.setdefault("time_slots", []).append(where + _("请填写星期和 HH:MM 格式的开始、结束时间。"))
            continue
        ids = [getattr(s, "pk", s) for s in slot.get("staff", [])]
        problems = []
        if not days or any(d < 0 or d > 6 for d in days):
            problems.append(_("请至少选择一天。"))
        if start_min >= end_min:
            problems.append(_("结束时间必须晚于开始时间（跨零点请分成两个时段）。"))
        if not ids:
            problems.append(_("请选择该时段的接待员工。"))
        elif not set(ids) <= primary_ids:
            problems.append(_("时段员工必须是本活码的接待员工。"))
        if problems:
            errors.setdefault("time_slots", []).append(where + " ".join(problems))
            continue
        cleaned.append({"days": days, "start": start, "end": end, "staff": [int(i) for i in dict.fromkeys(ids)]})
    return cleaned


def _clean_tags(org, tags, errors: dict) -> list[Tag]:
    tags = list(dict.fromkeys(tags or []))
    if len(tags) > TAGS_MAX:
        errors.setdefault("tags", []).append(_("最多 %(n)d 个标签。") % {"n": TAGS_MAX})
    fresh = {t.pk: t for t in Tag.objects.for_org(org).filter(pk__in=[t.pk for t in tags])}
    for tag in tags:
        current = fresh.get(tag.pk)
        if current is None or current.deleted:
            errors.setdefault("tags", []).append(_("标签“%(name)s”不存在或已删除。") % {"name": tag.name})
        elif current.kind != Tag.Kind.CORP or not current.wecom_id:
            errors.setdefault("tags", []).append(_("标签“%(name)s”不是已同步到企业微信的企业标签。") % {"name": tag.name})
    return [fresh[t.pk] for t in tags if t.pk in fresh]


def _clean_red_packet(raw, code: ChannelCode | None, errors: dict) -> dict | None:
    if not raw or not raw.get("enabled"):
        return None
    mode = raw.get("mode") or RedPacketRule.Mode.FIXED
    packet = {
        "enabled": True, "mode": mode, "wishing": (raw.get("wishing") or "").strip(),
        "amount_fen": int(raw.get("amount_fen") or 0), "min_fen": int(raw.get("min_fen") or 0),
        "max_fen": int(raw.get("max_fen") or 0), "budget_fen": int(raw.get("budget_fen") or 0),
    }
    money = _("金额必须在 ¥0.30 到 ¥200 之间。")
    if mode == RedPacketRule.Mode.FIXED:
        if not PACKET_MIN_FEN <= packet["amount_fen"] <= PACKET_MAX_FEN:
            errors.setdefault("red_packet_amount", []).append(money)
        packet["min_fen"] = packet["max_fen"] = packet["amount_fen"]
        smallest = packet["amount_fen"]
    elif mode == RedPacketRule.Mode.RANDOM:
        if not PACKET_MIN_FEN <= packet["min_fen"] <= PACKET_MAX_FEN:
            errors.setdefault("red_packet_min", []).append(money)
        if not PACKET_MIN_FEN <= packet["max_fen"] <= PACKET_MAX_FEN:
            errors.setdefault("red_packet_max", []).append(money)
        elif packet["max_fen"] < packet["min_fen"]:
            errors.setdefault("red_packet_max", []).append(_("最大金额不能小于最小金额。"))
        packet["amount_fen"] = packet["min_fen"]
        smallest = packet["min_fen"]
    else:
        errors.setdefault("red_packet_mode", []).append(_("请选择金额规则。"))
        return None
    spent = 0
    if code is not None:
        spent = RedPacketRule.objects.for_org(code.org_id).filter(code=code).values_list("spent_fen", flat=True).first() or 0
    if packet["budget_fen"] < max(smallest, 1) or packet["budget_fen"] > BUDGET_MAX_FEN:
        errors.setdefault("red_packet_budget", []).append(_("总预算至少要够发一个红包，最多 ¥1,000,000。"))
    elif packet["budget_fen"] < spent:
        errors.setdefault("red_packet_budget", []).append(
            _("总预算不能低于已发放的 ¥%(spent).2f。") % {"spent": spent / 100})
    if len(packet["wishing"]) > 50:
        errors.setdefault("red_packet_wishing", []).append(_("祝福语最多 50 个字。"))
    return packet


def clean_code(org, data: dict, *, code: ChannelCode | None = None, by=None) -> dict:
    """Validate a code's settings (every field at once); returns them cleaned or raises a field-keyed error."""
    errors: dict[str, list[str]] = {}
    cleaned: dict = {}
    name = (data.get("name") or "").strip()
    if not name:
        errors.setdefault("name", []).append(_("请填写名称。"))
    elif len(name) > 50:
        errors.setdefault("name", []).append(_("名称最多 50 个字。"))
    elif ChannelCode.objects.for_org(org).filter(name=name).exclude(status=ChannelCode.Status.DELETED).exclude(
            pk=code.pk if code else None).exists():
        errors.setdefault("name", []).append(_("已有同名的渠道活码。"))
    cleaned["name"] = name

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

    for field, model, limit in (("folder", ChannelFolder, 50), ("partner", Partner, 100), ("owner", Membership, 0)):
        value = data.get(field)
        named = (data.get(f"{field}_name") or "").strip() if limit else ""
        if named and len(named) > limit:
            errors.setdefault(f"{field}_name", []).append(_("最多 %(n)d 个字。") % {"n": limit})
        elif named:
            # An existing one by that name, or a new one saved with the code (nothing is created if it fails).
            value = model.objects.for_org(org).filter(name=named).first() or model(org=org, name=named)
        if value is not None and value.org_id != org.pk:
            errors.setdefault(field, []).append(_("不属于该组织。"))
        cleaned[field] = value

    staff = _clean_staff(org, data.get("staff"), "staff", errors, by)
    backup = _clean_staff(org, data.get("backup_staff"), "backup_staff", errors, by)
    if not staff:
        errors.setdefault("staff", []).append(_("请至少选择一位接待员工。"))
    both = set(staff) & set(backup)
    if both:
        errors.setdefault("backup_staff", []).append(
            _("员工不能同时是接待员工和备用员工：%(names)s。") % {"names": "、".join(str(s) for s in both)})
    if len(set(staff) | set(backup)) > STAFF_MAX:
        errors.setdefault("staff", []).append(
            _("一个活码最多 %(max)d 位员工（含备用员工，企业微信的限制），当前 %(n)d 位。") % {
                "max": STAFF_MAX, "n": len(set(staff) | set(backup))})
    cleaned["staff"], cleaned["backup_staff"] = staff, backup

    policy = data.get("policy") or Policy.ROUND_ROBIN
    if policy not in Policy.values:
        errors.setdefault("policy", []).append(_("未知的分配方式。"))
    cleaned["policy"] = policy
    cap = data.get("daily_cap")
    if policy == Policy.DAILY_CAP:
        if not cap or int(cap) < 1 or int(cap) > 10_000:
            errors.setdefault("daily_cap", []).append(_("每日上限需在 1 到 10000 之间。"))
    cleaned["daily_cap"] = int(cap) if cap and policy == Policy.DAILY_CAP else None
    slots = list(data.get("time_slots") or [])
    cleaned["time_slots"] = _clean_slots(slots, staff, errors) if policy == Policy.TIME_SLOTS else []
    if policy == Policy.TIME_SLOTS and not slots:
        errors.setdefault("time_slots", []).append(_("按时段分配需要至少一个时段。"))

    cleaned["skip_verify"] = bool(data.get("skip_verify", True))
    cleaned["tags"] = _clean_tags(org, data.get("tags"), errors)

    remark = (data.get("remark_template") or "").strip()
    if len(remark) > 60:
        errors.setdefault("remark_template", []).append(_("备注模板最多 60 个字。"))
    unknown = welcome.unknown_variables(remark, REMARK_VARIABLES)
    if unknown:
        errors.setdefault("remark_template", []).append(
            _("未知的变量：%(names)s。可用变量：{channel}、{date}、{customer_nickname}、{staff_name}。") % {
                "names": "、".join("{%s}" % n for n in unknown)})
    elif remark:
        longest = remark_length(remark, channel=cleaned.get("name") or "",
                                staff_names=[s.name or s.userid for s in [*staff, *backup]])
        if longest > REMARK_MAX:
            errors.setdefault("remark_template", []).append(
                _("备注展开后最长 %(n)d 个字（按渠道名称、8 位日期和最长的员工姓名计，不含客户昵称），"
                  "超过企业微信的备注上限 %(max)d 个字，请缩短。") % {"n": longest, "max": REMARK_MAX})
    cleaned["remark_template"] = remark

    cleaned["welcome_enabled"] = bool(data.get("welcome_enabled", True))
    text, attachments = data.get("welcome_text") or "", data.get("welcome_attachments") or []
    cleaned["welcome_text"], cleaned["welcome_attachments"] = "", []
    if text.strip() or attachments:
        try:
            cleaned["welcome_text"], cleaned["welcome_attachments"] = welcome.clean_welcome(text, attachments, org=org)
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                errors.setdefault(f"welcome_{field}", []).extend(messages)

    cleaned["red_packet"] = _clean_red_packet(data.get("red_packet"), code, errors)
    if errors:
        raise ValidationError(errors)
    return cleaned


# -- WeCom ------------------------------------------------------------------------------------------------
def _initial_userids(cleaned: dict, code: ChannelCode | None) -> list[str]:
    now = timezone.now()
    counts = rotation.adds_today(code, now) if code is not None and cleaned["policy"] == Policy.DAILY_CAP else {}
    chosen = rotation.pick(cleaned["policy"], cleaned["staff"], cleaned["backup_staff"],
                           slots=rotation.slots_of(cleaned["time_slots"]), daily_cap=cleaned["daily_cap"], counts=counts, now=now)
    return [s.userid for s in chosen] or [s.userid for s in cleaned["staff"]]


def _way(name: str, state: str, skip_verify: bool, users: list[str]) -> dict:
    return {"remark": name[:WAY_REMARK_MAX], "skip_verify": skip_verify, "state": state, "user": users}


def _client(org, client):
    if client is not None:
        return client, False
    try:
        return WeComClient.for_org(org), True
    except NotConnected as error:
        raise as_validation_error(error, _("连接")) from error


# -- rows -------------------------------------------------------------------------------------------------
def _save_new_groupings(org, cleaned: dict, by) -> None:
    """Folders and partners named for the first time in this form are created with the code."""
    for field in ("folder", "partner"):
        value = cleaned[field]
        if value is not None and value.pk is None:
            value.save()
            audit.record(f"channel.{field}_created", org=org, actor=_actor(by), obj=value)


def _write_links(code: ChannelCode, cleaned: dict) -> None:
    org_id = code.org_id
    ChannelStaff.objects.for_org(org_id).filter(code=code).delete()
    ChannelStaff.objects.bulk_create(
        [ChannelStaff(org_id=org_id, code=code, staff=s, role=ChannelStaff.Role.PRIMARY, position=i) for i, s in enumerate(cleaned["staff"])]
        + [ChannelStaff(org_id=org_id, code=code, staff=s, role=ChannelStaff.Role.BACKUP, position=i) for i, s in enumerate(cleaned["backup_staff"])]
    )
    ChannelCodeTag.objects.for_org(org_id).filter(code=code).exclude(tag__in=cleaned["tags"]).delete()
    have = set(ChannelCodeTag.objects.for_org(org_id).filter(code=code).values_list("tag_id", flat=True))
    ChannelCodeTag.objects.bulk_create([ChannelCodeTag(org_id=org_id, code=code, tag=t) for t in cleaned["tags"] if t.pk not in have])
    ChannelState.objects.for_org(org_id).get_or_create(org_id=org_id, state=code.state, defaults={"code": code})
    base = next((m for m in WelcomeMessage.objects.for_org(org_id).filter(code=code, staff=None) if not m.is_variant), None)
    if cleaned["welcome_text"] or cleaned["welcome_attachments"]:
        if base is None:
            base = WelcomeMessage(org_id=org_id, code=code)
        base.text, base.attachments = cleaned["welcome_text"], cleaned["welcome_attachments"]
        base.save()
    elif base is not None:
        base.delete()
    packet = cleaned["red_packet"]
    rule = RedPacketRule.objects.for_org(org_id).filter(code=code).first()
    if packet is not None:
        settings = ("enabled", "mode", "amount_fen", "min_fen", "max_fen", "budget_fen", "wishing")
        if rule is None:
            RedPacketRule.objects.create(org_id=org_id, code=code, **{key: packet[key] for key in settings})
        else:
            # Never write spent_fen back: grants change it concurrently, with their own conditional UPDATE.
            for key in settings:
                setattr(rule, key, packet[key])
            rule.save(update_fields=[*settings, "updated_at"])
    elif rule is not None and rule.enabled:
        rule.enabled = False
        rule.save(update_fields=["enabled", "updated_at"])


def _summary(code: ChannelCode) -> dict:
    links = ChannelStaff.objects.for_org(code.org_id).filter(code=code).select_related("staff")
    return {
        "name": code.name, "state": code.state, "policy": code.policy, "daily_cap": code.daily_cap,
        "skip_verify": code.skip_verify, "remark_template": code.remark_template, "welcome_enabled": code.welcome_enabled,
        "folder": code.folder_id, "partner": code.partner_id, "owner": code.owner_id, "time_slots": code.time_slots,
        "staff": [link.staff.userid for link in links if link.role == ChannelStaff.Role.PRIMARY],
        "backup_staff": [link.staff.userid for link in links if link.role == ChannelStaff.Role.BACKUP],
        "tags": sorted(ChannelCodeTag.objects.for_org(code.org_id).filter(code=code).values_list("tag__name", flat=True)),
    }


def create_channel_code(org, *, by=None, client: WeComClient | None = None, **data) -> ChannelCode:
    """Create a channel code and its WeCom contact way (``add_contact_way``).

    ``data`` holds :data:`CODE_FIELDS`: ``name``; ``state`` (blank: generated); ``folder``, ``partner`` (or a
    ``folder_name``/``partner_name``: found by name or created with the code), ``owner`` (default: ``by``);
    ``staff`` and ``backup_staff`` (Staff rows, ≤100 together); ``policy`` with ``daily_cap`` or ``time_slots``
    (``[{"days": [0..6], "start": "09:00", "end": "18:00", "staff": [Staff or id]}]``); ``skip_verify``;
    ``tags`` (corp Tag rows); ``remark_template``; ``welcome_enabled``, ``welcome_text``,
    ``welcome_attachments`` (WeCom attachment objects); ``red_packet`` (``{"enabled", "mode", "amount_fen",
    "min_fen", "max_fen", "budget_fen", "wishing"}`` or None). Raises ValidationError keyed by those names.
    """
    cleaned = clean_code(org, data, by=by)
    users = _initial_userids(cleaned, None)
    client, own = _client(org, client)
    try:
        try:
            answer = endpoints.add_contact_way(client, {
                "type": 2, "scene": 2, **_way(cleaned["name"], cleaned["state"], cleaned["skip_verify"], users)})
        except WeComError as error:
            raise as_validation_error(error, _("创建联系我二维码")) from error
        config_id = answer["config_id"]
        try:
            with transaction.atomic():
                _save_new_groupings(org, cleaned, by)
                code = ChannelCode.objects.create(
                    org=org, public_id=published.new_public_id(org, ChannelCode), name=cleaned["name"], state=cleaned["state"],
                    folder=cleaned["folder"], partner=cleaned["partner"], owner=cleaned["owner"] or (by if isinstance(by, Membership) else None),
                    policy=cleaned["policy"], daily_cap=cleaned["daily_cap"], time_slots=cleaned["time_slots"],
                    skip_verify=cleaned["skip_verify"], remark_template=cleaned["remark_template"],
                    welcome_enabled=cleaned["welcome_enabled"], config_id=config_id, qr_code=answer["qr_code"],
                    current_userids=users, rotated_at=timezone.now(), created_by=_actor(by),
                )
                _write_links(code, cleaned)
                audit.record("channel.created", org=org, actor=_actor(by), obj=code, details=_summary(code))
        except BaseException:
            # The contact way exists in WeCom but not here: take it back so nothing is left behind.
            try:
                endpoints.del_contact_way(client, config_id)
            except WeComError:
                log.exception("channel code: could not delete orphaned contact way %s", config_id)
            raise
    finally:
        if own:
            client.close()
    return code


def update_channel_code(code: ChannelCode, *, by=None, client: WeComClient | None = None, **data) -> ChannelCode:
    """Change a code's settings (same ``data`` as :func:`create_channel_code`, every field given) and its
    contact way (``update_contact_way``: name, state, auto-accept and the staff the policy picks now)."""
    if code.status == ChannelCode.Status.DELETED:
        raise _error(NON_FIELD_ERRORS, _("已删除的渠道活码不能修改。"))
    org = code.org
    cleaned = clean_code(org, data, code=code, by=by)
    users = _initial_userids(cleaned, code)
    before = _summary(code)
    # The save below changes ``code`` in memory before it can fail; the undo needs the list WeCom had.
    before_users = list(code.current_userids)
    paused = code.status == ChannelCode.Status.PAUSED
    body = {"config_id": code.config_id, **_way(cleaned["name"], cleaned["state"], cleaned["skip_verify"] and not paused, users)}
    client, own = _client(org, client)
    try:
        try:
            endpoints.update_contact_way(client, body)
        except WeComError as error:
            raise as_validation_error(error, _("更新联系我二维码")) from error
        try:
            with transaction.atomic():
                _save_new_groupings(org, cleaned, by)
                for key in ("name", "state", "folder", "partner", "owner", "policy", "daily_cap", "time_slots",
                            "skip_verify", "remark_template", "welcome_enabled"):
                    if key == "owner" and cleaned[key] is None:
                        continue  # the owner is kept unless another one is chosen
                    setattr(code, key, cleaned[key])
                code.current_userids, code.rotated_at = users, timezone.now()
                code.save()
                _write_links(code, cleaned)
                after = _summary(code)
                changed = sorted(k for k in after if after[k] != before[k])
                audit.record("channel.updated", org=org, actor=_actor(by), obj=code,
                             details={"changed": changed, **{k: after[k] for k in changed}})
        except BaseException:
            try:
                endpoints.update_contact_way(client, {
                    "config_id": code.config_id,
                    **_way(before["name"], before["state"], before["skip_verify"] and not paused, before_users)})
            except WeComError:
                log.exception("channel code %s: could not restore the contact way after a failed save", code.pk)
            raise
    finally:
        if own:
            client.close()
    code.refresh_from_db()
    return code


CONTACT_WAY_GONE = 41044  # 无效的「联系我」config_id参数 (doc 90313)


def _set_status(code: ChannelCode, status: str, *, by, client, action: str, call: tuple[str, dict], what: str) -> ChannelCode:
    client, own = _client(code.org, client)
    try:
        try:
            client.post(*call)
        except WeComError as error:
            if status != ChannelCode.Status.DELETED or error.errcode != CONTACT_WAY_GONE:
                raise as_validation_error(error, what) from error
            log.info("channel code %s: WeCom no longer has contact way %s", code.pk, code.config_id)
    finally:
        if own:
            client.close()
    now = timezone.now()
    with transaction.atomic():
        code.status = status
        if status == ChannelCode.Status.PAUSED:
            code.paused_at = now
        elif status == ChannelCode.Status.DELETED:
            code.deleted_at = now
        else:
            code.paused_at = None
        if "user" in call[1]:
            code.current_userids, code.rotated_at = call[1]["user"], now
        code.save()
        audit.record(action, org=code.org_id, actor=_actor(by), obj=code)
    return code


def pause_channel_code(code: ChannelCode, *, by=None, client=None) -> ChannelCode:
    """Pause a code. WeCom cannot switch a contact way off, and printed posters must keep working, so a paused
    code stops auto-accepting (``skip_verify`` false: staff accept each request by hand) and Siyu stops its
    welcome message, red packet and rotation. Tags and the customer source are still recorded."""
    if code.status != ChannelCode.Status.ACTIVE:
        raise _error(NON_FIELD_ERRORS, _("只有使用中的渠道活码可以暂停。"))
    return _set_status(code, ChannelCode.Status.PAUSED, by=by, client=client, action="channel.paused",
                       call=(endpoints.UPDATE_CONTACT_WAY, {"config_id": code.config_id, "skip_verify": False}),
                       what=_("暂停联系我二维码"))


def resume_channel_code(code: ChannelCode, *, by=None, client=None) -> ChannelCode:
    """Resume a paused code: auto-accept as configured and the staff its policy picks now."""
    if code.status != ChannelCode.Status.PAUSED:
        raise _error(NON_FIELD_ERRORS, _("只有已暂停的渠道活码可以恢复。"))
    users = [s.userid for s in rotation.desired_staff(code)] or list(code.current_userids)
    return _set_status(code, ChannelCode.Status.ACTIVE, by=by, client=client, action="channel.resumed",
                       call=(endpoints.UPDATE_CONTACT_WAY,
                             {"config_id": code.config_id, "skip_verify": code.skip_verify, "user": users}),
                       what=_("恢复联系我二维码"))


def delete_channel_code(code: ChannelCode, *, by=None, client=None) -> ChannelCode:
    """Delete a code's contact way (``del_contact_way``): its QR stops working. The row, its state and the
    customer sources stay, so statistics and profiles still name the channel."""
    if code.status == ChannelCode.Status.DELETED:
        raise _error(NON_FIELD_ERRORS, _("该渠道活码已删除。"))
    return _set_status(code, ChannelCode.Status.DELETED, by=by, client=client, action="channel.deleted",
                       call=(endpoints.DEL_CONTACT_WAY, {"config_id": code.config_id}), what=_("删除联系我二维码"))


# -- folders, partners ------------------------------------------------------------------------------------
@transaction.atomic
def create_folder(org, *, name: str, by=None) -> ChannelFolder:
    name = (name or "").strip()
    if not name or len(name) > 50:
        raise _error("name", _("分组名称为 1 到 50 个字。"))
    if ChannelFolder.objects.for_org(org).filter(name=name).exists():
        raise _error("name", _("已有同名分组。"))
    folder = ChannelFolder.objects.create(org=org, name=name)
    audit.record("channel.folder_created", org=org, actor=_actor(by), obj=folder)
    return folder


@transaction.atomic
def create_partner(org, *, name: str, note: str = "", by=None) -> Partner:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise _error("name", _("合作方名称为 1 到 100 个字。"))
    if Partner.objects.for_org(org).filter(name=name).exists():
        raise _error("name", _("已有同名合作方。"))
    partner = Partner.objects.create(org=org, name=name, note=(note or "")[:300])
    audit.record("channel.partner_created", org=org, actor=_actor(by), obj=partner)
    return partner


# -- welcome messages -------------------------------------------------------------------------------------
def _clean_window(days, start, end) -> tuple[list[int], object, object]:
    days = sorted({int(d) for d in days or []})
    if not days:
        if start or end:
            raise _error("window_days", _("设置了时间段时请选择适用的星期。"))
        return [], None, None
    if any(d < 0 or d > 6 for d in days):
        raise _error("window_days", _("星期不正确。"))
    if start is None:
        raise _error("window_start", _("请填写开始时间。"))
    if end is not None and end <= start:
        raise _error("window_end", _("结束时间必须晚于开始时间（跨零点请分成两条）。"))
    return days, start, end


@transaction.atomic
def save_welcome_message(
    org, *, by=None, text: str = "", attachments: list | None = None, code: ChannelCode | None = None, staff: Staff | None = None,
    window_days=(), window_start=None, window_end=None, message: WelcomeMessage | None = None,
) -> WelcomeMessage:
    """Create (or, with ``message``, change) a welcome message for a scope: code+staff, code, staff, or the
    default (neither). With ``window_days`` and a start (and optional end) time it is a time-slot variant."""
    errors: dict[str, list[str]] = {}
    try:
        text, attachments = welcome.clean_welcome(text, attachments or [], org=org)
    except ValidationError as error:
        errors.update(error.message_dict)
    try:
        days, start, end = _clean_window(window_days, window_start, window_end)
    except ValidationError as error:
        errors.update(error.message_dict)
        days, start, end = [], None, None
    if code is not None and code.org_id != org.pk:
        errors.setdefault("code", []).append(_("不属于该组织。"))
    if staff is not None and staff.org_id != org.pk:
        errors.setdefault("staff", []).append(_("不属于该组织。"))
    if not errors and not days:
        plain = WelcomeMessage.objects.for_org(org).filter(code=code, staff=staff).exclude(pk=message.pk if message else None)
        if any(not m.is_variant for m in plain):
            errors.setdefault(NON_FIELD_ERRORS, []).append(_("该范围已有一条欢迎语，请直接编辑它，或设置时间段作为时段欢迎语。"))
    if errors:
        raise ValidationError(errors)
    created = message is None
    message = message or WelcomeMessage(org=org)
    message.code, message.staff = code, staff
    message.text, message.attachments = text, attachments
    message.window_days, message.window_start, message.window_end = days, start, end
    if created:
        message.created_by = _actor(by)
    message.save()
    audit.record("welcome.created" if created else "welcome.updated", org=org, actor=_actor(by), obj=message,
                 details={"scope": message.scope, "code": code.pk if code else None, "staff": staff.userid if staff else None,
                          "attachments": len(attachments), "variant": bool(days)})
    return message


@transaction.atomic
def delete_welcome_message(message: WelcomeMessage, *, by=None) -> None:
    audit.record("welcome.deleted", org=message.org_id, actor=_actor(by), obj=message, details={"scope": message.scope})
    message.delete()


# -- an add through a code --------------------------------------------------------------------------------
def _record_source(relation: Relation, code: ChannelCode, state: str, at: datetime) -> CustomerChannel:
    org_id = relation.org_id
    link = CustomerChannel.objects.for_org(org_id).filter(relation=relation, code=code).first()
    if link is not None:
        if at > link.last_at:
            CustomerChannel.objects.for_org(org_id).filter(pk=link.pk).update(last_at=at, adds=link.adds + 1)
        return link
    first = not CustomerChannel.objects.for_org(org_id).filter(customer_id=relation.customer_id).exists()
    try:
        with transaction.atomic():
            return CustomerChannel.objects.create(
                org_id=org_id, customer_id=relation.customer_id, code=code, relation=relation, staff_id=relation.staff_id,
                state=state[:STATE_MAX], is_first=first, first_at=at, last_at=at,
            )
    except IntegrityError:  # the same add processed twice at once
        return CustomerChannel.objects.for_org(org_id).get(relation=relation, code=code)


def relation_added(relation: Relation, *, state: str, welcome_code: str, event_time: datetime | None = None) -> None:
    """React to a new friendship (the ``relation.added`` event): record the channel it came through, link the
    welcome (queued when the callback arrived), the code's tags and remark, a red packet for a new customer, and the next rotation.

    Idempotent: WeCom retries callbacks and Siyu reprocesses events, so every step is keyed (the welcome code,
    the relation and code, the customer)."""
    at = event_time or timezone.now()
    code = queries.code_for_state(relation.org_id, state)
    with transaction.atomic():
        active = code is not None and code.status == ChannelCode.Status.ACTIVE
        if code is not None:
            _record_source(relation, code, state, at)
            if code.remark_template or ChannelCodeTag.objects.for_org(relation.org_id).filter(code=code).exists():
                AddFollowUp.objects.for_org(relation.org_id).get_or_create(
                    org_id=relation.org_id, idempotency_key=f"follow-up:{relation.pk}:{code.pk}",
                    defaults={"relation": relation, "code": code},
                )
        welcome.link_relation(relation, welcome_code=welcome_code)
        if active:
            redpackets.grant(relation, code)
            if code.policy == Policy.DAILY_CAP:
                rotation.wake(code)


DATE_DIGITS = 8  # {date} renders as YYYYMMDD


def remark_length(template: str, *, channel: str, staff_names: list[str]) -> int:
    """The longest a remark from ``template`` gets before the customer's nickname (unknown until they add):
    WeCom cuts a remark at 20 characters, so a template that is already longer would be cut for everyone."""
    values = {"channel": channel, "date": "0" * DATE_DIGITS, "customer_nickname": "",
              "staff_name": max(staff_names, key=len, default="")}
    return len(re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), template))


def render_remark(template: str, relation: Relation, code: ChannelCode, at: datetime | None = None) -> str:
    local = timezone.localtime(at or timezone.now())
    values = {
        "channel": code.name, "date": local.strftime("%Y%m%d"),
        "customer_nickname": relation.customer.name or "", "staff_name": relation.staff.name or relation.staff.userid,
    }
    text = re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), template)
    return text[:REMARK_MAX]


def perform_follow_up(row: AddFollowUp) -> None:
    """Put the code's tags on the relation (source ``channel``) and write its remark (AddFollowUp.perform)."""
    relation = Relation.objects.for_org(row.org_id).select_related("staff", "customer", "org").get(pk=row.relation_id)
    code = ChannelCode.objects.for_org(row.org_id).get(pk=row.code_id)
    if relation.status != Relation.Status.ACTIVE:
        return  # the friendship ended before we got to it: nothing to tag
    tags = [t.tag for t in ChannelCodeTag.objects.for_org(row.org_id).filter(code=code, tag__deleted=False, tag__kind=Tag.Kind.CORP)
            .exclude(tag__wecom_id="").select_related("tag")]
    remark = render_remark(code.remark_template, relation, code, at=relation.added_at) if code.remark_template else ""
    try:
        with WeComClient.for_org(row.org_id) as client:
            added = tagging.tag_relation(relation, tags, source=RelationTag.Source.CHANNEL,
                                         source_ref=f"channel:{code.pk}", client=client) if tags else []
            if remark and not relation.remark:  # never overwrite a remark the staff member wrote
                endpoints.remark(client, userid=relation.staff.userid, external_userid=relation.customer.external_userid,
                                 remark=remark)
                # WeCom sends no callback for API changes: mirror the remark ourselves.
                Relation.objects.for_org(row.org_id).filter(pk=relation.pk).update(remark=remark)
                timeline.record(relation.customer, "remarked", staff=relation.staff, remark=remark, source="channel",
                                source_ref=f"channel:{code.pk}")
            else:
                remark = ""
    except NotExternalContact:
        return  # the customer deleted the staff member meanwhile
    except RateLimited as error:
        raise RetryLater(error.retry_after, str(error)) from error
    except (InvalidParameter, NotConnected) as error:
        raise PermanentFailure(f"{error} ({error.hint})") from error
    AddFollowUp.objects.for_org(row.org_id).filter(pk=row.pk).update(tags_added=[t.name for t in added], remark=remark)


def staff_departed(staff: Staff) -> None:
    """A member left: every active code they are on re-picks its staff (WeCom refuses departed members)."""
    codes = ChannelCode.objects.for_org(staff.org_id).filter(
        status=ChannelCode.Status.ACTIVE, pk__in=ChannelStaff.objects.for_org(staff.org_id).filter(staff=staff).values("code_id"))
    for code in codes:
        rotation.wake(code)


def code_values(code: ChannelCode) -> dict:
    """A code's current settings as :func:`update_channel_code` takes them (for partial updates)."""
    links = list(ChannelStaff.objects.for_org(code.org_id).filter(code=code).select_related("staff"))
    base = next((m for m in WelcomeMessage.objects.for_org(code.org_id).filter(code=code, staff=None) if not m.is_variant), None)
    rule = RedPacketRule.objects.for_org(code.org_id).filter(code=code).first()
    return {
        "name": code.name, "state": code.state, "folder": code.folder, "partner": code.partner, "owner": code.owner,
        "staff": [link.staff for link in links if link.role == ChannelStaff.Role.PRIMARY],
        "backup_staff": [link.staff for link in links if link.role == ChannelStaff.Role.BACKUP],
        "policy": code.policy, "daily_cap": code.daily_cap, "time_slots": code.time_slots, "skip_verify": code.skip_verify,
        "tags": [t.tag for t in ChannelCodeTag.objects.for_org(code.org_id).filter(code=code).select_related("tag")],
        "remark_template": code.remark_template, "welcome_enabled": code.welcome_enabled,
        "welcome_text": base.text if base else "", "welcome_attachments": base.attachments if base else [],
        "red_packet": {
            "enabled": rule.enabled, "mode": rule.mode, "amount_fen": rule.amount_fen, "min_fen": rule.min_fen,
            "max_fen": rule.max_fen, "budget_fen": rule.budget_fen, "wishing": rule.wishing,
        } if rule else None,
    }
