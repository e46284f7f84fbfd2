"""The customer list: visibility, every filter, phone search through the blind index, keyset pages, capped
counts, registered filters, bad input (never a 500), bulk tag and export jobs with audit, and the API."""

from __future__ import annotations

import io
import itertools
import json
from datetime import datetime, timedelta

import openpyxl
import pytest
from django import forms
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from siyu.core.models import Job
from siyu.customers import bulk, queries
from siyu.customers.models import Customer, CustomerPhone, CustomerTag, Relation, RelationTag, Tag, TagGroup
from siyu.customers.profile import register_list_filter, unregister
from siyu.groups.models import CustomerGroup, GroupMember
from siyu.orgs.models import AuditEntry, Staff
from tests.factories import client_for

_n = itertools.count(1)
SH = timezone.get_default_timezone()


# -- plain factories (no WeCom): rows as the WeCom mirror writes them -------------------------------------------
def make_staff(org, userid: str, store=None, membership=None) -> Staff:
    return Staff.objects.create(org=org, userid=userid, name=f"员工{userid}", store=store, membership=membership,
                                is_customer_contact=True)


def make_customer(org, name: str, *relations, added_at: datetime | None = None, is_friend: bool = True) -> Customer:
    """``relations``: staff rows, or ``(staff, {"remark": …, "mobiles": […], "status": …})``."""
    n = next(_n)
    added_at = added_at or timezone.now() - timedelta(days=n)
    customer = Customer.objects.create(org=org, external_userid=f"wm{n:08d}", name=name, first_added_at=added_at,
                                       is_friend=is_friend)
    for item in relations:
        staff, extra = item if isinstance(item, tuple) else (item, {})
        relation = Relation.objects.create(
            org=org, customer=customer, staff=staff, remark=extra.get("remark", ""), added_at=added_at,
            status=extra.get("status", Relation.Status.ACTIVE),
            remark_mobiles=json.dumps(extra["mobiles"]) if extra.get("mobiles") else "",
        )
        queries.index_customer_phones(relation)
    return customer


def make_tag(org, name: str, group: TagGroup | None = None, **extra) -> Tag:
    group = group or TagGroup.objects.for_org(org).filter(name="测试组").first() or TagGroup.objects.create(
        org=org, name="测试组", wecom_id=f"etg{next(_n)}")
    return Tag.objects.create(org=org, name=name, group=group, wecom_id=extra.pop("wecom_id", f"et{next(_n)}"), **extra)


def link(customer: Customer, tag: Tag, staff: Staff | None = None, source=RelationTag.Source.MANUAL) -> RelationTag:
    relations = Relation.objects.for_org(customer.org_id).filter(customer=customer)
    relation = relations.get(staff=staff) if staff else relations.first()
    return RelationTag.objects.create(org_id=customer.org_id, relation=relation, tag=tag, source=source)


class Shop:
    """Brand A's customers: two guides (e1, e2), a south-region staff member, and a few tags."""

    def __init__(self, world):
        org = self.org = world.org
        self.zhang = make_staff(org, "zhang", world.e1, world.guide_e1)
        self.wang = make_staff(org, "wang", world.e2, world.guide_e2)
        self.li = make_staff(org, "li", world.s1)
        self.vip, self.tea, self.new = make_tag(org, "VIP"), make_tag(org, "爱喝茶"), make_tag(org, "新客")
        self.alice = make_customer(org, "Alice", (self.zhang, {"remark": "老顾客王姐", "mobiles": ["138 0013 8000"]}))
        self.bob = make_customer(org, "Bob", self.wang)
        self.carol = make_customer(org, "Carol", self.zhang, self.li)
        self.dave = make_customer(org, "Dave", (self.li, {"status": Relation.Status.DELETED_BY_CUSTOMER}), is_friend=False)
        self.other = make_customer(world.other_org, "Other brand", make_staff(world.other_org, "x"))
        link(self.alice, self.vip)
        link(self.alice, self.tea)
        link(self.bob, self.vip)
        link(self.carol, self.tea, self.li)
        link(self.dave, self.new)


@pytest.fixture
def shop(world):
    return Shop(world)


def names(response) -> list[str]:
    return [row.customer.name for row in response.context["rows"]]


def listing(member, **params):
    return client_for(member).get(reverse("customers:list"), params)


# -- visibility -----------------------------------------------------------------------------------------------
def test_each_role_sees_only_the_customers_it_may(world, shop):
    assert sorted(names(listing(world.admin))) == ["Alice", "Bob", "Carol", "Dave"]
    assert sorted(names(listing(world.guide_e1))) == ["Alice", "Carol"]
    assert sorted(names(listing(world.guide_e2))) == ["Bob"]
    assert sorted(names(listing(world.east_manager))) == ["Alice", "Bob", "Carol"]
    assert sorted(names(listing(world.s1_manager))) == ["Carol", "Dave"]
    assert names(listing(world.other_admin)) == ["Other brand"]
    # The guide's search cannot reach other guides' customers either.
    assert names(listing(world.guide_e1, q="Bob")) == []


# -- the per-customer tag roll-up ------------------------------------------------------------------------------
def rolled_up(customer) -> set[str]:
    return set(CustomerTag.objects.for_org(customer.org_id).filter(customer=customer).values_list("tag__name", flat=True))


def test_customer_tags_follow_relation_tags_whoever_writes_them(world, shop):
    """The database keeps CustomerTag exact: creates, deletes, updates, cascades and bulk deletes alike."""
    carol = shop.carol  # friends with zhang and li; li's relation has 爱喝茶
    assert rolled_up(carol) == {"爱喝茶"}
    on_zhang = link(carol, shop.vip, shop.zhang)
    link(carol, shop.vip, shop.li)
    assert rolled_up(carol) == {"爱喝茶", "VIP"}
    on_zhang.delete()
    assert rolled_up(carol) == {"爱喝茶", "VIP"}  # li's relation still carries it
    RelationTag.objects.for_org(world.org).filter(relation__customer=carol, tag=shop.tea).update(tag=shop.new)
    assert rolled_up(carol) == {"新客", "VIP"}
    Relation.objects.for_org(world.org).get(customer=carol, staff=shop.li).delete()  # cascades to its links
    assert rolled_up(carol) == set()
    assert rolled_up(shop.alice) == {"VIP", "爱喝茶"}
    RelationTag.objects.for_org(world.org).filter(tag=shop.vip).delete()
    assert rolled_up(shop.alice) == {"爱喝茶"} and rolled_up(shop.bob) == set()
    shop.tea.delete()
    assert rolled_up(shop.alice) == set()
    assert not CustomerTag.objects.for_org(world.other_org).exists()


# -- filters -------------------------------------------------------------------------------------------------
def test_tag_filters_any_all_none(world, shop):
    vip, tea = shop.vip.pk, shop.tea.pk
    assert sorted(names(listing(world.admin, tags=[vip, tea]))) == ["Alice", "Bob", "Carol"]
    assert sorted(names(listing(world.admin, tags=[vip, tea], tag_mode="all"))) == ["Alice"]
    assert sorted(names(listing(world.admin, tags=[vip, tea], tag_mode="none"))) == ["Dave"]
    assert sorted(names(listing(world.guide_e1, tags=[tea]))) == ["Alice", "Carol"]


def test_staff_store_status_date_and_group_filters(world, shop):
    assert sorted(names(listing(world.admin, staff=[shop.li.pk]))) == ["Carol", "Dave"]
    assert sorted(names(listing(world.admin, store=world.east.pk))) == ["Alice", "Bob", "Carol"]  # a region: its stores
    assert sorted(names(listing(world.admin, store=world.e2.pk))) == ["Bob"]
    assert names(listing(world.admin, status="lost")) == ["Dave"]
    assert sorted(names(listing(world.admin, status="friend"))) == ["Alice", "Bob", "Carol"]
    Customer.objects.filter(pk=shop.bob.pk).update(first_added_at=datetime(2024, 5, 1, 23, 30, tzinfo=SH))
    assert names(listing(world.admin, added_from="2024-05-01", added_to="2024-05-01")) == ["Bob"]
    assert names(listing(world.admin, added_from="2024-05-02", added_to="2024-05-31")) == []
    group = CustomerGroup.objects.create(org=world.org, chat_id="wr1", name="老客群", owner=shop.zhang)
    GroupMember.objects.create(org=world.org, group=group, userid=shop.alice.external_userid, type=2, customer=shop.alice)
    GroupMember.objects.create(org=world.org, group=group, userid=shop.carol.external_userid, type=2, customer=shop.carol,
                               is_active=False)
    assert names(listing(world.admin, group=group.pk)) == ["Alice"]
    assert names(listing(world.admin, in_group="yes")) == ["Alice"]
    assert sorted(names(listing(world.admin, in_group="no"))) == ["Bob", "Carol", "Dave"]


def test_search_by_name_remark_and_phone_through_the_blind_index(world, shop):
    assert names(listing(world.admin, q="alic")) == ["Alice"]
    assert names(listing(world.admin, q="王姐")) == ["Alice"]
    for phone in ["13800138000", "+86 138-0013-8000", "8613800138000"]:
        assert names(listing(world.admin, q=phone)) == ["Alice"], phone
    assert names(listing(world.admin, q="13800138001")) == []
    # The number is stored encrypted: the database holds neither it nor a plain digest of it.
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone, phone_index FROM customers_customerphone")
        ((stored, index),) = cursor.fetchall()
    assert "13800138000" not in stored and "13800138000" not in index
    # Re-indexing follows the relation's phones.
    relation = Relation.objects.for_org(world.org).get(customer=shop.alice)
    relation.remark_mobiles = json.dumps(["13900139000"])
    relation.save()
    queries.index_customer_phones(relation)
    assert names(listing(world.admin, q="13800138000")) == []
    assert names(listing(world.admin, q="139 0013 9000")) == ["Alice"]
    assert CustomerPhone.objects.for_org(world.org).count() == 1


def test_a_short_number_searches_names_and_remarks_not_phones(world, shop):
    """Four digits are too few to be a phone: the search finds them in a name or a remark instead."""
    staff = Staff.objects.for_org(world.org).first()
    make_customer(world.org, "会员1234", staff)
    make_customer(world.org, "周先生", (staff, {"remark": "卡号 1234 尾号", "mobiles": ["13700001234"]}))
    assert queries.phone_customer_ids(world.org, "1234") is None
    assert set(names(listing(world.admin, q="1234"))) == {"周先生", "会员1234"}


def test_registered_filter_is_offered_validated_and_applied(world, shop):
    register_list_filter(
        "starts", label="首字母", order=5,
        field=lambda viewer: forms.ChoiceField(choices=[("", "全部"), ("A", "A"), ("B", "B")]),
        apply=lambda rows, value, viewer: rows.filter(name__startswith=value),
    )
    try:
        response = listing(world.admin, starts="B")
        assert names(response) == ["Bob"] and "首字母" in response.content.decode()
        assert listing(world.admin, starts="Z").status_code == 400
        with pytest.raises(ValueError):
            register_list_filter("tags", label="x", field=lambda v: None, apply=lambda r, v, w: r)
    finally:
        unregister("starts")


@pytest.mark.parametrize("driver_max", [0, 100_000])
def test_filters_combine_alike_whether_a_set_drives_or_every_set_probes(world, shop, monkeypatch, driver_max):
    monkeypatch.setattr(queries, "DRIVER_MAX", driver_max)
    tagged = CustomerTag.objects.for_org(world.org)
    choice = lambda viewer: forms.ChoiceField(choices=[("", "—"), ("on", "on")])  # noqa: E731
    register_list_filter("vip_only", label="VIP", field=choice,
                         apply=lambda rows, v, viewer: rows.filter(pk__in=tagged.filter(tag=shop.vip).values("customer_id")))
    register_list_filter("not_tea", label="不爱喝茶", field=choice,
                         apply=lambda rows, v, viewer: rows.exclude(pk__in=tagged.filter(tag=shop.tea).values("customer_id")))
    try:
        for key in ("vip_only", "not_tea"):
            from siyu.customers.profile import list_filters

            registered = next(f for f in list_filters() if f.key == key)
            assert queries.registered_semijoin(registered, "on", world.admin) is not None  # joins the planner
        assert names(listing(world.admin, vip_only="on", not_tea="on")) == ["Bob"]
        assert sorted(names(listing(world.admin, vip_only="on", staff=[shop.zhang.pk, shop.wang.pk]))) == ["Alice", "Bob"]
        assert names(listing(world.admin, not_tea="on", tags=[shop.new.pk], status="lost")) == ["Dave"]
        assert names(listing(world.guide_e1, vip_only="on")) == ["Alice"]
    finally:
        unregister("vip_only")
        unregister("not_tea")


BAD_INPUTS = [
    {"tags": "abc"}, {"tags": "999999"}, {"tag_mode": "most"}, {"staff": "x"}, {"staff": "-1"}, {"store": "1e9"},
    {"group": "'; DROP TABLE x"}, {"in_group": "maybe"}, {"status": "zombie"}, {"added_from": "2024-13-40"},
    {"added_from": "2024-06-02", "added_to": "2024-06-01"}, {"sort": "-name; --"}, {"after": "!!!"},
    {"before": "eyJ0IjoxfQ"}, {"after": "W3sidCI6ICIyMDI0LTEzLTAxVDAwOjAwIn0sIDFd"}, {"after": "WyJ4IiwgImEiXQ"},
    {"after": "W251bGwsIDFd"}, {"q": "x" * 500}, {"q": "\x00"}, {"q": "%_%"},
]


@pytest.mark.parametrize("params", BAD_INPUTS)
def test_bad_filter_input_never_500s(world, shop, params):
    response = listing(world.guide_e1, **params)
    assert response.status_code in (200, 400), response.status_code
    api = client_for(world.guide_e1).get("/api/v1/customers", params)
    assert api.status_code in (200, 422), api.status_code


def test_a_cursor_made_for_another_sort_starts_over(world, shop):
    first = listing(world.admin, sort="name")
    assert names(first) == ["Alice", "Bob", "Carol", "Dave"]
    cursor = queries.encode_cursor(timezone.now(), 1)
    assert names(listing(world.admin, sort="name", after=cursor)) == ["Alice", "Bob", "Carol", "Dave"]


# -- keyset pages and counts -----------------------------------------------------------------------------------
@pytest.mark.parametrize("sort", ["-added", "added", "name"])
def test_keyset_pages_walk_every_row_once_both_ways_with_nulls(world, sort):
    org = world.org
    staff = make_staff(org, "pager", world.e1)
    base = timezone.now()
    for i in range(13):
        customer = make_customer(org, f"客户{i % 5}", staff, added_at=base - timedelta(hours=i % 4))
        if i in (3, 8):
            Customer.objects.filter(pk=customer.pk).update(first_added_at=None)
    rows = Customer.objects.for_org(org)
    expected = list(rows.order_by(*queries._order(*queries.SORTS[sort])))
    seen, cursor, pages = [], None, []
    while True:
        page = queries.keyset_page(rows, sort, after=cursor, size=4)
        pages.append(page)
        seen += page.rows
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert [c.pk for c in seen] == [c.pk for c in expected]
    assert pages[0].prev_cursor is None and all(p.prev_cursor for p in pages[1:])
    # Backwards from the last page gives the same pages.
    back, cursor = [], pages[-1].prev_cursor
    while cursor:
        page = queries.keyset_page(rows, sort, before=cursor, size=4)
        back.insert(0, page.rows)
        cursor = page.prev_cursor
    assert [c.pk for rows_ in back for c in rows_] == [c.pk for c in seen][: len(seen) - len(pages[-1].rows)]


def test_count_is_capped(world, shop, monkeypatch):
    monkeypatch.setattr(queries, "COUNT_CAP", 2)
    response = listing(world.admin)
    assert "超过 2 位客户" in response.content.decode()
    assert "共 2 位客户" in listing(world.guide_e1).content.decode()


def test_a_count_over_budget_leaves_the_total_unknown_but_shows_the_page(world, shop, monkeypatch):
    monkeypatch.setattr(queries, "_within", lambda queryset, budget: None)
    response = listing(world.admin, status="friend")
    assert response.status_code == 200 and names(response) == ["Alice", "Bob", "Carol"]
    assert "符合条件的客户较多，未统计总数" in response.content.decode()


def test_the_database_stops_a_query_over_budget(world, shop):
    slow = Customer.objects.raw(
        "SELECT c.id FROM customers_customer c, (WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r "
        "WHERE i < 50000000) SELECT count(*) AS n FROM r) x")
    assert queries._within(slow, 0.05) is None
    assert len(queries._within(Customer.objects.for_org(world.org), 5)) == 4
    assert names(listing(world.admin, q="Bob")) == ["Bob"]  # the connection is usable afterwards


def test_list_page_walks_forward_and_back_with_cursor_links(world, shop, monkeypatch):
    monkeypatch.setattr(queries, "PAGE_SIZE", 3)
    client = client_for(world.admin)
    first = client.get(reverse("customers:list"), {"status": ""})
    assert names(first) == ["Alice", "Bob", "Carol"] and first.context["page"].prev_cursor is None
    after = first.context["page"].next_cursor
    assert f"after={after}" in first.content.decode() and "status=" in first.content.decode()
    second = client.get(reverse("customers:list"), {"status": "", "after": after})
    assert names(second) == ["Dave"] and second.context["page"].next_cursor is None
    back = client.get(reverse("customers:list"), {"status": "", "before": second.context["page"].prev_cursor})
    assert names(back) == ["Alice", "Bob", "Carol"] and back.context["page"].prev_cursor is None


# -- bulk actions ------------------------------------------------------------------------------------------------
def jobs(org, kind):
    return Job.objects.for_org(org).filter(kind=kind)


def test_bulk_tag_needs_the_capability(world, shop):
    response = client_for(world.guide_e1).post(reverse("customers:bulk"), {"action": "export", "scope": "filter"})
    assert response.status_code == 403 and not Job.objects.for_org(world.org).exists()


def test_bulk_personal_tag_on_the_current_filter_runs_as_an_audited_job(world, shop, django_capture_on_commit_callbacks):
    mine = Tag.objects.create(org=world.org, name="重点", kind=Tag.Kind.PERSONAL, owner=shop.li)
    shop.li.membership = world.s1_manager
    shop.li.save(update_fields=["membership"])
    client = client_for(world.s1_manager)
    url = reverse("customers:bulk") + "?status=friend"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"action": "add_tags", "scope": "filter", "bulk_tags": [mine.pk]})
    assert response.status_code == 302
    job = jobs(world.org, bulk.BULK_TAG).get()
    assert job.status == Job.Status.SUCCEEDED, job.error
    # s1's manager sees Carol and Dave; only Carol is still a friend, through li.
    assert list(RelationTag.objects.for_org(world.org).filter(tag=mine).values_list("relation__customer__name", flat=True)) == ["Carol"]
    assert RelationTag.objects.for_org(world.org).get(tag=mine).source_ref == f"job:{job.pk}"
    assert job.result["changed_customers"] == 1 and job.total == 1
    actions = list(AuditEntry.objects.for_org(world.org).filter(action__startswith="customers.bulk").values_list("action", flat=True))
    assert sorted(actions) == ["customers.bulk_finished", "customers.bulk_started"]
    progress = client.get(reverse("customers:job_progress", args=[job.pk]))
    assert progress.status_code == 200 and "已完成" in progress.content.decode()
    # Another member cannot poll it.
    assert client_for(world.admin).get(reverse("customers:job_progress", args=[job.pk])).status_code == 404


def test_bulk_remove_on_selected_customers(world, shop, django_capture_on_commit_callbacks):
    client = client_for(world.admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("customers:bulk"), {"action": "remove_tags", "scope": "selected",
                                                           "ids": [shop.alice.pk, shop.other.pk], "bulk_tags": [shop.vip.pk]})
    # The tag is a corp tag and the brand is not connected to WeCom: the job fails with a clear error, nothing changes.
    assert response.status_code == 302
    job = jobs(world.org, bulk.BULK_TAG).get()
    assert job.status == Job.Status.FAILED and "尚未连接企业微信" in job.error
    assert RelationTag.objects.for_org(world.org).filter(tag=shop.vip).count() == 2


def test_bulk_form_errors_are_messages_not_jobs(world, shop):
    client = client_for(world.admin)
    response = client.post(reverse("customers:bulk"), {"action": "add_tags", "scope": "selected"}, follow=True)
    assert response.status_code == 200 and not Job.objects.for_org(world.org).exists()
    text = response.content.decode()
    assert "请选择要添加或移除的标签" in text and "请先勾选客户" in text
    response = client.post(reverse("customers:bulk") + "?tags=abc", {"action": "export", "scope": "filter"}, follow=True)
    assert "筛选条件有误" in response.content.decode() and not Job.objects.for_org(world.org).exists()


def read_export(client, job) -> list[dict]:
    """The export's rows as dicts by header, read back with openpyxl."""
    response = client.get(reverse("customers:export_download", args=[job.pk]))
    assert response.status_code == 200 and response["Content-Disposition"].endswith('.xlsx"')
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    # Every cell is a value: a name like "=HYPERLINK(…)" must not become a formula that runs in a spreadsheet.
    assert not [cell.coordinate for row in sheet.iter_rows() for cell in row if cell.data_type == "f"]
    header, *rows = sheet.iter_rows(values_only=True)
    return [dict(zip(header, row)) for row in rows]


def test_export_masks_phones_without_pii_and_every_export_is_audited(world, shop, django_capture_on_commit_callbacks):
    Customer.objects.filter(pk=shop.alice.pk).update(name="=HYPERLINK(\"x\")")
    manager = client_for(world.east_manager)
    with django_capture_on_commit_callbacks(execute=True):
        manager.post(reverse("customers:bulk") + "?q=", {"action": "export", "scope": "filter"})
    job = jobs(world.org, bulk.EXPORT).get()
    assert job.status == Job.Status.SUCCEEDED, job.error
    rows = read_export(manager, job)
    assert sorted(r["客户ID"] for r in rows) == sorted(c.external_userid for c in (shop.alice, shop.bob, shop.carol))
    alice = next(r for r in rows if r["客户ID"] == shop.alice.external_userid)
    assert alice["手机号"] == "138****8000" and alice["昵称"] == '=HYPERLINK("x")'  # text, not a formula
    assert alice["标签"] in ("VIP、爱喝茶", "爱喝茶、VIP") and alice["备注"] == "老顾客王姐"
    hq = client_for(world.admin)
    with django_capture_on_commit_callbacks(execute=True):
        hq.post(reverse("customers:bulk"), {"action": "export", "scope": "selected", "ids": [shop.alice.pk]})
    job2 = jobs(world.org, bulk.EXPORT).exclude(pk=job.pk).get()
    assert read_export(hq, job2)[0]["手机号"] == "138 0013 8000"  # HQ may see personal data
    actions = sorted(AuditEntry.objects.for_org(world.org).filter(action__startswith="customers.export").values_list("action", flat=True))
    assert actions == ["customers.export_downloaded"] * 2 + ["customers.export_requested"] * 2 + ["customers.exported"] * 2
    assert AuditEntry.objects.for_org(world.org).get(action="customers.exported", object_id=str(job.pk)).details["phones_masked"]
    # Only the member who asked may download it.
    assert hq.get(reverse("customers:export_download", args=[job.pk])).status_code == 404


# -- the API -------------------------------------------------------------------------------------------------------
def test_api_lists_and_reads_only_visible_customers(world, shop):
    guide = client_for(world.guide_e1)
    data = guide.get("/api/v1/customers").json()
    assert sorted(c["name"] for c in data["items"]) == ["Alice", "Carol"]
    alice = next(c for c in data["items"] if c["name"] == "Alice")
    assert {t["name"] for t in alice["tags"]} == {"VIP", "爱喝茶"} and alice["staff"] == ["zhang"]
    assert guide.get(f"/api/v1/customers/{shop.bob.pk}").status_code == 404
    assert guide.get(f"/api/v1/customers/{shop.other.pk}").status_code == 404
    detail = guide.get(f"/api/v1/customers/{shop.alice.pk}").json()
    assert detail["relations"][0]["remark_mobiles"] == ["138****8000"]
    assert client_for(world.admin).get(f"/api/v1/customers/{shop.alice.pk}").json()["relations"][0]["remark_mobiles"] == ["138 0013 8000"]
    filtered = client_for(world.admin).get("/api/v1/customers", {"tags": [shop.vip.pk, shop.tea.pk], "tag_mode": "all"}).json()
    assert [c["name"] for c in filtered["items"]] == ["Alice"]
    bad = client_for(world.admin).get("/api/v1/customers", {"added_from": "2024-02-30"})
    assert bad.status_code == 422 and "added_from" in bad.json()["errors"]
    paged = client_for(world.admin).get("/api/v1/customers", {"limit": 2}).json()
    rest = client_for(world.admin).get("/api/v1/customers", {"limit": 2, "after": paged["next_cursor"]}).json()
    assert len(paged["items"]) == 2 and len(rest["items"]) == 2 and rest["next_cursor"] is None
    assert client_for(world.other_admin).get(f"/api/v1/customers/{shop.alice.pk}").status_code == 404


def test_api_tags_personal_tags_and_refuses_other_peoples(world, shop):
    mine = Tag.objects.create(org=world.org, name="周末常来", kind=Tag.Kind.PERSONAL, owner=shop.zhang)
    theirs = Tag.objects.create(org=world.org, name="他的", kind=Tag.Kind.PERSONAL, owner=shop.wang)
    guide = client_for(world.guide_e1)
    response = guide.post(f"/api/v1/customers/{shop.alice.pk}/tags", {"tag_ids": [mine.pk]}, content_type="application/json")
    assert response.status_code == 200, response.content
    assert "周末常来" in {t["name"] for r in response.json()["relations"] for t in r["tags"]}
    refused = guide.post(f"/api/v1/customers/{shop.alice.pk}/tags", {"tag_ids": [theirs.pk]}, content_type="application/json")
    assert refused.status_code == 422
    assert guide.post(f"/api/v1/customers/{shop.bob.pk}/tags", {"tag_ids": [mine.pk]},
                      content_type="application/json").status_code == 404
    removed = guide.delete(f"/api/v1/customers/{shop.alice.pk}/tags/{mine.pk}")
    assert removed.status_code == 200 and not RelationTag.objects.for_org(world.org).filter(tag=mine).exists()
    listed = guide.get("/api/v1/tags").json()
    assert [g["name"] for g in listed] == ["测试组"] and len(listed[0]["tags"]) == 3
