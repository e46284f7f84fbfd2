"""A journey's step list: its validation (field-level errors keyed by the step's place) and how to walk it.

A step is a dict with a ``kind``:

* ``wait``: ``{"days", "hours", "minutes"}`` — a duration;
* ``wait_until``: ``{"time": "HH:MM", "date": "YYYY-MM-DD" or ""}`` — the next such time of day (on that date
  when given) in the organization's time zone;
* ``branch``: ``{"rule": segment rule, "yes": [steps], "no": [steps]}`` — the rule is a ``siyu.segments`` rule,
  evaluated for the customer's person by the segment compiler; branches hold no further branch;
* ``add_tag`` / ``remove_tag``: ``{"tag": id}``; ``set_stage``: ``{"stage": id}``;
* ``remind``: ``{"title", "body"}`` — a reminder to the customer's guide;
* ``webhook``: ``{"url"}`` — a signed POST;
* ``send``: ``{"text", "purpose"}`` — a WeCom group message from the customer's guide to the customer, after the
  policy guard decides (``purpose``: ``marketing`` or ``service``).

A step's place is its path: ``"2"`` on the main line, ``"1.yes.0"`` inside a branch.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from siyu.content import compliance
from siyu.customers.models import Tag
from siyu.lifecycle.models import Stage
from siyu.segments import services as segments

ACTIONS = ("add_tag", "remove_tag", "set_stage", "remind", "send", "webhook")
WAITS = ("wait", "wait_until")
KINDS = (*WAITS, "branch", *ACTIONS)
LANES = ("yes", "no")
MAX_STEPS = 40
MAX_WAIT_DAYS = 365
TITLE_MAX = 40
BODY_MAX = 200
URL_MAX = 500
SEND_MAX = 1000
SEND_PURPOSES = ("marketing", "service")


class _Errors:
    def __init__(self):
        self.found: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.found.setdefault(path, []).append(message)


def _int(step: dict, key: str, errors: _Errors, path: str, high: int) -> int:
    value = step.get(key) or 0
    try:
        number = int(value)
    except (TypeError, ValueError):
        errors.add(f"{path}.{key}", _("请输入整数。"))
        return 0
    if not 0 <= number <= high:
        errors.add(f"{path}.{key}", _("请输入 0 到 %(high)d 之间的数。") % {"high": high})
        return 0
    return number


def _wait(step: dict, errors: _Errors, path: str) -> dict:
    days = _int(step, "days", errors, path, MAX_WAIT_DAYS)
    hours = _int(step, "hours", errors, path, 23)
    minutes = _int(step, "minutes", errors, path, 59)
    if not (days or hours or minutes) and not any(k.startswith(f"{path}.") for k in errors.found):
        errors.add(f"{path}.days", _("等待时长必须大于 0。"))
    return {"kind": "wait", "days": days, "hours": hours, "minutes": minutes}


def _wait_until(step: dict, errors: _Errors, path: str) -> dict:
    time_text, date_text = str(step.get("time") or "").strip(), str(step.get("date") or "").strip()
    try:
        dt.time.fromisoformat(time_text)
        if len(time_text) != 5:
            raise ValueError
    except ValueError:
        errors.add(f"{path}.time", _("请按 时:分 填写时间，例如 09:30。"))
    if date_text:
        try:
            dt.date.fromisoformat(date_text)
        except ValueError:
            errors.add(f"{path}.date", _("请按 年-月-日 填写日期。"))
    return {"kind": "wait_until", "time": time_text, "date": date_text}


def _ref(step: dict, key: str, model, org, errors: _Errors, path: str, message: str) -> int | None:
    try:
        pk = int(step.get(key))
    except (TypeError, ValueError):
        pk = None
    rows = model.objects.for_org(org).filter(pk=pk)
    if model is Tag:
        rows = rows.filter(deleted=False)
    if pk is None or not rows.exists():
        errors.add(f"{path}.{key}", message)
    return pk


def _text(step: dict, key: str, errors: _Errors, path: str, limit: int, *, required: bool) -> str:
    value = str(step.get(key) or "").strip()
    if required and not value:
        errors.add(f"{path}.{key}", _("请填写此项。"))
    elif len(value) > limit:
        errors.add(f"{path}.{key}", _("最多 %(n)d 个字。") % {"n": limit})
    return value


def _webhook(step: dict, errors: _Errors, path: str) -> dict:
    url = _text(step, "url", errors, path, URL_MAX, required=True)
    parts = urlsplit(url)
    if url and (parts.scheme not in ("http", "https") or not parts.hostname):
        errors.add(f"{path}.url", _("请填写以 http:// 或 https:// 开头的地址。"))
    return {"kind": "webhook", "url": url}


def _send(org, step: dict, errors: _Errors, path: str) -> dict:
    text = _text(step, "text", errors, path, SEND_MAX, required=True)
    purpose = str(step.get("purpose") or "")
    if purpose not in SEND_PURPOSES:
        errors.add(f"{path}.purpose", _("请选择消息用途。"))
    blocked = [f.term for f in compliance.check(text, org=org) if f.blocks]
    if blocked:
        errors.add(f"{path}.text", _("内容含禁用词：%(words)s") % {"words": "、".join(blocked)})
    return {"kind": "send", "text": text, "purpose": purpose}


def _step(org, step, errors: _Errors, path: str, *, nested: bool) -> dict:
    if not isinstance(step, dict) or step.get("kind") not in KINDS:
        errors.add(f"{path}.kind", _("请选择步骤类型。"))
        return {}
    kind = step["kind"]
    if kind == "wait":
        return _wait(step, errors, path)
    if kind == "wait_until":
        return _wait_until(step, errors, path)
    if kind == "branch":
        if nested:
            errors.add(f"{path}.kind", _("分支里不能再放分支。"))
            return {}
        try:
            rule = segments.check_rule(org, step.get("rule"))
        except ValidationError as error:
            for key, messages in error.message_dict.items():
                for message in messages:
                    errors.add(f"{path}.{key}", message)
            rule = {}
        lanes = {lane: _list(org, step.get(lane) or [], errors, f"{path}.{lane}", nested=True) for lane in LANES}
        return {"kind": "branch", "rule": rule, **lanes}
    if kind in ("add_tag", "remove_tag"):
        return {"kind": kind, "tag": _ref(step, "tag", Tag, org, errors, path, _("请选择一个有效的标签。"))}
    if kind == "set_stage":
        return {"kind": kind, "stage": _ref(step, "stage", Stage, org, errors, path, _("请选择一个有效的阶段。"))}
    if kind == "remind":
        return {"kind": kind, "title": _text(step, "title", errors, path, TITLE_MAX, required=True),
                "body": _text(step, "body", errors, path, BODY_MAX, required=False)}
    if kind == "send":
        return _send(org, step, errors, path)
    return _webhook(step, errors, path)


def _list(org, steps, errors: _Errors, path: str, *, nested: bool) -> list[dict]:
    if not isinstance(steps, list):
        errors.add(path, _("步骤格式不正确。"))
        return []
    return [_step(org, step, errors, f"{path}.{index}", nested=nested) for index, step in enumerate(steps)]


def validate(org, steps) -> list[dict]:
    """The step list normalized, or a ValidationError keyed ``steps.<path>.<field>`` for every problem."""
    errors = _Errors()
    if not steps:
        errors.add("steps", _("旅程至少要有一个步骤。"))
    elif count(steps) > MAX_STEPS:
        errors.add("steps", _("一个旅程最多 %(n)d 个步骤。") % {"n": MAX_STEPS})
    cleaned = [] if errors.found else _list(org, steps, errors, "steps", nested=False)
    if errors.found:
        raise ValidationError(errors.found)
    return cleaned


def count(steps) -> int:
    total = 0
    for step in steps if isinstance(steps, list) else []:
        total += 1
        if isinstance(step, dict) and step.get("kind") == "branch":
            total += sum(count(step.get(lane) or []) for lane in LANES)
    return total


# -- walking -------------------------------------------------------------------------------------------------
def at(steps: list[dict], path: str) -> dict:
    parts = path.split(".")
    step = steps[int(parts[0])]
    for lane, index in zip(parts[1::2], parts[2::2], strict=True):
        step = step[lane][int(index)]
    return step


def _lane_of(steps: list[dict], path: str) -> list[dict]:
    parts = path.split(".")
    if len(parts) == 1:
        return steps
    return at(steps, parts[0])[parts[1]]


def after(steps: list[dict], path: str) -> str | None:
    """The path of the step that follows ``path`` once it is done (a branch's lane ends into the main line)."""
    parts = path.split(".")
    index = int(parts[-1])
    if index + 1 < len(_lane_of(steps, path)):
        return ".".join([*parts[:-1], str(index + 1)])
    if len(parts) == 1:
        return None
    return after(steps, parts[0])


def into(steps: list[dict], path: str, lane: str) -> str | None:
    """Where a customer goes when the branch at ``path`` sends them to ``lane``."""
    if at(steps, path)[lane]:
        return f"{path}.{lane}.0"
    return after(steps, path)


def walk(steps: list[dict], prefix: str = "", depth: int = 0):
    """Every step with its path and depth, in reading order (the editor and the report list them so)."""
    for index, step in enumerate(steps):
        path = f"{prefix}{index}"
        yield path, depth, step
        if step.get("kind") == "branch":
            for lane in LANES:
                yield from walk(step[lane], f"{path}.{lane}.", depth + 1)
