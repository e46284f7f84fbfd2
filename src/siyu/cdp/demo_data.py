"""The demo brand's customer data: a person for every WeCom customer, remark phones that imported orders find, a
Youzan order export imported through the real importer, one merge waiting in review, and a web shop and a
mini-program whose tracking sends a few thousand events through the event API's own landing path.

Deterministic (a fixed seed) and idempotent: a second ``siyu demo`` adds nothing it already added.
"""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import timedelta

from django.utils import timezone

from django.db.models import OuterRef, Subquery

from siyu.cdp import identity, traits
from siyu.cdp.identity import Ident
from siyu.cdp.models import Identifier, MergeReview, Order, OrderImport, Person, RawBatch
from siyu.customers.models import Customer, Relation
from siyu.customers.queries import index_customer_phones

SEED = 20261206
PHONED_CUSTOMERS = 60  # demo customers whose guides noted a phone number in the remark
YOUZAN_FILE = "有赞订单导出-近90天.csv"
YOUZAN_HEADER = ["订单号", "下单时间", "付款时间", "订单状态", "订单实付金额", "买家昵称", "买家手机号", "商品名称",
                 "规格编码", "商品数量", "商品单价"]
PRODUCTS = [("AR-001", "山茶花香薰", "168.00"), ("TEA-101", "白茶礼盒", "298.00"),
            ("TEA-102", "桂花乌龙茶包（30 袋）", "79.00"), ("CUP-001", "随行杯", "59.00")]
REVIEW_PHONE = "13700137000"  # one phone given by two different members: a merge the guard holds for review


def demo_phone(n: int) -> str:
    return f"139{(SEED + n * 7919) % 100_000_000:08d}"


def load_cdp_demo(org) -> None:
    _persons_for_customers(org)
    phones = _remark_phones(org)
    _import_youzan_orders(org, phones)
    _merge_in_review(org)
    _track_web_and_miniprogram(org, phones)
    _normalize_now(org)
    traits.refresh(org)
    _segments(org)


def _persons_for_customers(org) -> None:
    """History customers and their orders were written in bulk, before anyone listened: give each customer its
    person now, and each order its customer's person."""
    have = set(Person.objects.for_org(org).exclude(customer=None).values_list("customer_id", flat=True))
    for customer in Customer.objects.for_org(org).exclude(pk__in=have).order_by("pk"):
        identity.person_for_customer(customer)
    person_of = Person.objects.for_org(org).filter(customer=OuterRef("customer_id")).values("pk")[:1]
    Order.objects.for_org(org).filter(person=None).exclude(customer=None).update(person=Subquery(person_of))


def _remark_phones(org) -> list[str]:
    """Phones guides noted for some customers (as WeCom mirrors remark_mobiles); the phones, in order."""
    relations = list(Relation.objects.for_org(org).filter(status=Relation.Status.ACTIVE)
                     .select_related("customer").order_by("pk")[:PHONED_CUSTOMERS])
    phones = []
    for n, relation in enumerate(relations):
        phone = demo_phone(n)
        phones.append(phone)
        if not relation.remark_mobiles:
            relation.remark_mobiles = json.dumps([phone])
            relation.save(update_fields=["remark_mobiles"])
            index_customer_phones(relation)
        identity.sync_customer(relation.customer)
    return phones


def youzan_export(phones: list[str], *, now=None) -> bytes:
    """A Youzan order export of the last 90 days (GB18030, as Youzan's download is): half the buyers are customers
    whose guide noted their phone, the rest are new to the brand; two rows are broken as real exports sometimes are."""
    rng = random.Random(SEED)
    now = now or timezone.localtime()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(YOUZAN_HEADER)
    for n in range(160):
        phone = phones[n % len(phones)] if phones and n % 2 == 0 else f"158{rng.randrange(10**8):08d}"
        at = now - timedelta(days=rng.randrange(1, 90), minutes=rng.randrange(600))
        lines = rng.sample(PRODUCTS, rng.choice([1, 1, 1, 2]))
        total = sum(float(price) * 1 for _sku, _name, price in lines)
        for sku, name, price in lines:
            writer.writerow([f"E2026{n:05d}", at.strftime("%Y-%m-%d %H:%M:%S"),
                             (at + timedelta(minutes=2)).strftime("%Y-%m-%d %H:%M:%S"), "交易成功", f"{total:.2f}",
                             f"有赞买家{n}", phone, name, sku, "1", price])
    writer.writerow(["E2026BAD01", "昨天下午", "", "交易成功", "88.00", "有赞买家X", "15800000001", "随行杯",
                     "CUP-001", "1", "59.00"])
    writer.writerow(["E2026BAD02", now.strftime("%Y-%m-%d %H:%M:%S"), "", "交易成功", "八十八", "有赞买家Y",
                     "15800000002", "随行杯", "CUP-001", "1", "59.00"])
    return out.getvalue().encode("gb18030")


def _import_youzan_orders(org, phones: list[str]) -> None:
    from siyu.cdp import order_import

    if OrderImport.objects.for_org(org).filter(filename=YOUZAN_FILE).exists():
        return
    order_import.start_import(org, youzan_export(phones), filename=YOUZAN_FILE,
                              mode=OrderImport.Mode.GOOD_ROWS, preset="youzan")


def _merge_in_review(org) -> None:
    if MergeReview.objects.for_org(org).exists():
        return
    identity.resolve(org, [Ident(Identifier.Kind.MEMBER_ID, "VIP-1001"), Ident(Identifier.Kind.PHONE, REVIEW_PHONE)],
                     source="pos", evidence="门店收银 会员注册")
    identity.resolve(org, [Ident(Identifier.Kind.MEMBER_ID, "VIP-2002")], source="pos", evidence="门店收银 会员注册")
    # The second member later gives the first one's phone at the till: two members, one phone — held for review.
    identity.resolve(org, [Ident(Identifier.Kind.MEMBER_ID, "VIP-2002"), Ident(Identifier.Kind.PHONE, REVIEW_PHONE)],
                     source="pos", evidence="门店收银 会员资料更新")


SOURCES = [("山茶物语官网商城", "web"), ("山茶物语小程序", "miniprogram")]
VISITORS = 360  # per source; about a third sign in, some with the phone a guide noted for them
PAGES = ["首页", "新品上市", "商品详情", "会员中心", "门店地址"]
MATERIALS = ["秋季新品图册", "桂花乌龙冲泡指南", "会员日活动海报"]


def _visitor_events(rng: random.Random, source_kind: str, n: int, phone: str | None, now) -> list[dict]:
    """One visitor's last 90 days as their SDK would have sent them (Segment spec)."""
    anonymous = f"{source_kind}-anon-{n:04d}"
    first = now - timedelta(days=rng.randrange(1, 90), minutes=rng.randrange(1440))
    events, at = [], first
    user_id = f"{source_kind}-user-{n:04d}" if (phone or rng.random() < 0.3) else None
    for _visit in range(rng.choice([1, 1, 2, 3, 5])):
        if at > now:
            break
        for page in rng.sample(PAGES, rng.randrange(1, 4)):
            events.append({"type": "page" if source_kind == "web" else "screen", "name": page, "timestamp": at})
            at += timedelta(seconds=rng.randrange(5, 120))
        sku, name, price = rng.choice(PRODUCTS)
        events.append({"type": "track", "event": "Product Viewed", "timestamp": at,
                       "properties": {"sku": sku, "name": name, "price": float(price)}})
        if rng.random() < 0.35:
            events.append({"type": "track", "event": "Material Opened", "timestamp": at + timedelta(seconds=30),
                           "properties": {"material": rng.choice(MATERIALS)}})
        if rng.random() < 0.2:
            events.append({"type": "track", "event": "Added to Cart", "timestamp": at + timedelta(seconds=60),
                           "properties": {"sku": sku, "quantity": 1}})
        at += timedelta(days=rng.randrange(1, 20), minutes=rng.randrange(600))
    if user_id:
        traits = {"member_level": rng.choice(["普通会员", "银卡会员", "金卡会员"]), "city": rng.choice(["上海", "杭州", "广州"])}
        if phone:
            traits["phone"] = phone
        events.insert(min(2, len(events)), {"type": "identify", "traits": traits, "timestamp": first})
    out = []
    for k, event in enumerate(events):
        message = {**event, "messageId": f"demo-{source_kind}-{n:04d}-{k:03d}", "anonymousId": anonymous,
                   "timestamp": event["timestamp"].isoformat(),
                   "context": {"library": {"name": "analytics.js" if source_kind == "web" else "sa-sdk-miniprogram"},
                               "locale": "zh-CN"}}
        if user_id and (event["type"] == "identify" or k > 2):
            message["userId"] = user_id
        out.append(message)
    return out


def _track_web_and_miniprogram(org, phones: list[str]) -> None:
    from siyu.cdp import ingest, sources
    from siyu.cdp.models import Source

    now = timezone.now()
    for index, (name, kind) in enumerate(SOURCES):
        if Source.objects.for_org(org).filter(name=name).exists():
            continue
        source = sources.create_source(org, name=name, kind=kind, by=None)
        sources.create_write_key(source, by=None)
        rng = random.Random(SEED + index)
        messages = []
        for n in range(VISITORS):
            phone = phones[(n // 6 + index * 5) % len(phones)] if phones and n % 6 == 0 else None
            messages.extend(_visitor_events(rng, kind, n, phone, now))
        for start in range(0, len(messages), 100):
            body = json.dumps({"batch": messages[start:start + 100]}, ensure_ascii=False).encode()
            ingest.land_batch(source, body, received_at=now)


def _normalize_now(org) -> None:
    """Normalize the tracked batches at once, as the worker would seconds later, so the demo's segments start with
    their members."""
    from siyu.core import durable

    while rows := durable.claim(RawBatch, owner="demo", limit=50, lease_seconds=300):
        durable.run_rows(RawBatch, rows, "demo")


def _segments(org) -> None:
    """Three saved audiences an HQ operator would start with."""
    from siyu.lifecycle.models import Stage
    from siyu.segments import services
    from siyu.segments.models import Segment

    lost = Stage.objects.for_org(org).filter(name="流失").values_list("pk", flat=True).first()
    wanted = [
        ("复购老客", "下过两单及以上、最近 90 天内还买过的人。", {"op": "and", "rules": [
            {"type": "orders", "measure": "count", "did": "at_least", "value": 2, "days": None},
            {"type": "orders", "measure": "count", "did": "at_least", "value": 1, "days": 90}]}),
        ("线上活跃未成交", "近 30 天在官网或小程序看过商品，但从未下单：导购可以跟进的人。", {"op": "and", "rules": [
            {"type": "event", "event": "Product Viewed", "did": "at_least", "count": 1, "days": 30, "properties": []},
            {"type": "orders", "measure": "count", "did": "at_most", "value": 0, "days": None}]}),
        ("沉睡唤醒", "买过但 60 天没有再买、也不在流失阶段的人。", {"op": "and", "rules": [
            {"type": "orders", "measure": "count", "did": "at_least", "value": 1, "days": None},
            {"type": "trait", "field": "last_order_at", "operator": "before_days", "value": 60},
            *([{"op": "not", "rule": {"type": "stage", "ids": [lost]}}] if lost else [])]}),
    ]
    for name, description, rule in wanted:
        if not Segment.objects.for_org(org).filter(name=name).exists():
            services.create_segment(org, name=name, description=description, rule=rule,
                                    refresh=Segment.Refresh.DAILY, by=None)
