"""Schemathesis over every API operation, signed in as a brand's HQ admin: no 5xx, every answer as documented,
no request that violates the schema accepted and no valid one refused for its shape."""

import secrets

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, given, settings

from siyu.wsgi import application
from tests.factories import client_for


@pytest.fixture
def in_test_transaction():
    """Serve through the real WSGI handler without it closing the test's connection after each request (what
    Django's own test client does too)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(world, in_test_transaction):
    client = client_for(world.admin)
    spec = client.get("/api/openapi.json")
    assert spec.status_code == 200
    loaded = schemathesis.openapi.from_dict(spec.json())
    loaded.app = application
    loaded.config.base_url = "http://testserver"
    return loaded


def test_the_schema_needs_sign_in(db):
    assert Client().get("/api/openapi.json").status_code == 302
    assert Client().get("/api/docs").status_code == 302


@pytest.fixture
def session(world):
    csrf = secrets.token_hex(16)
    client = client_for(world.admin)
    key = client.cookies["siyu_session"].value
    return {"Cookie": f"siyu_session={key}; siyu_csrftoken={csrf}", "X-CSRFToken": csrf, "Referer": "http://testserver/"}


def test_every_operation(api_schema, session):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 19
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            case.call_and_validate(headers=session)

        check()


EXAMPLES = 20
