"""Ninety days of past for the demo brand, so trend charts draw curves and 7/30-day retention are figures.

The history is a pure function of a fixed seed and of the day the demo brand was created (its anchor), so every
run plans the same customers; a run writes only those not yet in the database, which makes ``siyu demo`` a
top-up, never a duplicate. Customers are added through the demo's channel codes (their ``state``) on a daily
curve (weekends busier, a slow growth, one viral week on 小红书), some are lost (mostly by the customer, within
days), most chat with their guide and get a first reply, some buy once or again and move along the stages.

Rows are written in bulk and emit no domain events on purpose: these things happened before anyone listened,
so no welcome message, loss alert or purchase reminder must fire for them now. The simulated corp gets the
same friendships (``siyu.wecom.demo.seed_simulator`` mirrors them), so a full sync keeps them.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction

from siyu.cdp.models import Order, OrderLine, Product
from siyu.customers.models import Customer, Relation, TimelineEvent
from siyu.demo import image_url
from siyu.lifecycle import stages as stage_services
from siyu.lifecycle.models import CustomerLifecycle, StageChange
from siyu.orgs.models import Staff
from siyu.wecom.models import ChatMessage
from siyu.wecom.simulator import names

DAYS = 90
SEED = 20260901
PREFIX = "wmdemohist"  # the history customers' external_userid prefix: theirs alone, never a real WeCom id
DAY_TZ = ZoneInfo("Asia/Shanghai")
AVATARS = 6  # console/static/demo/avatar-0.png … avatar-5.png
# state → (the guides a scan lands on, relative weight of the channel)
CHANNELS = {
    "sh01_poster": (["demo_guide_sh01"], 5),
    "sz_stores": (["demo_guide_sz01", "demo_guide_sz02"], 6),
    "xhs_note": (["demo_guide_sh02", "demo_guide_hz01"], 4),
    "x_tissue_tea": (["demo_guide_gz01", "demo_guide_sz01"], 3),
}
ADDS_PER_DAY = 16  # on an average weekday at the end of the period, all channels together
VIRAL = ("xhs_note", 58, 65)  # a note went viral: days (counted from the first) when this channel tripled
LOST_BY_CUSTOMER, LOST_BY_STAFF = 0.13, 0.03
CUSTOMER_LINES = ["你好，请问新品什么时候上？", "今天门店人多吗？", "会员日有什么优惠吗", "桂花乌龙还有吗？",
                  "可以帮我留一杯吗", "外卖能送到公司吗？", "少糖是几分糖呀"]
STAFF_LINES = ["您好，我是您的专属导购～", "有的，给您留好了", "周三会员日第二杯半价哦", "新品下周一上，到时提醒您",
               "可以的，直接到店报手机号就行"]
PRODUCTS = [("TEA-102", 5), ("CUP-001", 3), ("TEA-101", 2), ("AR-001", 1)]


@dataclass
class Planned:
    """One customer of the history: how they came, what they did, and whether and when they left."""

    external_userid: str
    name: str
    gender: int
    userid: str
    state: str
    added_at: datetime
    lost: str = ""  # a Relation.Status of loss, or "" while still a friend
    lost_at: datetime | None = None
    chats: list[tuple[datetime, bool, str]] = field(default_factory=list)  # (when, from the customer, text)
    orders: list[tuple[datetime, str, int]] = field(default_factory=list)  # (when, sku, quantity)


def avatar_url(external_userid: str) -> str:
    """One of the demo's avatars, served by Siyu (a WeChat avatar URL would not load offline)."""
    return image_url(f"avatar-{int(external_userid.removeprefix(PREFIX)) % AVATARS}.png")


def anchor_of(org) -> datetime:
    """Midnight (Beijing) of the day the demo brand was created: the history ends there, whenever it is rerun."""
    local = org.created_at.astimezone(DAY_TZ)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def plan(anchor: datetime) -> list[Planned]:
    """Every history customer, in the order they were added; the same list for the same anchor."""
    rng = random.Random(SEED)
    planned: list[Planned] = []
    for day in range(DAYS):
        start = anchor - timedelta(days=DAYS - day)
        growth = 0.6 + 0.4 * day / (DAYS - 1)
        weekend = 1.5 if start.weekday() >= 5 else 1.0
        for state, (guides, weight) in CHANNELS.items():
            viral = 3.0 if state == VIRAL[0] and VIRAL[1] <= day <= VIRAL[2] else 1.0
            mean = ADDS_PER_DAY * weight / sum(w for _g, w in CHANNELS.values()) * growth * weekend * viral
            for _ in range(_poisson(rng, mean)):
                # Scans follow a day's rhythm: few in the morning, most at lunch and after work.
                minute = int(rng.triangular(9 * 60, 22 * 60, 18 * 60))
                added_at = start + timedelta(minutes=minute, seconds=rng.randrange(60))
                planned.append(_customer(rng, len(planned), state, rng.choice(guides), added_at, anchor))
    planned.sort(key=lambda p: p.added_at)
    return planned


def _poisson(rng: random.Random, mean: float) -> int:
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def _customer(rng, index: int, state: str, userid: str, added_at: datetime, anchor: datetime) -> Planned:
    person = Planned(f"{PREFIX}{index:05d}", names.person_name(rng), rng.choice([1, 2, 2]), userid, state, added_at)
    roll = rng.random()
    if roll < LOST_BY_CUSTOMER + LOST_BY_STAFF:
        # Most who leave do so within days of a scan for a coupon; a few drift away weeks later.
        days = rng.expovariate(1 / 2.5) if rng.random() < 0.7 else rng.uniform(7, 60)
        lost_at = added_at + timedelta(days=days, minutes=rng.randrange(60))
        if lost_at < anchor:
            person.lost = Relation.Status.DELETED_BY_CUSTOMER if roll < LOST_BY_CUSTOMER else Relation.Status.DELETED_BY_STAFF
            person.lost_at = lost_at
    end = person.lost_at or anchor
    if rng.random() < 0.75:
        asked = added_at + timedelta(minutes=rng.randrange(2, 240))
        if asked < end:
            person.chats.append((asked, True, rng.choice(CUSTOMER_LINES)))
            if rng.random() < 0.9:
                person.chats.append((asked + timedelta(minutes=rng.expovariate(1 / 25) + 1), False, rng.choice(STAFF_LINES)))
    if rng.random() < 0.4:
        when = added_at + timedelta(days=rng.uniform(0.1, 20))
        while when < end and len(person.orders) < 4:
            sku = rng.choices([s for s, _w in PRODUCTS], weights=[w for _s, w in PRODUCTS])[0]
            person.orders.append((when, sku, rng.choice([1, 1, 1, 2])))
            if rng.random() > 0.45:
                break
            when += timedelta(days=rng.uniform(7, 40))
    person.chats = [c for c in person.chats if c[0] < end]
    return person


@transaction.atomic
def load_history_demo(org) -> int:
    """Write the planned customers the database does not have yet; returns how many were written."""
    anchor = anchor_of(org)
    existing = set(Customer.objects.for_org(org).filter(external_userid__startswith=PREFIX)
                   .values_list("external_userid", flat=True))
    todo = [p for p in plan(anchor) if p.external_userid not in existing]
    staff = {s.userid: s for s in Staff.objects.for_org(org).filter(userid__in={p.userid for p in todo})}
    todo = [p for p in todo if p.userid in staff]
    if not todo:
        return 0
    products = {p.sku: p for p in Product.objects.for_org(org).filter(sku__in=[s for s, _w in PRODUCTS])}
    pipeline = stage_services.stages_of(org)
    customers = Customer.objects.bulk_create([
        Customer(org=org, external_userid=p.external_userid, name=p.name, gender=p.gender, is_friend=not p.lost,
                 avatar=avatar_url(p.external_userid), first_added_at=p.added_at, synced_at=p.added_at)
        for p in todo
    ])
    by_ext = {c.external_userid: c for c in customers}
    Relation.objects.bulk_create([
        Relation(org=org, customer=by_ext[p.external_userid], staff=staff[p.userid], state=p.state, add_way=1,
                 oper_userid=p.external_userid, added_at=p.added_at, synced_at=p.added_at,
                 status=p.lost or Relation.Status.ACTIVE, deleted_at=p.lost_at)
        for p in todo
    ])
    timeline, messages, lifecycles, changes = [], [], [], []
    orders: list[tuple[Order, list[OrderLine]]] = []
    for p in todo:
        customer, guide = by_ext[p.external_userid], staff[p.userid]
        timeline.append(TimelineEvent(org=org, customer=customer, kind="added", occurred_at=p.added_at, staff=guide,
                                      data={"add_way": 1, "state": p.state}))
        if p.lost:
            timeline.append(TimelineEvent(org=org, customer=customer, kind=p.lost, occurred_at=p.lost_at, staff=guide))
        for n, (when, from_customer, text) in enumerate(p.chats):
            messages.append(ChatMessage(
                org=org, msgid=f"{p.external_userid}-{n}", seq=0, sender=p.external_userid if from_customer else p.userid,
                receivers=[p.userid if from_customer else p.external_userid], msgtype="text", text=text,
                content={"content": text}, sent_at=when, customer=customer, staff=guide, from_customer=from_customer))
            timeline.append(TimelineEvent(org=org, customer=customer, kind="chatted", occurred_at=when, staff=guide,
                                          data={"from_customer": from_customer, "text": text, "msgtype": "text"}))
        for n, (when, sku, quantity) in enumerate(p.orders):
            product = products.get(sku)
            if product is None:
                continue
            order = Order(org=org, customer=customer, staff=guide, order_no=f"{p.external_userid}-{n}", source="pos",
                          ordered_at=when, total=product.price * quantity)
            orders.append((order, [OrderLine(org=org, product=product, quantity=quantity, unit_price=product.price,
                                             amount=product.price * quantity)]))
        moves, previous = _stage_moves(p, pipeline), None
        for (stage, since, source), following in zip(moves, moves[1:] + [None]):
            changes.append(StageChange(org=org, customer=customer, from_stage=previous, to_stage=stage, entered_at=since,
                                       left_at=following[1] if following else None, source=source))
            if previous is not None:
                timeline.append(TimelineEvent(
                    org=org, customer=customer, kind="stage_changed", occurred_at=since, staff=guide,
                    data={"to_stage": stage.name, "to_stage_id": stage.pk, "from_stage": previous.name,
                          "from_stage_id": previous.pk, "source": source}))
            previous = stage
        lifecycles.append(CustomerLifecycle(org=org, customer=customer, stage=moves[-1][0], stage_since=moves[-1][1]))
    Order.objects.bulk_create([order for order, _lines in orders])
    for order, lines in orders:
        for line in lines:
            line.order = order
        timeline.append(TimelineEvent(org=org, customer=order.customer, kind="ordered", occurred_at=order.ordered_at,
                                      staff=order.staff, data={"order_id": order.pk, "order_no": order.order_no,
                                                               "source": order.source, "total": str(order.total),
                                                               "products": [line.product.name for line in lines]}))
    OrderLine.objects.bulk_create([line for _order, lines in orders for line in lines])
    ChatMessage.objects.bulk_create(messages)
    CustomerLifecycle.objects.bulk_create(lifecycles)
    StageChange.objects.bulk_create(changes)
    TimelineEvent.objects.bulk_create(timeline)
    return len(todo)


def _stage_moves(p: Planned, pipeline: list) -> list[tuple]:
    """(stage, since, source) in time order, along the pipeline's open stages (by default 新客户 on the add, 意向客户
    once they wrote, 已成交 and 复购 with their orders) and into its lost stage (流失) when they left."""
    steps = [s for s in pipeline if not s.is_lost]
    reached = [(p.added_at, StageChange.Source.ADDED)]
    if p.chats:
        reached.append((p.chats[0][0], StageChange.Source.RULE))
    reached += [(when, StageChange.Source.RULE) for when, _sku, _q in p.orders[:2]]
    reached.sort()
    moves = [(stage, since, source) for stage, (since, source) in zip(steps, reached)]
    lost = next((s for s in pipeline if s.is_lost), None)
    if p.lost and lost is not None:
        moves.append((lost, p.lost_at, StageChange.Source.LOST))
    return moves

