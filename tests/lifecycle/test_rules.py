"""Auto-tagging rules against the simulator: keyword rules over archived chat, behaviour, purchase and channel
rules, back-fill as a job, and validation that refuses bad rules and writes nothing."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from siyu.cdp.models import Product
from siyu.cdp.services import Line, record_order
from siyu.core.models import Job
from siyu.customers import timeline
from siyu.customers.models import RelationTag, Tag, TimelineEvent
from siyu.groups.models import CustomerGroup
from siyu.lifecycle import rules, stages
from siyu.lifecycle.models import Rule, RuleSetVersion
from siyu.orgs.models import AuditEntry
from siyu.wecom.models import ChatMessage

MARK_TAG = "externalcontact/mark_tag"
# Common characters for made-up keywords; none of the test sentences contains any 3 of them in a row.
POOL = "薰衣草玫瑰茉莉檀香雪松柑橘柠檬薄荷白茶乌龙普洱红枣桂花栀子兰花竹叶松针海盐琥珀雨林晨露月光星河"


def ten_thousand_keywords(seed: int = 7) -> list[str]:
    rnd = random.Random(seed)
    words: set[str] = set()
    while len(words) < 9_999:
        words.add("".join(rnd.choice(POOL) for _ in range(rnd.randint(3, 5))))
    return sorted(words) + ["最低价"]


def tagged_by(org, tag) -> set[int]:
    return set(RelationTag.objects.for_org(org).filter(tag=tag).values_list("relation__customer_id", flat=True))


# -- the acceptance path ------------------------------------------------------------------------------------
def test_ten_thousand_keyword_rule_tags_the_right_customers_from_a_stream_of_messages(world, corp, commit):
    alice = corp.staff("alice", world.e1, world.guide_e1)
    (price_sensitive,) = corp.tags("价格敏感")
    keywords = ten_thousand_keywords()
    rule = rules.save_rule(world.org, name="价格敏感", kind="keyword", tags=[price_sensitive], by=world.admin,
                           config={"keywords": "\n".join(keywords), "exclude": "不在乎价格\n不要最低价", "match": "any"})
    assert len(rule.config["keywords"]) == 10_000
    with commit():
        bargain, inner, careless, quiet, spoken_to, shouting = (corp.customer(alice, n) for n in "甲乙丙丁戊己")
    stream = [
        (bargain, "请问这是全网最低价吗？", True),           # 最低价 inside a longer word
        (inner, f"我想要那款{keywords[1234]}味道的", True),   # one of the other 9,999
        (careless, "我不在乎价格，全网最低价也无所谓", True),  # an excluded word in the same message: never
        (quiet, "今天天气不错，香薰什么时候到货？", True),     # no keyword
        (spoken_to, "亲，这已经是全网最低价了", False),        # the guide said it, the rule listens to customers
        (shouting, "ＶＩＰ价是最低价吗", True),                # full-width and half-width alike
        (careless, "那就算了，谢谢", True),
    ]
    for customer, text, from_customer in stream:
        message = corp.message(customer, text, from_customer=from_customer)
        with commit():  # the archive announces each new message; the worker runs the rules
            corp.archived(message)

    assert tagged_by(world.org, price_sensitive) == {bargain.pk, inner.pk, shouting.pk}
    link = RelationTag.objects.for_org(world.org).get(tag=price_sensitive, relation__customer=bargain)
    first = ChatMessage.objects.for_org(world.org).get(customer=bargain)
    assert link.source == "rule" and link.source_ref == f"rule:{rule.pk} event:message:{first.pk}"
    event = TimelineEvent.objects.for_org(world.org).get(customer=bargain, kind="tagged")
    assert event.data["source"] == "rule" and event.data["source_ref"] == link.source_ref
    # WeCom has the tag on each of those relations, and on no other.
    assert corp.wecom_tags(alice, bargain) == {price_sensitive.wecom_id}
    assert corp.wecom_tags(alice, careless) == set()
    assert corp.calls(MARK_TAG) == 3

    # Saying it again changes nothing and calls WeCom no more.
    with commit():
        corp.archived(corp.message(bargain, "最低价还能再低吗"))
    assert corp.calls(MARK_TAG) == 3
    rule.refresh_from_db()
    assert rule.tagged_count == 3 and rule.last_fired_at is not None
    assert AuditEntry.objects.for_org(world.org).get(action="rule.created").details["keywords"] == 10_000


def test_a_customer_with_two_guides_is_tagged_on_both_relations(world, corp, commit):
    alice, bob = corp.staff("alice", world.e1), corp.staff("bob", world.e2)
    (tag,) = corp.tags("想要试用装")
    rules.save_rule(world.org, name="试用", kind="keyword", tags=[tag], config={"keywords": "试用装, 小样"})
    with commit():
        customer = corp.customer(alice)
        corp.befriend(bob, customer)
        corp.archived(corp.message(customer, "有小样吗", staff=alice))
    assert corp.wecom_tags(alice, customer) == corp.wecom_tags(bob, customer) == {tag.wecom_id}


# -- the matcher ----------------------------------------------------------------------------------------------
def matcher(*configs):
    return rules.KeywordMatcher([(rules.RuleMeta(i, (), None), rules.clean_config(None, "keyword", c))
                                 for i, c in enumerate(configs, 1)])


def ids(found):
    return sorted(m.id for m in found)


def test_matcher_finds_keywords_inside_longer_words_and_respects_exclusions():
    m = matcher({"keywords": ["最低价", "便宜"], "exclude": ["不便宜"]}, {"keywords": ["香薰"]})
    assert ids(m.match("全网最低价")) == [1]
    assert ids(m.match("这款香薰便宜吗")) == [1, 2]
    assert ids(m.match("香薰不便宜啊")) == [2]  # 不便宜 contains 便宜, and vetoes rule 1 for this message
    assert ids(m.match("随便看看")) == []
    assert ids(m.match("")) == []


def test_matcher_all_mode_needs_every_keyword_in_one_message():
    m = matcher({"keywords": "孕妇\n可以用", "match": "all"})
    assert ids(m.match("孕妇可以用吗")) == [1]
    assert ids(m.match("孕妇能用吗")) == []
    assert ids(m.match("可以用吗")) == []


def test_matcher_listens_to_the_chosen_speaker_and_folds_width_and_case():
    m = matcher({"keywords": ["VIP"], "speaker": "customer"}, {"keywords": ["优惠券"], "speaker": "staff"},
                {"keywords": ["退货"], "speaker": "any"})
    assert ids(m.match("ｖｉｐ有折扣吗", "customer")) == [1]
    assert ids(m.match("vip", "staff")) == []
    assert ids(m.match("送你一张优惠券", "staff")) == [2]
    assert ids(m.match("优惠券", "customer")) == []
    assert ids(m.match("退货", "staff")) == ids(m.match("退货", "customer")) == [3]


def test_the_cached_automaton_is_rebuilt_when_another_process_changes_the_rules(world, monkeypatch):
    tag = Tag.objects.create(org=world.org, name="敏感", wecom_id="et-1")
    rule = rules.save_rule(world.org, name="a", kind="keyword", tags=[tag], config={"keywords": "甲"})
    assert ids(rules.matcher_for(world.org).match("甲")) == [rule.pk]
    cached = rules.matcher_for(world.org)
    assert rules.matcher_for(world.org) is cached  # no rebuild while nothing changed

    # Another process edits the rule: the row and the version change, this process's cache is untouched.
    Rule.objects.for_org(world.org).filter(pk=rule.pk).update(config={**rule.config, "keywords": ["乙"]})
    RuleSetVersion.objects.for_org(world.org).update(version=99)
    assert rules.matcher_for(world.org) is cached  # trusted for VERSION_TTL
    monkeypatch.setattr(rules, "VERSION_TTL", 0)
    fresh = rules.matcher_for(world.org)
    assert fresh is not cached and ids(fresh.match("乙")) == [rule.pk] and ids(fresh.match("甲")) == []


# -- validation ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("config, field", [
    ({"keywords": ""}, "keywords"),
    ({"keywords": "，、\n"}, "keywords"),
    ({"keywords": "好" * 51}, "keywords"),
    ({"keywords": "最低价", "exclude": "最低价"}, "exclude"),
    ({"keywords": "a", "match": "some"}, "match"),
    ({"keywords": "\n".join(f"w{i}" for i in range(21)), "match": "all"}, "match"),
    ({"keywords": "a", "speaker": "boss"}, "speaker"),
    ({"keywords": "\n".join(f"词{i}" for i in range(20_001))}, "keywords"),
])
def test_bad_keyword_rules_are_refused_on_the_field_and_write_nothing(world, config, field):
    tag = Tag.objects.create(org=world.org, name="t", wecom_id="et-1")
    with pytest.raises(ValidationError) as error:
        rules.save_rule(world.org, name="r", kind="keyword", tags=[tag], config=config)
    assert field in error.value.message_dict
    assert not Rule.objects.for_org(world.org).exists()
    assert not AuditEntry.objects.for_org(world.org).filter(action__startswith="rule.").exists()


def test_rules_need_synced_corp_tags_of_their_org_a_unique_name_and_something_to_do(world):
    synced = Tag.objects.create(org=world.org, name="ok", wecom_id="et-1")
    unsynced = Tag.objects.create(org=world.org, name="未同步")
    personal = Tag.objects.create(org=world.org, name="私人", kind=Tag.Kind.PERSONAL)
    foreign = Tag.objects.create(org=world.other_org, name="别家", wecom_id="et-2")
    for bad in (unsynced, personal, foreign):
        with pytest.raises(ValidationError) as error:
            rules.save_rule(world.org, name="r", kind="keyword", tags=[bad], config={"keywords": "a"})
        assert "tags" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        rules.save_rule(world.org, name="r", kind="keyword", tags=[], config={"keywords": "a"})
    assert "tags" in error.value.message_dict
    rules.save_rule(world.org, name="r", kind="keyword", tags=[synced], config={"keywords": "a"})
    with pytest.raises(ValidationError) as error:
        rules.save_rule(world.org, name="r", kind="keyword", tags=[synced], config={"keywords": "b"})
    assert "name" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        rules.save_rule(world.org, name="c", kind="channel", tags=[synced], config={"state": "x" * 31})
    assert "state" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        rules.save_rule(world.org, name="p", kind="purchase", tags=[synced], config={"condition": "spent_over", "amount": "-1"})
    assert "amount" in error.value.message_dict


# -- behaviour, purchase, channel ---------------------------------------------------------------------------
def test_joining_a_group_fires_behaviour_rules_through_the_timeline(world, corp, commit):
    alice = corp.staff("alice", world.e1)
    (tag,) = corp.tags("社群活跃")
    with commit():
        customer = corp.customer(alice)
    group = CustomerGroup.objects.create(org=world.org, chat_id="wrGROUP1", name="香薰爱好者")
    other = CustomerGroup.objects.create(org=world.org, chat_id="wrGROUP2", name="别的群")
    rule = rules.save_rule(world.org, name="进群", kind="behaviour", tags=[tag],
                           config={"event": "group_joined", "ref": str(group.pk)})
    with commit():
        timeline.joined_group(customer, other)
    assert not tagged_by(world.org, tag)
    with commit():
        timeline.joined_group(customer, group)
    link = RelationTag.objects.for_org(world.org).get(tag=tag)
    assert link.source_ref == f"rule:{rule.pk} event:group_joined:{group.pk}"
    with pytest.raises(ValueError):
        rules.evaluate_event(world.org, customer, "teleported")


def test_content_can_report_material_opens_through_evaluate_event(world, corp, commit):
    alice = corp.staff("alice", world.e1)
    (tag,) = corp.tags("看过新品手册")
    with commit():
        customer = corp.customer(alice)
    rules.save_rule(world.org, name="看手册", kind="behaviour", tags=[tag], config={"event": "material_opened", "ref": "m-42"})
    assert rules.evaluate_event(world.org, customer, "material_opened", "m-41") == 0
    assert rules.evaluate_event(world.org, customer, "material_opened", "m-42", event_id="open-7") == 1
    assert RelationTag.objects.for_org(world.org).get(tag=tag).source_ref.endswith("event:material_opened:open-7")


def test_purchase_rules_tag_buyers_and_move_repeat_buyers_forward(world, corp, commit):
    alice = corp.staff("alice", world.e1)
    aroma_tag, big_tag = corp.tags("香薰用户", "高消费")
    with commit():
        customer = corp.customer(alice)
    stage_list = stages.stages_of(world.org)
    won, repeat = stage_list[2], stage_list[3]
    aroma = Product.objects.create(org=world.org, sku="AR-1", name="白茶香薰", category="香薰", price=Decimal("199"), cycle_days=90)
    tea = Product.objects.create(org=world.org, sku="TE-1", name="乌龙茶", category="茶叶", price=Decimal("59"))
    rules.save_rule(world.org, name="买香薰", kind="purchase", tags=[aroma_tag], config={"condition": "category", "categories": ["香薰"]})
    rules.save_rule(world.org, name="大客户", kind="purchase", tags=[big_tag], config={"condition": "spent_over", "amount": "300"})
    rules.save_rule(world.org, name="成交", kind="purchase", stage=won, config={"condition": "order_count", "count": 1})
    rules.save_rule(world.org, name="复购", kind="purchase", stage=repeat, config={"condition": "order_count", "count": 2})

    with commit():
        record_order(world.org, customer, [Line(tea, 1)], timezone.now(), "pos", order_no="A1")
    assert tagged_by(world.org, aroma_tag) == set() and stages.stage_of(customer) == won
    with commit():
        record_order(world.org, customer, [Line(aroma, 2)], timezone.now(), "pos", order_no="A2")
    assert tagged_by(world.org, aroma_tag) == tagged_by(world.org, big_tag) == {customer.pk}
    assert stages.stage_of(customer) == repeat
    with commit():  # a third order: the order-count-1 rule must not send them back to 已成交
        record_order(world.org, customer, [Line(tea, 1)], timezone.now(), "pos", order_no="A3")
    assert stages.stage_of(customer) == repeat


def test_channel_rules_tag_the_friendship_that_came_through_the_channel(world, corp, commit):
    alice, bob = corp.staff("alice", world.e1), corp.staff("bob", world.e2)
    (tag,) = corp.tags("门店扫码")
    rule = rules.save_rule(world.org, name="门店码", kind="channel", tags=[tag], config={"state": "store_*"})
    with commit():
        customer = corp.customer(alice, state="store_sh01")
        corp.befriend(bob, customer, state="ad_douyin")
    assert corp.wecom_tags(alice, customer) == {tag.wecom_id}
    assert corp.wecom_tags(bob, customer) == set()
    assert RelationTag.objects.for_org(world.org).get(tag=tag).source_ref.startswith(f"rule:{rule.pk} event:relation:")


# -- back-fill ----------------------------------------------------------------------------------------------
def test_backfill_runs_a_new_rule_over_history_as_a_job_with_progress(world, corp, commit):
    alice = corp.staff("alice", world.e1)
    (tag,) = corp.tags("敏感肌")
    with commit():
        customers = [corp.customer(alice) for _ in range(3)]
    corp.message(customers[0], "我是敏感肌，能用吗")
    corp.message(customers[1], "敏感肌适合哪款")
    corp.message(customers[2], "随便看看")
    rule = rules.save_rule(world.org, name="敏感肌", kind="keyword", tags=[tag], config={"keywords": "敏感肌"})
    assert not tagged_by(world.org, tag)  # a new rule reads new messages; history needs the back-fill
    with commit():
        job = rules.start_backfill(rule, by=world.admin)
    job = Job.objects.get(pk=job.pk)
    assert job.status == "succeeded" and job.total == 3 and job.done == 3 and job.result == {"tagged": 2}
    assert tagged_by(world.org, tag) == {customers[0].pk, customers[1].pk}
    rules.set_rule_active(rule, False)
    with pytest.raises(ValidationError):
        rules.start_backfill(rule)
