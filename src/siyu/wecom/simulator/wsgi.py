"""The simulator's WSGI application: ``/cgi-bin/…`` is WeCom's API, ``/connect/…`` and ``/wwlogin/…`` its
sign-in pages, ``/sim/…`` the control API.

Plain WSGI with no framework so the simulator runs as its own small process
(stdlib server) or inside a test through ``httpx.WSGITransport``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from . import control, oauth

_REASONS = {200: "200 OK", 302: "302 Found", 400: "400 Bad Request", 404: "404 Not Found", 405: "405 Method Not Allowed"}


def application(sim, environ, start_response):
    path = environ.get("PATH_INFO") or "/"
    method = environ.get("REQUEST_METHOD", "GET").upper()
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    if path in oauth.PAGES:
        status, headers, payload = oauth.handle(sim, method, path, query, body)
        start_response(_REASONS.get(status, f"{status} Error"), [*headers, ("Content-Length", str(len(payload)))])
        return [payload]
    if path.startswith("/cgi-bin/"):
        status, data = sim.call_api(method, path, query, body, environ.get("REMOTE_ADDR") or "127.0.0.1")
    elif path.startswith("/sim/"):
        status, data = control.handle(sim, method, path[len("/sim/"):].strip("/"), query, body)
    else:
        status, data = 404, {"error": f"no route {path}: WeCom lives under /cgi-bin/, the control API under /sim/"}
    return _json(start_response, status, data)


def _json(start_response, status: int, data: Any):
    payload = json.dumps(data, ensure_ascii=False).encode("utf-8")
    start_response(_REASONS.get(status, f"{status} Error"), [
        ("Content-Type", "application/json; charset=UTF-8"),
        ("Content-Length", str(len(payload))),
    ])
    return [payload]
