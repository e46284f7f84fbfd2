"""Sign-in: argon2, lockout after repeated failures (audited), session rotation, logout, safe redirects."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.utils import timezone

from siyu.orgs.models import AuditEntry, User
from tests.factories import PASSWORD


def login(client, username, password, **extra):
    return client.post("/login/", {"username": username, "password": password, **extra})


def test_production_hashes_passwords_with_argon2(world):
    import siyu.settings as production

    assert production.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    user = world.admin.user
    with override_settings(PASSWORD_HASHERS=production.PASSWORD_HASHERS):
        user.set_password(PASSWORD)
        assert user.password.startswith("argon2$")
        assert user.check_password(PASSWORD)


def test_good_login_reaches_dashboard_and_logout_ends_session(world):
    client = Client()
    response = login(client, "admin", PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/"
    dashboard = client.get("/")
    assert dashboard.status_code == 200
    assert "数据总览" in dashboard.content.decode()
    assert AuditEntry.objects.for_org(world.org).filter(action="login.succeeded", actor=world.admin.user).exists()
    assert client.get("/logout/").status_code == 405  # logout is a POST (CSRF-protected)
    client.post("/logout/")
    assert client.get("/").status_code == 302


def test_wrong_password_is_a_form_error(world):
    response = login(Client(), "admin", "wrong password")
    assert response.status_code == 400
    assert "用户名或密码错误" in response.content.decode()


def test_repeated_failures_lock_the_account_and_the_lock_is_audited(world):
    client = Client()
    for _ in range(settings.LOGIN_MAX_FAILURES - 1):
        assert "用户名或密码错误" in login(client, "guide_e1", "nope").content.decode()
    response = login(client, "guide_e1", "nope")
    assert "用户名或密码错误" in response.content.decode()
    user = User.objects.get(username="guide_e1")
    assert user.locked_until > timezone.now()
    # Even the right password is refused while locked, with the same answer as a wrong one.
    response = login(client, "guide_e1", PASSWORD)
    assert "用户名或密码错误" in response.content.decode()
    assert "_auth_user_id" not in client.session
    entries = AuditEntry.objects.for_org(world.org).filter(object_id=str(user.pk))
    assert entries.filter(action="login.locked").count() == 1
    assert entries.filter(action="login.failed").count() == settings.LOGIN_MAX_FAILURES
    assert entries.filter(action="login.refused_locked").count() == 1
    assert entries.filter(action="login.locked").first().ip == "127.0.0.1"


def test_lock_expires(world):
    user = world.guide_e1.user
    user.locked_until = timezone.now() - timedelta(seconds=1)
    user.save()
    assert login(Client(), "guide_e1", PASSWORD).status_code == 302


def test_failures_outside_the_window_do_not_add_up(world):
    user = world.guide_e1.user
    user.failed_logins = settings.LOGIN_MAX_FAILURES - 1
    user.first_failed_at = timezone.now() - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW + 5)
    user.save()
    login(Client(), "guide_e1", "nope")
    user.refresh_from_db()
    assert user.failed_logins == 1 and user.locked_until is None


def test_only_a_platform_administrator_can_unlock(world):
    from tests.factories import client_for

    user = world.guide_e1.user
    user.locked_until = timezone.now() + timedelta(minutes=10)
    user.save()
    # The brand's owner cannot: the lock guards the person's account in every brand.
    assert client_for(world.owner).post(f"/members/{world.guide_e1.pk}/unlock/").status_code == 403
    user.refresh_from_db()
    assert user.locked_until is not None
    world.owner.user.is_superuser = True
    world.owner.user.save()
    client_for(world.owner).post(f"/members/{world.guide_e1.pk}/unlock/")
    user.refresh_from_db()
    assert user.locked_until is None
    assert AuditEntry.objects.filter(org=None, action="login.unlocked", object_id=str(user.pk)).exists()


def test_login_rotates_session_key(world):
    client = Client()
    client.get("/login/")
    client.cookies[settings.SESSION_COOKIE_NAME] = "attacker-chosen"
    login(client, "admin", PASSWORD)
    assert client.cookies[settings.SESSION_COOKIE_NAME].value != "attacker-chosen"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x"])
def test_next_must_stay_on_site(world, target):
    response = login(Client(), "admin", PASSWORD, next=target)
    assert response["Location"] == "/"


def test_csrf_is_enforced(world):
    client = Client(enforce_csrf_checks=True)
    response = login(client, "admin", PASSWORD)
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_member_without_membership_sees_explanation(db):
    from siyu.orgs.models import User

    User.objects.create_user("loner", password=PASSWORD)
    client = Client()
    login(client, "loner", PASSWORD)
    response = client.get("/")
    assert response.status_code == 403 and "还没有加入任何组织" in response.content.decode()


def test_switching_organization(world):
    from tests.factories import client_for, join, make_member
    from siyu.orgs.roles import Role

    join(world.other_org, world.admin.user, Role.HQ_ADMIN)  # same person, second brand
    client = client_for(world.admin)
    assert "品牌A" in client.get("/").content.decode()
    client.post("/switch-org/", {"org": world.other_org.pk})
    assert client.session["org_id"] == world.other_org.pk
    html = client.get("/stores/").content.decode()
    assert "X1" in html and ">E1<" not in html
    # An organization the user does not belong to cannot be switched to.
    stranger = make_member(world.org, Role.GUIDE, world.e1)
    c2 = client_for(stranger)
    c2.post("/switch-org/", {"org": world.other_org.pk})
    assert c2.session["org_id"] == world.org.pk
