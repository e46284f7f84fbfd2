"""The consent API: a grant or withdrawal recorded by id or external_userid, the customer's consents read back; every
bad field is a 422 naming it, and nothing is written; roles and brands are kept apart."""

from __future__ import annotations

import datetime as dt

import pytest

from siyu.customers.models import Customer
from siyu.orgs.apikeys import create_key
from siyu.orgs.roles import Role
from siyu.privacy.consent import consenting, publish_notice
from siyu.privacy.models import ConsentRecord
from tests.factories import client_for
from tests.orgs.test_apikeys import bearer

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(world):
    shop = type("Shop", (), {})()
    shop.ann = Customer.objects.create(org=world.org, external_userid="wm-ann", name="Ann")
    shop.theirs = Customer.objects.create(org=world.other_org, external_userid="wm-theirs", name="Theirs")
    shop.notice = publish_notice(world.org, title="隐私政策", body="正文", by=None)
    _key, token = create_key(world.org, name="CRM", role=Role.HQ_ADMIN, by=world.owner.user)
    shop.api = bearer(token)
    return shop


def post(client, body: dict):
    return client.post("/api/v1/consents", body, content_type="application/json")


def test_grant_then_withdraw_through_the_api(world, shop):
    granted = post(shop.api, {"external_userid": "wm-ann", "purpose": "marketing", "state": "granted",
                              "notice_version": shop.notice.version, "at": "2026-01-10T20:00:00+08:00",
                              "evidence": {"form": "member-signup", "ip": "10.1.*.*"}})
    assert granted.status_code == 201, granted.content
    body = granted.json()
    assert (body["customer_id"], body["purpose"], body["state"], body["source"]) == (shop.ann.pk, "marketing", "granted", "api")
    assert dt.datetime.fromisoformat(body["at"]) == dt.datetime(2026, 1, 10, 12, 0, tzinfo=dt.UTC)
    assert consenting(world.org, [shop.ann.pk], "marketing") == {shop.ann.pk}

    withdrawn = post(shop.api, {"customer_id": shop.ann.pk, "purpose": "marketing", "state": "withdrawn"})
    assert withdrawn.status_code == 201, withdrawn.content
    assert consenting(world.org, [shop.ann.pk], "marketing") == set()

    read = shop.api.get(f"/api/v1/customers/{shop.ann.pk}/consents")
    assert read.status_code == 200
    data = read.json()
    assert data["current"]["marketing"]["state"] == "withdrawn"
    assert data["current"]["location"] == {"state": "unknown", "at": None, "source": None, "notice_version": None}
    assert [(h["state"], h["evidence"]) for h in data["history"]] == [
        ("withdrawn", {}), ("granted", {"form": "member-signup", "ip": "10.1.*.*"})]


@pytest.mark.parametrize("body, field", [
    ({"customer_id": "ANN", "purpose": "marketing", "state": "withdrawn"}, "customer_id"),
    ({"purpose": "marketing", "state": "withdrawn"}, "customer_id"),
    ({"external_userid": "nobody", "purpose": "marketing", "state": "withdrawn"}, "external_userid"),
    ({"external_userid": "wm-theirs", "purpose": "marketing", "state": "withdrawn"}, "external_userid"),
    ({"external_userid": "wm-ann", "purpose": "biometric", "state": "granted", "notice_version": 1}, "purpose"),
    ({"external_userid": "wm-ann", "purpose": "marketing", "state": "maybe"}, "state"),
    ({"external_userid": "wm-ann", "purpose": "marketing", "state": "granted"}, "notice_version"),
    ({"external_userid": "wm-ann", "purpose": "marketing", "state": "granted", "notice_version": 9}, "notice_version"),
    ({"external_userid": "wm-ann", "purpose": "marketing", "state": "withdrawn", "at": "2026-01-10T20:00:00"}, "at"),
    ({"external_userid": "wm-ann", "purpose": "marketing", "state": "withdrawn", "at": "2999-01-01T00:00:00Z"}, "at"),
    ({"external_userid": "wm-ann", "purpose": "marketing", "state": "withdrawn", "evidence": "a string"}, "evidence"),
])
def test_bad_input_is_a_422_naming_the_field_and_writes_nothing(world, shop, body, field):
    response = post(shop.api, body)
    assert response.status_code == 422, response.content
    assert field in response.json()["errors"], response.json()
    assert not ConsentRecord.objects.for_org(world.org).exists()
    assert not ConsentRecord.objects.for_org(world.other_org).exists()


def test_a_guide_may_read_their_customers_consent_but_not_record_it(world, shop):
    guide = client_for(world.guide_e1)
    response = post(guide, {"customer_id": shop.ann.pk, "purpose": "marketing", "state": "withdrawn"})
    assert response.status_code == 403
    assert not ConsentRecord.objects.for_org(world.org).exists()
    # Ann is nobody's customer, so a guide does not see her; HQ does.
    assert guide.get(f"/api/v1/customers/{shop.ann.pk}/consents").status_code == 404
    assert client_for(world.admin).get(f"/api/v1/customers/{shop.ann.pk}/consents").status_code == 200
    assert shop.api.get(f"/api/v1/customers/{shop.theirs.pk}/consents").status_code == 404
