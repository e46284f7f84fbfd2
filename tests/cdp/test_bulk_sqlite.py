"""A large identity batch relaxes SQLite's settings for its own transaction only, and never writes for an
organization that does not exist."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from siyu.cdp.bulk_sqlite import BIG_BATCH, bulk_writes
from siyu.cdp.identity import Ident
from siyu.cdp.identity_batch import resolve_many
from siyu.cdp.models import Identifier, Person
from siyu.orgs.models import Organization

sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite pragmas")


def pragma(name: str):
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA {name}")
        return cursor.fetchone()[0]


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_a_big_batch_outside_a_transaction_skips_foreign_key_lookups_and_restores_everything():
    cache = pragma("cache_size")
    with bulk_writes(BIG_BATCH):
        assert pragma("foreign_keys") == 0
        assert pragma("cache_size") == -65536
    assert pragma("foreign_keys") == 1
    assert pragma("cache_size") == cache


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_inside_a_callers_transaction_or_for_a_small_batch_foreign_keys_stay_checked():
    with bulk_writes(BIG_BATCH - 1):
        assert pragma("foreign_keys") == 1
        assert pragma("cache_size") != -65536
    with transaction.atomic(), bulk_writes(BIG_BATCH):
        assert pragma("foreign_keys") == 1
    assert pragma("foreign_keys") == 1


@pytest.mark.django_db(transaction=True)
def test_a_batch_for_a_missing_organization_writes_nothing():
    missing = (Organization.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    with pytest.raises(Organization.DoesNotExist):
        resolve_many(missing, [[Ident("user_id", "u-1"), Ident("anonymous_id", "a-1")]])
    assert not Person.objects.filter(org_id=missing).exists()
    assert not Identifier.objects.filter(org_id=missing).exists()
