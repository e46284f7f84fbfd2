"""Comparing JSON by shape: the set of key paths (``group_chat.member_list[].userid``), lists merged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# The official request/response samples of reference Appendix A (from the doc pages' 请求示例/返回结果), and from the
# same source the moment read APIs' samples (DOC 93333: get_moment_list, _task, _customer_list, _send_result, _comments).
SAMPLES: dict[str, dict[str, Any]] = json.loads((Path(__file__).parent / "samples.json").read_text(encoding="utf-8"))


def paths(value: Any, prefix: str = "") -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else key
            found.add(path)
            found |= paths(item, path)
    elif isinstance(value, list):
        for item in value:
            found |= paths(item, f"{prefix}[]")
    return found


def shape_drift(actual: dict, sample: dict, *, optional: set[str] = frozenset(), extra: set[str] = frozenset()) -> dict:
    """What ``actual`` has that the official sample does not (a renamed or invented field), and what the sample
    has that ``actual`` lacks (a dropped field) — apart from the fields documented as ``optional``/``extra``."""
    got, want = paths(actual), paths(sample)
    return {"unknown": sorted(got - want - set(extra)), "missing": sorted(want - got - set(optional))}


def assert_shape(actual: dict, sample: dict, **allowances) -> None:
    drift = shape_drift(actual, sample, **allowances)
    assert drift == {"unknown": [], "missing": []}, drift
