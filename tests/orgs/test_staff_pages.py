"""The 员工 and 离职继承 console pages: lists, the departed-staff page, hand and rule reassignment, access."""

import itertools

import pytest

from siyu.customers import services as customer_services
from siyu.customers.models import GroupTransferBatch, Transfer, TransferBatch
from siyu.groups.models import CustomerGroup
from siyu.orgs.models import AuditEntry
from siyu.orgs.staff import mark_departed, upsert_staff
from tests.factories import client_for

_n = itertools.count(1)


def make_staff(org, userid, store, *, contact=True, name=None):
    staff = upsert_staff(org, {"userid": userid, "name": name or userid, "status": "1"})
    staff.store, staff.is_customer_contact = store, contact
    staff.save(update_fields=["store", "is_customer_contact"])
    return staff


def give_customers(org, staff, count, prefix="客户"):
    customers = []
    for _ in range(count):
        n = next(_n)
        customer = customer_services.upsert_customer(org, {"external_userid": f"wmPAGE{n:06d}", "name": f"{prefix}{n}"})
        customer_services.apply_follow_info(org, customer, {"userid": staff.userid, "createtime": 1700000000 + n})
        customers.append(customer)
    return customers


@pytest.fixture
def shop(world):
    """Departed Alice (E1) with 6 customers and a group; Bob (E1, 2 customers), Carol (E2), Sam (S1)."""
    w = world
    alice = make_staff(w.org, "alice", w.e1, name="Alice")
    bob = make_staff(w.org, "bob", w.e1, name="Bob")
    carol = make_staff(w.org, "carol", w.e2, name="Carol")
    sam = make_staff(w.org, "sam", w.s1, name="Sam")
    customers = give_customers(w.org, alice, 6, prefix="甲客户")
    give_customers(w.org, bob, 2, prefix="乙客户")
    group = CustomerGroup.objects.create(org=w.org, chat_id="wrPAGEGROUP1", name="甲的群", owner=alice, owner_userid="alice")
    mark_departed(alice)
    alice.refresh_from_db()
    return {"alice": alice, "bob": bob, "carol": carol, "sam": sam, "customers": customers, "group": group}


def test_staff_list_filters_by_status_and_counts_customers(world, shop):
    page = client_for(world.admin).get("/staff/", {"status": "departed"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Alice" in html and "Bob" not in html and "已离职" in html
    rows = {s.userid: s for s in page.context["page"].object_list}
    assert (rows["alice"].customer_count, rows["alice"].group_count) == (6, 1)
    everyone = client_for(world.admin).get("/staff/", {"q": "o"}).context["page"].object_list
    assert {s.userid for s in everyone} == {"bob", "carol"}
    east = client_for(world.east_manager).get("/staff/").context["page"].object_list
    assert {s.userid for s in east} == {"alice", "bob", "carol"}  # not Sam of S1


def test_departed_page_lists_customers_and_reassigns_by_hand(world, shop):
    client = client_for(world.admin)
    url = f"/staff/{shop['alice'].pk}/"
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert all(c.name in html for c in shop["customers"])
    assert "甲的群" in html and page.context["waiting_count"] == 6

    chosen = shop["customers"][:4]
    response = client.post(url, {"mode": "manual", "takeover": shop["bob"].pk, "action": "submit",
                                 "customers": [c.pk for c in chosen]})
    assert response.status_code == 302 and response.url == url
    transfers = Transfer.objects.for_org(world.org).filter(handover=shop["alice"])
    assert transfers.count() == 4
    assert {t.customer_id for t in transfers} == {c.pk for c in chosen}
    assert {(t.kind, t.status, t.takeover_id, t.requested_by_id) for t in transfers} == {
        ("resigned", "requested", shop["bob"].pk, world.admin.user_id)}
    assert TransferBatch.objects.for_org(world.org).count() == 1
    assert AuditEntry.objects.for_org(world.org).filter(action="transfer.requested", actor=world.admin.user).exists()

    after = client.get(url)
    assert after.context["waiting_count"] == 2  # the four are under way
    assert after.content.decode().count('data-status="requested"') == 4

    rest = client.post(url, {"mode": "manual", "takeover": shop["carol"].pk, "select_all": "on", "action": "submit"})
    assert rest.status_code == 302
    assert Transfer.objects.for_org(world.org).filter(takeover=shop["carol"]).count() == 2


def test_form_errors_are_shown_and_nothing_is_written(world, shop):
    client = client_for(world.admin)
    url = f"/staff/{shop['alice'].pk}/"
    no_takeover = client.post(url, {"mode": "manual", "select_all": "on", "action": "submit"})
    assert no_takeover.status_code == 400 and "请选择接替员工" in no_takeover.content.decode()
    no_customers = client.post(url, {"mode": "manual", "takeover": shop["bob"].pk, "action": "submit"})
    assert no_customers.status_code == 400 and "请至少选择一位客户" in no_customers.content.decode()
    not_contact = make_staff(world.org, "dave", world.e1, contact=False)
    refused = client.post(url, {"mode": "manual", "takeover": not_contact.pk, "select_all": "on", "action": "submit"})
    assert refused.status_code == 400 and refused.context["form"].errors["takeover"]
    assert not Transfer.objects.for_org(world.org).exists()


def test_rule_preview_then_submit_spreads_over_the_store(world, shop):
    client = client_for(world.admin)
    url = f"/staff/{shop['alice'].pk}/"
    make_staff(world.org, "erin", world.e1, name="Erin")  # E1: Bob has 2 customers, Erin none
    preview = client.post(url, {"mode": "rule", "select_all": "on", "action": "preview"})
    assert preview.status_code == 200
    plan = preview.context["plan"]
    assert {a.takeover.userid: len(a.customers) for a in plan.assignments} == {"erin": 4, "bob": 2}
    assert 'data-testid="plan"' in preview.content.decode()
    assert not Transfer.objects.for_org(world.org).exists()  # a preview writes nothing

    done = client.post(url, {"mode": "rule", "select_all": "on", "action": "submit"})
    assert done.status_code == 302
    counts = {t: Transfer.objects.for_org(world.org).filter(takeover__userid=t).count() for t in ("bob", "erin")}
    assert counts == {"bob": 2, "erin": 4}
    assert set(Transfer.objects.for_org(world.org).values_list("rule", flat=True)) == {"same_store_least_loaded"}


def test_group_transfer_form(world, shop):
    client = client_for(world.admin)
    response = client.post(f"/staff/{shop['alice'].pk}/groups/", {"chats": [shop["group"].pk], "new_owner": shop["bob"].pk})
    assert response.status_code == 302
    batch = GroupTransferBatch.objects.for_org(world.org).get()
    assert (batch.kind, batch.chat_ids, batch.new_owner_id) == ("resigned", ["wrPAGEGROUP1"], shop["bob"].pk)


def test_store_manager_reassigns_only_within_their_stores(world, shop):
    client = client_for(world.east_manager)
    url = f"/staff/{shop['alice'].pk}/"
    page = client.get(url)
    assert page.status_code == 200
    choices = {s.userid for s in page.context["form"].fields["takeover"].queryset}
    assert choices == {"bob", "carol"}  # Sam of S1 is not theirs to give customers to
    outside = client.post(url, {"mode": "manual", "takeover": shop["sam"].pk, "select_all": "on", "action": "submit"})
    assert outside.status_code == 400 and not Transfer.objects.for_org(world.org).exists()
    inside = client.post(url, {"mode": "manual", "takeover": shop["carol"].pk, "select_all": "on", "action": "submit"})
    assert inside.status_code == 302
    assert Transfer.objects.for_org(world.org).filter(takeover=shop["carol"]).count() == 6


def test_another_stores_manager_gets_404_and_a_guide_403(world, shop):
    url = f"/staff/{shop['alice'].pk}/"
    other = client_for(world.s1_manager)
    assert other.get(url).status_code == 404
    assert other.post(url, {"mode": "manual", "takeover": shop["sam"].pk, "select_all": "on", "action": "submit"}).status_code == 404
    assert other.post(f"{url}groups/", {"chats": [shop["group"].pk], "new_owner": shop["sam"].pk}).status_code == 404
    assert client_for(world.other_admin).get(url).status_code == 404
    guide = client_for(world.guide_e1)
    for path in ("/staff/", url, "/transfers/"):
        assert guide.get(path).status_code == 403
    assert guide.post(url, {"mode": "manual", "takeover": shop["bob"].pk, "select_all": "on"}).status_code == 403
    assert not Transfer.objects.for_org(world.org).exists()


def test_transfers_page_lists_departed_staff_and_history(world, shop):
    client = client_for(world.admin)
    page = client.get("/transfers/")
    assert page.status_code == 200
    departed = page.context["departed"]
    assert [(s.userid, s.waiting_count, s.group_count) for s in departed] == [("alice", 6, 1)]
    client.post(f"/staff/{shop['alice'].pk}/", {"mode": "manual", "takeover": shop["bob"].pk, "select_all": "on", "action": "submit"})
    history = client.get("/transfers/", {"status": "requested"})
    assert history.context["page"].paginator.count == 6
    assert client.get("/transfers/", {"status": "done"}).context["page"].paginator.count == 0
    assert client_for(world.s1_manager).get("/transfers/").context["departed"] == []
