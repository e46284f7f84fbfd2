"""Who sees which rows: every role, in the console and in the API, including guessed ids."""

import pytest

from siyu.core.tenancy import UnscopedTenantQuery, request_guard
from siyu.orgs.models import Membership, Store
from tests.factories import client_for


def visible_store_codes(member):
    return set(Store.objects.visible_to(member).values_list("code", flat=True))


def test_store_visibility_by_role(world):
    w = world
    all_codes = {"HQ", "EAST", "SOUTH", "E1", "E2", "S1", "S2"}
    assert visible_store_codes(w.owner) == all_codes
    assert visible_store_codes(w.admin) == all_codes
    assert visible_store_codes(w.east_manager) == {"EAST", "E1", "E2"}
    assert visible_store_codes(w.s1_manager) == {"S1"}
    assert visible_store_codes(w.guide_e1) == {"E1"}
    assert visible_store_codes(w.other_admin) == {"X1"}


def test_member_visibility_by_role(world):
    w = world

    def names(member):
        return set(Membership.objects.visible_to(member).values_list("user__username", flat=True))

    assert names(w.admin) == {"owner", "admin", "east_manager", "s1_manager", "guide_e1", "guide_e2", "guide_s1"}
    assert names(w.east_manager) == {"east_manager", "guide_e1", "guide_e2"}
    assert names(w.s1_manager) == {"s1_manager", "guide_s1"}
    assert names(w.guide_e1) == {"guide_e1"}
    assert names(w.other_admin) == {"other_admin", "other_guide"}


def test_unscoped_query_in_a_request_fails_loudly(world):
    token = request_guard.set(True)
    try:
        with pytest.raises(UnscopedTenantQuery):
            list(Store.objects.all())
        with pytest.raises(UnscopedTenantQuery):
            Store.objects.filter(code="E1").count()
        assert Store.objects.for_org(world.org).count() == 7
    finally:
        request_guard.reset(token)


@pytest.mark.parametrize(
    "viewer, target, status",
    [
        ("guide_e1", "guide_e1", 200),
        ("guide_e1", "guide_e2", 404),  # another guide's row
        ("east_manager", "guide_e2", 200),
        ("east_manager", "guide_s1", 404),  # another region's store
        ("s1_manager", "guide_e1", 404),
        ("admin", "guide_s1", 200),
        ("other_admin", "guide_e1", 404),  # another organization, id guessed
    ],
)
def test_member_page_and_api_by_role(world, viewer, target, status):
    viewer_m = getattr(world, viewer)
    target_m = getattr(world, target)
    client = client_for(viewer_m)
    if viewer_m.can("members.view"):
        assert client.get(f"/members/{target_m.pk}/").status_code == status
        assert client.get(f"/api/v1/members/{target_m.pk}").status_code == status
    else:
        # Guides may not list members at all: the page and the API answer 403, whatever the id.
        assert client.get(f"/members/{target_m.pk}/").status_code == 403
        assert client.get(f"/api/v1/members/{target_m.pk}").status_code == 403


@pytest.mark.parametrize(
    "viewer, store, status",
    [
        ("guide_e1", "e1", 200),
        ("guide_e1", "e2", 404),
        ("east_manager", "e2", 200),
        ("east_manager", "s1", 404),
        ("admin", "s2", 200),
        ("other_admin", "e1", 404),
        ("other_guide", "s1", 404),
    ],
)
def test_store_api_by_role(world, viewer, store, status):
    client = client_for(getattr(world, viewer))
    assert client.get(f"/api/v1/stores/{getattr(world, store).pk}").status_code == status


def test_store_list_in_console_shows_only_visible_rows(world):
    html = client_for(world.east_manager).get("/stores/").content.decode()
    assert "E1" in html and "E2" in html
    assert ">S1<" not in html and ">X1<" not in html
    api = client_for(world.guide_e1).get("/api/v1/stores").json()
    assert [s["code"] for s in api["items"]] == ["E1"]


def test_member_list_api_for_manager(world):
    items = client_for(world.east_manager).get("/api/v1/members").json()["items"]
    assert {m["username"] for m in items} == {"east_manager", "guide_e1", "guide_e2"}


def test_writes_need_the_capability(world):
    payload = {"code": "NEW", "name": "新店", "kind": "store", "parent_id": world.east.pk}
    guide = client_for(world.guide_e1)
    assert guide.post("/api/v1/stores", payload, content_type="application/json").status_code == 403
    assert guide.post("/stores/new/", {"code": "NEW", "name": "新店", "kind": "store"}).status_code == 403
    assert not Store.objects.for_org(world.org).filter(code="NEW").exists()
    admin = client_for(world.admin)
    response = admin.post("/api/v1/stores", payload, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["parent_id"] == world.east.pk


def test_api_cannot_attach_a_store_to_another_orgs_region(world):
    client = client_for(world.other_admin)
    payload = {"code": "Y1", "name": "越权", "kind": "store", "parent_id": world.east.pk}
    assert client.post("/api/v1/stores", payload, content_type="application/json").status_code == 404
    assert not Store.objects.for_org(world.other_org).filter(code="Y1").exists()


def test_api_requires_sign_in(db):
    from django.test import Client

    assert Client().get("/api/v1/stores").status_code == 401


@pytest.mark.parametrize("role", ["owner", "admin", "east_manager", "s1_manager", "guide_e1"])
def test_every_menu_page_opens_for_every_role(world, role):
    """Every page in a role's menu answers 200 (which also proves no view reads a tenant table unscoped)."""
    from siyu.console.nav import menu_for

    member = getattr(world, role)
    client = client_for(member)
    for section in menu_for(member, "/"):
        for item in section["items"]:
            response = client.get(item["url"])
            assert response.status_code == 200, (role, item["url"], response.status_code)


def test_menu_hides_pages_a_role_cannot_open(world):
    from siyu.console.nav import NAV, menu_for

    guide = world.guide_e1
    shown = {i["url"] for s in menu_for(guide, "/") for i in s["items"]}
    client = client_for(guide)
    from django.urls import reverse

    for item in NAV:
        url = reverse(item.url_name)
        if url not in shown:
            assert client.get(url).status_code == 403, url
    assert "/audit/" not in shown and "/members/" not in shown
