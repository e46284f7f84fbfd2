"""Order aggregates, R/F/M quintiles against hand-computed scores, and custom traits with their history."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from siyu.cdp import traits
from siyu.cdp.models import Order, Person, TraitChange


def orders(org, person, days_ago: list[int], price: int):
    now = timezone.now()
    Order.objects.bulk_create([Order(org=org, person=person, total=Decimal(price), ordered_at=now - timedelta(days=d))
                               for d in days_ago])


def test_order_aggregates(world):
    person = Person.objects.create(org=world.org)
    now = timezone.now()
    for days, total in ((30, "10"), (10, "20"), (0, "30.5")):
        Order.objects.create(org=world.org, person=person, total=Decimal(total), ordered_at=now - timedelta(days=days))
    traits.refresh_orders(person)
    person.refresh_from_db()
    assert (person.orders_count, person.total_spend, person.average_order_value) == (
        3, Decimal("60.50"), Decimal("20.17"))
    assert round(person.mean_purchase_interval_days, 3) == 15.0
    assert (now - person.first_order_at).days == 30 and (now - person.last_order_at).days == 0


def test_rfm_quintiles_match_hand_computed_scores(world):
    counts = [3, 1, 4, 10, 5, 9, 2, 6, 8, 7]
    prices = [50, 310, 20, 11, 60, 15, 100, 41, 26, 90]   # spend: 150 310 80 110 300 135 200 246 208 630
    last = [5, 50, 1, 30, 12, 80, 3, 20, 60, 8]           # days since the last order
    persons = []
    for n, price, d in zip(counts, prices, last, strict=True):
        person = Person.objects.create(org=world.org)
        orders(world.org, person, [d + j for j in range(n)], price)
        persons.append(person)
    idle = Person.objects.create(org=world.org, r_score=3, f_score=3, m_score=3)
    other = Person.objects.create(org=world.other_org)
    orders(world.other_org, other, [1], 9999)
    assert traits.refresh(world.org) == 10

    # Ten buyers, two per quintile: ranked by hand from the table above.
    expected_r = [4, 2, 5, 2, 3, 1, 5, 3, 1, 4]
    expected_f = [2, 1, 2, 5, 3, 5, 1, 3, 4, 4]
    expected_m = [2, 5, 1, 1, 4, 2, 3, 4, 3, 5]
    scores = [Person.objects.values_list("r_score", "f_score", "m_score").get(pk=p.pk) for p in persons]
    assert scores == list(zip(expected_r, expected_f, expected_m, strict=True))
    idle.refresh_from_db()
    assert (idle.r_score, idle.f_score, idle.m_score) == (None, None, None)
    assert Person.objects.get(pk=other.pk).r_score is None  # another organization is scored on its own


def test_apply_traits_keeps_the_history_of_changes(world):
    person = Person.objects.create(org=world.org)
    t0 = timezone.now()
    traits.apply_traits(person, {"plan": "free", "age": 30, "phone": "13800138000"}, source="web", at=t0)
    traits.apply_traits(person, {"plan": "pro", "age": 30}, source="app", at=t0 + timedelta(minutes=1))
    person.refresh_from_db()
    assert person.traits == {"plan": "pro", "age": 30}
    history = list(TraitChange.objects.for_org(world.org).filter(person=person).order_by("at", "key")
                   .values_list("key", "old", "new", "source"))
    assert history == [("age", None, 30, "web"), ("plan", None, "free", "web"), ("plan", "free", "pro", "app")]


def test_a_recorded_order_lands_on_the_customers_person_with_its_totals(world):
    from siyu.cdp import identity
    from siyu.cdp.services import Line, record_order, save_product
    from siyu.customers.models import Customer
    from tests.factories import deliver_events

    customer = Customer.objects.create(org=world.org, external_userid="wmBUY", name="买家")
    person = identity.person_for_customer(customer)
    tea = save_product(world.org, sku="T-1", name="白茶", price=Decimal("30"))
    order = record_order(world.org, customer, [Line(tea, 2)], timezone.now(), "pos", order_no="P-1")
    deliver_events()
    order.refresh_from_db()
    person.refresh_from_db()
    assert order.person == person and (person.orders_count, person.total_spend) == (1, Decimal("60.00"))
