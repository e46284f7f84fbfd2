"""OneID: identifiers sent together become one person; the guards keep strangers apart and queue doubtful merges
for review; merges are explained; a split holds when the same data comes again."""

from __future__ import annotations

import pytest

from siyu.cdp import identity, merges
from siyu.cdp.identity import Ident
from siyu.cdp.models import BlockedValue, Event, Identifier, KeepApart, Merge, MergeReview, Person, Source
from siyu.customers.models import Customer, CustomerPhone
from siyu.orgs.models import AuditEntry
from django.utils import timezone


def live(org):
    return Person.objects.for_org(org).filter(merged_into__isnull=True)


def test_identifiers_sent_together_merge_two_persons_with_an_explanation(world):
    web = identity.resolve(world.org, [Ident("anonymous_id", "a-1")], source="web")
    shop = identity.resolve(world.org, [Ident("member_id", "M-7"), Ident("phone", "13812345678")], source="pos")
    assert web.pk != shop.pk
    joined = identity.resolve(world.org, [Ident("anonymous_id", "a-1"), Ident("phone", "+86 138 1234 5678")],
                              source="web", evidence="订单 YZ-1")
    assert joined.pk == min(web.pk, shop.pk) and live(world.org).count() == 1
    assert identity.find(world.org, Ident("member_id", "M-7")) == joined
    record = Merge.objects.for_org(world.org).get()
    assert record.survivor == joined and record.absorbed_id == max(web.pk, shop.pk)
    assert record.link_masked in record.evidence and "订单 YZ-1" in record.evidence and "13812345678" not in \
        record.evidence
    assert AuditEntry.objects.for_org(world.org).filter(action="person.merged").count() == 1
    assert sorted(Person.objects.get(pk=joined.pk).sources) == ["pos", "web"]


def test_the_explanation_names_the_phone_the_order_and_the_wecom_customer(world):
    customer = Customer.objects.create(org=world.org, external_userid="wmYUAN", name="袁晓")
    with_customer = identity.person_for_customer(customer)
    identity.resolve(world.org, [Ident("phone", "13812345678"), Ident("external_userid", "wmYUAN")])
    buyer = identity.resolve(world.org, [Ident("member_id", "M-1")], source="youzan")
    merged = identity.resolve(world.org, [Ident("member_id", "M-1"), Ident("phone", "13812345678")],
                              source="youzan", evidence="订单 YZ-9")
    assert merged == with_customer and identity.survivor(Person.objects.get(pk=buyer.pk)) == with_customer
    assert Merge.objects.for_org(world.org).get().evidence == "手机号 138****5678 同时出现在订单 YZ-9和企业微信客户 袁*"


def test_blocked_values_link_nobody(world):
    for junk in ["", " ", "0", "null", "anonymous", "unknown", "undefined", "test", "123456", None]:
        with pytest.raises(ValueError):
            identity.resolve(world.org, [Ident("user_id", junk)])
    a = identity.resolve(world.org, [Ident("user_id", "u-a"), Ident("anonymous_id", "undefined")])
    b = identity.resolve(world.org, [Ident("user_id", "u-b"), Ident("anonymous_id", "undefined")])
    assert a.pk != b.pk and not Identifier.objects.for_org(world.org).filter(kind="anonymous_id").exists()


def test_the_org_block_list_keeps_a_store_phone_from_linking(world):
    BlockedValue.objects.create(org=world.org, kind="phone", value="13900000000",
                                value_index=identity.blocked_index("phone", "13900000000"))
    a = identity.resolve(world.org, [Ident("user_id", "u-a"), Ident("phone", "139-0000-0000")])
    b = identity.resolve(world.org, [Ident("user_id", "u-b"), Ident("phone", "13900000000")])
    assert a.pk != b.pk and not Identifier.objects.for_org(world.org).filter(kind="phone").exists()


@pytest.mark.parametrize("kind, guard", [("member_id", "member_id"), ("unionid", "unionid")])
def test_two_persons_with_different_member_ids_or_unionids_go_to_review(world, kind, guard):
    a = identity.resolve(world.org, [Ident(kind, "X-1"), Ident("anonymous_id", "a-1")])
    b = identity.resolve(world.org, [Ident(kind, "X-2"), Ident("anonymous_id", "a-2")])
    again = identity.resolve(world.org, [Ident("anonymous_id", "a-1"), Ident("anonymous_id", "a-2")])
    assert again == a and live(world.org).count() == 2 and not Merge.objects.exists()
    review = MergeReview.objects.for_org(world.org).get()
    assert (review.guard, review.status, {review.person_a_id, review.person_b_id}) == (guard, "pending", {a.pk, b.pk})


def test_a_thousand_customers_sharing_one_store_phone_stay_apart_and_the_case_lands_in_review(world):
    customers = Customer.objects.bulk_create([
        Customer(org=world.org, external_userid=f"wmSTORE{i}", name=f"客户{i}") for i in range(1000)])
    CustomerPhone.objects.bulk_create([CustomerPhone(org=world.org, customer=c, phone="021-6234 5678")
                                       for c in customers])
    for customer in customers:
        identity.sync_customer(customer)
    assert live(world.org).count() == 1000 and not Merge.objects.exists()
    assert Identifier.objects.for_org(world.org).filter(kind="phone").count() == 1
    review = MergeReview.objects.for_org(world.org).get()
    assert (review.guard, review.link_kind, review.occurrences) == ("two_customers", "phone", 999)


def test_the_phone_cap_stops_a_person_from_collecting_shared_phones(world):
    person = identity.resolve(world.org, [Ident("user_id", "u-1")])
    for i in range(8):
        identity.resolve(world.org, [Ident("user_id", "u-1"), Ident("phone", f"1380000000{i}")])
    assert Identifier.objects.for_org(world.org).filter(person=person, kind="phone").count() == identity.CAPS["phone"]


def test_a_merge_beyond_a_cap_goes_to_review(world):
    a = identity.resolve(world.org, [Ident("user_id", "u-a")] + [Ident("phone", f"1380000000{i}") for i in range(4)])
    b = identity.resolve(world.org, [Ident("user_id", "u-b")] + [Ident("phone", f"1390000000{i}") for i in range(4)])
    identity.resolve(world.org, [Ident("phone", "13800000000"), Ident("phone", "13900000000")])
    assert live(world.org).count() == 2
    assert MergeReview.objects.for_org(world.org).get().guard == "cap" and {a.pk, b.pk}


def test_a_split_gives_back_what_the_absorbed_person_brought_and_holds_when_the_data_comes_again(world):
    source = Source.objects.create(org=world.org, name="官网", kind="web")
    a = identity.resolve(world.org, [Ident("anonymous_id", "a-1")])
    b = identity.resolve(world.org, [Ident("user_id", "u-1")])
    Event.objects.create(org=world.org, source=source, person=b, type="track", name="Signed Up", message_id="m1",
                         timestamp=timezone.now(), received_at=timezone.now())
    merged = identity.resolve(world.org, [Ident("anonymous_id", "a-1"), Ident("user_id", "u-1")])
    assert merged == a and Event.objects.get().person == a
    record = Merge.objects.for_org(world.org).get()

    back = merges.split(record, by=world.admin.user)
    assert back == b and Person.objects.get(pk=b.pk).merged_into is None
    assert identity.find(world.org, Ident("user_id", "u-1")) == b
    assert identity.find(world.org, Ident("anonymous_id", "a-1")) == a
    assert Event.objects.get().person_id == b.pk
    assert KeepApart.objects.for_org(world.org).count() == 1
    assert AuditEntry.objects.for_org(world.org).filter(action="person.split", actor=world.admin.user).count() == 1

    identity.resolve(world.org, [Ident("anonymous_id", "a-1"), Ident("user_id", "u-1")])
    assert live(world.org).count() == 2 and Merge.objects.count() == 1
    assert identity.find(world.org, Ident("user_id", "u-1")) == b
    with pytest.raises(Exception):
        merges.split(record, by=world.admin.user)


def test_approving_a_review_merges_and_keeping_apart_stops_it_for_good(world):
    a = identity.resolve(world.org, [Ident("member_id", "X-1"), Ident("anonymous_id", "a-1")])
    b = identity.resolve(world.org, [Ident("member_id", "X-2"), Ident("anonymous_id", "a-2")])
    identity.resolve(world.org, [Ident("anonymous_id", "a-1"), Ident("anonymous_id", "a-2")])
    review = MergeReview.objects.for_org(world.org).get()
    merges.keep_apart(review, by=world.admin.user)
    identity.resolve(world.org, [Ident("anonymous_id", "a-1"), Ident("anonymous_id", "a-2")])
    assert MergeReview.objects.for_org(world.org).filter(status="pending").count() == 0

    c = identity.resolve(world.org, [Ident("member_id", "X-3"), Ident("anonymous_id", "a-3")])
    identity.resolve(world.org, [Ident("anonymous_id", "a-1"), Ident("anonymous_id", "a-3")])
    pending = MergeReview.objects.for_org(world.org).get(status="pending")
    record = merges.approve(pending, by=world.admin.user)
    assert {record.survivor_id, record.absorbed_id} == {a.pk, c.pk} and record.by == world.admin.user
    assert identity.find(world.org, Ident("member_id", "X-3")) == identity.find(world.org, Ident("member_id", "X-1"))


def test_a_new_wecom_friend_gets_its_person_through_the_relation_added_event(world):
    from siyu.core import events
    from siyu.customers.models import Relation
    from siyu.orgs.models import Staff
    from tests.factories import deliver_events

    customer = Customer.objects.create(org=world.org, external_userid="wmNEW", name="新客", unionid="UN-1")
    CustomerPhone.objects.create(org=world.org, customer=customer, phone="13700001111")
    staff = Staff.objects.create(org=world.org, userid="zhang", name="张")
    relation = Relation.objects.create(org=world.org, customer=customer, staff=staff)
    events.emit(world.org, events.Kind.RELATION_ADDED, relation, {})
    deliver_events()
    person = Person.objects.for_org(world.org).get(customer=customer)
    assert sorted(Identifier.objects.for_org(world.org).filter(person=person).values_list("kind", flat=True)) == [
        "external_userid", "phone", "unionid"]
    assert identity.find(world.org, Ident("phone", "137 0000 1111")) == person
