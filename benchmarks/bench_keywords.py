"""Keyword auto-tagging throughput with 10,000 keywords, beside the raw pyahocorasick matcher rate.

An organization connected to the WeCom simulator (in this process, on a loopback port) has 2,000 customers of
4 guides, corp tags, and keyword rules: one with 10,000 keywords and exclusion words, two small ones. A
stream of 100,000 archived chat messages (half from customers, half from staff; about 3 % of the customers'
messages contain a keyword, some inside longer words, some with an exclusion word) goes through exactly what
the ``message_archived`` hook runs for each message: :func:`siyu.lifecycle.rules.process_messages` with one
message. The first pass includes every first-time tag (the ``mark_tag`` call to the simulator, the tag row,
the timeline event); the second pass is the steady state, where customers already carry their tags. The
back-fill figure processes the same stream in pages of 1,000, as the back-fill job does.

The physical limit is the raw matcher: the same pyahocorasick automaton iterating over the same texts, with
no normalization, no rule logic and no database.
"""

from __future__ import annotations

import os
import random
from datetime import timedelta

from benchmarks.common import figure, setup_django, stopwatch

MESSAGES = int(os.environ.get("SIYU_BENCH_KEYWORD_MESSAGES", "100000"))
CUSTOMERS = 2_000
GUIDES = 4
KEYWORDS = 10_000
HIT_RATE = 0.03
POOL = "薰衣草玫瑰茉莉檀香雪松柑橘柠檬薄荷白茶乌龙普洱红枣桂花栀子兰花竹叶松针海盐琥珀雨林晨露月光星河"
FILLER = ("请问这款什么时候到货呢今天周末门店营业到几点我想给朋友买一份礼物包装可以吗快递几天能到谢谢亲好的收到了"
          "颜色喜欢味道也不错上次买的用完了还有活动吗会员积分怎么用地址改一下发票开公司抬头")


def _keywords(rnd: random.Random) -> list[str]:
    words: set[str] = set()
    while len(words) < KEYWORDS - 1:
        words.add("".join(rnd.choice(POOL) for _ in range(rnd.randint(3, 5))))
    return sorted(words) + ["最低价"]


def _sentence(rnd: random.Random, lo: int = 8, hi: int = 40) -> str:
    return "".join(rnd.choice(FILLER) for _ in range(rnd.randint(lo, hi)))


def _world():
    """The organization, its simulator, guides, customers and corp tags; returns what the stream needs."""
    from django.utils import timezone

    from siyu.customers import services as customer_services
    from siyu.customers.models import Customer, Relation, Tag
    from siyu.orgs import services as org_services
    from siyu.orgs.staff import upsert_staff
    from siyu.wecom.client import WeComClient
    from siyu.wecom.crypto import generate_encoding_aes_key, generate_token
    from siyu.wecom.models import WeComConnection
    from siyu.wecom.simulator import SimClock, Simulator, run_in_thread

    org = org_services.create_organization(slug="bench-keywords", name="关键词基准", by=None)
    token, aes_key = generate_token(), generate_encoding_aes_key()
    sim = Simulator("wwbench0000000001", "bench-secret", "1000002", token, aes_key, None, clock=SimClock(frozen=True))
    base, stop = run_in_thread(sim)
    WeComConnection.objects.create(org=org, corp_id="wwbench0000000001", agent_id="1000002", secret="bench-secret",
                                   callback_token=token, encoding_aes_key=aes_key, api_base=f"{base}/cgi-bin/")
    guides = [upsert_staff(org, sim.add_staff(f"guide{i}", f"导购{i}")) for i in range(GUIDES)]
    now = timezone.now()
    customers, relations = [], []
    for i in range(CUSTOMERS):
        guide = guides[i % GUIDES]
        ext = sim.add_customer(guide.userid, name=f"客户{i}")["external_userid"]
        customers.append(Customer(org=org, external_userid=ext, name=f"客户{i}", first_added_at=now))
    Customer.objects.bulk_create(customers, batch_size=1000)
    customers = list(Customer.objects.for_org(org).order_by("pk"))
    for i, customer in enumerate(customers):
        relations.append(Relation(org=org, customer=customer, staff=guides[i % GUIDES], added_at=now))
    Relation.objects.bulk_create(relations, batch_size=1000)
    made = sim.admin_add_tags(["价格敏感", "香型偏好", "售后"], group_name="聊天标签")
    with WeComClient.for_org(org) as client:
        data = client.post("externalcontact/get_corp_tag_list", {"group_id": [made["group_id"]]})
    customer_services.upsert_tag_groups(org, data["tag_group"])
    tags = [Tag.objects.for_org(org).get(wecom_id=t["id"]) for t in made["tags"]]
    return org, sim, stop, guides, customers, tags


def _stream(org, guides, customers, keywords, rnd):
    from django.utils import timezone

    from siyu.wecom.models import ChatMessage

    small = ["退货", "换货", "售后", "坏了"]
    start = timezone.now() - timedelta(days=1)
    rows = []
    for n in range(MESSAGES):
        i = rnd.randrange(len(customers))
        customer, guide = customers[i], guides[i % GUIDES]
        from_customer = n % 2 == 0
        text = _sentence(rnd)
        roll = rnd.random()
        if from_customer and roll < HIT_RATE:
            word = rnd.choice(keywords) if rnd.random() < 0.8 else "全网最低价"
            cut = rnd.randint(0, len(text))
            text = text[:cut] + word + text[cut:]
            if rnd.random() < 0.1:
                text += "，不过我不在乎价格"
        elif from_customer and roll < HIT_RATE * 1.3:
            text += rnd.choice(small)
        rows.append(ChatMessage(
            org=org, msgid=f"bench-{n}", seq=n + 1, sender=customer.external_userid if from_customer else guide.userid,
            receivers=[], msgtype="text", text=text, sent_at=start + timedelta(milliseconds=n), customer=customer,
            staff=guide, from_customer=from_customer,
        ))
    ChatMessage.objects.bulk_create(rows, batch_size=2000)
    return list(ChatMessage.objects.for_org(org).order_by("seq"))


def run() -> list[dict]:
    setup_django()
    from siyu.customers.models import RelationTag
    from siyu.lifecycle import rules
    from siyu.wecom.models import ApiCall

    rnd = random.Random(20261122)
    org, sim, stop, guides, customers, tags = _world()
    try:
        keywords = _keywords(rnd)
        rules.save_rule(org, name="价格敏感", kind="keyword", tags=[tags[0]],
                        config={"keywords": keywords, "exclude": ["不在乎价格"], "match": "any"})
        rules.save_rule(org, name="售后", kind="keyword", tags=[tags[2]], config={"keywords": ["退货", "换货", "售后", "坏了"]})
        rules.save_rule(org, name="香型", kind="keyword", tags=[tags[1]],
                        config={"keywords": ["白茶", "乌龙"], "match": "all", "speaker": "any"})
        messages = _stream(org, guides, customers, keywords, rnd)
        matcher = rules.matcher_for(org)
        texts = [m.text for m in messages]

        with stopwatch() as raw_elapsed:
            automaton = matcher.automaton
            for text in texts:
                for _hit in automaton.iter(text):
                    pass
        raw_rate = len(texts) / raw_elapsed()

        with stopwatch() as first_elapsed:
            for message in messages:
                rules.process_messages(org, [message])
        first_rate = len(messages) / first_elapsed()
        tagged = RelationTag.objects.for_org(org).filter(source="rule").count()
        calls = ApiCall.objects.for_org(org).filter(endpoint="externalcontact/mark_tag", errcode=0).count()

        with stopwatch() as steady_elapsed:
            for message in messages:
                rules.process_messages(org, [message])
        steady_rate = len(messages) / steady_elapsed()
        if RelationTag.objects.for_org(org).filter(source="rule").count() != tagged:
            raise AssertionError("the second pass over the same messages added tags")

        with stopwatch() as batch_elapsed:
            for i in range(0, len(messages), 1000):
                rules.process_messages(org, messages[i:i + 1000])
        batch_rate = len(messages) / batch_elapsed()
    finally:
        stop()
        sim.close()

    notes = (f"{len(messages):,} messages, {matcher.keyword_count:,} words in the automaton "
             f"({KEYWORDS:,} keywords in one rule), {CUSTOMERS:,} customers")
    limit_unit = "messages/s (raw pyahocorasick iter)"
    return [
        figure("keyword tagging, per archived message, first pass", first_rate, "messages/s",
               limit_value=raw_rate, limit_unit=limit_unit,
               notes=f"{notes}; includes {tagged:,} first-time tags and {calls:,} mark_tag calls to the simulator"),
        figure("keyword tagging, per archived message, steady state", steady_rate, "messages/s",
               limit_value=raw_rate, limit_unit=limit_unit, notes="the same stream again: customers already tagged"),
        figure("keyword tagging, back-fill pages of 1,000", batch_rate, "messages/s",
               limit_value=raw_rate, limit_unit=limit_unit, notes="process_messages over pages, as the back-fill job runs"),
    ]
