"""Extension points of the customer pages: other apps add profile sections, list filters and timeline kinds.

Register from your app's ``AppConfig.ready()`` (registration is idempotent by key, so a re-import is harmless)::

    from siyu.customers.profile import register_list_filter, register_profile_section, register_timeline_kind

    # 1. A section on the customer profile (360) page.
    def stage_section(customer, viewer):
        '''The context for the template, or None to leave the section out for this customer/viewer.'''
        return {"stage": current_stage(customer)}

    register_profile_section("lifecycle/_profile_stage.html", stage_section, order=20, title=_("客户阶段"))

    # 2. A filter on the customer list (and on the bulk actions and the API, which reuse the list's filters).
    register_list_filter(
        "stage", label=_("客户阶段"),
        field=lambda viewer: forms.ModelChoiceField(queryset=Stage.objects.visible_to(viewer), required=False),
        apply=lambda customers, value, viewer: customers.filter(pk__in=CustomerStage.objects.visible_to(viewer)
                                                                .filter(stage=value).values("customer_id")),
        order=10,
    )

    # 3. A column of the customer list and its Excel export: the text for each customer of a page.
    register_list_column("stage", label=_("客户阶段"), values=lambda org, ids: stage_names(org, ids), order=10)

    # 4. How a timeline event kind reads on the profile (Chinese first; the function gets the TimelineEvent).
    register_timeline_kind("material_opened", lambda e: _("打开了素材“%(title)s”") % {"title": e.data.get("title", "")})

Rules the customer pages rely on:

* ``context_func(customer, viewer)`` runs inside the request; read only through ``for_org``/``visible_to``.
  The section template is rendered with its dict plus ``customer`` and ``viewer`` (and the request's context),
  inside a card headed by ``title``.
* A list filter's ``field(viewer)`` is an ordinary optional Django form field: the list's form validates the
  query string with it, so bad input shows as a form error and never reaches ``apply``. ``apply(queryset,
  value, viewer)`` runs only for a non-empty cleaned value and returns the narrowed ``Customer`` queryset.
  Write it as one ``customers.filter(pk__in=<queryset of customer ids>)`` (or ``customers.exclude(pk__in=…)``),
  the subquery scoped with ``for_org`` and ``.values("customer_id")``: the list recognizes that shape and plans
  it with the other filters (read the smallest set, probe the rest on their indexes), which is what keeps a
  million customers fast. Any other shape is applied as it is. Bulk jobs re-run the same filters outside the
  request with the same viewer.
* The query parameter is the filter's key; built-in parameters (``q``, ``tags``, ``tag_mode``, ``staff``,
  ``store``, ``group``, ``in_group``, ``status``, ``added_from``, ``added_to``, ``sort``, ``after``, ``before``)
  cannot be taken.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

RESERVED_KEYS = frozenset({
    "q", "tags", "tag_mode", "staff", "store", "group", "in_group", "status", "added_from", "added_to",
    "sort", "after", "before", "page", "ids", "scope", "action", "cols", "size",
})


@dataclass(frozen=True)
class ProfileSection:
    key: str
    template_name: str
    context_func: Callable[[Any, Any], dict | None]
    order: int
    title: str = ""


@dataclass(frozen=True)
class ListFilter:
    key: str
    label: str
    field: Callable[[Any], Any]
    apply: Callable[[Any, Any, Any], Any]
    order: int


@dataclass(frozen=True)
class ListColumn:
    key: str
    label: str
    values: Callable[[Any, list[int]], dict[int, str]]
    order: int


_SECTIONS: dict[str, ProfileSection] = {}
_COLUMNS: dict[str, ListColumn] = {}
_FILTERS: dict[str, ListFilter] = {}
_TIMELINE_KINDS: dict[str, Callable[[Any], str]] = {}
_REFERENCES: dict[str, Callable[[int, str], str | None]] = {}


def register_profile_section(template_name: str, context_func: Callable, order: int = 100, *, key: str | None = None,
                             title: str = "") -> ProfileSection:
    """Add a section to the profile page; sections are shown by ``order`` (built-ins use 10, 50, 90)."""
    section = ProfileSection(key or template_name, template_name, context_func, order, title)
    _SECTIONS[section.key] = section
    return section


def register_list_filter(key: str, *, label: str, field: Callable, apply: Callable, order: int = 100) -> ListFilter:
    """Add a filter to the customer list: ``field(viewer)`` builds the form field, ``apply`` narrows the rows."""
    if key in RESERVED_KEYS:
        raise ValueError(f"list filter key {key!r} is a built-in parameter of the customer list")
    list_filter = ListFilter(key, label, field, apply, order)
    _FILTERS[key] = list_filter
    return list_filter


def register_list_column(key: str, *, label: str, values: Callable, order: int = 100) -> ListColumn:
    """Add a column to the customer list and its export: ``values(org_id, customer_ids)`` → text by customer id,
    read for a whole page (or export chunk) at once."""
    if key in RESERVED_KEYS:
        raise ValueError(f"list column key {key!r} is a built-in parameter of the customer list")
    column = ListColumn(key, label, values, order)
    _COLUMNS[key] = column
    return column


def register_timeline_kind(kind: str, render: Callable[[Any], str]) -> None:
    """Say how events of ``kind`` read on the timeline: ``render(event) -> str`` (translated, plain text)."""
    _TIMELINE_KINDS[kind] = render


def register_reference(prefix: str, render: Callable[[int, str], str | None]) -> None:
    """Say how a reference such as ``channel:5`` (a tag's source, an event's origin) reads:
    ``render(org_id, value) -> str | None`` (None when the row is gone)."""
    _REFERENCES[prefix] = render


def reference_label(org_id: int, reference: str) -> str:
    """``channel:5`` as its owner app names it (the channel's name); a reference nobody names reads as nothing,
    never as the raw key."""
    prefix, _colon, value = (reference or "").partition(":")
    render = _REFERENCES.get(prefix)
    return (render(org_id, value) or "") if render and value else ""


def profile_sections() -> list[ProfileSection]:
    return sorted(_SECTIONS.values(), key=lambda s: (s.order, s.key))


def list_filters() -> list[ListFilter]:
    return sorted(_FILTERS.values(), key=lambda f: (f.order, f.key))


def list_columns() -> list[ListColumn]:
    return sorted(_COLUMNS.values(), key=lambda c: (c.order, c.key))


def timeline_renderer(kind: str) -> Callable[[Any], str] | None:
    return _TIMELINE_KINDS.get(kind)


def unregister(key: str) -> None:
    """Remove a section, filter, column or timeline kind by key (tests)."""
    _SECTIONS.pop(key, None)
    _FILTERS.pop(key, None)
    _COLUMNS.pop(key, None)
    _TIMELINE_KINDS.pop(key, None)
    _REFERENCES.pop(key, None)


# -- how the timeline reads ----------------------------------------------------------------------------------
# WeCom's add_way values (reference §3.2); newer values show as "其他方式".
ADD_WAYS = {
    0: gettext_lazy("未知来源"), 1: gettext_lazy("扫描二维码"), 2: gettext_lazy("搜索手机号"), 3: gettext_lazy("名片分享"),
    4: gettext_lazy("群聊"), 5: gettext_lazy("手机通讯录"), 6: gettext_lazy("微信联系人"),
    8: gettext_lazy("安装第三方应用时自动添加"), 9: gettext_lazy("搜索邮箱"), 10: gettext_lazy("视频号"),
    201: gettext_lazy("内部成员共享"), 202: gettext_lazy("管理员或负责人分配"),
}


def _source(value: str) -> str:
    from siyu.customers.models import RelationTag

    return str(dict(RelationTag.Source.choices).get(value, value or ""))


def _added(e) -> str:
    way = ADD_WAYS.get(e.data.get("add_way"), gettext_lazy("其他方式"))
    text = _("通过“%(way)s”添加了员工 %(staff)s") % {"way": way, "staff": e.staff or ""}
    channel = reference_label(e.org_id, f"state:{e.data.get('state') or ''}")
    if channel:
        text += _("（来自渠道“%(channel)s”）") % {"channel": channel}
    return text


def _transfer_kind(value: str) -> str:
    from siyu.customers.models import Transfer

    return str(dict(Transfer.Kind.choices).get(value, value))


def _transfer_status(value: str) -> str:
    from siyu.customers.models import Transfer

    return str(dict(Transfer.Status.choices).get(value, value))


def _follow_up_status(value: str) -> str:
    from siyu.customers.models import FollowUp

    return str(dict(FollowUp.Status.choices).get(value, value))


def _due(e) -> str:
    from django.utils import timezone
    from django.utils.dateparse import parse_datetime

    due = parse_datetime(e.data.get("due_at") or "")
    return timezone.localtime(due).strftime("%Y-%m-%d %H:%M") if due else ""


_BUILT_IN: dict[str, Callable[[Any], str]] = {
    "added": _added,
    "deleted_by_customer": lambda e: _("删除了员工 %(staff)s") % {"staff": e.staff or ""},
    "deleted_by_staff": lambda e: _("被员工 %(staff)s 删除") % {"staff": e.staff or ""},
    "transferred_away": lambda e: _("已从员工 %(staff)s 转出") % {"staff": e.staff or ""},
    "tagged": lambda e: _("被打上标签“%(tag)s”（来源：%(source)s）") % {"tag": e.data.get("tag", ""), "source": _source(e.data.get("source"))},
    "untagged": lambda e: _("移除了标签“%(tag)s”（来源：%(source)s）") % {"tag": e.data.get("tag", ""), "source": _source(e.data.get("source"))},
    "joined_group": lambda e: _("加入了客户群“%(group)s”") % {"group": e.data.get("group", "")},
    "left_group": lambda e: _("退出了客户群“%(group)s”") % {"group": e.data.get("group", "")},
    "transfer_requested": lambda e: _("发起%(kind)s，转给 %(to)s") % {"kind": _transfer_kind(e.data.get("kind_of_transfer", "")), "to": e.data.get("takeover", "")},
    "transfer_finished": lambda e: _("%(kind)s结果：%(status)s") % {"kind": _transfer_kind(e.data.get("kind_of_transfer", "")), "status": _transfer_status(e.data.get("status", ""))},
    "chatted": lambda e: (_("发来消息：%(text)s") if e.data.get("from_customer") else _("员工回复：%(text)s")) % {"text": e.data.get("text", "")},
    "msg_audit_approved": lambda e: _("同意了会话内容存档"),
    "ordered": lambda e: _("下单 %(no)s，金额 ¥%(total)s") % {"no": e.data.get("order_no", ""), "total": e.data.get("total", "")},
    "stage_changed": lambda e: _("客户阶段：%(from)s → %(to)s") % {"from": e.data.get("from_stage") or "—", "to": e.data.get("to_stage", "")},
    "reminder_sent": lambda e: _("已提醒员工：%(title)s") % {"title": e.data.get("title", "")},
    "note_added": lambda e: _("小记：%(text)s") % {"text": e.data.get("text", "")},
    "follow_up_scheduled": lambda e: _("安排跟进：%(text)s（%(due)s，跟进人 %(staff)s）") % {"text": e.data.get("text", ""), "due": _due(e), "staff": e.staff or ""},
    "follow_up_closed": lambda e: _("跟进%(status)s：%(text)s") % {"status": _follow_up_status(e.data.get("status", "")), "text": e.data.get("text", "")},
}


@dataclass
class TimelineEntry:
    event: Any
    text: str
    who: str


def timeline_text(event) -> str:
    """How one event reads: a registered renderer, a built-in one, or the bare kind for unknown kinds."""
    render = _TIMELINE_KINDS.get(event.kind) or _BUILT_IN.get(event.kind)
    if render is None:
        return _("其他动态")  # a kind whose app registers no renderer (yet): words, never the raw key
    try:
        return str(render(event))
    except (KeyError, TypeError, ValueError):  # an event written with another shape must not break the page
        return _("其他动态")


def timeline_entries(events) -> list[TimelineEntry]:
    entries = []
    for event in events:
        who = event.actor.name if event.actor_id and event.actor else (str(event.staff) if event.staff_id and event.staff else "")
        entries.append(TimelineEntry(event, timeline_text(event), who))
    return entries
