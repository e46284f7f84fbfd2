"""Resolving many groups at once clusters them exactly as resolving them one by one does."""

from __future__ import annotations

import random

from siyu.cdp import identity
from siyu.cdp.identity import Ident
from siyu.cdp.identity_batch import resolve_many
from siyu.cdp.models import BlockedValue, Identifier, MergeReview, Person, Suppression


def partition(person_ids: list) -> set[frozenset]:
    groups = {}
    for n, pk in enumerate(person_ids):
        groups.setdefault(pk, set()).add(n)
    return {frozenset(members) for members in groups.values()}


def test_batch_clusters_like_one_by_one(world):
    rng = random.Random(7)
    kinds = ["anonymous_id", "user_id", "phone", "member_id", "email"]

    def ident(kind: str, n: int) -> Ident:
        value = {"phone": f"1380000{n:04d}", "email": f"p{n}@example.com"}.get(kind, f"{kind[:2]}-{n}")
        return Ident(kind, value)

    groups = [[ident(rng.choice(kinds), rng.randrange(60)) for _ in range(rng.randint(1, 3))] for _ in range(150)]
    groups.append([Ident("user_id", "null")])  # nothing usable: no person
    # Stored beforehand in both organizations: some persons the batch must find (and one merge it must ask for).
    for org in (world.org, world.other_org):
        identity.resolve(org, [Ident("member_id", "me-1"), Ident("anonymous_id", "an-1")])
        identity.resolve(org, [Ident("member_id", "me-2")])
    groups.append([Ident("anonymous_id", "an-1"), Ident("member_id", "me-2")])

    batched = resolve_many(world.org, groups, source="web")
    one_by_one = []
    for group in groups:
        try:
            one_by_one.append(identity.resolve(world.other_org, group, source="web").pk)
        except ValueError:
            one_by_one.append(None)
    # Later merges move earlier answers: compare where each group's first identifier lives now.
    def now(org, group):
        for item in group:
            person = identity.find(org, item)
            if person is not None:
                return person.pk
        return None

    assert batched[-2] is None and one_by_one[-2] is None
    assert partition([now(world.org, g) for g in groups]) == partition([now(world.other_org, g) for g in groups])
    assert Identifier.objects.for_org(world.org).count() == Identifier.objects.for_org(world.other_org).count()
    assert MergeReview.objects.for_org(world.org).count() == MergeReview.objects.for_org(world.other_org).count() >= 1


def test_batch_leaves_out_erased_groups_links_nobody_by_blocked_values_and_joins_two_spellings(world):
    org = world.org
    Suppression.objects.create(org=org, kind="user_id", value_index=identity.value_index("user_id", "", "gone"))
    BlockedValue.objects.create(org=org, kind="phone", value="13900000000",
                                value_index=identity.blocked_index("phone", "13900000000"))
    groups = [
        [Ident("user_id", "gone"), Ident("anonymous_id", "a-1")],  # an erased person's: nothing stored
        [Ident("anonymous_id", "a-2"), Ident("phone", "13900000000")],  # the store's phone, blocked
        [Ident("anonymous_id", "a-3"), Ident("phone", "+86 139-0000-0000")],  # the same phone spelled otherwise
        [Ident("anonymous_id", "a-4"), Ident("phone", "138 0013 8000")],
        [Ident("anonymous_id", "a-5"), Ident("phone", "+8613800138000")],  # one person's phone, two spellings
    ]
    answer = resolve_many(org, groups)
    assert answer[0] is None and identity.find(org, Ident("anonymous_id", "a-1")) is None
    assert None not in answer[1:] and answer[1] != answer[2]
    assert answer[3] == answer[4]
    assert list(Identifier.objects.for_org(org).filter(kind="phone").values_list("person_id", flat=True)) == \
        [answer[3]]


def test_a_large_batch_finds_stored_and_erased_identifiers_of_its_own_organization_and_stores_the_rest(world):
    # Big enough that the values are hashed and encrypted in a child process (CHILD_FROM), the stored identifiers
    # are read by one scan of the organization's rows (SCAN_FROM) and written in several chunks (WRITE_CHUNK).
    from siyu.cdp.identifier_crypto import CHILD_FROM
    from siyu.cdp.identity_batch import SCAN_FROM, WRITE_CHUNK

    org, people = world.org, CHILD_FROM // 2 + 100
    assert 2 * people >= max(CHILD_FROM, SCAN_FROM, 2 * WRITE_CHUNK)
    known = identity.resolve(org, [Ident("user_id", "u-0")])
    stranger = identity.resolve(world.other_org, [Ident("user_id", "u-1")])
    Suppression.objects.create(org=org, kind="user_id", value_index=identity.value_index("user_id", "", "u-7"))
    Suppression.objects.create(org=world.other_org, kind="user_id",
                               value_index=identity.value_index("user_id", "", "u-2"))  # erased elsewhere only
    groups = [[Ident("user_id", f"u-{n}"), Ident("anonymous_id", f"a-{n}")] for n in range(people)]

    answer = resolve_many(org, groups, source="web")

    assert answer[0] == known.pk and identity.find(org, Ident("anonymous_id", "a-0")).pk == known.pk
    assert answer[7] is None and identity.find(org, Ident("anonymous_id", "a-7")) is None
    assert answer[1] not in (None, stranger.pk) and identity.find(world.other_org, Ident("user_id", "u-1")) == stranger
    assert answer[2] is not None
    assert len(set(answer) - {None}) == people - 1  # one person per group but the erased one
    # Written without foreign-key checks: every person named must exist, and each must have identifiers.
    persons = Person.objects.for_org(org)
    assert set(answer) - {None} == set(persons.values_list("pk", flat=True))
    assert not persons.filter(identifiers__isnull=True).exists()
    stored = {(i.kind, i.value): (i.person_id, i.value_index) for i in Identifier.objects.for_org(org)}
    expected = {(kind, f"{kind[0]}-{n}"): (answer[n], identity.value_index(kind, "", f"{kind[0]}-{n}"))
                for n in range(people) if n != 7 for kind in ("user_id", "anonymous_id")}
    assert stored == expected


def test_groups_of_different_sizes_keep_their_own_identifiers(world):
    groups = [[Ident("user_id", "u-1")], [Ident("user_id", "u-1"), Ident("anonymous_id", "a-1")],
              [Ident("anonymous_id", "a-2"), Ident("user_id", "u-2"), Ident("device_id", "d-2")],
              [Ident("device_id", "d-2")], [Ident("device_id", "d-3")]]
    answer = resolve_many(world.org, groups)
    assert answer[0] == answer[1] and answer[2] == answer[3]
    assert len({answer[0], answer[2], answer[4]}) == 3
    assert identity.find(world.org, Ident("anonymous_id", "a-2")).pk == answer[2]


def test_a_new_phone_that_a_wecom_customers_remark_holds_joins_that_customers_person(world):
    from siyu.customers.models import Customer, CustomerPhone

    customer = Customer.objects.create(org=world.org, external_userid="wm-remark", name="袁晓")
    CustomerPhone.objects.create(org=world.org, customer=customer, phone="13812345678")
    groups = [[Ident("phone", "+86 138 1234 5678"), Ident("user_id", "u-remark")],
              [Ident("phone", "13900000001"), Ident("user_id", "u-stranger")]]
    persons_before = Person.objects.for_org(world.org).count()
    answer = resolve_many(world.org, groups, source="web")
    assert identity.person_for_customer(customer).pk == answer[0]
    assert identity.find(world.org, Ident("user_id", "u-remark")).customer_id == customer.pk
    assert answer[1] not in (None, answer[0])
    # A person per cluster was inserted before the plan knew the first one goes through resolve(): the one it
    # did not need is gone, not left without identifiers.
    assert not Person.objects.for_org(world.org).filter(merged_into__isnull=True, identifiers__isnull=True).exists()
    assert Person.objects.for_org(world.org).count() == persons_before + 2  # the customer's and the stranger's


def test_a_batch_of_new_identifiers_leaves_no_person_without_identifiers(world):
    # Every identifier is new, so a person per cluster is inserted while the plan is made; the clusters over a cap
    # go through resolve() instead, and the persons inserted for them are deleted.
    from siyu.cdp.identity import CAPS

    crowded = [[Ident("device_id", f"d-{n}"), Ident("user_id", "u-crowded")] for n in range(CAPS["device_id"] + 2)]
    groups = [[Ident("anonymous_id", f"a-{n}"), Ident("user_id", f"u-{n}")] for n in range(20)] + crowded
    answer = resolve_many(world.org, groups, source="web")
    persons = Person.objects.for_org(world.org).filter(merged_into__isnull=True)
    assert not persons.filter(identifiers__isnull=True).exists()
    assert len(set(answer[:20])) == 20 and None not in answer
    assert persons.count() == len(set(answer))


def test_union_find_gives_each_slot_its_clusters_root_and_counts_the_clusters():
    from siyu.cdp.identity_batch import _clusters

    def clusters_of(root):
        return {frozenset(n for n, r in enumerate(root) if r == this) for this in set(root)}

    pairs = [(0, 1), (2, 3), (1, 2), (4, 5), (6, 6), (5, 4)]  # the pairs' loop
    root, count = _clusters(8, pairs, list(range(len(pairs))))
    assert clusters_of(root) == {frozenset({0, 1, 2, 3}), frozenset({4, 5}), frozenset({6}), frozenset({7})}
    assert count == 4 and all(root[r] == r for r in root)
    mixed = [(0, 1, 2), (3,), (2, 4), (5, 6)]  # any sizes; the last group takes no part
    root, count = _clusters(7, mixed, [0, 1, 2])
    assert clusters_of(root) == {frozenset({0, 1, 2, 4}), frozenset({3}), frozenset({5}), frozenset({6})}
    assert count == 4 and all(root[r] == r for r in root)
