"""POST /api/v1/orders: field-level 4xx that store nothing, idempotent repeats (200, unchanged), buyers named by
phone, member_id, user_id or external_userid, and bearer keys that need no CSRF token."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.test import Client

from siyu.cdp import identity
from siyu.cdp.models import Order, OrderLine, Person, Product
from siyu.core.events import DomainEvent, Kind
from siyu.orgs.apikeys import create_key
from siyu.orgs.models import Staff
from siyu.orgs.roles import Role
from tests.customers.test_list import make_customer
from tests.factories import client_for


def order(**changes) -> dict:
    body = {"source": "web", "order_no": "W-1", "ordered_at": "2024-05-01T10:00:00+08:00", "status": "paid",
            "buyer": {"phone": "13800138000", "name": "小林"},
            "lines": [{"sku": "T-1", "name": "白茶", "quantity": 2, "unit_price": "30.00"}]}
    body.update(changes)
    return body


@pytest.fixture
def api(world):
    _key, token = create_key(world.org, name="web shop", role=Role.HQ_ADMIN, by=None)
    # enforce_csrf_checks: a bearer key must work where a browser session would need a CSRF token.
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {token}")
    return lambda body: client.post("/api/v1/orders", json.dumps(body), content_type="application/json")


def counts(org) -> tuple:
    return (Order.objects.for_org(org).count(), OrderLine.objects.for_org(org).count(),
            Person.objects.for_org(org).count(), Product.objects.for_org(org).count(),
            DomainEvent.objects.for_org(org).count())


def test_an_order_is_created_once_and_a_repeat_answers_it_unchanged(world, api):
    first = api(order())
    assert first.status_code == 201, first.content
    body = first.json()
    assert Decimal(body["total"]) == Decimal("60.00") and body["status"] == "paid" and body["customer_id"] is None
    stored = Order.objects.for_org(world.org).get(pk=body["id"])
    assert stored.buyer_phone == "13800138000" and stored.person == identity.find(
        world.org, identity.Ident("phone", "138 0013 8000"))
    assert DomainEvent.objects.for_org(world.org).filter(kind=Kind.ORDER_RECORDED, subject_id=stored.pk).count() == 1
    before = counts(world.org)
    repeat = api(order(total="999", lines=[{"sku": "X-9", "name": "别的", "quantity": 1}]))
    assert repeat.status_code == 200 and repeat.json() == body
    # A retry is answered from the stored order even when the client's second attempt lost the buyer.
    assert api(order(buyer={"name": "小林"})).json() == body
    assert counts(world.org) == before


@pytest.mark.parametrize("body, field, status", [
    (order(ordered_at="2024-05-01T10:00:00"), "ordered_at", 422),
    (order(buyer={"name": "nobody"}), "buyer", 422),
    (order(buyer={"phone": "not a phone"}), "buyer.phone", 422),
    (order(buyer={"external_userid": "wmUNKNOWN"}), "buyer.external_userid", 422),
    (order(lines=[{"quantity": 1}]), "lines.0.sku", 422),
])
def test_bad_orders_get_field_level_errors_and_store_nothing(world, api, body, field, status):
    response = api(body)
    assert response.status_code == status, response.content
    assert field in response.json()["errors"]
    assert counts(world.org) == (0, 0, 0, 0, 0)


@pytest.mark.parametrize("body, field", [
    (order(lines=[]), "lines"), (order(lines=[{"sku": "T-1", "quantity": 0}]), "lines.0.quantity"),
    (order(total="-1"), "total"), (order(status="lost"), "status"), (order(order_no=""), "order_no"),
    ({k: v for k, v in order().items() if k != "buyer"}, "buyer"),
])
def test_schema_violations_are_field_level_422s_and_store_nothing(world, api, body, field):
    response = api(body)
    assert response.status_code == 422, response.content
    assert list(response.json()["errors"]) == [field]
    assert counts(world.org) == (0, 0, 0, 0, 0)


def test_buyers_named_by_external_userid_or_user_id_become_the_right_person(world, api):
    staff = Staff.objects.create(org=world.org, userid="zhang", store=world.e1, is_customer_contact=True)
    customer = make_customer(world.org, "林女士", staff)
    response = api(order(order_no="W-2", buyer={"external_userid": customer.external_userid, "user_id": "u-7"}))
    assert response.status_code == 201 and response.json()["customer_id"] == customer.pk
    person = identity.person_for_customer(customer)
    assert response.json()["person_id"] == person.pk
    assert identity.find(world.org, identity.Ident("user_id", "u-7")) == person
    later = api(order(order_no="W-3", buyer={"user_id": "u-7"}))
    assert later.json()["customer_id"] == customer.pk


def test_only_whole_brand_keys_and_members_may_record_orders(world):
    _key, token = create_key(world.org, name="pos", role=Role.STORE_MANAGER, store=world.e1, by=None)
    manager_key = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    body = json.dumps(order())
    assert manager_key.post("/api/v1/orders", body, content_type="application/json").status_code == 403
    assert Client().post("/api/v1/orders", body, content_type="application/json").status_code == 401
    assert client_for(world.admin).post("/api/v1/orders", body, content_type="application/json").status_code == 201
