"""Generated data for the segment tests: persons with and without WeCom customers, merged persons, traits of
every JSON type (and missing), events and orders on both sides of every window boundary, tags, stages, staff,
stores, customer groups and sources."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from siyu.cdp.models import Event, Order, OrderLine, Person, Product, Source
from siyu.customers.models import Customer, Relation, RelationTag, Tag
from siyu.groups.models import CustomerGroup, GroupMember
from siyu.lifecycle.models import CustomerLifecycle, Stage
from siyu.orgs.models import Staff
from siyu.privacy.models import ConsentRecord

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
SECOND = dt.timedelta(seconds=1)
DAY = dt.timedelta(days=1)
EVENT_NAMES = ["Material Opened", "Page Viewed", "Order Completed"]
TRAIT_VALUES = ["gold", "Gold", "silver", "金卡", 5, 7.5, 0, True, False, None, ["x"], {"a": 1}]
SOURCES = ["web", "app", "miniprogram", "pos", "wecom"]


class Built:
    """Ids of what was generated, for rule strategies and assertions."""


def _moments(days: int) -> list[dt.datetime]:
    """Instants on and around the edges of a window of ``days`` ending at NOW, and some inside and outside it."""
    start = NOW - days * DAY
    return [start, start - SECOND, start + SECOND, NOW, NOW + SECOND, NOW - DAY, start - 3 * DAY]


def build(world, *, persons: int = 90, seed: int = 7) -> Built:
    rnd = random.Random(seed)
    org = world.org
    built = Built()
    built.org = org
    stages = [Stage.objects.create(org=org, name=n, position=i, is_lost=n == "流失")
              for i, n in enumerate(["新客", "意向", "成交", "流失"])]
    built.stages = {s.name: s.pk for s in stages}
    tags = [Tag.objects.create(org=org, name=n) for n in ["高意向", "老客", "价格敏感", "团购"]]
    built.tags = {t.name: t.pk for t in tags}
    stores = [world.e1, world.e2, world.s1, world.s2]
    staff = [Staff.objects.create(org=org, userid=f"u{i}", name=f"员工{i}", store=stores[i % 4]) for i in range(4)]
    built.staff = [s.pk for s in staff]
    built.stores = [world.east.pk, world.south.pk, world.e1.pk, world.s2.pk, world.hq.pk]
    groups = [CustomerGroup.objects.create(org=org, chat_id=f"chat{i}", name=f"群{i}") for i in range(3)]
    built.groups = [g.pk for g in groups]
    products = [Product.objects.create(org=org, sku=f"SKU{i}", name=f"商品{i}") for i in range(3)]
    built.products = [p.pk for p in products]
    source = Source.objects.create(org=org, name="官网", kind=Source.Kind.WEB)
    built.event_names = EVENT_NAMES
    built.trait_keys = ["level", "score", "city"]
    built.person_ids = []
    message = 0
    for n in range(persons):
        customer = None
        if rnd.random() < 0.75:
            customer = Customer.objects.create(org=org, external_userid=f"wm{n}", name=f"客户{n}")
            for member in rnd.sample(staff, rnd.randint(0, 2)):
                relation = Relation.objects.create(
                    org=org, customer=customer, staff=member,
                    status=rnd.choice([Relation.Status.ACTIVE, Relation.Status.ACTIVE, Relation.Status.DELETED_BY_CUSTOMER]))
                for tag in rnd.sample(tags, rnd.randint(0, 3)):
                    RelationTag.objects.create(org=org, relation=relation, tag=tag)
            if rnd.random() < 0.8:
                CustomerLifecycle.objects.create(org=org, customer=customer,
                                                 stage=rnd.choice([*stages, stages[3], None]))
            for group in rnd.sample(groups, rnd.randint(0, 2)):
                GroupMember.objects.create(org=org, group=group, userid=customer.external_userid, type=2,
                                           customer=customer, is_active=rnd.random() < 0.8)
        traits = {key: rnd.choice(TRAIT_VALUES) for key in built.trait_keys if rnd.random() < 0.7}
        orders = rnd.randint(0, 3)
        person = Person.objects.create(
            org=org, customer=customer, traits=traits, sources=rnd.sample(SOURCES, rnd.randint(0, 2)),
            orders_count=orders, total_spend=Decimal(rnd.choice(["0", "99.50", "100", "1000.01", "250"])),
            average_order_value=Decimal(rnd.choice(["0", "50", "99.99"])),
            last_order_at=rnd.choice([None, *_moments(30)]), first_seen_at=rnd.choice([None, *_moments(90)]),
            last_seen_at=rnd.choice([None, *_moments(7)]),
            r_score=rnd.choice([None, 1, 3, 5]), f_score=rnd.choice([None, 2, 4]), m_score=rnd.choice([None, 1, 5]))
        for _ in range(rnd.choice([0, 0, 1, 2, 3, 4, 6])):
            message += 1
            Event.objects.create(
                org=org, source=source, person=person, type=Event.Type.TRACK, name=rnd.choice(EVENT_NAMES),
                message_id=f"m{message}", timestamp=rnd.choice(_moments(7) + _moments(30)), received_at=NOW,
                properties=rnd.choice([{}, {"material": "春季新品"}, {"material": "Tea", "seconds": 30},
                                       {"seconds": 5}, {"material": 3}]))
        for k in range(orders):
            order = Order.objects.create(org=org, person=person, customer=customer, order_no=f"o{n}-{k}",
                                         total=Decimal(rnd.choice(["10", "99.5", "300"])),
                                         ordered_at=rnd.choice(_moments(30)))
            for product in rnd.sample(products, rnd.randint(1, 2)):
                OrderLine.objects.create(org=org, order=order, product=product, unit_price=Decimal("1"),
                                         amount=Decimal("1"))
        built.person_ids.append(person.pk)
    _edges(built, org, source, staff[0], tags[0], stages)
    # Merged persons: absorbed into another, and carrying everything the segment asks for.
    survivors = Person.objects.filter(org=org).order_by("pk")[:5]
    tag = tags[0]
    for n, survivor in enumerate(survivors):
        customer = Customer.objects.create(org=org, external_userid=f"merged{n}")
        relation = Relation.objects.create(org=org, customer=customer, staff=staff[0])
        RelationTag.objects.create(org=org, relation=relation, tag=tag)
        merged = Person.objects.create(org=org, customer=customer, merged_into=survivor, traits={"level": "gold"},
                                       sources=["web"])
        Order.objects.create(org=org, person=merged, customer=customer, order_no=f"m{n}", total=Decimal("5"),
                             ordered_at=NOW - DAY)
        for k in range(3):
            message += 1
            Event.objects.create(org=org, source=source, person=merged, type=Event.Type.TRACK, name="Material Opened",
                                 message_id=f"m{message}", timestamp=NOW - DAY, received_at=NOW)
    _consents(org, random.Random(seed + 1))
    return built


def _edges(built, org, source, staff, tag, stages) -> None:
    """Persons sitting exactly on the issue segment's boundaries, each tagged 高意向 and not 流失 unless said."""
    counter = iter(range(10_000, 20_000))

    def person(name, *, relation_status=Relation.Status.ACTIVE, stage=None, lifecycle=True):
        customer = Customer.objects.create(org=org, external_userid=f"edge-{name}")
        relation = Relation.objects.create(org=org, customer=customer, staff=staff, status=relation_status)
        RelationTag.objects.create(org=org, relation=relation, tag=tag)
        if lifecycle:
            CustomerLifecycle.objects.create(org=org, customer=customer, stage=stage)
        made = Person.objects.create(org=org, customer=customer)
        built.person_ids.append(made.pk)
        built.edges[name] = made.pk
        return made

    def opened(who, *moments):
        for moment in moments:
            Event.objects.create(org=org, source=source, person=who, type=Event.Type.TRACK, name="Material Opened",
                                 message_id=f"edge{next(counter)}", timestamp=moment, received_at=NOW)

    def ordered(who, moment, status=Order._meta.get_field("status").default):
        Order.objects.create(org=org, person=who, customer=who.customer, order_no=f"edge{next(counter)}",
                             total=Decimal("1"), ordered_at=moment, status=status)

    built.edges = {}
    opened(person("three_with_one_on_the_edge"), NOW - 7 * DAY, NOW - DAY, NOW)
    opened(person("two_and_one_a_second_early"), NOW - 7 * DAY - SECOND, NOW - DAY, NOW)
    opened(person("two_and_one_a_second_late"), NOW + SECOND, NOW - DAY, NOW - 2 * DAY)
    ordered(person("ordered_on_the_edge"), NOW - 30 * DAY)
    ordered(person("ordered_a_second_early"), NOW - 30 * DAY - SECOND)
    ordered(person("ordered_but_lost", stage=stages[3]), NOW - DAY)
    ordered(person("ordered_without_stage_row", lifecycle=False), NOW - DAY)
    ordered(person("order_refunded"), NOW - DAY, "refunded")  # a refunded, closed or unpaid order is no purchase
    ordered(person("order_closed"), NOW - DAY, "closed")
    ordered(person("order_unpaid"), NOW - DAY, "pending")
    ordered(person("order_completed"), NOW - DAY, "completed")
    ordered(person("tagged_on_a_deleted_relation", relation_status=Relation.Status.DELETED_BY_CUSTOMER), NOW - DAY)
    Person.objects.create(org=org, traits={"level": "gold"})  # no customer: no tags, no stage


def _consents(org, rnd: random.Random) -> None:
    """Consent records with the edges of "latest record": a change exactly at NOW and a second after it (not yet in
    force), two records at the same instant (the later row wins), customers with no record at all."""
    moments = [NOW - 30 * DAY, NOW - DAY, NOW - SECOND, NOW, NOW + SECOND]
    for customer in Customer.objects.filter(org=org).order_by("pk"):
        for purpose in ("marketing", "profiling", "location"):
            for _ in range(rnd.choice([0, 0, 1, 2, 3])):
                ConsentRecord.objects.create(org=org, customer=customer, purpose=purpose, granted=rnd.random() < 0.6,
                                             source="h5", at=rnd.choice(moments))
