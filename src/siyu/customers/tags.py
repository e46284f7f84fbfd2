"""Tag groups and tags: corp tags kept in step with WeCom, personal tags, WeCom's limits and protected labels.

Corp tags (企业客户标签) are WeCom's: every create, rename, delete and reorder is made with WeCom's API first
(``add_corp_tag`` / ``edit_corp_tag`` / ``del_corp_tag``) and the local rows are written from WeCom's answer,
so the ids are WeCom's. API-made changes produce no callback (reference §2.3), so nothing echoes back; changes
made in WeCom's own admin console arrive as ``change_external_tag`` callbacks (``siyu.wecom.events``) or through
:func:`pull_corp_tags`.

Everything WeCom would refuse is refused here first, with a message a person can act on: a name over 30
characters, a duplicate in the group, a name containing a protected label (seed 000), a corp that already
has WeCom's 3,000 tags, and a change to a tag Siyu's app did not create (doc 92117: "自建/第三方应用仅能编辑和删除
本应用创建的标签" — tags made in WeCom's admin console are read-only here). WeCom's own refusals, by errcode
(40071 duplicate, 40126 over the limit, 40068 gone, 81011 not ours), are mapped to the same field errors,
for the cases Siyu could not see coming (a tag made in WeCom meanwhile).

No WeCom call runs inside a database transaction: each change is validated, made in WeCom, then written;
when the write fails, the WeCom change is undone where WeCom allows it (a deletion cannot be undone there,
and the next sync removes what WeCom no longer lists).

Personal tags (个人标签) belong to one staff member and live only in Siyu.
"""

from __future__ import annotations

import logging
import unicodedata

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from siyu.customers import services as mirror
from siyu.customers.models import ProtectedLabel, Relation, RelationTag, Tag, TagGroup
from siyu.customers.tagging import check as check_tags
from siyu.customers.tagging import tag_relation, untag_relation
from siyu.orgs import audit
from siyu.orgs.models import AuditEntry
from siyu.wecom.client import WeComClient
from siyu.wecom.errors import NotConnected, NotExternalContact, WeComError

MAX_NAME = 30  # WeCom: group_name and tag name ≤ 30 characters (reference §3.3)
MAX_CORP_TAGS = 3000  # WeCom: ≤ 3000 corp tags per corp, strategy tags included (reference §3.3)
# WeCom errcodes this module branches on (doc 90313): the names say what happened.
DUPLICATE_NAME, TAG_LIMIT, UNKNOWN_TAG, NOT_OUR_TAG = 40071, 40126, 40068, 81011
SEEDED_ACTION = "protected_labels.seeded"

log = logging.getLogger(__name__)

PROTECTION_EXPLANATION = gettext_lazy(
    "标签不能把客户标记为“容易被误导、容易被利用”的人：这类标签会让弱势人群（如老人）被反复推送低质甚至欺骗性的"
    "内容（315 晚会曾曝光此类做法）。请按客户的需求和偏好打标签，例如“关注健康”“偏好线下门店”。"
)

# The default list every organization starts with: labels that mark people as exploitable rather than describe
# what they want. Matching is by containment after normalization, so each word is specific enough not to catch
# honest product or preference tags (e.g. "割韭菜", not "韭菜", which a food brand may sell).
DEFAULT_PROTECTED_LABELS: list[tuple[str, str]] = [
    # Easy to mislead or persuade (seed 000's own example).
    ("容易被误导", "把人标记为容易被误导，会被用来推送误导性内容。"),
    ("易被误导", "把人标记为容易被误导，会被用来推送误导性内容。"),
    ("容易被诱导", "把人标记为容易被诱导，会被用来推送诱导性营销。"),
    ("易被诱导", "把人标记为容易被诱导，会被用来推送诱导性营销。"),
    ("好骗", "把人标记为容易受骗，是欺诈营销的目标清单。"),
    ("容易上当", "把人标记为容易受骗，是欺诈营销的目标清单。"),
    ("易上当", "把人标记为容易受骗，是欺诈营销的目标清单。"),
    ("易受骗", "把人标记为容易受骗，是欺诈营销的目标清单。"),
    ("轻信", "把人标记为轻信他人，会被用来施加营销压力。"),
    ("耳根子软", "把人标记为难以拒绝推销，会被用来施加营销压力。"),
    ("不会拒绝", "把人标记为难以拒绝推销，会被用来施加营销压力。"),
    # Contempt for customers as prey.
    ("割韭菜", "把客户当作收割对象，违背诚信经营。"),
    ("待收割", "把客户当作收割对象，违背诚信经营。"),
    ("人傻钱多", "贬损客户并把其标记为可利用对象。"),
    ("冤大头", "贬损客户并把其标记为可利用对象。"),
    ("软柿子", "贬损客户并把其标记为可利用对象。"),
    # Weaknesses that invite pressure selling.
    ("冲动消费", "把人标记为会冲动消费，会被用来制造紧迫感、诱导超出需要的购买。"),
    ("冲动型消费", "把人标记为会冲动消费，会被用来制造紧迫感、诱导超出需要的购买。"),
    ("容易冲动", "把人标记为会冲动消费，会被用来制造紧迫感、诱导超出需要的购买。"),
    ("贪小便宜", "把人标记为容易被小利诱导，常用于设计诱导套路。"),
    ("爱占便宜", "把人标记为容易被小利诱导，常用于设计诱导套路。"),
    # Cognitive health: sensitive personal information, and the core of elder-targeted scams.
    ("老年痴呆", "认知健康属于敏感个人信息，且会被用来针对老人营销。"),
    ("痴呆", "认知健康属于敏感个人信息，且会被用来针对老人营销。"),
    ("认知障碍", "认知健康属于敏感个人信息，且会被用来针对老人营销。"),
    ("判断力差", "把人标记为缺乏判断力，会被用来推送误导性内容。"),
    ("没有判断力", "把人标记为缺乏判断力，会被用来推送误导性内容。"),
    ("不懂辨别", "把人标记为缺乏判断力，会被用来推送误导性内容。"),
    # Loneliness and distress, which scams exploit.
    ("孤独好攻", "把人的孤独当作营销突破口。"),
    ("寂寞空虚", "把人的孤独当作营销突破口。"),
    ("缺乏陪伴易成交", "把人的孤独当作营销突破口。"),
    ("病急乱投医", "把人的病痛和焦虑当作营销突破口。"),
    ("急需用钱", "把人的经济困境当作营销突破口（常见于高息借贷诱导）。"),
    ("情绪脆弱", "把人的情绪状态当作营销突破口。"),
    ("容易焦虑", "把人的情绪状态当作营销突破口。"),
]


# -- names -----------------------------------------------------------------------------------------------
def normalize_label(text: str) -> str:
    """The form labels are compared in: full-width folded, case folded, spaces and punctuation dropped,
    so "容易 被误导" and "容易被误导！" both contain "容易被误导"."""
    folded = unicodedata.normalize("NFKC", text or "").casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")


def seed_protected_labels(org, *, force: bool = False) -> int:
    """Give ``org`` the default protected labels once (an organization may later remove some; they stay removed).

    Returns how many were added. ``force`` re-adds the missing defaults (the labels page's "restore" action).
    """
    if not force and AuditEntry.objects.for_org(org).filter(action=SEEDED_ACTION).exists():
        return 0
    have = set(ProtectedLabel.objects.for_org(org).values_list("word", flat=True))
    new = [ProtectedLabel(org=org, word=word, reason=reason, is_default=True)
           for word, reason in DEFAULT_PROTECTED_LABELS if word not in have]
    ProtectedLabel.objects.bulk_create(new, ignore_conflicts=True)
    audit.record(SEEDED_ACTION, org=org, actor=None, details={"added": [label.word for label in new]})
    return len(new)


def protected_labels(org) -> list[ProtectedLabel]:
    seed_protected_labels(org)
    return list(ProtectedLabel.objects.for_org(org))


def protected_match(org, name: str) -> ProtectedLabel | None:
    """The protected label ``name`` contains, if any."""
    normalized = normalize_label(name)
    if not normalized:
        return None
    for label in protected_labels(org):
        word = normalize_label(label.word)
        if word and word in normalized:
            return label
    return None


def _refuse_protected(org, name: str, field: str) -> None:
    label = protected_match(org, name)
    if label is not None:
        raise ValidationError({field: _("“%(name)s”含有受保护词“%(word)s”，不能用作标签。%(reason)s%(why)s") % {
            "name": name, "word": label.word, "reason": label.reason, "why": PROTECTION_EXPLANATION}})


def check_name(org, name: str, *, field: str = "name", siblings=None, what: str = "") -> str:
    """The cleaned name, or a field error: empty, over WeCom's 30 characters, protected, or a duplicate among
    ``siblings`` (a queryset of the live rows it must differ from)."""
    what = what or _("标签")
    name = (name or "").strip()
    if not name:
        raise ValidationError({field: _("请输入%(what)s名称。") % {"what": what}})
    if len(name) > MAX_NAME:
        raise ValidationError({field: _("%(what)s名称最多 %(max)d 个字（企业微信的限制），“%(name)s”有 %(n)d 个字。") % {
            "what": what, "max": MAX_NAME, "name": name, "n": len(name)}})
    _refuse_protected(org, name, field)
    if siblings is not None and siblings.filter(name=name).exists():
        raise ValidationError({field: _("已有名为“%(name)s”的%(what)s，请换一个名称。") % {"name": name, "what": what}})
    return name


def _check_names(org, names, *, group: TagGroup | None, field: str) -> list[str]:
    cleaned, seen = [], set()
    siblings = Tag.objects.for_org(org).filter(group=group, deleted=False) if group is not None else None
    for raw in names:
        name = check_name(org, raw, field=field, siblings=siblings)
        if name in seen:
            raise ValidationError({field: _("“%(name)s”重复填写了。") % {"name": name}})
        seen.add(name)
        cleaned.append(name)
    if not cleaned:
        raise ValidationError({field: _("请至少填写一个标签。")})
    return cleaned


def corp_tag_count(org) -> int:
    return Tag.objects.for_org(org).filter(kind=Tag.Kind.CORP, deleted=False).count()


def _check_room(org, adding: int, field: str) -> None:
    count = corp_tag_count(org)
    if count + adding > MAX_CORP_TAGS:
        raise ValidationError({field: _(
            "企业标签已达企业微信的上限：每个企业最多 %(max)d 个（现有 %(count)d 个，本次新增 %(adding)d 个）。"
            "请先删除不再使用的标签。") % {"max": MAX_CORP_TAGS, "count": count, "adding": adding}})


# -- WeCom -----------------------------------------------------------------------------------------------
def _client(org, client):
    if client is not None:
        return client
    try:
        return WeComClient.for_org(org)
    except NotConnected as error:
        raise ValidationError(_("尚未连接企业微信：%(hint)s") % {"hint": error.hint}) from None


READ_ONLY_REASON = gettext_lazy(
    "该标签由企业微信管理员在管理后台创建。企业微信只允许创建标签的应用修改、排序或删除它，"
    "请到企业微信管理后台“客户联系 → 客户标签”中修改，改动会自动同步到这里。"
)


def read_only_reason(row: Tag | TagGroup) -> str | None:
    """Why Siyu cannot change a corp tag or group, or None when it can (doc 92117: only the creating app may)."""
    if isinstance(row, Tag) and row.kind == Tag.Kind.PERSONAL:
        return None
    if row.wecom_id and not row.made_by_app:
        return str(READ_ONLY_REASON)
    return None


def _refuse_read_only(*rows) -> None:
    for row in rows:
        reason = read_only_reason(row)
        if reason:
            raise ValidationError(_("“%(name)s”不能在思语中修改：%(reason)s") % {"name": row.name, "reason": reason})


def _wecom_error(error: WeComError, field: str) -> ValidationError:
    """WeCom's refusal, by errcode, as the field error the person can act on."""
    if error.errcode == DUPLICATE_NAME:
        return ValidationError({field: _("企业微信中已有同名标签（可能是刚在企业微信后台创建的），请换一个名称，或先同步标签。")})
    if error.errcode == TAG_LIMIT:
        return ValidationError({field: _("企业微信提示企业标签数量已达上限（每个企业最多 %(max)d 个），请先删除不再使用的标签。") % {
            "max": MAX_CORP_TAGS}})
    if error.errcode == UNKNOWN_TAG:
        return ValidationError(_("该标签或标签组在企业微信中已不存在，请先点击“从企业微信同步”。"))
    if error.errcode == NOT_OUR_TAG:
        return ValidationError(str(READ_ONLY_REASON))
    return ValidationError(_("企业微信拒绝了操作（错误码 %(code)s）：%(hint)s") % {"code": error.errcode, "hint": error.hint})


def _call(org, client, path: str, body: dict, *, field: str = "name") -> dict:
    own = client is None
    client = _client(org, client)
    try:
        return client.post(path, body)
    except WeComError as error:
        if error.errcode == NOT_OUR_TAG:
            _mark_read_only(org, body)
        raise _wecom_error(error, field) from None
    finally:
        if own:
            client.close()


def _mark_read_only(org, body: dict) -> None:
    """WeCom says the app did not create these (a tag from before Siyu kept track): show them read-only."""
    ids = [body["id"]] if body.get("id") else list(body.get("tag_id") or []) + list(body.get("group_id") or [])
    Tag.objects.for_org(org).filter(wecom_id__in=ids).update(made_by_app=False)
    TagGroup.objects.for_org(org).filter(wecom_id__in=ids).update(made_by_app=False)


def _undo(org, client, path: str, body: dict) -> None:
    """Best-effort undo in WeCom after a local write failed; the write's own error is what the caller sees."""
    try:
        _call(org, client, path, body)
    except ValidationError:
        log.warning("could not undo %s %s in WeCom after a failed write; the next sync repairs it", path, body)


def _written(org, client, write, undo: tuple[str, dict] | None):
    """Run ``write`` in a transaction after the WeCom call succeeded; undo the WeCom change if it fails."""
    try:
        with transaction.atomic():
            return write()
    except Exception:
        if undo is not None:
            _undo(org, client, *undo)
        raise


def _group_from_answer(org, answer: dict, group: TagGroup | None = None) -> tuple[TagGroup, list[Tag]]:
    """Rows for what add_corp_tag created: made by this app, so Siyu may change them later."""
    data = answer.get("tag_group") or {}
    if group is None:
        group, _ = TagGroup.objects.for_org(org).update_or_create(
            org=org, wecom_id=data["group_id"],
            defaults={"name": data.get("group_name", "")[:MAX_NAME], "order": int(data.get("order") or 0), "deleted": False,
                      "made_by_app": True},
        )
    tags = []
    for item in data.get("tag") or []:
        tag, _ = Tag.objects.for_org(org).update_or_create(
            org=org, wecom_id=item["id"],
            defaults={"group": group, "kind": Tag.Kind.CORP, "name": item.get("name", "")[:MAX_NAME],
                      "order": int(item.get("order") or 0), "deleted": False, "owner": None, "made_by_app": True},
        )
        tags.append(tag)
    return group, tags


# -- corp tag groups and tags ------------------------------------------------------------------------------
def create_tag_group(org, *, name: str, tags: list[str], by=None, client=None) -> TagGroup:
    """Create a corp tag group with its first tags in WeCom (a group cannot be empty there), then locally."""
    live_groups = TagGroup.objects.for_org(org).filter(deleted=False)
    # WeCom would quietly add the tags to an existing group of the same name: say so instead.
    name = check_name(org, name, field="name", siblings=live_groups, what=_("标签组"))
    names = _check_names(org, tags, group=None, field="tags")
    _check_room(org, len(names), "tags")
    top = live_groups.aggregate(top=Max("order"))["top"] or 0
    answer = _call(org, client, "externalcontact/add_corp_tag", {
        "group_name": name, "order": top + 1,
        "tag": [{"name": n, "order": len(names) - i} for i, n in enumerate(names)],
    }, field="tags")

    def write():
        group, created = _group_from_answer(org, answer)
        audit.record("tags.group_created", org=org, actor=by, obj=group, details={"tags": [t.name for t in created]})
        return group

    return _written(org, client, write, ("externalcontact/del_corp_tag", {"group_id": [answer["tag_group"]["group_id"]]}))


def add_tags(group: TagGroup, names: list[str], *, by=None, client=None) -> list[Tag]:
    """Add corp tags to an existing group, in WeCom first."""
    org = group.org
    if group.deleted or not group.wecom_id:
        raise ValidationError(_("标签组“%(name)s”尚未同步到企业微信或已删除，请先同步标签。") % {"name": group.name})
    names = _check_names(org, names, group=group, field="name")
    _check_room(org, len(names), "name")
    answer = _call(org, client, "externalcontact/add_corp_tag", {
        "group_id": group.wecom_id, "tag": [{"name": n, "order": 0} for n in names],
    })

    def write():
        _, created = _group_from_answer(org, answer, group)
        audit.record("tags.created", org=org, actor=by, obj=group, details={"tags": [t.name for t in created]})
        return created

    new_ids = [item["id"] for item in (answer.get("tag_group") or {}).get("tag") or []]
    return _written(org, client, write, ("externalcontact/del_corp_tag", {"tag_id": new_ids}))


def rename_tag(tag: Tag, name: str, *, by=None, client=None) -> Tag:
    """Rename a corp tag (in WeCom first) or a personal tag."""
    org = tag.org
    _refuse_read_only(tag)
    if tag.kind == Tag.Kind.PERSONAL:
        siblings = Tag.objects.for_org(org).filter(kind=Tag.Kind.PERSONAL, owner=tag.owner, deleted=False).exclude(pk=tag.pk)
    else:
        siblings = Tag.objects.for_org(org).filter(group=tag.group, deleted=False).exclude(pk=tag.pk)
    old = tag.name
    name = check_name(org, name, siblings=siblings)
    if name == old:
        return tag
    undo = None
    if tag.kind == Tag.Kind.CORP:
        _call(org, client, "externalcontact/edit_corp_tag", {"id": tag.wecom_id, "name": name})
        undo = ("externalcontact/edit_corp_tag", {"id": tag.wecom_id, "name": old})

    def write():
        tag.name = name
        tag.save(update_fields=["name"])
        audit.record("tags.renamed", org=org, actor=by, obj=tag, details={"from": old, "to": name, "kind": tag.kind})
        return tag

    return _written(org, client, write, undo)


def rename_tag_group(group: TagGroup, name: str, *, by=None, client=None) -> TagGroup:
    org = group.org
    _refuse_read_only(group)
    siblings = TagGroup.objects.for_org(org).filter(deleted=False).exclude(pk=group.pk)
    old = group.name
    name = check_name(org, name, siblings=siblings, what=_("标签组"))
    if name == old:
        return group
    _call(org, client, "externalcontact/edit_corp_tag", {"id": group.wecom_id, "name": name})

    def write():
        group.name = name
        group.save(update_fields=["name"])
        audit.record("tags.group_renamed", org=org, actor=by, obj=group, details={"from": old, "to": name})
        return group

    return _written(org, client, write, ("externalcontact/edit_corp_tag", {"id": group.wecom_id, "name": old}))


def _customers_with(tags) -> int:
    return RelationTag.objects.for_org(tags[0].org_id).filter(tag__in=tags).values("relation__customer_id").distinct().count()


def delete_tag(tag: Tag, *, by=None, client=None) -> int:
    """Delete a tag: it leaves every customer. Returns how many customers had it. A corp group left empty is
    deleted too, as WeCom does."""
    org = tag.org
    _refuse_read_only(tag)
    affected = _customers_with([tag])
    in_wecom = tag.kind == Tag.Kind.CORP and tag.wecom_id
    if in_wecom:
        _call(org, client, "externalcontact/del_corp_tag", {"tag_id": [tag.wecom_id]})

    def write():
        if in_wecom:
            mirror.delete_tag_or_group(org, tag.wecom_id, "tag")
        else:
            RelationTag.objects.for_org(org).filter(tag=tag).delete()
            Tag.objects.for_org(org).filter(pk=tag.pk).update(deleted=True)
        if tag.group_id and not Tag.objects.for_org(org).filter(group_id=tag.group_id, deleted=False).exists():
            TagGroup.objects.for_org(org).filter(pk=tag.group_id).update(deleted=True)
        audit.record("tags.deleted", org=org, actor=by, obj=tag,
                     details={"name": tag.name, "kind": tag.kind, "customers": affected})
        return affected

    return _written(org, client, write, None)  # WeCom cannot undelete; the next sync drops the row


def delete_tag_group(group: TagGroup, *, by=None, client=None) -> int:
    """Delete a group with all its tags (WeCom deletes them with it and sends no per-tag callbacks)."""
    org = group.org
    tags = list(Tag.objects.for_org(org).filter(group=group, deleted=False))
    _refuse_read_only(group, *tags)
    affected = _customers_with(tags) if tags else 0
    if group.wecom_id:
        _call(org, client, "externalcontact/del_corp_tag", {"group_id": [group.wecom_id]})

    def write():
        if group.wecom_id:
            mirror.delete_tag_or_group(org, group.wecom_id, "tag_group")
        else:
            RelationTag.objects.for_org(org).filter(tag__group=group).delete()
            Tag.objects.for_org(org).filter(group=group).update(deleted=True)
            TagGroup.objects.for_org(org).filter(pk=group.pk).update(deleted=True)
        audit.record("tags.group_deleted", org=org, actor=by, obj=group,
                     details={"name": group.name, "tags": [t.name for t in tags], "customers": affected})
        return affected

    return _written(org, client, write, None)


def _reorder(rows: list, moving, direction: str) -> list:
    """``rows`` in display order with ``moving`` one step up or down."""
    index = next(i for i, row in enumerate(rows) if row.pk == moving.pk)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(rows):
        rows[index], rows[other] = rows[other], rows[index]
    return rows


def move_tag(tag: Tag, direction: str, *, by=None, client=None) -> None:
    """Move a corp tag one place up or down in its group. WeCom shows larger ``order`` first, so the group's tags
    are renumbered n…1 and only the tags whose number changed are sent with ``edit_corp_tag``."""
    org = tag.org
    rows = _reorder(list(Tag.objects.for_org(org).filter(group_id=tag.group_id, deleted=False).order_by("-order", "id")), tag, direction)
    _renumber(org, rows, client, lambda: audit.record("tags.reordered", org=org, actor=by, obj=tag,
                                                      details={"direction": direction}))


def move_tag_group(group: TagGroup, direction: str, *, by=None, client=None) -> None:
    org = group.org
    rows = _reorder(list(TagGroup.objects.for_org(org).filter(deleted=False).order_by("-order", "id")), group, direction)
    _renumber(org, rows, client, lambda: audit.record("tags.group_reordered", org=org, actor=by, obj=group,
                                                      details={"direction": direction}))


def _renumber(org, rows: list, client, record) -> None:
    """Send the new ``order`` of every row whose number changed, then write them all; a row Siyu's app did not
    create cannot be renumbered in WeCom, so such a move is refused before any call."""
    changed = [(row, len(rows) - position, row.order) for position, row in enumerate(rows) if row.order != len(rows) - position]
    if not changed:
        return
    _refuse_read_only(*[row for row, _new, _old in changed])
    own = client is None
    client = _client(org, client)
    sent = []
    try:
        for row, new, old in changed:
            if row.wecom_id:
                try:
                    _call(org, client, "externalcontact/edit_corp_tag", {"id": row.wecom_id, "order": new}, field="order")
                except ValidationError:
                    for done, _new, before in sent:  # put back the ones already moved
                        _undo(org, client, "externalcontact/edit_corp_tag", {"id": done.wecom_id, "order": before})
                    raise
                sent.append((row, new, old))

        def write():
            for row, new, _old in changed:
                row.order = new
                type(row).objects.for_org(org).filter(pk=row.pk).update(order=new)
            record()

        _written(org, client, write, None)
    finally:
        if own:
            client.close()


def pull_corp_tags(org, *, by=None, client=None) -> dict:
    """Make the local corp tags WeCom's. Groups and tags created in Siyu while WeCom was not connected (no
    ``wecom_id``) are matched to WeCom's by name or created there; then ``get_corp_tag_list`` is mirrored and
    whatever WeCom no longer lists is deleted."""
    own = client is None
    client = _client(org, client)
    try:
        try:
            groups = client.post("externalcontact/get_corp_tag_list", {}).get("tag_group") or []
            if _push_pending(org, client, groups):
                groups = client.post("externalcontact/get_corp_tag_list", {}).get("tag_group") or []
        except WeComError as error:
            raise _wecom_error(error, "name") from None
    finally:
        if own:
            client.close()
    with transaction.atomic():
        return _mirror_tag_list(org, groups, by)


def _mirror_tag_list(org, groups: list[dict], by) -> dict:
    mirror.upsert_tag_groups(org, groups)
    live_groups = {g["group_id"] for g in groups}
    live_tags = {t["id"] for g in groups for t in g.get("tag") or []}
    removed = 0
    for wecom_id in TagGroup.objects.for_org(org).filter(deleted=False).exclude(wecom_id="").values_list("wecom_id", flat=True):
        if wecom_id not in live_groups:
            mirror.delete_tag_or_group(org, wecom_id, "tag_group")
            removed += 1
    for wecom_id in Tag.objects.for_org(org).filter(kind=Tag.Kind.CORP, deleted=False).exclude(wecom_id="").values_list("wecom_id", flat=True):
        if wecom_id not in live_tags:
            mirror.delete_tag_or_group(org, wecom_id, "tag")
            removed += 1
    result = {"groups": len(live_groups), "tags": len(live_tags), "removed": removed}
    audit.record("tags.synced", org=org, actor=by, details=result)
    return result


def _push_pending(org, client, wecom_groups: list[dict]) -> int:
    """Give local-only groups and tags their WeCom ids: adopt WeCom's of the same name, create the rest.
    Returns how many were created in WeCom."""
    by_name = {g["group_name"]: g for g in wecom_groups}
    created = 0
    for group in TagGroup.objects.for_org(org).filter(deleted=False):
        pending = list(Tag.objects.for_org(org).filter(group=group, kind=Tag.Kind.CORP, deleted=False, wecom_id=""))
        if not group.wecom_id and group.name in by_name:
            group.wecom_id = by_name[group.name]["group_id"]
            group.save(update_fields=["wecom_id"])
        known = {t["name"]: t["id"] for g in wecom_groups if g["group_id"] == group.wecom_id for t in g.get("tag") or []}
        for tag in [t for t in pending if t.name in known]:
            Tag.objects.for_org(org).filter(pk=tag.pk).update(wecom_id=known[tag.name])
        pending = [t for t in pending if t.name not in known]
        if not pending:
            continue
        body = {"tag": [{"name": t.name, "order": t.order} for t in pending]}
        body.update({"group_id": group.wecom_id} if group.wecom_id else {"group_name": group.name, "order": group.order})
        data = client.post("externalcontact/add_corp_tag", body).get("tag_group") or {}
        if not group.wecom_id:
            group.wecom_id = data.get("group_id", "")
            group.made_by_app = True
            group.save(update_fields=["wecom_id", "made_by_app"])
        ids = {item["name"]: item["id"] for item in data.get("tag") or []}
        for tag in pending:
            if tag.name in ids:
                Tag.objects.for_org(org).filter(pk=tag.pk).update(wecom_id=ids[tag.name], made_by_app=True)
                created += 1
    return created


def ensure_local_group(org, name: str, tag_names: list[str]) -> TagGroup:
    """A group and tags created in Siyu only, to be pushed to WeCom by :func:`pull_corp_tags` once connected
    (the demo brand starts like this). Idempotent by names; names are checked like any other."""
    group = TagGroup.objects.for_org(org).filter(name=name, deleted=False).first()
    if group is None:
        name = check_name(org, name, what=_("标签组"))
        top = TagGroup.objects.for_org(org).filter(deleted=False).aggregate(top=Max("order"))["top"] or 0
        group = TagGroup.objects.create(org=org, name=name, order=top + 1)
    have = set(Tag.objects.for_org(org).filter(group=group, deleted=False).values_list("name", flat=True))
    missing = [n for n in tag_names if n not in have]
    if missing:
        names = _check_names(org, missing, group=group, field="name")
        _check_room(org, len(names), "name")
        Tag.objects.bulk_create([Tag(org=org, group=group, kind=Tag.Kind.CORP, name=n, order=len(tag_names) - tag_names.index(n))
                                 for n in names])
    return group


# -- personal tags -----------------------------------------------------------------------------------------
def personal_tags(staff):
    return Tag.objects.for_org(staff.org_id).filter(kind=Tag.Kind.PERSONAL, owner=staff, deleted=False).order_by("name", "id")


@transaction.atomic
def create_personal_tag(staff, name: str, *, by=None) -> Tag:
    """A tag only this staff member uses on their own customers; it stays in Siyu (WeCom has no API for them)."""
    name = check_name(staff.org, name, siblings=personal_tags(staff))
    tag = Tag.objects.create(org_id=staff.org_id, kind=Tag.Kind.PERSONAL, owner=staff, name=name)
    audit.record("tags.personal_created", org=staff.org_id, actor=by, obj=tag, details={"staff": staff.userid})
    return tag


# -- tags on a customer, as the viewer may give them -------------------------------------------------------
def staff_of(viewer):
    """The WeCom member row of a console member, or None (remembered on the membership for the request)."""
    from siyu.orgs.models import Staff

    if not hasattr(viewer, "_customers_staff"):
        viewer._customers_staff = Staff.objects.for_org(viewer.org_id).filter(membership_id=viewer.pk).first()
    return viewer._customers_staff


def taggable_relations(viewer, customer, tag: Tag | None = None):
    """The customer's active friendships the viewer may tag on: a guide their own, a manager their stores',
    HQ every one. A personal tag goes only on its owner's friendship."""
    relations = Relation.objects.visible_to(viewer).filter(customer=customer, status=Relation.Status.ACTIVE)
    if tag is not None and tag.kind == Tag.Kind.PERSONAL:
        relations = relations.filter(staff_id=tag.owner_id)
    return relations.select_related("staff", "customer", "org")


def _wecom_refusal(error: WeComError) -> ValidationError:
    if isinstance(error, NotExternalContact):
        return ValidationError({"tags": _("企业微信提示该员工与客户已不是好友，请先同步客户。")})
    return ValidationError({"tags": _("企业微信拒绝了打标签（错误码 %(code)s）：%(hint)s") % {"code": error.errcode, "hint": error.hint}})


def tag_customer_as(viewer, customer, tags: list[Tag], *, source: str = RelationTag.Source.MANUAL, source_ref: str = "",
                    client=None) -> int:
    """Put ``tags`` on a customer through every friendship the viewer may tag on; returns links added.

    Everything is validated first; then each friendship is marked in WeCom and written here, one at a time and
    outside any transaction (``tag_relation`` takes the mark off in WeCom again if the write fails). If WeCom
    refuses a later friendship, the ones before it stay tagged on both sides.
    """
    plan = []
    for tag in tags:
        relations = list(taggable_relations(viewer, customer, tag))
        if not relations:
            raise ValidationError({"tags": _("你与该客户没有可打“%(name)s”的有效好友关系。") % {"name": tag.name}})
        for relation in relations:
            check_tags(relation, [tag])
        plan.append((tag, relations))
    added = 0
    own = client is None and any(t.kind == Tag.Kind.CORP for t in tags)
    if own:
        client = _client(customer.org, None)
    try:
        for tag, relations in plan:
            for relation in relations:
                added += len(tag_relation(relation, [tag], source=source, source_ref=source_ref,
                                                  actor=viewer.user, client=client))
    except WeComError as error:
        raise _wecom_refusal(error) from None
    finally:
        if own:
            client.close()
    return added


def untag_customer_as(viewer, customer, tags: list[Tag], *, source: str = RelationTag.Source.MANUAL, client=None) -> int:
    """Take ``tags`` off a customer on every friendship the viewer may tag on; returns links removed.

    Each friendship is unmarked in WeCom, then written here, outside any transaction (``untag_relation`` puts
    the mark back in WeCom if the write fails)."""
    relations = list(Relation.objects.visible_to(viewer).filter(customer=customer).select_related("staff", "customer", "org"))
    removed = 0
    own = client is None and any(t.kind == Tag.Kind.CORP for t in tags)
    if own:
        client = _client(customer.org, None)
    try:
        for relation in relations:
            removed += len(untag_relation(relation, tags, source=source, actor=viewer.user, client=client))
    except WeComError as error:
        raise _wecom_refusal(error) from None
    finally:
        if own:
            client.close()
    return removed


def usable_tags(viewer):
    """Tags the viewer may put on customers: the live corp tags synced with WeCom and their own personal tags."""
    from django.db.models import Q

    tags = Tag.objects.for_org(viewer.org_id).filter(deleted=False)
    staff = staff_of(viewer)
    mine = Q(kind=Tag.Kind.PERSONAL, owner=staff) if staff is not None else Q(pk__in=[])
    return tags.filter(Q(kind=Tag.Kind.CORP) & ~Q(wecom_id="") | mine).select_related("group").order_by(
        "kind", "-group__order", "group_id", "-order", "id")


# -- protected labels ------------------------------------------------------------------------------------
@transaction.atomic
def add_protected_label(org, word: str, *, reason: str = "", by=None) -> ProtectedLabel:
    seed_protected_labels(org)
    word = (word or "").strip()
    if not normalize_label(word):
        raise ValidationError({"word": _("请输入受保护词（至少包含一个文字或数字）。")})
    if len(word) > MAX_NAME:
        raise ValidationError({"word": _("受保护词最多 %(max)d 个字。") % {"max": MAX_NAME}})
    if ProtectedLabel.objects.for_org(org).filter(word=word).exists():
        raise ValidationError({"word": _("“%(word)s”已在受保护词列表中。") % {"word": word}})
    try:
        with transaction.atomic():
            label = ProtectedLabel.objects.create(org=org, word=word, reason=(reason or "").strip()[:200],
                                                  created_by=by if by is not None and by.pk else None)
    except IntegrityError:
        raise ValidationError({"word": _("“%(word)s”已在受保护词列表中。") % {"word": word}}) from None
    audit.record("protected_labels.added", org=org, actor=by, obj=label, details={"word": word, "reason": label.reason})
    return label


@transaction.atomic
def remove_protected_label(label: ProtectedLabel, *, by=None) -> None:
    audit.record("protected_labels.removed", org=label.org_id, actor=by, obj=label,
                 details={"word": label.word, "reason": label.reason, "was_default": label.is_default})
    ProtectedLabel.objects.for_org(label.org_id).filter(pk=label.pk).delete()


def restore_default_labels(org, *, by=None) -> int:
    added = seed_protected_labels(org, force=True)
    if added:
        audit.record("protected_labels.restored", org=org, actor=by, details={"added": added})
    return added


def conflicting_tags(org) -> list[tuple[Tag, ProtectedLabel]]:
    """Live tags whose names contain a protected label: made in WeCom's own console, or before the word was
    protected. The labels page lists them so HQ can delete them."""
    labels = [(normalize_label(label.word), label) for label in protected_labels(org)]
    found = []
    for tag in Tag.objects.for_org(org).filter(deleted=False).select_related("group", "owner"):
        name = normalize_label(tag.name)
        match = next((label for word, label in labels if word and word in name), None)
        if match is not None:
            found.append((tag, match))
    return found
