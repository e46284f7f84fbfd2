"""The segment rule language: a JSON tree of conditions, and its validation with field-level errors.

A rule is a group ``{"op": "and"|"or", "rules": [...]}``, a negation ``{"op": "not", "rule": {...}}`` or a
condition ``{"type": ..., ...}``:

* ``trait``: ``{"field": "total_spend" | "last_order_at" | "traits.<key>", "operator": ..., "value": ...}`` over
  the person's typed columns or their custom traits (operators per field kind in :data:`OPERATORS`);
* ``tags``: ``{"match": "any"|"all"|"none", "tags": [tag ids]}`` through the person's WeCom customer;
* ``event``: ``{"event": name, "did": "at_least"|"at_most"|"none", "count": N, "days": D, "properties":
  [{"key", "operator": "eq"|"ne"|"gt"|"lt"|"contains", "value"}]}`` — "did X at least N times in the last D days";
* ``orders``: ``{"measure": "count"|"spend", "did": "at_least"|"at_most", "value": V, "days": D|null}``;
* ``bought``: ``{"products": [ids], "days": D|null}`` — bought any of these products;
* ``stage`` / ``staff`` / ``store`` / ``customer_group``: ``{"ids": [...]}`` — any of them;
* ``source``: ``{"sources": ["web", "wecom", ...]}`` — any of them;
* ``segment``: ``{"segment": id}`` — a member of that saved segment;
* ``consent``: ``{"purpose": "marketing"|"profiling"|"location", "state": "granted"|"withdrawn"|"unknown"}`` — the
  latest consent record of the person's WeCom customer for that purpose (``unknown``: no record, or no customer).

:func:`validate` returns the rule normalized (ids as ints, numbers as numbers) or raises a ``ValidationError``
keyed by the path of the offending field (``rules.1.rules.0.days``), so the builder can point at it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

MAX_DEPTH = 6
MAX_CONDITIONS = 60
MAX_DAYS = 3650
MAX_LIST = 200

NUMBER_FIELDS = ("orders_count", "total_spend", "average_order_value", "r_score", "f_score", "m_score")
DATE_FIELDS = ("first_seen_at", "last_seen_at", "first_order_at", "last_order_at")
TRAIT_PREFIX = "traits."

OPERATORS = {
    "number": ("eq", "ne", "lt", "gt", "between", "in", "exists", "not_exists"),
    "date": ("lt", "gt", "between", "within_days", "before_days", "exists", "not_exists"),
    "custom": ("eq", "ne", "lt", "gt", "between", "in", "contains", "exists", "not_exists"),
}
PROPERTY_OPERATORS = ("eq", "ne", "lt", "gt", "contains")
CONDITION_TYPES = ("trait", "tags", "event", "orders", "bought", "stage", "staff", "store", "customer_group", "source",
                   "segment", "consent")
CONSENT_PURPOSES = ("marketing", "profiling", "location")
CONSENT_STATES = ("granted", "withdrawn", "unknown")
ID_LIST_TYPES = {"stage": "ids", "staff": "ids", "store": "ids", "customer_group": "ids", "bought": "products",
                 "tags": "tags"}
SOURCES = ("web", "app", "miniprogram", "pos", "server", "wecom")


class _Errors:
    """Collects every problem of a rule, keyed by the field's path, before one ValidationError is raised."""

    def __init__(self):
        self.found: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.found.setdefault(path or "rule", []).append(message)


def _join(path: str, key) -> str:
    return f"{path}.{key}" if path else str(key)


def field_kind(field: str) -> str | None:
    """``number``, ``date`` or ``custom`` for a trait field, None when there is no such field."""
    if field in NUMBER_FIELDS:
        return "number"
    if field in DATE_FIELDS:
        return "date"
    key = field[len(TRAIT_PREFIX):] if field.startswith(TRAIT_PREFIX) else ""
    # A key starting with a digit would read as an array index in a JSON path.
    if key and len(key) <= 64 and not key[0].isdigit() and all(ch.isalnum() or ch in "_-" for ch in key):
        return "custom"
    return None


def _int(value, errors: _Errors, path: str, *, low: int, high: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().lstrip("-").isdigit():
        errors.add(path, _("请输入整数。"))
        return None
    number = int(value)
    if not low <= number <= high:
        errors.add(path, _("请输入 %(low)d 到 %(high)d 之间的整数。") % {"low": low, "high": high})
        return None
    return number


def _number(value, errors: _Errors, path: str):
    """An int or a float (JSON numbers); numeric strings from a form are accepted."""
    if isinstance(value, bool):
        errors.add(path, _("请输入数字。"))
        return None
    if isinstance(value, (int, float)):
        return value
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        errors.add(path, _("请输入数字。"))
        return None
    if not number.is_finite():
        errors.add(path, _("请输入数字。"))
        return None
    return int(number) if number == number.to_integral_value() else float(number)


def _date(value, errors: _Errors, path: str) -> str | None:
    """An ISO date or datetime, kept as the ISO text (a date means its midnight UTC)."""
    text = str(value or "").strip()
    parsed = None
    try:
        parsed = parse_datetime(text) or parse_date(text)
    except ValueError:
        parsed = None
    if parsed is None:
        errors.add(path, _("请输入日期，例如 2025-01-31。"))
        return None
    if isinstance(parsed, dt.datetime) and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.isoformat()


def _scalar(value, errors: _Errors, path: str):
    """A custom trait's comparison value: text, a number, or true/false."""
    if isinstance(value, bool) or isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip() and len(value) <= 200:
        return value.strip()
    errors.add(path, _("请输入要比较的值。"))
    return None


def _ids(value, errors: _Errors, path: str, known: set[int] | None) -> list[int]:
    if not isinstance(value, list) or not value:
        errors.add(path, _("请至少选择一项。"))
        return []
    ids = []
    for item in value[:MAX_LIST + 1]:
        try:
            ids.append(int(item))
        except (TypeError, ValueError):
            errors.add(path, _("选择的项目无效。"))
            return []
    if len(ids) > MAX_LIST:
        errors.add(path, _("最多选择 %(n)d 项。") % {"n": MAX_LIST})
        return []
    if known is not None and not set(ids) <= known:
        errors.add(path, _("选择的项目不存在或已删除。"))
        return []
    return sorted(set(ids))


def _trait(rule: dict, errors: _Errors, path: str) -> dict:
    field = str(rule.get("field") or "")
    kind = field_kind(field)
    if kind is None:
        errors.add(_join(path, "field"), _("请选择属性。"))
        return {"type": "trait", "field": field}
    operator = rule.get("operator")
    if operator not in OPERATORS[kind]:
        errors.add(_join(path, "operator"), _("该属性不支持这个条件。"))
        return {"type": "trait", "field": field}
    out = {"type": "trait", "field": field, "operator": operator}
    value, vpath = rule.get("value"), _join(path, "value")
    if operator in ("exists", "not_exists"):
        return out
    if operator in ("within_days", "before_days"):
        out["value"] = _int(value, errors, vpath, low=0, high=MAX_DAYS)
    elif operator == "between":
        if not isinstance(value, list) or len(value) != 2:
            errors.add(vpath, _("请输入起止两个值。"))
            return out
        read = _date if kind == "date" else _number
        low, high = read(value[0], errors, vpath), read(value[1], errors, vpath)
        if low is not None and high is not None and (dt.datetime.fromisoformat(low) > dt.datetime.fromisoformat(high)
                                                     if kind == "date" else low > high):
            errors.add(vpath, _("起始值不能大于结束值。"))
        out["value"] = [low, high]
    elif operator == "in":
        items = value if isinstance(value, list) else None
        if not items or len(items) > MAX_LIST:
            errors.add(vpath, _("请输入 1 到 %(n)d 个值。") % {"n": MAX_LIST})
            return out
        read = _number if kind == "number" else _scalar
        out["value"] = [read(v, errors, vpath) for v in items]
    elif operator == "contains":
        if not isinstance(value, str) or not value.strip():
            errors.add(vpath, _("请输入要包含的文字。"))
        out["value"] = str(value or "").strip()
    elif kind == "date":
        out["value"] = _date(value, errors, vpath)
    elif kind == "number" or operator in ("lt", "gt"):
        out["value"] = _number(value, errors, vpath)
    else:
        out["value"] = _scalar(value, errors, vpath)
    return out


def _event(rule: dict, errors: _Errors, path: str) -> dict:
    name = str(rule.get("event") or "").strip()
    if not name or len(name) > 200:
        errors.add(_join(path, "event"), _("请选择事件。"))
    did = rule.get("did")
    if did not in ("at_least", "at_most", "none"):
        errors.add(_join(path, "did"), _("请选择“至少”“至多”或“没有”。"))
    out = {"type": "event", "event": name, "did": did,
           "days": _int(rule.get("days"), errors, _join(path, "days"), low=1, high=MAX_DAYS)}
    if did in ("at_least", "at_most"):
        out["count"] = _int(rule.get("count"), errors, _join(path, "count"), low=0, high=1_000_000)
    properties = rule.get("properties") or []
    if not isinstance(properties, list) or len(properties) > 10:
        errors.add(_join(path, "properties"), _("最多 10 个属性条件。"))
        properties = []
    out["properties"] = []
    for i, prop in enumerate(properties):
        ppath = _join(_join(path, "properties"), i)
        prop = prop if isinstance(prop, dict) else {}
        key = str(prop.get("key") or "")
        if field_kind(TRAIT_PREFIX + key) != "custom":
            errors.add(_join(ppath, "key"), _("请输入属性名（字母、数字、下划线）。"))
        operator = prop.get("operator")
        if operator not in PROPERTY_OPERATORS:
            errors.add(_join(ppath, "operator"), _("请选择比较方式。"))
        value = prop.get("value")
        if operator in ("lt", "gt"):
            value = _number(value, errors, _join(ppath, "value"))
        elif operator == "contains":
            value = str(value or "").strip()
            if not value:
                errors.add(_join(ppath, "value"), _("请输入要包含的文字。"))
        else:
            value = _scalar(value, errors, _join(ppath, "value"))
        out["properties"].append({"key": key, "operator": operator, "value": value})
    return out


def _orders(rule: dict, errors: _Errors, path: str) -> dict:
    measure, did = rule.get("measure"), rule.get("did")
    if measure not in ("count", "spend"):
        errors.add(_join(path, "measure"), _("请选择订单数或消费金额。"))
    if did not in ("at_least", "at_most"):
        errors.add(_join(path, "did"), _("请选择“至少”或“至多”。"))
    value = _number(rule.get("value"), errors, _join(path, "value"))
    if value is not None and value < 0:
        errors.add(_join(path, "value"), _("不能为负数。"))
    return {"type": "orders", "measure": measure, "did": did, "value": value,
            "days": _optional_days(rule, errors, path)}


def _optional_days(rule: dict, errors: _Errors, path: str) -> int | None:
    if rule.get("days") in (None, ""):
        return None
    return _int(rule.get("days"), errors, _join(path, "days"), low=1, high=MAX_DAYS)


class Vocabulary:
    """What ids a rule of one organization may name (tags, stages, staff, stores, groups, products, segments).

    Built once per validation, so a rule naming another brand's tag or a deleted stage is refused by field."""

    def __init__(self, org, *, exclude_segment=None):
        from siyu.cdp.models import Product
        from siyu.customers.models import Tag
        from siyu.groups.models import CustomerGroup
        from siyu.lifecycle.models import Stage
        from siyu.orgs.models import Staff, Store
        from siyu.segments.models import Segment

        self.org = org
        self.known = {
            "tags": set(Tag.objects.for_org(org).filter(deleted=False).values_list("pk", flat=True)),
            "stage": set(Stage.objects.for_org(org).values_list("pk", flat=True)),
            "staff": set(Staff.objects.for_org(org).values_list("pk", flat=True)),
            "store": set(Store.objects.for_org(org).values_list("pk", flat=True)),
            "customer_group": set(CustomerGroup.objects.for_org(org).values_list("pk", flat=True)),
            "bought": set(Product.objects.for_org(org).values_list("pk", flat=True)),
        }
        segments = Segment.objects.for_org(org)
        if exclude_segment is not None:
            segments = segments.exclude(pk=exclude_segment.pk)
        self.segments = {s.pk: s for s in segments}


def _condition(rule: dict, errors: _Errors, path: str, vocabulary: Vocabulary | None) -> dict:
    kind = rule.get("type")
    if kind not in CONDITION_TYPES:
        errors.add(_join(path, "type"), _("未知的条件类型。"))
        return {"type": kind}
    if kind == "trait":
        return _trait(rule, errors, path)
    if kind == "event":
        return _event(rule, errors, path)
    if kind == "orders":
        return _orders(rule, errors, path)
    if kind == "source":
        sources = rule.get("sources")
        if not isinstance(sources, list) or not sources or not set(map(str, sources)) <= set(SOURCES):
            errors.add(_join(path, "sources"), _("请选择来源。"))
            return {"type": kind, "sources": []}
        return {"type": kind, "sources": sorted(set(map(str, sources)))}
    if kind == "consent":
        purpose, state = rule.get("purpose"), rule.get("state")
        if purpose not in CONSENT_PURPOSES:
            errors.add(_join(path, "purpose"), _("请选择授权用途。"))
        if state not in CONSENT_STATES:
            errors.add(_join(path, "state"), _("请选择“已同意”“已撤回”或“未授权”。"))
        return {"type": kind, "purpose": purpose, "state": state}
    if kind == "segment":
        try:
            segment = int(rule.get("segment"))
        except (TypeError, ValueError):
            segment = None
        if segment is None or vocabulary is not None and segment not in vocabulary.segments:
            errors.add(_join(path, "segment"), _("请选择另一个已保存的人群。"))
        return {"type": kind, "segment": segment}
    key = ID_LIST_TYPES[kind]
    known = vocabulary.known[kind] if vocabulary is not None else None
    out = {"type": kind, key: _ids(rule.get(key), errors, _join(path, key), known)}
    if kind == "tags":
        if rule.get("match") not in ("any", "all", "none"):
            errors.add(_join(path, "match"), _("请选择“任一”“全部”或“都没有”。"))
        out["match"] = rule.get("match")
    if kind == "bought":
        out["days"] = _optional_days(rule, errors, path)
    return out


def _node(rule, errors: _Errors, path: str, depth: int, count: list[int], vocabulary) -> dict:
    if not isinstance(rule, dict):
        errors.add(path, _("条件格式不正确。"))
        return {}
    if depth > MAX_DEPTH:
        errors.add(path, _("条件最多嵌套 %(n)d 层。") % {"n": MAX_DEPTH})
        return {}
    op = rule.get("op")
    if op in ("and", "or"):
        children = rule.get("rules")
        if not isinstance(children, list) or not children:
            errors.add(_join(path, "rules"), _("条件组里至少要有一个条件。"))
            return {"op": op, "rules": []}
        return {"op": op, "rules": [_node(child, errors, _join(_join(path, "rules"), i), depth + 1, count, vocabulary)
                                    for i, child in enumerate(children)]}
    if op == "not":
        return {"op": "not", "rule": _node(rule.get("rule"), errors, _join(path, "rule"), depth + 1, count, vocabulary)}
    if op is not None:
        errors.add(_join(path, "op"), _("条件组只能是“并且”“或者”“排除”。"))
        return {}
    count[0] += 1
    if count[0] == MAX_CONDITIONS + 1:
        errors.add(path, _("一个人群最多 %(n)d 个条件。") % {"n": MAX_CONDITIONS})
    return _condition(rule, errors, path, vocabulary)


def validate(rule, *, vocabulary: Vocabulary | None = None) -> dict:
    """The rule normalized, or ValidationError keyed by field path. With a ``vocabulary`` every id is checked
    against the organization's rows (without one, as in the compiler's own tests, only the shape is checked)."""
    errors = _Errors()
    normalized = _node(rule, errors, "", 1, [0], vocabulary)
    if errors.found:
        raise ValidationError(errors.found)
    return normalized


def segment_ids(rule: dict) -> set[int]:
    """The saved segments a rule refers to (to refuse cycles and to refresh in order)."""
    if rule.get("op") in ("and", "or"):
        return set().union(*(segment_ids(child) for child in rule["rules"]))
    if rule.get("op") == "not":
        return segment_ids(rule["rule"])
    return {rule["segment"]} if rule.get("type") == "segment" else set()


def condition_count(rule: dict) -> int:
    """How many conditions a rule holds (groups and negations not counted): what the audit log records of it."""
    if rule.get("op") in ("and", "or"):
        return sum(condition_count(child) for child in rule["rules"])
    if rule.get("op") == "not":
        return condition_count(rule["rule"])
    return 1
