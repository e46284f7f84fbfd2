"""Rows for the tracking tests: staff, a customer befriended by them, an approved material, its tracked link."""

from __future__ import annotations

import itertools
import re

from django.utils import timezone

from siyu.customers.models import Customer, Relation
from siyu.orgs.models import Staff
from tests.content.materials_support import make

_n = itertools.count(1)


def staff(world, userid: str, store=None, membership=None) -> Staff:
    return Staff.objects.create(org=world.org, userid=userid, name=f"员工{userid}", store=store or world.e1,
                                membership=membership, is_customer_contact=True)


def customer(world, *staff_rows: Staff, name: str = "王女士") -> Customer:
    n = next(_n)
    row = Customer.objects.create(org=world.org, external_userid=f"wmtrack{n:06d}", name=name,
                                  first_added_at=timezone.now())
    for member in staff_rows:
        Relation.objects.create(org=world.org, customer=row, staff=member, added_at=timezone.now(),
                                status=Relation.Status.ACTIVE)
    return row


def material(world, kind: str = "article", **changes):
    return make(world, kind, approve=True, **changes)


def visit_key(response) -> str:
    """The signed visit key the tracked page hands its script."""
    return re.search(r'data-visit="([^"]+)"', response.content.decode()).group(1)
