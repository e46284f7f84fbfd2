"""The HTTP control API under ``/sim/``: the Simulator's control methods as JSON routes.

``POST /sim/<action>`` with a JSON object of keyword arguments calls the
method of the same name (kebab-case → snake_case); ``GET /sim/<view>``
returns an inspection view. The route table is an explicit allow-list so
nothing else on the object is reachable over HTTP. docs/simulator.md
documents every route.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

from .errors import SimulatorError

ACTIONS = (
    "add-department", "update-department", "delete-department",
    "add-staff", "update-staff", "remove-staff", "set-visible-range",
    "scan", "accept", "add-customer", "import-contacts", "chat",
    "customer-deletes-staff", "staff-deletes-customer", "staff-edits-customer", "refuse-transfer",
    "admin-add-tags", "admin-edit-tag", "admin-delete-tags", "admin-reorder-tags", "admin-reorder-tag-groups",
    "create-group", "join-group", "leave-group", "rename-group", "set-group-notice", "change-group-owner",
    "set-group-welcome", "dismiss-group", "confirm-groupmsg", "set-groupmsg-rule",
    "publish-moment", "like-moment", "comment-moment",
    "advance", "fail-next", "expire-tokens", "set-limits", "set-callback-url", "set-duplicate-deliveries",
    "redeliver-all", "flush", "save", "set-trusted-domains", "check-jsapi-signature",
    "send-chat-message",
)

# view -> (method name, {query parameter: converter})
VIEWS = {
    "state": ("summary", {}),
    "staff": ("list_staff", {}),
    "customers": ("list_customers", {"userid": str}),
    "groups": ("list_groups", {}),
    "messages": ("messages", {"touser": str}),
    "welcome": ("welcomes", {}),
    "chat-tool-messages": ("chat_tool_messages", {"userid": str}),
    "moments": ("moments", {}),
    "group-welcomes": ("group_welcomes", {"chat_id": str}),
    "deliveries": ("delivery_log", {"limit": int}),
    "archive": ("archive", {"seq": int, "limit": int}),
}


def handle(sim, method: str, name: str, query: dict[str, str], body: bytes) -> tuple[int, Any]:
    if method == "GET" and name in VIEWS:
        attr, params = VIEWS[name]
        try:
            kwargs = {k: convert(query[k]) for k, convert in params.items() if query.get(k)}
        except ValueError:
            return 400, {"error": f"bad query parameter for {name}"}
        return _call(getattr(sim, attr), kwargs)
    if method == "POST" and name in ACTIONS:
        try:
            kwargs = json.loads(body) if body.strip() else {}
        except ValueError:
            return 400, {"error": "the body must be a JSON object of arguments"}
        if not isinstance(kwargs, dict):
            return 400, {"error": "the body must be a JSON object of arguments"}
        return _call(getattr(sim, name.replace("-", "_")), kwargs)
    if name in VIEWS or name in ACTIONS:
        return 405, {"error": f"use {'GET' if name in VIEWS else 'POST'} for /sim/{name}"}
    return 404, {"error": f"no control route /sim/{name}", "views": sorted(VIEWS), "actions": list(ACTIONS)}


def _call(method, kwargs: dict[str, Any]) -> tuple[int, Any]:
    try:
        inspect.signature(method).bind(**kwargs)
    except TypeError as exc:
        return 400, {"error": f"bad arguments: {exc}"}
    try:
        return 200, method(**kwargs)
    except SimulatorError as exc:
        return exc.status, {"error": str(exc)}
