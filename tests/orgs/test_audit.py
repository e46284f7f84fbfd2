"""The audit log: written by services, filterable by HQ, never editable or deletable."""

import pytest
from django.core.exceptions import PermissionDenied

from siyu.orgs.models import AuditEntry
from siyu.orgs.roles import Role
from tests.factories import client_for


def test_services_write_audit_entries(world):
    from siyu.orgs import services

    services.change_member_role(world.guide_e1, role=Role.STORE_MANAGER, store=world.e1, by=world.admin)
    entry = AuditEntry.objects.for_org(world.org).filter(action="member.role_changed").get()
    assert entry.actor == world.admin.user
    assert entry.details["before"]["role"] == "guide" and entry.details["after"]["role"] == "store_manager"


def test_audit_entries_cannot_be_changed_or_deleted(world):
    entry = AuditEntry.objects.for_org(world.org).first()
    entry.action = "forged"
    with pytest.raises(PermissionDenied):
        entry.save()
    with pytest.raises(PermissionDenied):
        entry.delete()
    assert AuditEntry.objects.for_org(world.org).filter(action="forged").count() == 0


def test_audit_page_filters_and_is_read_only(world):
    from siyu.orgs import services

    services.change_member_role(world.guide_e1, role=Role.GUIDE, store=world.e2, by=world.admin)
    client = client_for(world.admin)
    html = client.get("/audit/", {"action": "member.role"}).content.decode()
    assert "member.role_changed" in html and "store.created" not in html
    assert client.post("/audit/").status_code in (403, 405) or "member.role_changed" in html
    # Another brand's entries never show.
    assert "brand-b" not in client.get("/audit/").content.decode()


def test_audit_page_needs_hq_role(world):
    assert client_for(world.east_manager).get("/audit/").status_code == 403
    assert client_for(world.guide_e1).get("/audit/").status_code == 403


def test_bad_date_filter_is_a_form_error_not_a_500(world):
    response = client_for(world.admin).get("/audit/", {"start": "not-a-date"})
    assert response.status_code == 200
    assert "start" in response.content.decode() or "日期" in response.content.decode()


def test_hq_admin_cannot_make_owners(world):
    from siyu.orgs import services

    with pytest.raises(PermissionDenied):
        services.change_member_role(world.guide_e1, role=Role.OWNER, store=None, by=world.admin)
    client = client_for(world.admin)
    response = client.post(f"/members/{world.guide_e1.pk}/", {"role": "owner", "store": ""})
    assert response.status_code == 400
    world.guide_e1.refresh_from_db()
    assert world.guide_e1.role == Role.GUIDE


def test_hq_admin_cannot_demote_the_owner(world):
    from siyu.orgs import services

    with pytest.raises(PermissionDenied):
        services.change_member_role(world.owner, role=Role.GUIDE, store=world.e1, by=world.admin)
    world.owner.refresh_from_db()
    assert world.owner.role == Role.OWNER
    assert not AuditEntry.objects.for_org(world.org).filter(action="member.role_changed").exists()
