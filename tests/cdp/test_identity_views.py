"""The person pages: list and identifier search, the profile with merges explained, split and review from the
console, the block list, and the customer 360's 用户画像 section."""

from __future__ import annotations

from django.urls import reverse

from siyu.cdp import identity
from siyu.cdp.identity import Ident
from siyu.cdp.models import BlockedValue, KeepApart, Merge, MergeReview, Person
from siyu.customers.models import Customer
from tests.factories import client_for


def test_list_searches_by_identifier_and_the_profile_masks_and_explains(world):
    admin = client_for(world.admin)
    customer = Customer.objects.create(org=world.org, external_userid="wmLIN", name="林女士")
    person = identity.person_for_customer(customer)
    identity.resolve(world.org, [Ident("external_userid", "wmLIN"), Ident("phone", "13812345678")])
    web = identity.resolve(world.org, [Ident("anonymous_id", "anon-77")], source="web")
    identity.resolve(world.org, [Ident("anonymous_id", "anon-77"), Ident("phone", "13812345678")], source="web",
                     evidence="官网登录")

    page = admin.get(reverse("persons:list"), {"q": "138 1234 5678"})
    assert page.status_code == 200
    assert reverse("persons:detail", args=[person.pk]) in page.content.decode()
    none = admin.get(reverse("persons:list"), {"q": "13900000000"}).content.decode()
    assert reverse("persons:detail", args=[person.pk]) not in none

    html = admin.get(reverse("persons:detail", args=[person.pk])).content.decode()
    assert "138****5678" in html and "13812345678" not in html
    assert "手机号 138****5678 同时出现在官网登录和企业微信客户 林*" in html
    # The absorbed person's page leads to the survivor.
    assert admin.get(reverse("persons:detail", args=[web.pk])).url == reverse("persons:detail", args=[person.pk])
    # Guides have no person pages.
    assert client_for(world.guide_e1).get(reverse("persons:list")).status_code == 403


def test_split_and_review_from_the_console(world):
    admin = client_for(world.admin)
    a = identity.resolve(world.org, [Ident("user_id", "u-1")])
    b = identity.resolve(world.org, [Ident("anonymous_id", "a-1")])
    identity.resolve(world.org, [Ident("user_id", "u-1"), Ident("anonymous_id", "a-1")])
    record = Merge.objects.for_org(world.org).get()
    response = admin.post(reverse("persons:split", args=[record.pk]))
    assert response.url == reverse("persons:detail", args=[b.pk])
    assert Person.objects.get(pk=b.pk).merged_into is None and KeepApart.objects.count() == 1

    identity.resolve(world.org, [Ident("member_id", "M-1"), Ident("device_id", "d-1")])
    identity.resolve(world.org, [Ident("member_id", "M-2"), Ident("device_id", "d-2")])
    identity.resolve(world.org, [Ident("device_id", "d-1"), Ident("device_id", "d-2")])
    review = MergeReview.objects.for_org(world.org).get()
    assert "会员号" in admin.get(reverse("persons:reviews")).content.decode()
    admin.post(reverse("persons:review_decide", args=[review.pk]), {"decision": "merge"})
    review.refresh_from_db()
    assert review.status == "merged" and a.pk


def test_the_refresh_button_scores_rfm(world):
    from decimal import Decimal

    from django.utils import timezone

    from siyu.cdp.models import Order

    person = identity.resolve(world.org, [Ident("user_id", "u-1")])
    Order.objects.create(org=world.org, person=person, total=Decimal("10"), ordered_at=timezone.now())
    response = client_for(world.admin).post(reverse("persons:refresh", args=[person.pk]))
    assert response.status_code == 302
    person.refresh_from_db()
    assert (person.orders_count, person.r_score, person.f_score, person.m_score) == (1, 1, 1, 1)


def test_the_block_list_is_edited_in_the_console_and_bad_values_change_nothing(world):
    admin = client_for(world.admin)
    bad = admin.post(reverse("persons:blocked"), {"kind": "phone", "value": "abc"})
    assert bad.status_code == 400 and not BlockedValue.objects.exists()
    admin.post(reverse("persons:blocked"), {"kind": "phone", "value": "021-6234 5678", "note": "门店座机"})
    assert "021****678" in admin.get(reverse("persons:blocked")).content.decode() or BlockedValue.objects.count() == 1
    a = identity.resolve(world.org, [Ident("user_id", "u-a"), Ident("phone", "02162345678")])
    b = identity.resolve(world.org, [Ident("user_id", "u-b"), Ident("phone", "02162345678")])
    assert a.pk != b.pk


def test_the_customer_profile_shows_the_person_section(world):
    customer = Customer.objects.create(org=world.org, external_userid="wmLIN", name="林女士")
    person = identity.person_for_customer(customer)
    identity.resolve(world.org, [Ident("external_userid", "wmLIN"), Ident("phone", "13812345678")])
    html = client_for(world.admin).get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert "用户画像" in html and 'data-testid="customer-person"' in html and "138****5678" in html
    assert reverse("persons:detail", args=[person.pk]) in html
