"""Webhook steps: a receiving server on loopback checks the HMAC-SHA256 signature; a failing receiver is retried
with backoff under the same delivery id; internal addresses are refused unless the deployment allows them."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from siyu.cdp.models import Product
from siyu.cdp.services import Line, record_order
from siyu.core import clock as core_clock
from siyu.journeys import services, webhooks
from siyu.journeys.models import JourneyStep
from tests.factories import drain


class Receiver:
    """An HTTP server that verifies each call's signature with the journey's secret, as a customer's would."""

    def __init__(self):
        self.secret = ""
        self.calls: list[dict] = []
        self.answers: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers["Content-Length"]))
                timestamp = self.headers["X-Siyu-Timestamp"]
                expected = "sha256=" + hmac.new(receiver.secret.encode(), f"{timestamp}.".encode() + body,
                                                hashlib.sha256).hexdigest()
                receiver.calls.append({"valid": hmac.compare_digest(expected, self.headers["X-Siyu-Signature"]),
                                       "delivery": self.headers["X-Siyu-Delivery"], "body": json.loads(body)})
                self.send_response(receiver.answers.pop(0) if receiver.answers else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def ordering(world, corp, commit):
    alice = corp.staff("alice", world.e1, world.guide_e1)
    with commit():
        customer = corp.customer(alice)
    product = Product.objects.create(org=world.org, sku="W1", name="茶", price=Decimal("10"))

    def order():
        with commit():
            record_order(world.org, customer, [Line(product, 1)], core_clock.now(), "pos")
    return customer, order


def hook_journey(world, url, **extra):
    return services.create_journey(world.org, name="下单通知", trigger="order_placed",
                                   steps=[{"kind": "webhook", "url": url}], by=world.admin, **extra)


def test_an_order_calls_the_webhook_with_a_body_signed_by_the_journeys_secret(world, settings, receiver, ordering):
    settings.JOURNEY_WEBHOOK_INTERNAL = True
    customer, order = ordering
    journey, secret = hook_journey(world, receiver.url, reentry="always")
    receiver.secret = secret
    order()
    (call,) = receiver.calls
    assert call["valid"]
    assert call["body"]["journey"]["id"] == journey.pk and call["body"]["customer"]["id"] == customer.pk
    assert JourneyStep.objects.for_org(world.org).get(journey=journey).outcome == "done"

    receiver.secret = "another journey's secret"
    order()
    assert len(receiver.calls) == 2 and receiver.calls[-1]["valid"] is False  # the receiver can tell a body signed with another secret


def test_a_failing_receiver_is_retried_with_backoff_under_the_same_delivery_id(world, settings, clock, receiver, ordering):
    settings.JOURNEY_WEBHOOK_INTERNAL = True
    _customer, order = ordering
    journey, receiver.secret = hook_journey(world, receiver.url)
    receiver.answers = [503, 500]
    order()
    step = JourneyStep.objects.for_org(world.org).get(journey=journey)
    assert len(receiver.calls) == 1 and step.status == "pending" and step.outcome == ""
    clock.advance(seconds=5)
    drain()
    assert len(receiver.calls) == 1  # the first backoff is 10 s
    clock.advance(seconds=6)
    drain()
    assert len(receiver.calls) == 2  # failed again: the next wait is 20 s
    clock.advance(seconds=21)
    drain()
    step.refresh_from_db()
    assert len(receiver.calls) == 3 and step.outcome == "done" and step.status == "done"
    assert len({c["delivery"] for c in receiver.calls}) == 1 and all(c["valid"] for c in receiver.calls)


def test_a_refusing_receiver_fails_the_step_at_once_and_the_journey_goes_on(world, settings, receiver, ordering):
    settings.JOURNEY_WEBHOOK_INTERNAL = True
    _customer, order = ordering
    journey, receiver.secret = services.create_journey(
        world.org, name="两次通知", trigger="order_placed", by=world.admin,
        steps=[{"kind": "webhook", "url": receiver.url}, {"kind": "webhook", "url": receiver.url + "?second"}])
    receiver.answers = [410]
    order()
    steps = dict(JourneyStep.objects.for_org(world.org).filter(journey=journey).values_list("path", "outcome"))
    assert steps == {"0": "failed", "1": "done"} and len(receiver.calls) == 2


def test_internal_addresses_are_refused(world, settings, receiver, ordering):
    settings.JOURNEY_WEBHOOK_INTERNAL = False
    _customer, order = ordering
    journey, _secret = hook_journey(world, receiver.url)
    order()
    step = JourneyStep.objects.for_org(world.org).get(journey=journey)
    assert step.outcome == "failed" and "internal address" in step.detail
    assert receiver.calls == []
    with pytest.raises(Exception, match="internal address"):
        webhooks.refuse_internal("http://169.254.169.254/latest/meta-data")
