"""The event API: what it accepts, what it refuses (with the reason, storing nothing), and what the normalizer
makes of an accepted batch."""

import base64
import gzip
import json
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test import Client

from siyu.cdp import sources
from siyu.cdp.models import Event, Identifier, IngestReject, Person, RawBatch
from tests.factories import drain, make_org


@pytest.fixture
def source(db):
    org = make_org()
    return sources.create_source(org, name="官网", kind="web", by=None)


@pytest.fixture
def key(source):
    return sources.create_write_key(source, by=None)[1]


def _post(path, payload, *, key=None, raw=None, gz=False, query=""):
    body = raw if raw is not None else json.dumps(payload).encode()
    headers = {}
    if gz:
        body = gzip.compress(body)
        headers["HTTP_CONTENT_ENCODING"] = "gzip"
    if key is not None:
        headers["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    return Client().post(f"{path}{query}", body, content_type="application/json", **headers)


def _track(i=0, **extra):
    return {"type": "track", "event": "Order Completed", "userId": f"u-{i}", "messageId": f"m-{i}",
            "properties": {"revenue": 10}, **extra}


def test_a_batch_lands_as_one_encrypted_row_and_normalizes_into_events(source, key):
    response = _post("/v1/batch", {"batch": [_track(1), _track(2, context={"ip": "10.1.2.3"})]}, key=key)
    assert response.status_code == 200, response.content
    assert response.json() == {"success": True}
    row = RawBatch.objects.for_org(source.org).get()
    assert row.events == 2
    with connection.cursor() as cursor:
        cursor.execute("SELECT body FROM cdp_rawbatch")
        (ciphertext,) = cursor.fetchone()
    assert "10.1.2.3" not in ciphertext and "Order Completed" not in ciphertext
    drain()
    events = Event.objects.for_org(source.org).order_by("message_id")
    assert [(e.message_id, e.type, e.name) for e in events] == [("m-1", "track", "Order Completed"),
                                                                ("m-2", "track", "Order Completed")]
    assert events[1].context == {"ip": "10.1.2.3"}


@pytest.mark.parametrize("how", ["basic", "query", "body"])
def test_the_write_key_is_accepted_three_ways(source, key, how):
    payload = {"batch": [_track()]}
    if how == "body":
        payload["writeKey"] = key
    response = _post("/v1/batch", payload, key=key if how == "basic" else None,
                     query=f"?writeKey={key}" if how == "query" else "")
    assert response.status_code == 200, response.content
    assert RawBatch.objects.for_org(source.org).count() == 1


def test_single_calls_take_their_type_from_the_path(source, key):
    for path, payload in [("/v1/track", {"event": "Viewed", "anonymousId": "a-1"}),
                          ("/v1/identify", {"userId": "u-1", "traits": {"plan": "gold"}}),
                          ("/v1/page", {"name": "Home", "anonymousId": "a-1"}),
                          ("/v1/screen", {"name": "Cart", "anonymousId": "a-1"}),
                          ("/v1/group", {"groupId": "g-1", "userId": "u-1"}),
                          ("/v1/alias", {"previousId": "a-1", "userId": "u-1"})]:
        assert _post(path, payload, key=key).status_code == 200, path
    drain()
    assert sorted(Event.objects.for_org(source.org).values_list("type", flat=True)) == [
        "alias", "group", "identify", "page", "screen", "track"]


def test_gzip_bodies_are_accepted(source, key):
    assert _post("/v1/batch", {"batch": [_track()]}, key=key, gz=True).status_code == 200
    assert RawBatch.objects.for_org(source.org).count() == 1


def _big(size):
    return {"type": "track", "event": "Big", "userId": "u", "properties": {"blob": "x" * size}}


BAD = [
    # (name, path, payload or raw bytes, gzip?, expected status, reason)
    ("bad json", "/v1/batch", b'{"batch": [', False, 400, "bad_json"),
    ("not a batch", "/v1/batch", b'[1, 2]', False, 400, "bad_json"),
    ("bad gzip", "/v1/batch", b"not gzip at all", "raw-gzip", 400, "bad_gzip"),
    ("event over 32 KB", "/v1/batch", {"batch": [_big(33 * 1024)]}, False, 413, "too_large"),
    ("single event over 32 KB", "/v1/track", _big(33 * 1024), False, 413, "too_large"),
    ("batch over 500 KB", "/v1/batch", {"batch": [_big(30 * 1024) for _ in range(18)]}, False, 413, "too_large"),
    ("batch over 500 KB gzipped", "/v1/batch", {"batch": [_big(30 * 1024) for _ in range(18)]}, True, 413,
     "too_large"),
    ("unknown type", "/v1/batch", {"batch": [{"type": "purchase", "userId": "u"}]}, False, 400, "unknown_type"),
    ("track without event", "/v1/batch", {"batch": [{"type": "track", "userId": "u"}]}, False, 400,
     "track_without_event"),
    ("blank event", "/v1/track", {"event": "  ", "userId": "u"}, False, 400, "track_without_event"),
    ("no user id", "/v1/batch", {"batch": [{"type": "page", "name": "Home"}]}, False, 400, "no_user_id"),
    ("blank ids", "/v1/track", {"event": "E", "userId": " ", "anonymousId": ""}, False, 400, "no_user_id"),
    ("alias without previousId", "/v1/alias", {"userId": "u"}, False, 400, "alias_without_previous_id"),
    ("group without groupId", "/v1/group", {"userId": "u"}, False, 400, "group_without_group_id"),
    ("empty batch", "/v1/batch", {"batch": []}, False, 400, "empty_batch"),
    ("wrong type to endpoint", "/v1/track", {"type": "identify", "userId": "u"}, False, 400, "unknown_type"),
    ("nested too deeply", "/v1/track", b'{"event": "E", "userId": "u", "properties": {"a": ' + b"[" * 5000
     + b"]" * 5000 + b"}}", False, 400, "bad_json"),
    ("nested too deeply in a batch", "/v1/batch", b'{"batch": [' + b"[" * 5000 + b"]" * 5000 + b"]}", False, 400,
     "bad_json"),
    ("bad timestamp", "/v1/track", {"event": "E", "userId": "u", "timestamp": "yesterday"}, False, 400, "bad_json"),
    # one good message does not carry a bad one through: the whole request is refused
    ("one bad of two", "/v1/batch", {"batch": [_track(), {"type": "track", "userId": "u"}]}, False, 400,
     "track_without_event"),
]


@pytest.mark.parametrize("name,path,payload,gz,status,reason", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_with_its_reason_and_nothing_stored(source, key, name, path, payload, gz, status,
                                                                 reason):
    raw = payload if isinstance(payload, bytes) else None
    if gz == "raw-gzip":
        response = Client().post(path, raw, content_type="application/json", HTTP_CONTENT_ENCODING="gzip",
                                 HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{key}:".encode()).decode())
    else:
        response = _post(path, payload, key=key, raw=raw, gz=gz)
    assert response.status_code == status, response.content
    assert response.json()["error"] == reason
    assert response.json()["success"] is False
    assert RawBatch.objects.for_org(source.org).count() == 0
    drain()
    assert Event.objects.for_org(source.org).count() == 0
    assert IngestReject.objects.for_org(source.org).get().reason == reason


@pytest.mark.parametrize("case", ["missing", "unknown", "garbled basic", "revoked"])
def test_bad_write_keys_are_refused_with_401(source, key, case):
    from siyu.cdp.models import WriteKey

    payload = {"batch": [_track()]}
    if case == "missing":
        response, reason = _post("/v1/batch", payload), "no_write_key"
    elif case == "unknown":
        response, reason = _post("/v1/batch", payload, key="sk_nope"), "bad_write_key"
    elif case == "garbled basic":
        response = Client().post("/v1/batch", json.dumps(payload), content_type="application/json",
                                 HTTP_AUTHORIZATION="Basic !!!")
        reason = "bad_write_key"
    else:
        sources.revoke_write_key(WriteKey.objects.for_org(source.org).get(), by=None)
        response, reason = _post("/v1/batch", payload, key=key), "revoked_write_key"
    assert response.status_code == 401
    assert response.json()["error"] == reason
    assert RawBatch.objects.for_org(source.org).count() == 0


def test_a_rotated_key_keeps_working_through_the_grace_period_and_the_new_one_works(source, key):
    from siyu.cdp.models import WriteKey

    old = WriteKey.objects.for_org(source.org).get()
    new_row, new_key = sources.rotate_write_key(old, by=None)
    old.refresh_from_db()
    assert old.revoked_at is not None and new_row.key_hash != old.key_hash
    assert new_key not in str(WriteKey.objects.for_org(source.org).values_list("key_hash", "prefix"))
    assert _post("/v1/batch", {"batch": [_track(1)]}, key=key).status_code == 200
    assert _post("/v1/batch", {"batch": [_track(2)]}, key=new_key).status_code == 200


def test_clock_skew_is_corrected_with_sent_at(source, key):
    # The device's clock is one hour fast: it says the event happened at 10:00 and was sent at 10:05.
    payload = {"batch": [_track(timestamp="2030-01-01T10:00:00+00:00")], "sentAt": "2030-01-01T10:05:00+00:00"}
    assert _post("/v1/batch", payload, key=key).status_code == 200
    drain()
    event = Event.objects.for_org(source.org).get()
    assert (event.received_at - event.timestamp).total_seconds() == pytest.approx(300, abs=0.01)
    assert event.received_at.year == datetime.now(UTC).year


def test_identify_resolves_one_person_and_keeps_personal_traits_out_of_plain_traits(source, key):
    batch = [
        {"type": "page", "name": "Home", "anonymousId": "anon-1", "messageId": "p1"},
        {"type": "identify", "userId": "u-9", "anonymousId": "anon-1", "messageId": "i1",
         "traits": {"plan": "gold", "name": "张三", "phone": "13800138000", "email": "Z@Example.com",
                    "address": "北京"}, "context": {"device": {"id": "dev-1"}}},
        {"type": "track", "event": "Bought", "userId": "u-9", "messageId": "t1"},
    ]
    assert _post("/v1/batch", {"batch": batch}, key=key).status_code == 200
    drain()
    persons = Person.objects.for_org(source.org)
    assert persons.count() == 1
    person = persons.get()
    assert person.traits == {"plan": "gold"}
    assert person.name == "张三"
    assert person.sources == ["web"]
    kinds = sorted(Identifier.objects.for_org(source.org).values_list("kind", flat=True))
    assert kinds == ["anonymous_id", "device_id", "email", "phone", "user_id"]
    assert set(Event.objects.for_org(source.org).values_list("person_id", flat=True)) == {person.pk}
    identify = Event.objects.for_org(source.org).get(type="identify")
    assert identify.properties == {"plan": "gold"}


def test_normalizing_the_same_batch_twice_creates_no_duplicate(source, key):
    from siyu.core import durable

    assert _post("/v1/batch", {"batch": [_track(i) for i in range(5)]}, key=key).status_code == 200
    drain()
    row = RawBatch.objects.for_org(source.org).get()
    assert row.status == RawBatch.Status.DONE
    # A re-drive (the row performed again, as after a worker died between commit and completion).
    RawBatch.objects.for_org(source.org).update(status=RawBatch.Status.FAILED)
    assert durable.requeue_failed(RawBatch.objects.for_org(source.org).get())
    drain()
    assert RawBatch.objects.for_org(source.org).get().status == RawBatch.Status.DONE
    assert Event.objects.for_org(source.org).count() == 5
    # and a messageId sent again in a new batch is still one event of the source
    assert _post("/v1/batch", {"batch": [_track(0), _track(0)]}, key=key).status_code == 200
    drain()
    assert Event.objects.for_org(source.org).count() == 5


def test_an_erased_persons_events_are_dropped_and_counted(source, key):
    from siyu.cdp.identity import value_index
    from siyu.cdp.models import Suppression

    Suppression.objects.create(org=source.org, kind="user_id", namespace="",
                               value_index=value_index("user_id", "", "gone"))
    assert _post("/v1/batch", {"batch": [_track(userId="gone"), _track(1)]}, key=key).status_code == 200
    drain()
    assert list(Event.objects.for_org(source.org).values_list("message_id", flat=True)) == ["m-1"]
    assert not Identifier.objects.for_org(source.org).filter(kind="user_id", person__events__message_id="m-0")
    assert IngestReject.objects.for_org(source.org).get(reason="erased_person").count == 1
