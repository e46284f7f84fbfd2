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
    everything = client.get("/audit/").content.decode()
    assert "<td>修改成员角色</td>" in everything and "<td>新建门店</td>" in everything
    # Filtering by the 成员 action group keeps the role change (shown as words, not its key) and drops store entries.
    html = client.get("/audit/", {"action": "member."}).content.decode()
    assert "<td>修改成员角色</td>" in html and "member.role_changed" not in html
    assert "<td>新建门店</td>" not in html
    # Read-only: the page offers no way to change the log; a POST to it alters nothing.
    entries = list(AuditEntry.objects.for_org(world.org).values_list("pk", "action"))
    client.post("/audit/", {"action": "forged"})
    assert list(AuditEntry.objects.for_org(world.org).values_list("pk", "action")) == entries
    # Another brand's entries never show.
    assert AuditEntry.objects.for_org(world.other_org).filter(action="org.created").exists()
    assert "品牌B" not in everything and "brand-b" not in everything


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
