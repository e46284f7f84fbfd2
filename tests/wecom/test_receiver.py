"""The callback URL: echostr, verify → decrypt → store → acknowledge, duplicates, and hostile input."""

import base64
import secrets
import time
import urllib.parse

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from siyu.wecom.models import CallbackEvent
from tests.factories import make_org
from tests.wecom.helpers import connect, cryptor_for, envelope, event_xml, post_callback


@pytest.fixture
def wired(db):
    org = make_org()
    return org, connect(org)


def add_contact_xml(**overrides):
    fields = {"UserID": "zhangsan", "ExternalUserID": "wmAAAA", "State": "poster01", "WelcomeCode": "WC1", **overrides}
    return event_xml("change_external_contact", "add_external_contact", **{k: v for k, v in fields.items() if v is not None})


def test_echostr_verification_answers_bare_plaintext(wired):
    org, connection = wired
    crypt = cryptor_for(connection)
    echostr = crypt.encrypt(b"1616140317555161061")
    timestamp, nonce = str(int(time.time())), "n1"
    query = urllib.parse.urlencode(
        {"msg_signature": crypt.signature(timestamp, nonce, echostr), "timestamp": timestamp, "nonce": nonce, "echostr": echostr}
    )
    response = Client().get(f"/wecom/callback/{org.slug}/?{query}")
    assert response.status_code == 200 and response.content == b"1616140317555161061"
    bad = Client().get(f"/wecom/callback/{org.slug}/?{query.replace('msg_signature=', 'msg_signature=0')}")
    assert bad.status_code == 403


def test_post_is_stored_once_and_acknowledged(wired):
    org, connection = wired
    xml = add_contact_xml()
    client = Client()
    params, body = envelope(connection, xml)
    query = urllib.parse.urlencode(params)
    for _ in range(3):  # WeCom retries the very same delivery
        response = client.post(f"/wecom/callback/{org.slug}/?{query}", body, content_type="text/xml")
        assert response.status_code == 200 and response.content == b"success"
    # A second delivery with new envelope parameters but the same event is still the same event.
    assert post_callback(client, org, connection, xml).status_code == 200
    events = list(CallbackEvent.objects.for_org(org))
    assert len(events) == 1
    event = events[0]
    assert (event.event, event.change_type, event.status) == ("change_external_contact", "add_external_contact", "pending")
    assert event.payload["ExternalUserID"] == "wmAAAA" and event.payload["WelcomeCode"] == "WC1"


def test_a_repeated_edit_after_the_first_was_handled_is_queued_again(wired):
    """Two edits in one second arrive byte-identical: once the first is handled, the second is news, not a retry."""
    org, connection = wired
    client = Client()
    edit = event_xml("change_external_contact", "edit_external_contact", create_time=1700000000,
                     UserID="zhangsan", ExternalUserID="wmAAAA")
    add = add_contact_xml(create_time=1700000000)
    for xml in (edit, add):
        assert post_callback(client, org, connection, xml).status_code == 200
    CallbackEvent.objects.for_org(org).update(status="done", attempts=1)
    for xml in (edit, add):
        assert post_callback(client, org, connection, xml).status_code == 200
    rows = {e.change_type: e for e in CallbackEvent.objects.for_org(org)}
    assert len(rows) == 2
    assert (rows["edit_external_contact"].status, rows["edit_external_contact"].attempts) == ("pending", 0)
    assert rows["add_external_contact"].status == "done"  # an add is never handled twice (its welcome code)


def test_optional_fields_may_be_absent(wired):
    org, connection = wired
    assert post_callback(Client(), org, connection, add_contact_xml(State=None, WelcomeCode=None)).status_code == 200
    payload = CallbackEvent.objects.for_org(org).get().payload
    assert "State" not in payload and "WelcomeCode" not in payload


def test_lists_in_events_are_parsed(wired):
    org, connection = wired
    xml = event_xml("change_external_chat", "update", ChatId="wrX", UpdateDetail="add_member", MemChangeList=["wm1", "wm2"])
    post_callback(Client(), org, connection, xml)
    assert CallbackEvent.objects.for_org(org).get().payload["MemChangeList"] == ["wm1", "wm2"]


def test_unknown_org_and_unconnected_org_are_404(db):
    assert Client().post("/wecom/callback/nobody/", b"<xml/>", content_type="text/xml").status_code == 404
    org = make_org()
    assert Client().post(f"/wecom/callback/{org.slug}/", b"<xml/>", content_type="text/xml").status_code == 404


def test_wrong_signature_is_refused_and_nothing_stored(wired):
    org, connection = wired
    params, body = envelope(connection, add_contact_xml())
    params["msg_signature"] = "0" * 40
    response = Client().post(f"/wecom/callback/{org.slug}/?{urllib.parse.urlencode(params)}", body, content_type="text/xml")
    assert response.status_code == 403
    assert not CallbackEvent.objects.for_org(org).exists()


def test_wrong_corp_id_is_refused(wired):
    org, connection = wired
    other = connect(make_org(), corp_id="ww9999999999999999")
    other.callback_token, other.encoding_aes_key = connection.callback_token, connection.encoding_aes_key
    # Same keys, other corp id: the receive id inside the ciphertext does not match.
    params, body = envelope(other, add_contact_xml())
    response = Client().post(f"/wecom/callback/{org.slug}/?{urllib.parse.urlencode(params)}", body, content_type="text/xml")
    assert response.status_code == 400
    assert not CallbackEvent.objects.for_org(org).exists()


def signed(connection, encrypted: str):
    crypt = cryptor_for(connection)
    timestamp, nonce = str(int(time.time())), "nonce"
    body = f"<xml><ToUserName>x</ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>".encode()
    return {"msg_signature": crypt.signature(timestamp, nonce, encrypted), "timestamp": timestamp, "nonce": nonce}, body


def test_bad_base64_is_refused(wired):
    org, connection = wired
    params, body = signed(connection, "%%%not-base64%%%")
    response = Client().post(f"/wecom/callback/{org.slug}/?{urllib.parse.urlencode(params)}", body, content_type="text/xml")
    assert response.status_code == 400
    assert not CallbackEvent.objects.for_org(org).exists()


HOSTILE = [
    # billion laughs
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]>'
    "<xml><Event>&lol2;</Event></xml>",
    # external entity
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><Event>&xxe;</Event></xml>',
    "<xml><Event>unterminated",
    "<notxml><Event>x</Event></notxml>",
]


@pytest.mark.parametrize("inner", HOSTILE)
def test_hostile_inner_xml_is_refused(wired, inner):
    org, connection = wired
    response = post_callback(Client(), org, connection, inner)
    assert response.status_code == 400
    assert not CallbackEvent.objects.for_org(org).exists()


@pytest.mark.parametrize("outer", [HOSTILE[0].encode(), HOSTILE[1].encode(), b"", b"\xff\xfe garbage"])
def test_hostile_envelope_is_refused(wired, outer):
    org, connection = wired
    response = Client().post(f"/wecom/callback/{org.slug}/?msg_signature=a&timestamp=1&nonce=2", outer, content_type="text/xml")
    assert response.status_code in (400, 403)
    assert not CallbackEvent.objects.for_org(org).exists()


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.binary(max_size=600) | st.text(max_size=300).map(lambda t: f"<xml><Encrypt>{t}</Encrypt></xml>".encode()),
    signature=st.text(max_size=50),
    timestamp=st.text(max_size=12),
    nonce=st.text(max_size=12),
)
def test_fuzzed_callbacks_never_500_and_store_nothing(wired, body, signature, timestamp, nonce):
    org, _ = wired
    query = urllib.parse.urlencode({"msg_signature": signature, "timestamp": timestamp, "nonce": nonce})
    response = Client().post(f"/wecom/callback/{org.slug}/?{query}", body, content_type="text/xml")
    assert response.status_code in (400, 403)
    assert not CallbackEvent.objects.for_org(org).exists()


@hsettings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.binary(max_size=300))
def test_fuzzed_correctly_signed_ciphertexts_never_500(wired, payload):
    """Even a correctly signed envelope whose ciphertext is garbage is a 4xx."""
    org, connection = wired
    params, body = signed(connection, base64.b64encode(payload + secrets.token_bytes(3)).decode())
    response = Client().post(f"/wecom/callback/{org.slug}/?{urllib.parse.urlencode(params)}", body, content_type="text/xml")
    assert response.status_code == 400
    assert not CallbackEvent.objects.for_org(org).exists()


@hsettings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(inner=st.text(max_size=400))
def test_fuzzed_encrypted_inner_text_never_500(wired, inner):
    org, connection = wired
    response = post_callback(Client(), org, connection, inner)
    assert response.status_code in (200, 400)
    stored = CallbackEvent.objects.for_org(org).count()
    assert stored == (1 if response.status_code == 200 else 0)
    CallbackEvent.objects.for_org(org).delete()
