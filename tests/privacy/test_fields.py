"""The encrypted phone field on real rows: no plaintext stored, blind-index lookup, rotation, masking."""

import pytest
from django.core.exceptions import FieldError
from django.db import connection

from siyu.orgs.models import User
from siyu.privacy import services
from siyu.privacy.fields import blind_lookup
from siyu.privacy.keys import keyring
from tests.factories import client_for, make_member


def raw_row(user):
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone, phone_index FROM orgs_user WHERE id = %s", [user.pk])
        return cursor.fetchone()


def test_no_plaintext_in_the_database(world):
    user = make_member(world.org, phone="138 1234 5678").user
    phone, index = raw_row(user)
    assert "13812345678" not in phone and "5678" not in phone and "138" not in phone.split(".")[-1][:3] + "x"
    assert phone.startswith("v1.")
    assert User.objects.get(pk=user.pk).phone == "138 1234 5678"
    assert index and "1381234" not in index


def test_lookup_by_blind_index_normalizes(world):
    user = make_member(world.org, phone="13812345678").user
    make_member(world.org, phone="13900000000")
    for spelling in ["13812345678", "+86 138-1234-5678", "0086 138 1234 5678"]:
        assert list(User.objects.filter(blind_lookup(User, "phone", spelling))) == [user]
    assert not User.objects.filter(blind_lookup(User, "phone", "13812345679")).exists()


def test_equality_on_ciphertext_is_refused(world):
    with pytest.raises(FieldError):
        User.objects.filter(phone="13812345678").exists()


def test_ciphertext_is_bound_to_its_column(world):
    user = make_member(world.org, phone="13812345678").user
    token = raw_row(user)[0]
    with pytest.raises(ValueError):
        keyring().decrypt(token, context=b"orgs.user.display_name")


def test_rotation_keeps_old_rows_readable_and_reencrypts_them(world):
    old = make_member(world.org, phone="13811112222").user
    old_token = raw_row(old)[0]
    old_kid = old_token.split(".")[1]
    new_kid = services.rotate_keys()
    assert new_kid != old_kid
    # Old rows still read; new rows use the new key.
    assert User.objects.get(pk=old.pk).phone == "13811112222"
    new = make_member(world.org, phone="13833334444").user
    assert raw_row(new)[0].split(".")[1] == new_kid
    # Lookup still works across the rotation (the blind-index key does not rotate).
    assert User.objects.filter(blind_lookup(User, "phone", "13811112222")).get() == old
    changed = services.reencrypt_all()
    assert changed >= 1
    token_after = raw_row(old)[0]
    assert token_after.split(".")[1] == new_kid and token_after != old_token
    assert User.objects.get(pk=old.pk).phone == "13811112222"
    assert services.reencrypt_all() == 0


def test_phone_is_masked_for_store_managers_and_shown_to_hq(world):
    world.guide_e1.user.phone = "13812345678"
    world.guide_e1.user.save()
    manager_html = client_for(world.east_manager).get(f"/members/{world.guide_e1.pk}/").content.decode()
    assert "138****5678" in manager_html and "13812345678" not in manager_html
    admin_html = client_for(world.admin).get(f"/members/{world.guide_e1.pk}/").content.decode()
    assert "13812345678" in admin_html


def test_bad_phone_is_a_form_error(world):
    client = client_for(world.admin)
    response = client.post("/members/new/", {"username": "newbie", "role": "hq_admin", "phone": "电话"})
    assert response.status_code == 400
    assert "手机号格式不正确" in response.content.decode()
    assert not User.objects.filter(username="newbie").exists()
