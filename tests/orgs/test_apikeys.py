"""Integration API keys: bearer keys with a role see what a member with that role sees; revoked or wrong keys get a
401; only a keyed hash is stored; the command prints the key once; creating and revoking are audited."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client

from siyu.orgs.apikeys import create_key, revoke_key
from siyu.orgs.models import ApiKey, AuditEntry, User
from siyu.orgs.roles import Role
from tests.customers.test_list import Shop
from tests.factories import client_for


def bearer(token: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def names(client) -> list[str]:
    response = client.get("/api/v1/customers")
    assert response.status_code == 200, response.content
    return sorted(c["name"] for c in response.json()["items"])


def test_a_key_sees_what_a_member_with_its_role_sees(world):
    shop = Shop(world)
    _hq, hq_token = create_key(world.org, name="ERP", role=Role.HQ_ADMIN, by=world.owner.user)
    _m, e1_token = create_key(world.org, name="门店 E1", role=Role.STORE_MANAGER, store=world.e1, by=world.owner.user)
    _g, guide_token = create_key(world.org, name="导购工具", role=Role.GUIDE, store=world.e1, by=world.owner.user)
    assert names(bearer(hq_token)) == ["Alice", "Bob", "Carol", "Dave"]
    # A store manager's key sees the customers of its store (Bob is a customer of E2 only) …
    assert names(bearer(e1_token)) == ["Alice", "Carol"]
    # … and a guide's key what a guide sees: their own customers, and a key has none of another guide's.
    assert names(bearer(guide_token)) == []
    assert bearer(guide_token).get(f"/api/v1/customers/{shop.alice.pk}").status_code == 404
    assert names(client_for(world.guide_e1)) == ["Alice", "Carol"]
    # Another brand's rows stay out of reach.
    assert bearer(hq_token).get(f"/api/v1/customers/{shop.other.pk}").status_code == 404
    assert bearer(hq_token).get("/api/v1/me").json()["role"] == Role.HQ_ADMIN


def test_revoked_unknown_and_tampered_keys_get_401(world):
    key, token = create_key(world.org, name="ERP", role=Role.HQ_ADMIN, by=world.owner.user)
    assert bearer(token).get("/api/v1/me").status_code == 200
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for wrong in (tampered, "siyu_000000000000_nope", "not-a-key", ""):
        assert bearer(wrong).get("/api/v1/me").status_code == 401
    revoke_key(key, by=world.owner.user)
    assert bearer(token).get("/api/v1/me").status_code == 401
    assert list(AuditEntry.objects.for_org(world.org).filter(action__startswith="apikey.")
                .values_list("action", flat=True).order_by("pk")) == ["apikey.created", "apikey.revoked"]


def test_only_a_keyed_hash_and_the_prefix_are_stored_and_use_is_recorded(world):
    key, token = create_key(world.org, name="ERP", role=Role.HQ_ADMIN, by=world.owner.user)
    row = ApiKey.objects.for_org(world.org).values().get(pk=key.pk)
    secret = token.rsplit("_", 1)[1]
    assert not any(secret in str(value) for value in row.values())
    assert token.startswith(f"siyu_{key.prefix}_") and key.last_used_at is None
    bearer(token).get("/api/v1/me")
    key.refresh_from_db()
    assert key.last_used_at is not None
    # The key's principal can never sign in to the console.
    principal = User.objects.get(pk=key.membership.user_id)
    assert not principal.is_active and not principal.has_usable_password()


def test_keys_cannot_be_owners_and_store_roles_need_a_store(world):
    for kwargs, field in (({"role": Role.OWNER}, "role"), ({"role": Role.GUIDE}, "store"),
                          ({"role": Role.GUIDE, "store": world.other_store}, "store"), ({"role": "boss"}, "role"),
                          ({"role": Role.HQ_ADMIN, "name": " "}, "name")):
        with pytest.raises(ValidationError) as error:
            create_key(world.org, **{"name": "x", **kwargs}, by=None)
        assert field in error.value.message_dict
    assert not ApiKey.objects.for_org(world.org).exists()


def test_the_command_prints_the_key_once_on_its_last_line(world):
    out = io.StringIO()
    call_command("apikey", "create", "--org", "brand-a", "--role", "store_manager", "--store", "E1",
                 "--name", "POS", stdout=out)
    token = out.getvalue().strip().splitlines()[-1]
    assert bearer(token).get("/api/v1/me").json()["store_id"] == world.e1.pk
    key = ApiKey.objects.for_org(world.org).get()
    call_command("apikey", "revoke", "--org", "brand-a", "--prefix", key.prefix, stdout=io.StringIO())
    assert bearer(token).get("/api/v1/me").status_code == 401


def test_key_memberships_are_not_listed_as_members(world):
    create_key(world.org, name="ERP", role=Role.HQ_ADMIN, by=None)
    usernames = [m["username"] for m in client_for(world.admin).get("/api/v1/members").json()["items"]]
    assert usernames and not any(name.startswith("apikey-") for name in usernames)


def test_the_console_page_shows_a_new_key_once_and_revokes_it(world):
    from django.urls import reverse

    hq = client_for(world.admin)
    response = hq.post(reverse("orgs:apikeys"), {"name": "ERP 同步", "role": Role.HQ_ADMIN})
    token = response.context["token"]
    assert token in response.content.decode() and bearer(token).get("/api/v1/me").status_code == 200
    key = ApiKey.objects.for_org(world.org).get()
    listing = hq.get(reverse("orgs:apikeys")).content.decode()
    assert token not in listing and key.prefix in listing
    missing_store = hq.post(reverse("orgs:apikeys"), {"name": "导购", "role": Role.GUIDE})
    assert missing_store.context["form"].errors["store"] and ApiKey.objects.for_org(world.org).count() == 1
    assert client_for(world.east_manager).get(reverse("orgs:apikeys")).status_code == 403
    assert client_for(world.other_admin).post(reverse("orgs:apikey_revoke", args=[key.pk])).status_code == 404
    assert hq.post(reverse("orgs:apikey_revoke", args=[key.pk])).status_code == 302
    assert bearer(token).get("/api/v1/me").status_code == 401
