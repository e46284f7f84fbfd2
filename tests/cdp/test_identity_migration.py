"""The data migration giving every existing WeCom customer its person with its identifiers."""

from __future__ import annotations

import importlib

from django.apps import apps

from siyu.cdp import identity
from siyu.cdp.identity import Ident
from siyu.cdp.models import Identifier, MergeReview, Person
from siyu.customers.models import Customer, CustomerPhone

migration = importlib.import_module("siyu.cdp.migrations.0005_persons_for_existing_customers")


def test_every_customer_gets_a_person_with_its_identifiers_once(world):
    a = Customer.objects.create(org=world.org, external_userid="wmA", name="甲", unionid="UN-A")
    b = Customer.objects.create(org=world.org, external_userid="wmB", name="乙")
    c = Customer.objects.create(org=world.other_org, external_userid="wmC", name="丙")
    CustomerPhone.objects.create(org=world.org, customer=a, phone="13800138000")
    CustomerPhone.objects.create(org=world.org, customer=b, phone="138 0013 8000")  # the same number, shared
    already = identity.person_for_customer(c)

    migration.persons_for_customers(apps, None)
    migration.persons_for_customers(apps, None)  # running again changes nothing

    assert Person.objects.count() == 3 and Person.objects.get(customer=c) == already
    pa, pb = Person.objects.get(customer=a), Person.objects.get(customer=b)
    assert sorted(Identifier.objects.filter(person=pa).values_list("kind", flat=True)) == [
        "external_userid", "phone", "unionid"]
    assert list(Identifier.objects.filter(person=pb).values_list("kind", flat=True)) == ["external_userid"]
    assert identity.find(world.org, Ident("unionid", "UN-A")) == pa
    assert identity.find(world.org, Ident("external_userid", "wmB")) == pb
    review = MergeReview.objects.get()
    assert (review.guard, review.person_a_id, review.person_b_id) == ("two_customers", pa.pk, pb.pk)
