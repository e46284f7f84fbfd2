"""The WeCom server API client: one per organization, safe to use from many processes at once.

What every call gets, so callers only see a dict or a typed :mod:`siyu.wecom.errors` exception:

* **Access token** shared by all processes through Django's cache (Redis in production), refreshed by one
  process at a time: the first to ``cache.add`` the lock key calls ``gettoken``, the others wait for its
  token. A business call answered 40014/42001/40001 refreshes once and is retried once. The JS-SDK tickets
  (``wecom.jssdk``) are fetched the same way, through :func:`fetch_once`.
* **Rate limits** per corp and API (WeCom's 10,000/min and 150,000/h) counted in :class:`ApiRateWindow`
  rows with one atomic upsert, so all processes share one budget; over it we raise :class:`RateLimited`
  without calling WeCom (a hit there blocks the whole window).
* **Backoff** with jitter on 45009/45033/-1 within a total wait budget, then the typed error.
* **A log row** (:class:`ApiCall`) per attempt: endpoint, errcode, latency. Never the secret or the token.

Settings (all optional): ``WECOM_RATE_PER_MINUTE``, ``WECOM_RATE_PER_HOUR``, ``WECOM_BACKOFF_BASE``,
``WECOM_BACKOFF_MAX``, ``WECOM_TIMEOUT``, ``WECOM_TOKEN_MARGIN``. ``WECOM_ASSERT_NO_TRANSACTION`` (on in the
tests) makes every HTTP call made inside an open database transaction raise :class:`CallInsideTransaction`.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import itertools
import logging
import random
import re
import ssl
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection, connections, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from siyu.wecom.errors import (
    BACKOFF_CODES,
    REFRESH_TOKEN_CODES,
    NotConnected,
    RateLimited,
    WeComError,
    WeComNetworkError,
    error_for,
)
from siyu.wecom.models import ApiCall, ApiRateWindow, WeComConnection

log = logging.getLogger(__name__)

# Defaults from WeCom's published limits (reference §3.1) and sensible client behaviour.
DEFAULTS = {
    "WECOM_RATE_PER_MINUTE": 10_000,
    "WECOM_RATE_PER_HOUR": 150_000,
    "WECOM_BACKOFF_BASE": 1.0,
    "WECOM_BACKOFF_MAX": 20.0,
    "WECOM_TIMEOUT": 10.0,
    "WECOM_TOKEN_MARGIN": 300,
}
_LOCK_POLL = 0.05  # seconds between looks at the cache while another process fetches the token
_FAILURE_MEMORY = 5  # seconds a failed token fetch is remembered, so waiters fail with it instead of re-asking
_RATE_WINDOW_KEEP = timedelta(hours=2)
_LOCAL_LIMIT_HINT = _("该接口本分钟或本小时的调用次数已达上限（与企业微信的频率限制一致），请稍后再试。")


class _RedactCredentials(logging.Filter):
    """httpx logs every request URL at INFO; ours carry ``corpsecret``/``access_token`` in the query."""

    pattern = re.compile(r"((?:corpsecret|access_token)=)[^&\s\"']+")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "corpsecret=" in message or "access_token=" in message:
            record.msg, record.args = self.pattern.sub(r"\1***", message), ()
        return True


for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).addFilter(_RedactCredentials())


def _setting(name: str):
    return getattr(settings, name, DEFAULTS[name])


class CallInsideTransaction(RuntimeError):
    """A WeCom call was made while a database transaction was open (raised only with WECOM_ASSERT_NO_TRANSACTION).

    The house rule is validate → call WeCom → write: a call inside a transaction holds SQLite's write lock or
    PostgreSQL's row locks for a network round trip, and a rollback after it cannot undo what WeCom did.
    Not a :class:`WeComError`, so no caller handles it as WeCom's answer.
    """


def assert_no_transaction(endpoint: str) -> None:
    """Raise :class:`CallInsideTransaction` if any connection is inside an ``atomic`` block we opened.

    The blocks a test case opens around each test (Django marks them ``_from_testcase``) do not count: they
    stand in for autocommit, which is what the code runs under outside the tests.
    """
    for conn in connections.all(initialized_only=True):
        if any(not block._from_testcase for block in conn.atomic_blocks):
            raise CallInsideTransaction(f"WeCom call {endpoint} inside a database transaction on {conn.alias!r}")


def endpoint_of(path: str) -> str:
    """The API name of a path, as logged and rate-limited: no query string, no ``/cgi-bin/`` prefix."""
    path = path.split("?", 1)[0].strip().lstrip("/")
    if path.startswith("cgi-bin/"):
        path = path[len("cgi-bin/") :]
    return path.rstrip("/")[:100]


# Per-process memory: org id → (expires, connection) and token key → (expires, token).
_connections: dict[int, tuple[float, WeComConnection | None]] = {}
_tokens: dict[str, tuple[float, str]] = {}
_CONNECTION_SECONDS = 10.0
_TOKEN_MEMO_SECONDS = 60.0


def forget_connection(org_id: int) -> None:
    """Drop this process's memory of an organization's connection (after it was edited)."""
    _connections.pop(org_id, None)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context per process: loading the CA certificates took ~40 ms per client otherwise."""
    return ssl.create_default_context()


def fetch_once(
    key: str, fetch: Callable[[], str], endpoint: str, *, lock_ttl: int, stale: str | None = None, force: bool = False,
) -> str:
    """The value cached at ``key``, fetched by at most one process at a time; ``fetch`` stores it under ``key``.

    The first process to ``cache.add`` the lock calls ``fetch``; the others poll the cache for its value (one
    WeCom call for any number of waiters, which WeCom's quotas on tokens and tickets require). A failed fetch
    is remembered for a few seconds, so the waiters fail with its error instead of each asking WeCom again.
    ``stale`` is a value known to be bad (not accepted from the cache); ``force`` fetches even if one is cached.
    """
    lock_key, failure_key = f"{key}-lock", f"{key}-failure"
    started = time.time()
    deadline = time.monotonic() + lock_ttl + 5
    owner = uuid.uuid4().hex
    while True:
        if cache.add(lock_key, owner, timeout=lock_ttl):
            try:
                if not force:
                    value = cache.get(key)
                    if value and value != stale:
                        return value  # the previous holder stored one just before we took the lock
                return fetch()
            except WeComError as error:
                if error.errcode is not None or isinstance(error, WeComNetworkError):
                    cache.set(failure_key, {"at": time.time(), "errcode": error.errcode, "errmsg": error.errmsg},
                              timeout=_FAILURE_MEMORY)
                raise
            finally:
                if cache.get(lock_key) == owner:
                    cache.delete(lock_key)
        time.sleep(_LOCK_POLL)
        value = cache.get(key)
        if value and value != stale:
            return value
        failure = cache.get(failure_key)
        if failure and failure["at"] >= started and cache.get(lock_key) is None:
            # The fetch we were waiting for failed: share its error rather than asking WeCom again.
            if failure["errcode"] is None:
                raise WeComNetworkError(failure["errmsg"], endpoint)
            raise error_for(failure["errcode"], failure["errmsg"], endpoint)
        if time.monotonic() > deadline:
            raise WeComNetworkError(f"timed out waiting for another process to call {endpoint}", endpoint)


@dataclass(frozen=True)
class Upload:
    """A file for WeCom's upload APIs."""

    filename: str
    data: bytes


class WeComClient:
    """Calls WeCom for one organization's connection. Use as a context manager, or call :meth:`close`.

    ``transport`` (an httpx transport, e.g. ``httpx.WSGITransport(app=sim.wsgi_app)``), ``now`` and ``sleep``
    exist so tests can run against the simulator and pin the clock; production leaves them alone.
    """

    def __init__(
        self,
        conn: WeComConnection,
        *,
        transport: httpx.BaseTransport | None = None,
        now: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] | None = None,
    ):
        self.connection = conn
        self.org_id = conn.org_id
        self._now = now or timezone.now
        self._sleep = sleep or time.sleep
        timeout = float(_setting("WECOM_TIMEOUT"))
        # Long enough for a fetch with its backoff; a crashed fetcher frees the lock after this.
        self.lock_ttl = int(2 * timeout + float(_setting("WECOM_BACKOFF_MAX"))) + 5
        self._http = httpx.Client(base_url=conn.api_base, timeout=timeout, transport=transport, verify=_tls_context())
        # The key changes with the secret or the API base, so an edited connection never reuses a stale token.
        fingerprint = hmac.new(
            settings.SECRET_KEY.encode(), f"{conn.api_base}\0{conn.secret}".encode(), hashlib.sha256
        ).hexdigest()[:16]
        # Shared values of this app (its token, its JS-SDK tickets) live under this prefix in the cache.
        self.cache_scope = f"wecom:{conn.corp_id}:{conn.agent_id}:{fingerprint}"
        self._token_key = f"{self.cache_scope}:token"

    @classmethod
    def for_org(cls, org, **kwargs) -> WeComClient:
        """The client for ``org``'s active connection; :class:`NotConnected` when there is none.

        The connection row (with its decrypted secret) is kept in memory for a few seconds: a worker builds a
        client per event, and reading and decrypting it each time was a large share of processing an add.
        """
        org_id = getattr(org, "pk", org)
        cached = _connections.get(org_id)
        if cached is not None and cached[0] > time.monotonic():
            conn = cached[1]
        else:
            conn = WeComConnection.objects.for_org(org).filter(is_active=True).first()
            _connections[org_id] = (time.monotonic() + _CONNECTION_SECONDS, conn)
        if conn is None or not conn.secret:
            raise NotConnected(org)
        return cls(conn, **kwargs)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> WeComClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- public calls ------------------------------------------------------------------------------------
    def get(self, path: str, **params) -> dict:
        """GET an API (``"externalcontact/get"``) with query ``params``; the answer's JSON on errcode 0."""
        return self._call("GET", endpoint_of(path), params, None)

    def post(self, path: str, json: dict | None = None) -> dict:
        """POST ``json`` to an API; the answer's JSON on errcode 0."""
        return self._call("POST", endpoint_of(path), {}, json if json is not None else {})

    def upload(self, path: str, filename: str, data: bytes, **params) -> dict:
        """POST a file as multipart/form-data in a ``media`` part (``media/upload``, ``media/uploadimg``)."""
        return self._call("POST", endpoint_of(path), params, Upload(filename, data))

    def iter_cursor(self, path: str, body: dict | None, list_key: str) -> Iterator:
        """Every item of ``list_key`` across a cursor-paged POST API (``next_cursor`` empty or absent = end)."""
        body = dict(body or {})
        seen: set[str] = set()
        while True:
            data = self.post(path, body)
            yield from data.get(list_key) or []
            cursor = data.get("next_cursor") or ""
            if not cursor or cursor in seen:  # a repeated cursor would page forever
                return
            seen.add(cursor)
            body["cursor"] = cursor

    def access_token(self, *, refresh: bool = False) -> str:
        """The shared access token; ``refresh=True`` fetches a new one even if one is cached.

        Remembered in the process for a minute on top of the shared cache (one query less per call); a token
        WeCom refuses is renewed through the shared cache as usual, so processes still agree on it.
        """
        if not refresh:
            memo = _tokens.get(self._token_key)
            if memo is not None and memo[0] > time.monotonic():
                return memo[1]
            token = cache.get(self._token_key)
            if token:
                _tokens[self._token_key] = (time.monotonic() + _TOKEN_MEMO_SECONDS, token)
                return token
        return self._fetch_token(stale=cache.get(self._token_key) if refresh else None, force=refresh)

    # -- token -------------------------------------------------------------------------------------------
    def _renew_after(self, stale: str) -> str:
        """A business call said ``stale`` is no good: drop it (unless already replaced) and get another."""
        _tokens.pop(self._token_key, None)
        current = cache.get(self._token_key)
        if current and current != stale:
            return current  # another process has refreshed it meanwhile
        cache.delete(self._token_key)
        return self._fetch_token(stale=stale, force=False)

    def _fetch_token(self, *, stale: str | None, force: bool) -> str:
        """Fetch a token with at most one ``gettoken`` in flight across processes; others wait for it."""
        return fetch_once(self._token_key, self._gettoken, "gettoken", lock_ttl=self.lock_ttl, stale=stale, force=force)

    def _gettoken(self) -> str:
        conn = self.connection
        data = self._with_backoff(
            "GET", "gettoken", {"corpid": conn.corp_id, "corpsecret": conn.secret}, None, token=None
        )
        token = data.get("access_token") or ""
        if not token:
            raise WeComNetworkError("gettoken answered without an access_token", "gettoken")
        expires_in = int(data.get("expires_in") or 7200)
        margin = int(_setting("WECOM_TOKEN_MARGIN"))
        ttl = max(expires_in - margin, expires_in // 2, 1)
        cache.set(self._token_key, token, timeout=ttl)
        return token

    # -- one logical call: token, refresh-once, backoff ---------------------------------------------------
    def _call(self, method: str, endpoint: str, params: dict, body: dict | None) -> dict:
        attempts = itertools.count(1)
        token = self.access_token()
        try:
            return self._with_backoff(method, endpoint, params, body, token=token, attempts=attempts)
        except WeComError as error:
            if error.errcode not in REFRESH_TOKEN_CODES:
                raise
        # The token was revoked or expired early: one refresh, one retry, and whatever happens is final.
        token = self._renew_after(token)
        return self._with_backoff(method, endpoint, params, body, token=token, attempts=attempts)

    def _with_backoff(
        self, method: str, endpoint: str, params: dict, body: dict | None, *, token: str | None,
        attempts: Iterator[int] | None = None,
    ) -> dict:
        attempts = attempts or itertools.count(1)
        base = float(_setting("WECOM_BACKOFF_BASE"))
        budget = float(_setting("WECOM_BACKOFF_MAX"))
        waited, retries = 0.0, 0
        while True:
            query = dict(params)
            if token is not None:
                query["access_token"] = token
            data = self._send(method, endpoint, query, body, attempt=next(attempts), token=token)
            errcode = data["errcode"]
            if errcode == 0:
                return data
            error = error_for(errcode, str(data.get("errmsg") or ""), endpoint)
            remaining = budget - waited
            if errcode not in BACKOFF_CODES or remaining <= 0:
                raise error
            # Exponential backoff with jitter, the last pause trimmed to what is left of the budget.
            delay = min(base * 2**retries * random.uniform(0.5, 1.0), remaining)
            log.warning("wecom %s: errcode %s, retrying in %.2fs", endpoint, errcode, delay)
            self._sleep(delay)
            waited += delay
            retries += 1

    # -- one HTTP attempt ---------------------------------------------------------------------------------
    def _send(self, method: str, endpoint: str, query: dict, body: dict | None, *, attempt: int, token) -> dict:
        if getattr(settings, "WECOM_ASSERT_NO_TRANSACTION", False):
            assert_no_transaction(endpoint)
        self._take_rate_slot(endpoint)
        started = time.perf_counter()
        try:
            content = {"files": {"media": (body.filename, body.data)}} if isinstance(body, Upload) else {"json": body}
            response = self._http.request(method, endpoint, params=query, **content)
            if response.status_code != 200:
                raise WeComNetworkError(f"HTTP {response.status_code}", endpoint)
            data = response.json()
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except (httpx.HTTPError, ValueError, WeComNetworkError) as exc:
            message = exc.errmsg if isinstance(exc, WeComNetworkError) else f"{type(exc).__name__}: {exc}"
            message = self._scrub(message, token)
            self._log_call(endpoint, None, message, started, attempt)
            raise WeComNetworkError(message, endpoint) from None
        errcode = data.get("errcode")
        try:
            errcode = int(errcode or 0)
        except (TypeError, ValueError):
            errcode = -1
        data["errcode"] = errcode
        self._log_call(endpoint, errcode, self._scrub(str(data.get("errmsg") or ""), token), started, attempt)
        return data

    def _scrub(self, text: str, token: str | None) -> str:
        for secret in (self.connection.secret, token):
            if secret:
                text = text.replace(secret, "***")
        return text

    def _log_call(self, endpoint: str, errcode: int | None, errmsg: str, started: float, attempt: int) -> None:
        latency = int((time.perf_counter() - started) * 1000)
        try:
            with transaction.atomic():
                ApiCall.objects.create(
                    org_id=self.org_id, endpoint=endpoint, errcode=errcode, errmsg=errmsg[:300],
                    latency_ms=latency, attempt=min(attempt, 32767),
                )
        except DatabaseError:
            # The call happened; a busy database must not turn its answer into a failure.
            log.warning("wecom %s: could not record the API call", endpoint, exc_info=True)

    # -- rate windows --------------------------------------------------------------------------------------
    def _take_rate_slot(self, endpoint: str) -> None:
        """Count one call in this minute's and this hour's window; refuse (and count nothing) when full."""
        now = self._now()
        minute = now.replace(second=0, microsecond=0)
        hour = minute.replace(minute=0)
        limits = {
            "m": (int(_setting("WECOM_RATE_PER_MINUTE")), minute + timedelta(minutes=1)),
            "h": (int(_setting("WECOM_RATE_PER_HOUR")), hour + timedelta(hours=1)),
        }
        qn = connection.ops.quote_name
        table = qn(ApiRateWindow._meta.db_table)
        window, count = qn("window"), qn("count")
        sql = (
            f"INSERT INTO {table} (org_id, endpoint, {window}, window_start, {count}) "
            "VALUES (%s, %s, 'm', %s, 1), (%s, %s, 'h', %s, 1) "
            f"ON CONFLICT (org_id, endpoint, {window}, window_start) "
            f"DO UPDATE SET {count} = {table}.{count} + 1 RETURNING {window}, {count}"
        )
        adapt = connection.ops.adapt_datetimefield_value
        args = [self.org_id, endpoint, adapt(minute), self.org_id, endpoint, adapt(hour)]
        refused: RateLimited | None = None
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql, args)
                counts = dict(cursor.fetchall())
            for name, (limit, window_end) in limits.items():
                retry_after = max((window_end - now).total_seconds(), 1.0)
                if counts[name] > limit and (refused is None or retry_after > refused.retry_after):
                    refused = RateLimited(
                        None, f"local limit {limit}/{'min' if name == 'm' else 'hour'} reached", endpoint,
                        _LOCAL_LIMIT_HINT, retry_after=retry_after,
                    )
            if refused is not None:
                raise refused  # leaving the block this way rolls the increments back: no budget used
        if counts["m"] == 1:
            # First call of a new minute for this API: drop windows nobody will read again.
            ApiRateWindow.objects.for_org(self.org_id).filter(
                endpoint=endpoint, window_start__lt=now - _RATE_WINDOW_KEEP
            ).delete()
