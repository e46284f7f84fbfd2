"""The real Segment and RudderStack Python SDKs, unchanged, pointed at a running Siyu: every call they make arrives
exactly once and the anonymous and identified ids end in one person."""

import pytest

from siyu.cdp import identity, sources
from siyu.cdp.identity import Ident
from siyu.cdp.models import Event, Person
from tests.factories import drain, make_org


def _segment(key, host, errors):
    from segment.analytics import Client

    return Client(write_key=key, host=host, on_error=lambda error, batch: errors.append(error), max_retries=0,
                  upload_size=100)


def _rudder(key, host, errors):
    from rudderstack.analytics import Client

    # gzip is RudderStack's default: the bodies arrive compressed.
    return Client(write_key=key, host=host, on_error=lambda error, batch: errors.append(error), max_retries=0,
                  upload_size=100)


@pytest.mark.parametrize("make_client", [_segment, _rudder], ids=["segment-analytics-python", "rudder-sdk-python"])
def test_every_call_of_a_real_sdk_arrives_once_and_the_ids_end_in_one_person(transactional_db, live_server,
                                                                            make_client):
    org = make_org()
    source = sources.create_source(org, name="小程序", kind="miniprogram", by=None)
    key = sources.create_write_key(source, by=None)[1]
    errors = []
    client = make_client(key, live_server.url, errors)
    sent = [
        client.page(anonymous_id="anon-7", category="Shop", name="Home", properties={"path": "/"}),
        client.screen(anonymous_id="anon-7", name="Cart"),
        client.track(anonymous_id="anon-7", event="Product Viewed", properties={"sku": "A1"}),
        client.identify("user-7", {"plan": "vip", "email": "u7@example.com"}, anonymous_id="anon-7"),
        client.track("user-7", "Order Completed", {"revenue": 99.5}),
        client.group("user-7", "brand-club", {"name": "Club"}),
        client.alias("anon-8", "user-7"),
    ]
    client.flush()
    client.join()
    assert errors == []
    assert all(ok for ok, _msg in sent)
    drain()
    ids = [msg["messageId"] for _ok, msg in sent]
    events = Event.objects.for_org(org)
    assert sorted(events.values_list("message_id", flat=True)) == sorted(ids)
    assert sorted(events.values_list("type", flat=True)) == sorted(
        ["page", "screen", "track", "identify", "track", "group", "alias"])
    person = identity.find(org, Ident("user_id", "user-7"))
    assert person is not None
    assert identity.find(org, Ident("anonymous_id", "anon-7")) == person
    assert identity.find(org, Ident("anonymous_id", "anon-8")) == person
    assert set(events.values_list("person_id", flat=True)) == {person.pk}
    assert Person.objects.for_org(org).count() == 1
    assert person.traits == {"plan": "vip"}
    assert identity.find(org, Ident("email", "U7@example.com")) == person
