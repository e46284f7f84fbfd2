"""Membership respects tenancy: a brand can create accounts, and invite existing ones, but never take one over."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from siyu.orgs import services
from siyu.orgs.models import AuditEntry, Invitation, Membership, User
from siyu.orgs.roles import Role
from tests.factories import PASSWORD, client_for, make_member


@pytest.fixture
def other_owner(world):
    return make_member(world.other_org, Role.OWNER, username="b_owner", phone="13800138000")


def test_an_hq_admin_cannot_attach_another_brands_user(world, other_owner):
    client = client_for(world.admin)
    response = client.post("/members/new/", {"username": "b_owner", "role": "hq_admin", "password": "another long secret"})
    assert response.status_code == 400
    assert "已被使用" in response.content.decode()
    assert not Membership.objects.for_org(world.org).filter(user=other_owner.user).exists()
    other_owner.user.refresh_from_db()
    assert other_owner.user.check_password(PASSWORD)
    # Nothing about that user reaches brand A: not on the members page, not by id, not in the API.
    assert "b_owner" not in client.get("/members/").content.decode()
    assert client.get(f"/members/{other_owner.pk}/").status_code == 404
    assert client.get(f"/api/v1/members/{other_owner.pk}").status_code == 404
    assert client.post(f"/members/{other_owner.pk}/unlock/").status_code in (403, 404)


def test_another_brands_sign_ins_stay_out_of_the_audit_log(world, other_owner):
    client_for(world.admin).post("/members/new/", {"username": "b_owner", "role": "hq_admin"})
    Client().post("/login/", {"username": "b_owner", "password": "wrong password"})
    Client().post("/login/", {"username": "b_owner", "password": PASSWORD})
    user_id = str(other_owner.user.pk)
    assert AuditEntry.objects.for_org(world.other_org).filter(object_id=user_id, action__startswith="login.").count() == 2
    assert not AuditEntry.objects.for_org(world.org).filter(object_id=user_id, action__startswith="login.").exists()
    assert "b_owner" not in client_for(world.admin).get("/audit/?action=login.").content.decode()


def test_an_invited_person_joins_only_by_accepting_while_signed_in(world, other_owner):
    response = client_for(world.admin).post("/members/invite/", {"role": "guide", "store": world.e1.pk})
    assert response.status_code == 200
    link = response.context["link"]
    path = link[link.index("/invite/"):]
    # Opening the link signed out asks to sign in first; nothing is joined.
    assert Client().get(path).status_code == 302
    assert Client().post(path).status_code == 302
    assert not Membership.objects.for_org(world.org).filter(user=other_owner.user).exists()
    invited = client_for(other_owner)
    assert "品牌A" in invited.get(path).content.decode()
    assert invited.post(path).status_code == 302
    joined = Membership.objects.for_org(world.org).get(user=other_owner.user)
    assert (joined.role, joined.store_id) == (Role.GUIDE, world.e1.pk)
    # One time only: the same link does not let anyone else in.
    stranger = User.objects.create_user("stranger", password=PASSWORD)
    other = Client()
    other.force_login(stranger)
    assert other.get(path).status_code == 404
    assert other.post(path).status_code == 404
    assert not Membership.objects.for_org(world.org).filter(user=stranger).exists()


def test_an_expired_invitation_lets_nobody_in(world, other_owner):
    invitation, token = services.invite_member(org=world.org, role=Role.HQ_ADMIN, by=world.owner)
    Invitation.objects.for_org(world.org).filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client_for(other_owner).post(f"/invite/{token}/").status_code == 404
    assert not Membership.objects.for_org(world.org).filter(user=other_owner.user).exists()


def test_only_owners_invite_owners(world):
    with pytest.raises(services.PermissionDenied):
        services.invite_member(org=world.org, role=Role.OWNER, by=world.admin)


def test_createadmin_fails_loudly_when_the_user_exists(world, other_owner):
    with pytest.raises(CommandError, match="exists"):
        call_command("createadmin", username="b_owner", password="a brand new secret", org="brand-a")
    other_owner.user.refresh_from_db()
    assert other_owner.user.check_password(PASSWORD)
    assert not Membership.objects.for_org(world.org).filter(user=other_owner.user).exists()
    with pytest.raises(CommandError, match="exists"):
        call_command("createadmin", username="b_owner", password="a brand new secret")
