"""Passwords: changing your own signs out your other sessions; a reset link works once, for its account only,
clears a sign-in lock, and a brand admin can make one only for an account that belongs to their brand alone."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from siyu.orgs.models import AuditEntry, PasswordReset, Role
from tests.factories import PASSWORD, client_for, join, make_member

pytestmark = pytest.mark.django_db
NEW = "osmanthus-oolong-2027"


def sign_in(username: str, password: str) -> Client:
    client = Client()
    response = client.post("/login/", {"username": username, "password": password})
    client.signed_in = response.status_code == 302
    return client


def reset_link(admin_client, member) -> str:
    response = admin_client.post(f"/members/{member.pk}/reset-link/")
    assert response.status_code == 200
    return re.search(r'value="([^"]+)" data-testid="reset-link"', response.content.decode()).group(1)


def path_of(link: str) -> str:
    return "/" + link.split("/", 3)[3]


def test_changing_your_password_keeps_this_session_and_signs_out_the_others(world):
    here, elsewhere = sign_in("guide_e1", PASSWORD), sign_in("guide_e1", PASSWORD)
    assert here.signed_in and elsewhere.signed_in
    wrong = here.post("/account/password/", {"old_password": "not-it", "new_password": NEW, "new_password2": NEW})
    assert wrong.status_code == 400 and "当前密码不正确" in wrong.content.decode()
    assert here.post("/account/password/", {"old_password": PASSWORD, "new_password": NEW,
                                            "new_password2": NEW}).status_code == 302
    assert here.get("/").status_code == 200
    assert elsewhere.get("/").status_code == 302  # sent back to the sign-in page
    assert sign_in("guide_e1", NEW).signed_in and not sign_in("guide_e1", PASSWORD).signed_in
    assert AuditEntry.objects.filter(action="account.password_changed", actor=world.guide_e1.user).count() == 1


@pytest.mark.parametrize("new, new2, field_error", [
    ("short", "short", "new_password"),          # the password rules apply
    ("guide_e1guide", "guide_e1guide", "new_password"),  # too like the username
    (NEW, NEW + "x", "new_password2"),
])
def test_a_refused_new_password_changes_nothing(world, new, new2, field_error):
    client = client_for(world.guide_e1)
    response = client.post("/account/password/", {"old_password": PASSWORD, "new_password": new, "new_password2": new2})
    assert response.status_code == 400 and field_error in response.context["form"].errors
    world.guide_e1.user.refresh_from_db()
    assert world.guide_e1.user.check_password(PASSWORD)


def test_a_reset_link_sets_a_new_password_once_and_clears_a_lock(world):
    guide = world.guide_e2.user
    guide.locked_until, guide.failed_logins = timezone.now() + timedelta(minutes=30), 10
    guide.save()
    link = reset_link(client_for(world.admin), world.guide_e2)
    assert link.startswith("http") and "/password-reset/" in link
    assert PasswordReset.objects.get(user=guide).token_hash not in link  # only the hash is stored

    anonymous = Client()
    page = anonymous.get(path_of(link))
    assert page.status_code == 200 and "guide_e2" in page.content.decode()
    assert anonymous.post(path_of(link), {"new_password": NEW, "new_password2": NEW}).status_code == 302
    guide.refresh_from_db()
    assert guide.check_password(NEW) and guide.locked_until is None and guide.failed_logins == 0
    assert sign_in("guide_e2", NEW).signed_in
    assert anonymous.get(path_of(link)).status_code == 404  # once
    assert anonymous.post(path_of(link), {"new_password": "another-pass-2027", "new_password2": "another-pass-2027"}
                          ).status_code == 404
    guide.refresh_from_db()
    assert guide.check_password(NEW)
    actions = list(AuditEntry.objects.filter(action__startswith="account.").values_list("action", "org_id"))
    assert sorted(actions) == [("account.password_reset", world.org.pk), ("account.reset_link_issued", world.org.pk)]


def test_a_new_link_voids_the_earlier_one_and_links_expire(world, settings):
    admin = client_for(world.admin)
    first = reset_link(admin, world.guide_e1)
    second = reset_link(admin, world.guide_e1)
    assert Client().get(path_of(first)).status_code == 404
    assert Client().get(path_of(second)).status_code == 200
    PasswordReset.objects.filter(used_at__isnull=True).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert Client().get(path_of(second)).status_code == 404
    assert Client().get("/password-reset/made-up-token/").status_code == 404


def test_a_refused_reset_password_keeps_the_link_usable(world):
    link = reset_link(client_for(world.admin), world.guide_e1)
    refused = Client().post(path_of(link), {"new_password": "short", "new_password2": "short"})
    assert refused.status_code == 400 and "new_password" in refused.context["form"].errors
    assert Client().post(path_of(link), {"new_password": NEW, "new_password2": NEW}).status_code == 302


def test_a_brand_admin_cannot_reset_an_account_that_also_works_for_another_brand(world):
    """Otherwise brand A's admin could take over that person's access to brand B."""
    shared = make_member(world.other_org, Role.GUIDE, world.other_store, username="shared_guide")
    in_a = join(world.org, shared.user, Role.GUIDE, world.e1)
    response = client_for(world.admin).post(f"/members/{in_a.pk}/reset-link/", follow=True)
    assert "只有平台管理员" in response.content.decode()
    assert not PasswordReset.objects.exists()
    # Another brand's member is not reachable at all, and a guide may not make links.
    assert client_for(world.admin).post(f"/members/{world.other_guide.pk}/reset-link/").status_code == 404
    assert client_for(world.guide_e1).post(f"/members/{world.guide_e2.pk}/reset-link/").status_code == 403
    # The owner's account needs an owner.
    assert client_for(world.admin).post(f"/members/{world.owner.pk}/reset-link/").status_code == 403
    assert not PasswordReset.objects.exists()
    assert reset_link(client_for(world.owner), world.owner)


def test_the_command_line_prints_a_link_for_any_account(world, capsys):
    shared = make_member(world.other_org, Role.GUIDE, world.other_store, username="shared_guide")
    join(world.org, shared.user, Role.GUIDE, world.e1)
    call_command("resetpassword", "shared_guide")
    link = capsys.readouterr().out.strip()
    assert Client().post(path_of(link), {"new_password": NEW, "new_password2": NEW}).status_code == 302
    shared.user.refresh_from_db()
    assert shared.user.check_password(NEW)
