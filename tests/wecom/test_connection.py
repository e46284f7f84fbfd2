"""Connecting an organization to WeCom: the service, the console page, the preflight checks and the CLI."""

import httpx
import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection as db
from django.test import Client
from django.urls import reverse

from siyu.orgs.models import AuditEntry
from siyu.wecom.connection import callback_url, preflight, save_connection
from siyu.wecom.crypto import WXBizMsgCrypt, generate_encoding_aes_key, generate_token
from siyu.wecom.models import ApiCall, WeComConnection
from siyu.wecom.simulator import Simulator, run_in_thread
from tests.factories import client_for

CORP_ID = "ww4f1c2e9a0b7d3e51"
AGENT_ID = "1000002"
SECRET = "Zq8-plaintext-secret-7Hc2Lm"
SIM_TOKEN = generate_token()
SIM_AES_KEY = generate_encoding_aes_key()


def valid(**changes) -> dict:
    data = {
        "corp_id": CORP_ID, "agent_id": AGENT_ID, "secret": SECRET, "callback_token": "Tok3nAbc",
        "encoding_aes_key": generate_encoding_aes_key(), "api_base": "http://wecom-sim:9000",
    }
    return {**data, **changes}


def raw_columns(conn) -> tuple[str, str]:
    with db.cursor() as cursor:
        cursor.execute("SELECT secret, encoding_aes_key FROM wecom_wecomconnection WHERE id = %s", [conn.pk])
        return cursor.fetchone()


def wecom_audit(org):
    return AuditEntry.objects.for_org(org).filter(action__startswith="wecom.")


@pytest.fixture
def sim(settings):
    simulator = Simulator(CORP_ID, SECRET, AGENT_ID, SIM_TOKEN, SIM_AES_KEY)
    settings.WECOM_BACKOFF_BASE = 0.001
    settings.WECOM_BACKOFF_MAX = 0.01
    return simulator


def sim_transport(sim) -> httpx.WSGITransport:
    return httpx.WSGITransport(app=sim.wsgi_app)


def app_transport() -> httpx.MockTransport:
    """Routes the callback check to this app's own callback view, in-process through Django's test client."""
    app = Client()

    def handle(request: httpx.Request) -> httpx.Response:
        response = app.get(request.url.path, dict(request.url.params))
        return httpx.Response(response.status_code, content=response.content)

    return httpx.MockTransport(handle)


# -- the service ----------------------------------------------------------------------------------------------
def test_save_connection_stores_secret_and_aes_key_encrypted_and_audits_without_them(world):
    data = valid()
    conn = save_connection(world.org, by=world.admin.user, **data)
    conn.refresh_from_db()
    assert (conn.secret, conn.encoding_aes_key) == (SECRET, data["encoding_aes_key"])
    raw_secret, raw_key = raw_columns(conn)
    assert SECRET not in raw_secret and data["encoding_aes_key"] not in raw_key
    assert conn.api_base == "http://wecom-sim:9000/cgi-bin/"  # a bare host gets WeCom's path
    entry = wecom_audit(world.org).get()
    assert entry.action == "wecom.connected" and entry.actor == world.admin.user
    assert SECRET not in str(entry.details) and data["encoding_aes_key"] not in str(entry.details)
    assert "secret" in entry.details["changed"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"corp_id": "corp-123"}, "corp_id"),
        ({"corp_id": "ab1234567890"}, "corp_id"),
        ({"agent_id": "10000x"}, "agent_id"),
        ({"secret": ""}, "secret"),
        ({"callback_token": "ab"}, "callback_token"),
        ({"callback_token": "has space"}, "callback_token"),
        ({"callback_token": "x" * 33}, "callback_token"),
        ({"encoding_aes_key": "a" * 42}, "encoding_aes_key"),
        ({"encoding_aes_key": "a" * 44}, "encoding_aes_key"),
        ({"encoding_aes_key": "a" * 42 + "="}, "encoding_aes_key"),
        ({"api_base": "ftp://example.com/"}, "api_base"),
        ({"api_base": "not a url"}, "api_base"),
    ],
)
def test_save_connection_refuses_bad_input_and_changes_nothing(world, changes, field):
    with pytest.raises(ValidationError) as caught:
        save_connection(world.org, by=None, **valid(**changes))
    assert field in caught.value.message_dict
    assert not WeComConnection.objects.for_org(world.org).exists()
    assert not wecom_audit(world.org).exists()


def test_save_connection_reports_every_bad_field_at_once(world):
    with pytest.raises(ValidationError) as caught:
        save_connection(world.org, by=None, **valid(corp_id="x", secret="", encoding_aes_key="short"))
    assert {"corp_id", "secret", "encoding_aes_key"} <= set(caught.value.message_dict)


def test_editing_with_a_blank_secret_keeps_the_stored_one(world):
    data = valid()
    save_connection(world.org, by=None, **data)
    conn = save_connection(world.org, by=None, **{**data, "secret": "", "agent_id": "1000003"})
    conn.refresh_from_db()
    assert conn.secret == SECRET and conn.agent_id == "1000003"
    assert WeComConnection.objects.for_org(world.org).count() == 1
    edit = wecom_audit(world.org).filter(action="wecom.connection_changed").get()
    assert edit.details["changed"] == ["agent_id"]


def test_callback_url_is_public_url_plus_org_slug(world, settings):
    settings.PUBLIC_URL = "https://scrm.example.com"
    assert callback_url(world.org) == "https://scrm.example.com/wecom/callback/brand-a/"


# -- the console page -----------------------------------------------------------------------------------------
def test_connection_page_saves_and_never_echoes_the_secret(world):
    client = client_for(world.admin)
    url = reverse("wecom:connection")
    first = client.get(url)
    assert first.status_code == 200 and callback_url(world.org) in first.content.decode()
    response = client.post(url, {**valid(), "action": "save"})
    assert response.status_code == 302
    page = client.get(url).content.decode()
    assert SECRET not in page and CORP_ID in page
    assert "留空则保留原 Secret" in page


def test_only_platform_admins_may_point_the_connection_elsewhere(world):
    """The server calls the API address: an HQ admin must not aim it at an internal host."""
    client = client_for(world.admin)
    url = reverse("wecom:connection")
    client.post(url, {**valid(), "api_base": "http://169.254.169.254/latest/", "action": "save"})
    conn = WeComConnection.objects.for_org(world.org).get()
    assert "169.254" not in conn.api_base
    world.admin.user.is_superuser = True
    world.admin.user.save()
    client.post(url, {**valid(), "secret": "", "api_base": "http://127.0.0.1:8100/cgi-bin/", "action": "save"})
    conn.refresh_from_db()
    assert conn.api_base == "http://127.0.0.1:8100/cgi-bin/"


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"corp_id": "corp-123"}, "corp_id"), ({"encoding_aes_key": "b" * 42}, "encoding_aes_key"), ({"secret": ""}, "secret")],
)
def test_connection_form_shows_field_errors_and_saves_nothing(world, changes, field):
    client = client_for(world.admin)
    response = client.post(reverse("wecom:connection"), {**valid(**changes), "action": "save"})
    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert not WeComConnection.objects.for_org(world.org).exists()
    assert not wecom_audit(world.org).exists()


def test_generate_buttons_fill_fresh_values_without_saving(world):
    client = client_for(world.admin)
    posted = {**valid(callback_token="old", encoding_aes_key="old"), "action": "generate_aes_key"}
    response = client.post(reverse("wecom:connection"), posted)
    form = response.context["form"]
    assert response.status_code == 200 and not form.errors
    key = form.initial["encoding_aes_key"]
    assert len(key) == 43 and key != "old"
    WXBizMsgCrypt("tok", key, CORP_ID)  # a usable key
    assert form.initial["corp_id"] == CORP_ID and form.initial["callback_token"] == "old"
    assert SECRET not in response.content.decode()
    response = client.post(reverse("wecom:connection"), {**posted, "action": "generate_token"})
    assert len(response.context["form"].initial["callback_token"]) == 32
    assert not WeComConnection.objects.for_org(world.org).exists()


def test_wecom_pages_need_the_org_settings_capability(world):
    guide, manager = client_for(world.guide_e1), client_for(world.east_manager)
    for name in ["wecom:connection", "wecom:calls"]:
        assert guide.get(reverse(name)).status_code == 403
        assert manager.get(reverse(name)).status_code == 403
    assert manager.post(reverse("wecom:connection"), {**valid(), "action": "save"}).status_code == 403
    assert not WeComConnection.objects.for_org(world.org).exists()


def test_nav_lists_the_wecom_pages_for_admins_only(world):
    admin_page = client_for(world.admin).get(reverse("console:dashboard")).content.decode()
    guide_page = client_for(world.guide_e1).get(reverse("console:dashboard")).content.decode()
    assert reverse("wecom:connection") in admin_page and reverse("wecom:calls") in admin_page
    assert reverse("wecom:connection") not in guide_page


def test_call_log_filters_by_endpoint_and_result_and_stays_in_its_org(world):
    for org, endpoint, errcode in [
        (world.org, "gettoken", 0), (world.org, "externalcontact/list", 84061),
        (world.org, "externalcontact/list", 0), (world.org, "externalcontact/get", None),
        (world.other_org, "externalcontact/list", 48002),
    ]:
        ApiCall.objects.create(org=org, endpoint=endpoint, errcode=errcode, errmsg="x", latency_ms=3)
    client = client_for(world.admin)
    url = reverse("wecom:calls")

    def listed(**query):
        response = client.get(url, query)
        assert response.status_code == 200
        return [(c.endpoint, c.errcode) for c in response.context["page"]]

    assert len(listed()) == 4
    assert listed(endpoint="externalcontact/list") == [("externalcontact/list", 0), ("externalcontact/list", 84061)]
    assert sorted(listed(result="failed"), key=str) == [("externalcontact/get", None), ("externalcontact/list", 84061)]
    assert listed(result="ok", endpoint="externalcontact/list") == [("externalcontact/list", 0)]


# -- preflight ------------------------------------------------------------------------------------------------
@pytest.fixture
def connect_to(django_capture_on_commit_callbacks):
    def connect(sim, org, api_base="http://sim.test/cgi-bin/"):
        # Run the on-commit hook too: it makes the callback view forget the keys it cached for this slug.
        with django_capture_on_commit_callbacks(execute=True):
            return save_connection(
                org, corp_id=sim.corp_id, agent_id=str(sim.agent_id), secret=sim.corp_secret,
                callback_token=SIM_TOKEN, encoding_aes_key=SIM_AES_KEY, api_base=api_base, by=None,
            )

    return connect


def by_name(results):
    return {r.name: r for r in results}


def test_preflight_passes_against_the_simulator_and_this_apps_callback_view(world, sim, connect_to):
    connect_to(sim, world.org)
    results = by_name(preflight(world.org, transport=sim_transport(sim), callback_transport=app_transport()))
    assert all(r.ok for r in results.values()), results
    conn = WeComConnection.objects.for_org(world.org).get()
    assert conn.last_check_ok is True and conn.last_check_at is not None
    assert [r["name"] for r in conn.last_check_report] == ["token", "permission", "callback"]


def test_preflight_explains_a_wrong_secret(world, sim, connect_to):
    connect_to(sim, world.org)
    sim.fail_next("gettoken", 40001)
    results = by_name(preflight(world.org, transport=sim_transport(sim), callback_transport=app_transport()))
    assert not results["token"].ok and "40001" in results["token"].detail
    assert "Secret" in results["token"].fix
    assert not results["permission"].ok  # not tried without a token
    assert results["callback"].ok
    conn = WeComConnection.objects.for_org(world.org).get()
    assert conn.last_check_ok is False
    assert SECRET not in str(conn.last_check_report)


def test_preflight_explains_an_app_missing_from_the_customer_contact_apps(world, sim, connect_to):
    connect_to(sim, world.org)
    sim.fail_next("externalcontact/get_follow_user_list", 48002)
    results = by_name(preflight(world.org, transport=sim_transport(sim), callback_transport=app_transport()))
    assert results["token"].ok
    assert not results["permission"].ok and "48002" in results["permission"].detail
    assert "可调用接口的应用" in results["permission"].fix


def test_preflight_callback_check_fails_with_a_fix_when_the_url_is_unreachable(world, sim, connect_to, settings):
    settings.PUBLIC_URL = "http://127.0.0.1:9"  # discard port: nothing listens
    connect_to(sim, world.org)
    results = by_name(preflight(world.org, transport=sim_transport(sim)))
    assert not results["callback"].ok and "SIYU_PUBLIC_URL" in results["callback"].fix


def test_connection_page_runs_checks_and_shows_each_with_its_fix(world, sim, connect_to, monkeypatch):
    connect_to(sim, world.org)
    sim.fail_next("externalcontact/get_follow_user_list", 60020)
    import siyu.wecom.views as views

    monkeypatch.setattr(
        views, "preflight",
        lambda org, by: preflight(org, by=by, transport=sim_transport(sim), callback_transport=app_transport()),
    )
    client = client_for(world.admin)
    response = client.post(reverse("wecom:check"), follow=True)
    page = response.content.decode()
    assert "✓" in page and "✗" in page and "企业可信IP" in page


# -- CLI ------------------------------------------------------------------------------------------------------
@pytest.fixture
def live_sim(sim):
    base_url, stop = run_in_thread(sim)
    yield sim, base_url
    stop()


def test_cli_connect_generates_callback_keys_and_check_reports_failures(world, live_sim, capsys, settings):
    sim, base_url = live_sim
    settings.PUBLIC_URL = "http://127.0.0.1:9"
    call_command(
        "wecom", "connect", "--org", world.org.slug, "--corp-id", sim.corp_id, "--agent-id", str(sim.agent_id),
        "--secret", sim.corp_secret, "--api-base", base_url,
    )
    out = capsys.readouterr().out
    conn = WeComConnection.objects.for_org(world.org).get()
    assert f"Token: {conn.callback_token}" in out and f"EncodingAESKey: {conn.encoding_aes_key}" in out
    assert callback_url(world.org) in out and sim.corp_secret not in out
    assert conn.api_base == base_url.rstrip("/") + "/cgi-bin/"

    with pytest.raises(CommandError) as failed:
        call_command("wecom", "check", "--org", world.org.slug)
    assert failed.value.returncode == 1
    out = capsys.readouterr().out
    assert "✓ 获取 access_token" in out and "✓ 客户联系接口权限" in out and "✗ 回调地址可达" in out


def test_cli_check_exits_zero_when_everything_passes(world, live_sim, capsys, live_server, settings):
    sim, base_url = live_sim
    settings.PUBLIC_URL = live_server.url
    call_command(
        "wecom", "connect", "--org", world.org.slug, "--corp-id", sim.corp_id, "--agent-id", str(sim.agent_id),
        "--secret", sim.corp_secret, "--api-base", base_url, "--token", SIM_TOKEN, "--aes-key", SIM_AES_KEY,
    )
    call_command("wecom", "check", "--org", world.org.slug)
    assert "All checks passed." in capsys.readouterr().out


def test_cli_connect_refuses_bad_input(world, capsys):
    with pytest.raises(CommandError, match="corp_id"):
        call_command("wecom", "connect", "--org", world.org.slug, "--corp-id", "nope", "--agent-id", "1", "--secret", "s")
    assert not WeComConnection.objects.for_org(world.org).exists()
    with pytest.raises(CommandError, match="no organization"):
        call_command("wecom", "check", "--org", "missing")
