"""``siyu rotatekeys``: a new current key, every stored value re-encrypted under it, old tokens still readable,
and lookups through the blind index unchanged."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection

from siyu.customers import queries
from siyu.customers.models import Customer, CustomerPhone, Relation
from siyu.orgs.models import Staff
from siyu.privacy.keys import keyring, reload_keyring


@pytest.fixture
def own_keys(settings, tmp_path, monkeypatch):
    monkeypatch.delenv("SIYU_ENCRYPTION_KEYS", raising=False)
    settings.DATA_DIR = tmp_path
    reload_keyring()
    yield tmp_path
    keyring.cache_clear()  # the next reader loads the ring of the restored data directory


def stored_phones() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone FROM customers_customerphone ORDER BY id")
        return [row[0] for row in cursor.fetchall()]


def test_rotatekeys_reencrypts_everything_and_keeps_old_tokens_readable(world, own_keys):
    staff = Staff.objects.create(org=world.org, userid="alice", name="张晓")
    customer = Customer.objects.create(org=world.org, external_userid="wm-rotate", name="王姐")
    relation = Relation.objects.create(org=world.org, customer=customer, staff=staff, remark_mobiles='["13800138000"]')
    queries.index_customer_phones(relation)
    old_kid = keyring().current_kid
    [old_token] = stored_phones()
    assert old_token.split(".")[1] == old_kid and "13800138000" not in old_token

    out = io.StringIO()
    call_command("rotatekeys", stdout=out)
    ring = keyring()
    assert ring.current_kid != old_kid and old_kid in ring.kids
    assert f"New current key: {ring.current_kid}" in out.getvalue() and "Re-encrypted 2 values." in out.getvalue()  # the remark phones and their index row
    [new_token] = stored_phones()
    assert new_token != old_token and new_token.split(".")[1] == ring.current_kid
    assert CustomerPhone.objects.for_org(world.org).get().phone == "13800138000"
    assert ring.needs_reencrypt(old_token) and not ring.needs_reencrypt(new_token)
    assert list(queries.phone_customer_ids(world.org, "138 0013 8000")) == [{"customer_id": customer.pk}]
    # A value still under the old key (a backup restored, a row missed) stays readable.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE customers_customerphone SET phone = %s", [old_token])
    assert CustomerPhone.objects.for_org(world.org).get().phone == "13800138000"
    # A second run re-encrypts just that one.
    again = io.StringIO()
    call_command("rotatekeys", "--reencrypt-only", stdout=again)
    assert "Re-encrypted 1 values." in again.getvalue() and "New current key" not in again.getvalue()
    assert stored_phones()[0].split(".")[1] == ring.current_kid
