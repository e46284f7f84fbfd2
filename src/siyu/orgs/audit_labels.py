"""How an audit entry reads: its action as words, its object as a noun with a link, its details in words.

The log stores stable dotted keys (``channel.created``); people read ``创建了渠道活码``. Known actions have their own
wording; an action not listed yet still reads as words, from its object noun and its verb suffix, never as the key.
"""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

ACTIONS = {
    "login.succeeded": _("登录成功"),
    "login.failed": _("登录失败"),
    "login.locked": _("登录失败次数过多，账号被锁定"),
    "login.refused_locked": _("账号锁定期间尝试登录"),
    "login.unlocked": _("解除登录锁定"),
    "account.password_changed": _("修改密码"),
    "account.reset_link_issued": _("生成重置密码链接"),
    "account.password_reset": _("通过链接重置密码"),
    "login.wecom_succeeded": _("通过企业微信登录"),
    "login.wecom_refused": _("企业微信登录被拒绝"),
    "org.created": _("创建品牌"),
    "org.switched": _("切换品牌"),
    "user.created": _("创建用户"),
    "member.added": _("添加成员"),
    "apikey.created": _("创建 API 密钥"),
    "apikey.revoked": _("吊销 API 密钥"),
    "orders.import_started": _("导入订单"),
    "orders.mapping_saved": _("保存订单导入映射"),
    "member.activated": _("启用成员"),
    "member.deactivated": _("停用成员"),
    "member.role_changed": _("修改成员角色"),
    "staff.departed": _("员工离职"),
    "store.created": _("新建门店"),
    "store.location_set": _("设置门店位置"),
    "channel.created": _("新建渠道活码"),
    "channel.updated": _("修改渠道活码"),
    "channel.paused": _("暂停渠道活码"),
    "channel.resumed": _("恢复渠道活码"),
    "channel.deleted": _("删除渠道活码"),
    "channel.folder_created": _("新建渠道分组"),
    "channel.partner_created": _("新建合作方"),
    "welcome.created": _("新建欢迎语"),
    "welcome.updated": _("修改欢迎语"),
    "welcome.deleted": _("删除欢迎语"),
    "groupcode.created": _("新建群活码"),
    "groupcode.updated": _("修改群活码"),
    "groupcode.paused": _("暂停群活码"),
    "groupcode.resumed": _("恢复群活码"),
    "groupcode.deleted": _("删除群活码"),
    "storecode.created": _("新建门店活码"),
    "storecode.updated": _("修改门店活码"),
    "storecode.paused": _("暂停门店活码"),
    "storecode.resumed": _("恢复门店活码"),
    "storecode.deleted": _("删除门店活码"),
    "customer.birthday_set": _("设置客户生日"),
    "customer.stage_changed": _("调整客户阶段"),
    "customers.bulk_started": _("开始批量操作客户"),
    "customers.bulk_finished": _("批量操作客户完成"),
    "customers.export_requested": _("申请导出客户"),
    "customers.exported": _("导出客户"),
    "customers.export_downloaded": _("下载客户导出文件"),
    "customers.phones_reindex_started": _("开始重建手机号索引"),
    "analytics.exported": _("导出渠道统计"),
    "tags.created": _("新建标签"),
    "tags.renamed": _("重命名标签"),
    "tags.deleted": _("删除标签"),
    "tags.reordered": _("调整标签顺序"),
    "tags.synced": _("从企业微信同步标签"),
    "tags.group_created": _("新建标签组"),
    "tags.group_renamed": _("重命名标签组"),
    "tags.group_deleted": _("删除标签组"),
    "tags.group_reordered": _("调整标签组顺序"),
    "tags.personal_created": _("新建个人标签"),
    "protected_labels.seeded": _("预置受保护标签词"),
    "protected_labels.added": _("添加受保护标签词"),
    "protected_labels.removed": _("移除受保护标签词"),
    "protected_labels.restored": _("恢复受保护标签词"),
    "transfer.requested": _("发起客户转接"),
    "transfer.groups_requested": _("发起客户群转接"),
    "stage.created": _("新建客户阶段"),
    "stage.renamed": _("重命名客户阶段"),
    "stage.moved": _("调整客户阶段顺序"),
    "stage.deleted": _("删除客户阶段"),
    "rule.created": _("新建自动打标签规则"),
    "rule.updated": _("修改自动打标签规则"),
    "rule.enabled": _("启用自动打标签规则"),
    "rule.disabled": _("停用自动打标签规则"),
    "rule.deleted": _("删除自动打标签规则"),
    "rule.backfill_started": _("开始按规则补打历史客户"),
    "lifecycle.backfill_rule": _("按规则补打历史客户"),
    "reminder.completed": _("完成提醒"),
    "reminder.cancelled": _("取消提醒"),
    "reminder_policy.updated": _("修改提醒设置"),
    "loss_alert.handled": _("处理流失提醒"),
    "order.recorded": _("记录订单"),
    "product.created": _("新建商品"),
    "product.updated": _("修改商品"),
    "privacy.keys_rotated": _("轮换加密密钥"),
    "wecom.connected": _("连接企业微信"),
    "wecom.connection_changed": _("修改企业微信连接"),
    "wecom.checked": _("检查企业微信连接"),
    "wecom.event_redriven": _("重新处理回调事件"),
    "wecom.full_sync_started": _("开始全量同步"),
    "person.merged": _("合并用户"),
    "person.split": _("拆分用户"),
    "person.review_merged": _("确认合并用户"),
    "person.review_kept_apart": _("保持用户分开"),
    "person.value_blocked": _("屏蔽标识"),
    "person.value_unblocked": _("取消屏蔽标识"),
}

# For an action without its own wording: the verb from the key's suffix, the noun from its prefix.
VERBS = {
    "created": _("新建"), "added": _("添加"), "updated": _("修改"), "changed": _("修改"), "renamed": _("重命名"),
    "deleted": _("删除"), "removed": _("移除"), "paused": _("暂停"), "resumed": _("恢复"), "enabled": _("启用"),
    "disabled": _("停用"), "started": _("开始"), "finished": _("完成"), "exported": _("导出"), "synced": _("同步"),
    "reordered": _("调整顺序"), "restored": _("恢复"), "requested": _("发起"), "handled": _("处理"),
}
NOUNS = {
    "channel": _("渠道活码"), "welcome": _("欢迎语"), "groupcode": _("群活码"), "storecode": _("门店活码"),
    "member": _("成员"), "store": _("门店"), "staff": _("员工"), "tags": _("标签"), "stage": _("客户阶段"),
    "rule": _("自动打标签规则"), "customer": _("客户"), "customers": _("客户"), "product": _("商品"),
    "order": _("订单"), "wecom": _("企业微信"), "user": _("用户"), "org": _("品牌"), "transfer": _("转接"),
}

# The audit filter's action choices: a key prefix and what it covers.
ACTION_GROUPS = [
    ("login.", _("登录")), ("account.", _("账号密码")), ("member.", _("成员")), ("store.", _("门店")), ("staff.", _("员工")), ("channel.", _("渠道活码")),
    ("welcome.", _("欢迎语")), ("groupcode.", _("群活码")), ("storecode.", _("门店活码")), ("customer", _("客户")),
    ("tags.", _("标签")), ("protected_labels.", _("受保护标签词")), ("transfer.", _("转接")), ("stage.", _("客户阶段")),
    ("rule.", _("自动打标签规则")), ("reminder", _("提醒")), ("wecom.", _("企业微信")), ("privacy.", _("隐私与加密")),
]

# Object types (``app_label.model``) by their noun, and the console page that shows one of them.
OBJECTS = {
    "orgs.user": (_("用户"), None),
    "orgs.organization": (_("品牌"), None),
    "orgs.store": (_("门店"), None),
    "orgs.membership": (_("成员"), "orgs:member"),
    "orgs.staff": (_("员工"), "orgs:staff_detail"),
    "customers.customer": (_("客户"), "customers:detail"),
    "customers.tag": (_("标签"), None),
    "customers.taggroup": (_("标签组"), None),
    "customers.protectedlabel": (_("受保护标签词"), None),
    "channels.channelcode": (_("渠道活码"), "channels:detail"),
    "channels.channelfolder": (_("渠道分组"), None),
    "channels.partner": (_("合作方"), None),
    "channels.welcomemessage": (_("欢迎语"), "channels:welcome_edit"),
    "groups.groupcode": (_("群活码"), "groups:code_detail"),
    "groups.storecode": (_("门店活码"), "groups:store_code_detail"),
    "lifecycle.stage": (_("客户阶段"), None),
    "lifecycle.rule": (_("自动打标签规则"), "lifecycle:rule_edit"),
    "lifecycle.lossalert": (_("流失提醒"), "lifecycle:loss_detail"),
    "lifecycle.reminderpolicy": (_("提醒设置"), None),
    "cdp.product": (_("商品"), None),
    "cdp.order": (_("订单"), None),
    "cdp.person": (_("用户"), "persons:detail"),
    "cdp.mergereview": (_("待审合并"), None),
    "cdp.blockedvalue": (_("屏蔽标识"), None),
    "wecom.wecomconnection": (_("企业微信连接"), None),
    "wecom.callbackevent": (_("回调事件"), "wecom:event_detail"),
}

# Detail keys as words; values that are Python literals read as words too.
DETAIL_KEYS = {
    "ok": _("结果"), "failed": _("失败项"), "before": _("之前"), "after": _("之后"), "role": _("角色"), "store": _("门店"),
    "kind": _("类型"), "takeover": _("接替员工"), "customers": _("客户数"), "batches": _("批次"), "rule": _("规则"),
    "groups": _("群数"), "from": _("原群主"), "added": _("新增"), "removed": _("移除"), "name": _("名称"),
    "old": _("原名称"), "new": _("新名称"), "count": _("数量"), "rows": _("行数"), "reason": _("原因"),
    "username": _("用户名"), "is_active": _("启用"), "format": _("格式"), "tags": _("标签"), "status": _("状态"),
    "total": _("总数"), "done": _("完成"), "filters": _("筛选条件"), "action": _("操作"),
    "agent_id": _("应用 ID"), "api_base": _("接口地址"), "cause": _("原因"), "change_type": _("变更类型"),
    "changed": _("变更"), "code": _("活码"), "corp_id": _("企业 ID"), "customer": _("客户"), "direction": _("方向"),
    "event": _("事件"), "fallback_code": _("兜底群活码"), "job": _("任务"), "kid": _("密钥编号"), "located": _("已定位"),
    "opening_hours": _("营业时间"), "phones_masked": _("手机号已脱敏"), "radius_km": _("半径（公里）"), "scope": _("范围"),
    "selected": _("已选"), "source": _("来源"), "staff": _("员工"), "stage": _("阶段"), "to": _("目标"),
    "was_default": _("原为默认"), "word": _("词"), "variant": _("时段欢迎语"),
    "state": _("渠道参数"), "policy": _("分配方式"), "daily_cap": _("每日上限"), "skip_verify": _("免验证"),
    "remark_template": _("备注模板"), "welcome_enabled": _("发送欢迎语"), "folder": _("渠道分组"), "partner": _("合作方"),
    "owner": _("负责人"), "time_slots": _("时段"), "backup_staff": _("备用员工"), "chat_ids": _("客户群"),
    "active": _("启用"), "condition": _("条件"), "keywords": _("关键词数"), "first_keywords": _("关键词"),
    "exclude": _("排除词"), "match": _("匹配方式"), "speaker": _("说话人"), "products": _("商品"), "categories": _("品类"),
    "amount": _("金额"), "ref": _("对象"), "text": _("内容"), "attachments": _("附件"), "room_base_name": _("群名"),
    "room_base_id": _("群序号"), "auto_create_room": _("自动建群"), "welcome_text": _("欢迎语"), "red_packet": _("新客红包"),
    "days": _("星期"), "start": _("开始"), "end": _("结束"), "msgtype": _("类型"), "title": _("标题"), "url": _("链接"),
    "desc": _("描述"), "pic_url": _("图片"), "media_id": _("素材"), "appid": _("小程序"), "page": _("页面"),
    "absorbed": _("被合并用户"), "survivor": _("保留用户"), "evidence": _("依据"), "merge": _("合并记录"),
    "persons": _("用户"), "reset": _("重置链接"),
    "window_days": _("星期"), "window_start": _("开始时间"), "window_end": _("结束时间"), "scene": _("场景"),
}

# Enumerated detail values as words, contributed by the apps that own them (``register_detail_values``).
DETAIL_VALUES: dict[str, dict[str, object]] = {}


def register_audit_labels(*, actions: dict | None = None, objects: dict | None = None, details: dict | None = None,
                          groups: list | None = None) -> None:
    """An app's audit wording, from its ``contributions.py``: action keys as words, object types as (noun, detail
    url name), detail keys as words, and filter groups (key prefix, word)."""
    ACTIONS.update(actions or {})
    OBJECTS.update(objects or {})
    DETAIL_KEYS.update(details or {})
    ACTION_GROUPS.extend(g for g in groups or [] if g not in ACTION_GROUPS)


def register_detail_values(key: str, words: dict) -> None:
    """Say how the values of detail ``key`` read (``{"round_robin": "轮流分配", …}``); apps call this in ready()."""
    DETAIL_VALUES.setdefault(key, {}).update({str(k): v for k, v in words.items()})


def action_label(action: str) -> str:
    if action in ACTIONS:
        return str(ACTIONS[action])
    prefix, _dot, suffix = action.partition(".")
    verb = next((v for key, v in VERBS.items() if suffix.endswith(key)), None)
    noun = NOUNS.get(prefix)
    if verb and noun:
        return f"{verb}{noun}"
    return str(_("其他操作"))


def object_noun(object_type: str) -> str:
    entry = OBJECTS.get(object_type)
    return str(entry[0]) if entry else ""


def object_url(entry) -> str | None:
    """The console page of the entry's object, if it has one (a user links to their membership)."""
    if not entry.object_id:
        return None
    if entry.object_type == "orgs.user":
        from siyu.orgs.models import Membership

        membership = Membership.objects.for_org(entry.org_id).filter(user_id=entry.object_id).only("pk").first()
        return reverse("orgs:member", args=[membership.pk]) if membership else None
    url_name = OBJECTS.get(entry.object_type, (None, None))[1]
    if url_name is None:
        return None
    try:
        return reverse(url_name, args=[int(entry.object_id)])
    except (NoReverseMatch, ValueError):
        return None


def value_words(value, key: str = "") -> str:
    known = DETAIL_VALUES.get(key, {})
    if isinstance(value, str) and value in known:
        return str(known[value])
    if value is True:
        return str(_("是"))
    if value is False:
        return str(_("否"))
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, dict):
        return "，".join(f"{detail_key(k)} {value_words(v, k)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "、".join(value_words(v, key) for v in value)
    return str(value)


def _verbatim(value, key: str) -> bool:
    """Identifiers (userids, states, chat ids, URLs) are shown as they are, in code type, not as words."""
    items = value if isinstance(value, (list, tuple)) else [value]
    known = DETAIL_VALUES.get(key, {})
    return bool(items) and all(isinstance(v, str) and v.isascii() and v not in known and not v.isdigit() for v in items)


def detail_key(key: str) -> str:
    return str(DETAIL_KEYS.get(key, key))


def _role_words(value) -> dict:
    """``{"role": "hq_admin", …}`` with the role's label instead of its key."""
    from siyu.orgs.roles import Role

    if isinstance(value, dict) and value.get("role") in Role.values:
        return {**value, "role": str(Role(value["role"]).label)}
    return value


def details_words(details) -> list[tuple[str, str, bool]]:
    """(label, words, verbatim) for each detail; nested records are flattened one level into their own lines."""
    if not isinstance(details, dict):
        return [("", value_words(details), False)] if details else []
    lines = []
    for key, value in _role_words(details).items():
        value = _role_words(value)
        if isinstance(value, dict) and value and key not in ("before", "after"):
            lines += [(f"{detail_key(key)} · {detail_key(k)}", value_words(v, k), _verbatim(v, k)) for k, v in value.items()]
        else:
            lines.append((detail_key(key), value_words(value, key), _verbatim(value, key)))
    return lines
