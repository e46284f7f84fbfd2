"""The WeCom API client against the simulator: shared token, refresh-once, backoff, rate windows, call log."""

import logging
import threading
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from django.core.cache import cache

from siyu.orgs.models import AuditEntry
from siyu.wecom import errors
from siyu.wecom.client import WeComClient, endpoint_of
from siyu.wecom.connection import save_connection
from siyu.wecom.crypto import generate_encoding_aes_key, generate_token
from siyu.wecom.models import ApiCall, ApiRateWindow
from siyu.wecom.simulator import Simulator
from tests.factories import make_org

CORP_ID = "ww7a3b9c0d1e2f4a58"
AGENT_ID = "1000002"
SECRET = "sim-Secret-9Kd2xQ"
FOLLOW = "externalcontact/get_follow_user_list"


class Recorder:
    """WSGI middleware around the simulator that notes each path it serves (so tests count real requests)."""

    def __init__(self, app):
        self.app = app
        self.paths: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self._lock:
            self.paths.append(environ["PATH_INFO"].removeprefix("/cgi-bin/"))
        return self.app(environ, start_response)

    def count(self, endpoint: str) -> int:
        return self.paths.count(endpoint)


@pytest.fixture(autouse=True)
def fast_backoff(settings):
    settings.WECOM_BACKOFF_BASE = 0.001
    settings.WECOM_BACKOFF_MAX = 0.02


@pytest.fixture(autouse=True)
def clean_cache(django_db_blocker):
    # Tokens live in the database cache, whose table transactional tests do not roll back.
    with django_db_blocker.unblock():
        cache.clear()
    yield
    with django_db_blocker.unblock():
        cache.clear()


@pytest.fixture
def sim():
    simulator = Simulator(CORP_ID, SECRET, AGENT_ID, generate_token(), generate_encoding_aes_key())
    simulator.add_staff("zhangsan", "张三")
    simulator.add_staff("lisi", "李四")
    return simulator


@pytest.fixture
def wecom(sim):
    return Recorder(sim.wsgi_app)


@pytest.fixture
def org(db):
    organization = make_org()
    save_connection(
        organization, corp_id=CORP_ID, agent_id=AGENT_ID, secret=SECRET, callback_token=generate_token(),
        encoding_aes_key=generate_encoding_aes_key(), api_base="http://sim.test/cgi-bin/", by=None,
    )
    return organization


def client_for(org, wecom, **kwargs) -> WeComClient:
    return WeComClient.for_org(org, transport=httpx.WSGITransport(app=wecom), **kwargs)


def calls(org, endpoint=None):
    rows = ApiCall.objects.for_org(org).order_by("id")
    if endpoint:
        rows = rows.filter(endpoint=endpoint)
    return [(c.endpoint, c.errcode, c.attempt) for c in rows]


# -- token ----------------------------------------------------------------------------------------------------
def test_token_is_cached_and_shared_by_client_instances(org, wecom):
    for _ in range(3):
        with client_for(org, wecom) as client:
            for _ in range(4):
                assert sorted(client.get(FOLLOW)["follow_user"]) == ["lisi", "zhangsan"]
    assert wecom.count("gettoken") == 1 and wecom.count(FOLLOW) == 12
    assert calls(org, "gettoken") == [("gettoken", 0, 1)]


@pytest.mark.parametrize("how", ["expire_tokens", "fail_42001", "fail_40014"])
def test_a_stale_token_is_refreshed_once_and_the_call_succeeds(org, sim, wecom, how):
    with client_for(org, wecom) as client:
        client.get(FOLLOW)
        if how == "expire_tokens":
            sim.expire_tokens()
        else:
            sim.fail_next(FOLLOW, int(how[-5:]))
        assert client.get(FOLLOW)["follow_user"]  # no error surfaces
        client.get(FOLLOW)
    assert wecom.count("gettoken") == 2
    failed = [c for c in calls(org, FOLLOW) if c[1] != 0]
    assert len(failed) == 1 and failed[0][1] in (42001, 40014)
    assert calls(org, FOLLOW)[1:3] == [(FOLLOW, failed[0][1], 1), (FOLLOW, 0, 2)]


def test_the_token_is_refreshed_only_once_per_call_no_loops(org, sim, wecom):
    with client_for(org, wecom) as client:
        client.get(FOLLOW)
        sim.fail_next(FOLLOW, 42001, times=5)
        with pytest.raises(errors.TokenInvalid) as caught:
            client.get(FOLLOW)
    assert caught.value.errcode == 42001
    assert wecom.count("gettoken") == 2 and wecom.count(FOLLOW) == 3


def test_a_wrong_secret_on_gettoken_is_invalid_credentials_with_a_hint(org, sim, wecom):
    sim.fail_next("gettoken", 40001)
    with client_for(org, wecom) as client, pytest.raises(errors.InvalidCredentials) as caught:
        client.get(FOLLOW)
    assert caught.value.errcode == 40001 and "Secret" in caught.value.hint
    assert wecom.count(FOLLOW) == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_calls_fetch_exactly_one_token(sim, wecom):
    organization = make_org()
    save_connection(
        organization, corp_id=CORP_ID, agent_id=AGENT_ID, secret=SECRET, callback_token=generate_token(),
        encoding_aes_key=generate_encoding_aes_key(), api_base="http://sim.test/cgi-bin/", by=None,
    )
    threads_n = 8
    barrier = threading.Barrier(threads_n)
    results, failures = [], []

    def first_call():
        from django.db import connection

        try:
            with client_for(organization, wecom) as client:
                barrier.wait()
                results.append(client.get(FOLLOW)["follow_user"])
        except Exception as error:  # noqa: BLE001 - reported below
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=first_call) for _ in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not failures and len(results) == threads_n
    assert wecom.count("gettoken") == 1
    assert wecom.count(FOLLOW) == threads_n


# -- backoff --------------------------------------------------------------------------------------------------
def test_45009_once_backs_off_then_succeeds_and_logs_both_attempts(org, sim, wecom):
    slept = []
    sim.fail_next(FOLLOW, 45009)
    with client_for(org, wecom, sleep=slept.append) as client:
        assert client.get(FOLLOW)["follow_user"]
    assert calls(org, FOLLOW) == [(FOLLOW, 45009, 1), (FOLLOW, 0, 2)]
    assert len(slept) == 1 and 0 < slept[0] <= 0.001


@pytest.mark.parametrize(("errcode", "error"), [(45009, errors.RateLimited), (45033, errors.RateLimited), (-1, errors.SystemBusy)])
def test_persistent_throttling_raises_the_typed_error_after_the_backoff_budget(org, sim, wecom, errcode, error, settings):
    settings.WECOM_BACKOFF_BASE = 1.0
    settings.WECOM_BACKOFF_MAX = 20.0
    slept = []
    sim.fail_next(FOLLOW, errcode, times=100)
    with client_for(org, wecom, sleep=slept.append) as client, pytest.raises(error) as caught:
        client.get(FOLLOW)
    assert caught.value.errcode == errcode and caught.value.hint
    # Exponential with jitter: each pause in [base*2^n/2, base*2^n], the total exactly the budget.
    assert sum(slept) == pytest.approx(20.0)
    for n, pause in enumerate(slept[:-1]):
        assert 0.5 * 2**n <= pause <= 2**n
    attempts = calls(org, FOLLOW)
    assert len(attempts) == len(slept) + 1 and [a[2] for a in attempts] == list(range(1, len(slept) + 2))
    if error is errors.RateLimited:
        assert caught.value.retry_after > 0


def test_other_errors_are_not_retried(org, sim, wecom):
    sim.fail_next("externalcontact/list", 84061)
    with client_for(org, wecom, sleep=pytest.fail) as client, pytest.raises(errors.NotExternalContact) as caught:
        client.get("externalcontact/list", userid="zhangsan")
    assert caught.value.errcode == 84061 and "不是好友" in caught.value.hint
    assert caught.value.endpoint == "externalcontact/list"
    assert calls(org, "externalcontact/list") == [("externalcontact/list", 84061, 1)]


# -- our own rate windows -------------------------------------------------------------------------------------
def test_the_rate_window_refuses_the_call_over_the_limit_without_calling_wecom(org, wecom, settings):
    settings.WECOM_RATE_PER_MINUTE = 3
    now = datetime(2026, 5, 1, 10, 15, 20, tzinfo=UTC)
    with client_for(org, wecom, now=lambda: now) as client:
        for _ in range(3):
            client.get(FOLLOW)
        served = list(wecom.paths)
        with pytest.raises(errors.RateLimited) as caught:
            client.get(FOLLOW)
        assert wecom.paths == served  # WeCom never saw the refused call
        assert caught.value.retry_after == 40 and caught.value.errcode is None and caught.value.hint
        assert len(calls(org, FOLLOW)) == 3
        window = ApiRateWindow.objects.for_org(org).get(endpoint=FOLLOW, window="m")
        assert window.count == 3  # the refused call used no budget
        now += timedelta(seconds=40)  # the next minute opens a new window
        client.get(FOLLOW)
    assert wecom.count(FOLLOW) == 4


def test_the_hour_window_counts_across_minutes(org, wecom, settings):
    settings.WECOM_RATE_PER_HOUR = 2
    clock = [datetime(2026, 5, 1, 10, 58, 0, tzinfo=UTC)]
    with client_for(org, wecom, now=lambda: clock[0]) as client:
        client.get(FOLLOW)
        clock[0] += timedelta(minutes=1)
        client.get(FOLLOW)
        with pytest.raises(errors.RateLimited) as caught:
            client.get(FOLLOW)
        assert caught.value.retry_after == 60
        clock[0] += timedelta(minutes=1)
        client.get(FOLLOW)


def test_old_rate_windows_are_dropped(org, wecom):
    clock = [datetime(2026, 5, 1, 8, 0, 0, tzinfo=UTC)]
    with client_for(org, wecom, now=lambda: clock[0]) as client:
        client.get(FOLLOW)
        clock[0] += timedelta(hours=3)
        client.get(FOLLOW)
    starts = set(ApiRateWindow.objects.for_org(org).filter(endpoint=FOLLOW).values_list("window_start", flat=True))
    assert starts == {clock[0]}


def test_rate_windows_are_per_org_and_per_api(org, wecom, settings):
    settings.WECOM_RATE_PER_MINUTE = 1
    other = make_org()
    save_connection(
        other, corp_id=CORP_ID, agent_id=AGENT_ID, secret=SECRET, callback_token=generate_token(),
        encoding_aes_key=generate_encoding_aes_key(), api_base="http://sim.test/cgi-bin/", by=None,
    )
    now = datetime(2026, 5, 1, 10, 0, 0, tzinfo=UTC)
    with client_for(org, wecom, now=lambda: now) as a, client_for(other, wecom, now=lambda: now) as b:
        a.get(FOLLOW)
        a.get("department/list")  # another API has its own budget
        b.get(FOLLOW)  # another organization too
        with pytest.raises(errors.RateLimited):
            a.get(FOLLOW)


@pytest.mark.django_db(transaction=True)
def test_concurrent_callers_share_one_budget_exactly(sim, wecom, settings):
    settings.WECOM_RATE_PER_MINUTE = 10
    organization = make_org()
    save_connection(
        organization, corp_id=CORP_ID, agent_id=AGENT_ID, secret=SECRET, callback_token=generate_token(),
        encoding_aes_key=generate_encoding_aes_key(), api_base="http://sim.test/cgi-bin/", by=None,
    )
    now = datetime(2026, 5, 1, 9, 30, 0, tzinfo=UTC)
    with client_for(organization, wecom, now=lambda: now) as client:
        client.access_token()  # gettoken has its own window; keep it out of the race
    outcomes, lock = [], threading.Lock()

    def worker():
        from django.db import connection

        try:
            with client_for(organization, wecom, now=lambda: now) as client:
                for _ in range(4):
                    try:
                        client.get(FOLLOW)
                        result = "ok"
                    except errors.RateLimited:
                        result = "refused"
                    with lock:
                        outcomes.append(result)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert outcomes.count("ok") == 10 and outcomes.count("refused") == 14
    assert wecom.count(FOLLOW) == 10


# -- errors, paging, logging ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("errcode", "cls"),
    [
        (-1, errors.SystemBusy), (40001, errors.TokenInvalid), (40003, errors.InvalidParameter),
        (40013, errors.InvalidCredentials), (40014, errors.TokenInvalid), (40058, errors.InvalidParameter),
        (40068, errors.InvalidParameter), (40071, errors.InvalidParameter), (40091, errors.InvalidCredentials),
        (40096, errors.InvalidParameter), (41001, errors.TokenInvalid), (41051, errors.WelcomeAlreadySent),
        (41096, errors.WelcomeBeingSent), (42001, errors.TokenInvalid), (45009, errors.RateLimited),
        (45033, errors.RateLimited), (48002, errors.PermissionDenied), (60011, errors.PermissionDenied),
        (60020, errors.PermissionDenied), (81017, errors.InvalidParameter), (84061, errors.NotExternalContact),
        (301002, errors.PermissionDenied), (99999, errors.WeComError),
    ],
)
def test_error_for_maps_every_documented_errcode_to_its_class_and_a_hint(errcode, cls):
    error = errors.error_for(errcode, "msg", "externalcontact/get")
    assert type(error) is cls
    assert (error.errcode, error.errmsg, error.endpoint) == (errcode, "msg", "externalcontact/get")
    assert error.hint and isinstance(error.hint, str)


def test_permission_errors_say_where_to_fix_them():
    assert "可调用接口的应用" in errors.error_for(48002).hint
    assert "企业可信IP" in errors.error_for(60020).hint
    assert "可见范围" in errors.error_for(60011).hint


def test_iter_cursor_follows_next_cursor_to_the_end(org, sim, wecom):
    for n in range(5):
        sim.create_group("zhangsan", f"群{n}")
    with client_for(org, wecom) as client:
        chats = list(client.iter_cursor("externalcontact/groupchat/list", {"limit": 2}, "group_chat_list"))
    assert len({c["chat_id"] for c in chats}) == 5
    assert wecom.count("externalcontact/groupchat/list") == 3


def test_not_connected_and_network_errors_are_clear(org, db):
    with pytest.raises(errors.NotConnected) as caught:
        WeComClient.for_org(make_org())
    assert "企业微信" in caught.value.hint
    with WeComClient.for_org(org, transport=httpx.MockTransport(lambda request: httpx.Response(502))) as client:
        with pytest.raises(errors.WeComNetworkError) as caught:
            client.get(FOLLOW)
    assert caught.value.errcode is None and caught.value.hint
    assert calls(org) == [("gettoken", None, 1)]


def test_endpoints_are_logged_without_query_or_prefix():
    assert endpoint_of("/cgi-bin/externalcontact/get?external_userid=wm1&access_token=T") == "externalcontact/get"
    assert endpoint_of("gettoken") == "gettoken"


def test_the_secret_and_token_never_reach_the_call_log_the_audit_or_the_logs(org, sim, wecom, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")  # quiet by default; even when turned up it must mask
    with client_for(org, wecom) as client:
        client.get(FOLLOW)
        token = client.access_token()
        sim.fail_next(FOLLOW, 45009)
        client.get(FOLLOW)
        sim.fail_next(FOLLOW, 48002)
        with pytest.raises(errors.PermissionDenied):
            client.get(FOLLOW)
    assert token
    logged = " ".join(f"{c.endpoint} {c.errmsg}" for c in ApiCall.objects.for_org(org))
    assert SECRET not in logged and token not in logged
    audited = " ".join(str(e.details) for e in AuditEntry.objects.for_org(org))
    assert SECRET not in audited
    assert "gettoken" in caplog.text  # httpx did log the requests …
    assert SECRET not in caplog.text and token not in caplog.text  # … with the credentials masked


# -- no call inside a transaction -------------------------------------------------------------------------------
def test_a_call_inside_a_transaction_raises_before_reaching_wecom(org, wecom):
    from django.db import transaction

    from siyu.wecom.client import CallInsideTransaction

    with client_for(org, wecom) as client:
        client.access_token()  # the token fetch is not what this test is about
        with pytest.raises(CallInsideTransaction), transaction.atomic():
            client.get(FOLLOW)
        assert wecom.count(FOLLOW) == 0
        assert calls(org, FOLLOW) == []
        # Outside the block (the test case's own transaction stands in for autocommit) the call goes through.
        assert sorted(client.get(FOLLOW)["follow_user"]) == ["lisi", "zhangsan"]


def test_the_guard_is_a_setting_production_leaves_off(org, wecom, settings):
    from django.db import transaction

    settings.WECOM_ASSERT_NO_TRANSACTION = False
    with client_for(org, wecom) as client, transaction.atomic():
        assert sorted(client.get(FOLLOW)["follow_user"]) == ["lisi", "zhangsan"]


@pytest.mark.django_db(transaction=True)
def test_the_guard_fires_in_a_transactional_test_too(wecom):
    from django.db import transaction

    from siyu.wecom.client import CallInsideTransaction

    organization = make_org()
    save_connection(
        organization, corp_id=CORP_ID, agent_id=AGENT_ID, secret=SECRET, callback_token=generate_token(),
        encoding_aes_key=generate_encoding_aes_key(), api_base="http://sim.test/cgi-bin/", by=None,
    )
    with client_for(organization, wecom) as client:
        assert sorted(client.get(FOLLOW)["follow_user"]) == ["lisi", "zhangsan"]
        with pytest.raises(CallInsideTransaction), transaction.atomic():
            client.get(FOLLOW)
    assert wecom.count(FOLLOW) == 1
