"""The console editor's step list: posted rows to a step list and back, and service errors back onto rows.

The editor shows a journey as rows, one per step; a row's lane puts it on the main line or inside the nearest
branch above it (when the condition holds, or when it does not), which the page shows indented. A branch's
condition is picked from a few plain choices, each of which becomes a ``siyu.segments`` rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from siyu.journeys import steps as journey_steps

FIELDS = ("kind", "lane", "days", "hours", "minutes", "time", "date", "cond", "cond_days", "cond_segment", "cond_tag",
          "cond_stage", "tag", "stage", "title", "body", "url", "text", "purpose")
KIND_LABELS = {
    "wait": gettext_lazy("等待一段时间"), "wait_until": gettext_lazy("等到某个时间"), "branch": gettext_lazy("条件分支"),
    "add_tag": gettext_lazy("打标签"), "remove_tag": gettext_lazy("移除标签"), "set_stage": gettext_lazy("变更阶段"),
    "remind": gettext_lazy("提醒员工跟进"), "send": gettext_lazy("发消息给客户"), "webhook": gettext_lazy("调用 Webhook"),
}
LANE_LABELS = {"main": gettext_lazy("主流程"), "yes": gettext_lazy("满足条件时"), "no": gettext_lazy("不满足条件时")}
CONDITION_LABELS = {"ordered": gettext_lazy("最近 N 天内下过单"), "segment": gettext_lazy("属于人群"),
                    "tag": gettext_lazy("带有标签"), "stage": gettext_lazy("处于阶段")}
MAX_ROWS = journey_steps.MAX_STEPS + 10


@dataclass
class Row:
    values: dict
    errors: list[str] = field(default_factory=list)

    @property
    def indented(self) -> bool:
        return self.values.get("lane") in ("yes", "no")


@dataclass
class Parsed:
    steps: list[dict]
    rows: list[Row]
    row_of_path: dict[str, int]

    def place(self, key: str, messages: list[str]) -> bool:
        """Put a service error keyed ``steps.<path>.<field>`` on its row; False when no row matches."""
        path = key.removeprefix("steps.")
        parts = path.split(".")
        for end in range(len(parts), 0, -1):
            index = self.row_of_path.get(".".join(parts[:end]))
            if index is not None:
                self.rows[index].errors.extend(messages)
                return True
        return False

    @property
    def has_errors(self) -> bool:
        return any(row.errors for row in self.rows)


def blank_row() -> Row:
    return Row({name: "" for name in FIELDS})


def _rule(values: dict) -> dict | None:
    cond = values.get("cond")
    if cond == "ordered":
        return {"type": "orders", "measure": "count", "did": "at_least", "value": 1, "days": values.get("cond_days")}
    if cond == "segment":
        return {"type": "segment", "segment": values.get("cond_segment")}
    if cond == "tag":
        return {"type": "tags", "match": "any", "tags": [values.get("cond_tag")]}
    if cond == "stage":
        return {"type": "stage", "ids": [values.get("cond_stage")]}
    return None


def _step(values: dict) -> dict:
    kind = values["kind"]
    keys = {"wait": ("days", "hours", "minutes"), "wait_until": ("time", "date"), "add_tag": ("tag",),
            "remove_tag": ("tag",), "set_stage": ("stage",), "remind": ("title", "body"), "send": ("text", "purpose"),
            "webhook": ("url",)}
    if kind == "branch":
        return {"kind": kind, "rule": _rule(values), "yes": [], "no": []}
    return {"kind": kind, **{key: values.get(key, "") for key in keys.get(kind, ())}}


def from_post(data) -> Parsed:
    """The posted rows (``s-<field>`` lists, one entry per row) as a step list, with the problems found so far."""
    columns = {name: data.getlist(f"s-{name}") for name in FIELDS}
    count = len(columns["kind"])
    rows = [Row({name: (columns[name][i].strip() if i < len(columns[name]) else "") for name in FIELDS})
            for i in range(min(count, MAX_ROWS))]
    parsed = Parsed([], rows, {})
    branch: tuple[int, dict] | None = None
    for index, row in enumerate(rows):
        values = row.values
        if values["kind"] not in journey_steps.KINDS:
            row.errors.append(_("请选择步骤类型。"))
            continue
        lane = values["lane"] if values["lane"] in LANE_LABELS else "main"
        if values["kind"] == "branch" and values["cond"] not in CONDITION_LABELS:
            row.errors.append(_("请选择分支条件。"))
        step = _step(values)
        if lane == "main":
            path = str(len(parsed.steps))
            parsed.steps.append(step)
            branch = (int(path), step) if step["kind"] == "branch" else None
        elif branch is None:
            row.errors.append(_("“满足条件时 / 不满足条件时”的步骤要放在一个条件分支下面。"))
            continue
        elif step["kind"] == "branch":
            row.errors.append(_("分支里不能再放分支。"))
            continue
        else:
            path = f"{branch[0]}.{lane}.{len(branch[1][lane])}"
            branch[1][lane].append(step)
        parsed.row_of_path[path] = index
    if count > MAX_ROWS:
        rows[-1].errors.append(_("一个旅程最多 %(n)d 个步骤。") % {"n": journey_steps.MAX_STEPS})
    return parsed


def _values(step: dict, lane: str) -> dict:
    values = {name: "" for name in FIELDS}
    values.update({"kind": step["kind"], "lane": lane})
    if step["kind"] == "branch":
        rule = step["rule"]
        kinds = {"orders": ("ordered", "cond_days", rule.get("days")), "segment": ("segment", "cond_segment", rule.get("segment")),
                 "tags": ("tag", "cond_tag", (rule.get("tags") or [""])[0]), "stage": ("stage", "cond_stage", (rule.get("ids") or [""])[0])}
        cond, key, value = kinds.get(rule.get("type"), ("", "cond", ""))
        values.update({"cond": cond, key: "" if value is None else str(value)})
    else:
        values.update({key: "" if value is None else str(value) for key, value in step.items() if key in FIELDS and key != "kind"})
    return values


def to_rows(steps: list[dict]) -> list[Row]:
    """The editor's rows for a saved step list."""
    rows = []
    for path, _depth, step in journey_steps.walk(steps):
        parts = path.split(".")
        rows.append(Row(_values(step, parts[-2] if len(parts) > 1 else "main")))
    return rows


def describe(step: dict, names: dict) -> str:
    """One line saying what a step does, for the report (``names``: tag, stage and segment names by id)."""
    kind = step["kind"]
    label = str(KIND_LABELS[kind])
    if kind == "wait":
        parts = [(step["days"], _("%(n)d 天")), (step["hours"], _("%(n)d 小时")), (step["minutes"], _("%(n)d 分钟"))]
        return label + "：" + " ".join(text % {"n": n} for n, text in parts if n)
    if kind == "wait_until":
        return label + "：" + " ".join(part for part in (step["date"], step["time"]) if part)
    if kind == "branch":
        rule = step["rule"]
        if rule.get("type") == "orders":
            what = _("最近 %(n)d 天内下过单") % {"n": rule.get("days") or 0}
        elif rule.get("type") == "segment":
            what = _("属于人群“%(name)s”") % {"name": names["segment"].get(rule["segment"], "—")}
        elif rule.get("type") == "tags":
            what = _("带有标签“%(name)s”") % {"name": "、".join(names["tag"].get(t, "—") for t in rule["tags"])}
        elif rule.get("type") == "stage":
            what = _("处于阶段“%(name)s”") % {"name": "、".join(names["stage"].get(s, "—") for s in rule["ids"])}
        else:
            what = _("人群规则")
        return label + "：" + what
    if kind in ("add_tag", "remove_tag"):
        return label + "：" + names["tag"].get(step["tag"], "—")
    if kind == "set_stage":
        return label + "：" + names["stage"].get(step["stage"], "—")
    if kind == "remind":
        return label + "：" + step["title"]
    if kind == "send":
        return label + "：" + (step["text"] if len(step["text"]) <= 30 else step["text"][:30] + "…")
    return label + "：" + step["url"]
