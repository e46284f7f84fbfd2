"""The customer profile (360): identity, relations with masked phones, tags with their sources, registered
sections (groups built in), the timeline in Chinese newest first and paged, and who may open it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from siyu.customers import timeline
from siyu.customers.models import Relation, RelationTag, TimelineEvent
from siyu.customers.profile import register_profile_section, register_timeline_kind, timeline_text, unregister
from siyu.groups.models import CustomerGroup, GroupMember
from tests.customers.test_list import Shop, link, make_tag
from tests.factories import client_for


@pytest.fixture
def shop(world):
    return Shop(world)


def profile(member, customer):
    return client_for(member).get(reverse("customers:detail", args=[customer.pk]))


def timeline_texts(response) -> list[str]:
    return [entry.text for entry in response.context["timeline"]]


def test_profile_shows_identity_relations_tags_with_sources_and_groups(world, shop):
    Relation.objects.for_org(world.org).filter(customer=shop.carol, staff=shop.zhang).update(
        remark="王姐", description="喜欢乌龙，常在周末来")
    link(shop.carol, shop.vip, shop.zhang, source=RelationTag.Source.CHANNEL)
    group = CustomerGroup.objects.create(org=world.org, chat_id="wr9", name="南京路老客群", owner=shop.zhang)
    GroupMember.objects.create(org=world.org, group=group, userid=shop.carol.external_userid, type=2, customer=shop.carol,
                               join_time=timezone.now())
    response = profile(world.admin, shop.carol)
    assert response.status_code == 200
    text = response.content.decode()
    assert "Carol" in text and shop.carol.external_userid in text
    assert "王姐" in text and "喜欢乌龙，常在周末来" in text
    assert "员工zhang" in text and "员工li" in text
    tags = {on.tag.name: [(str(link.relation.staff), link.source) for link in on.links] for on in response.context["tags"]}
    assert tags == {"爱喝茶": [("员工li", "manual")], "VIP": [("员工zhang", "channel")]}
    assert "渠道" in text and "手动" in text  # each tag's source, in Chinese
    assert "南京路老客群" in text and 'data-testid="profile-section-groups"' in text


def test_phones_are_masked_without_personal_data_access(world, shop):
    assert "138****8000" in profile(world.guide_e1, shop.alice).content.decode()
    assert "138 0013 8000" not in profile(world.guide_e1, shop.alice).content.decode()
    assert "138 0013 8000" in profile(world.admin, shop.alice).content.decode()


def test_only_visible_customers_open(world, shop):
    assert profile(world.guide_e1, shop.alice).status_code == 200
    assert profile(world.guide_e1, shop.bob).status_code == 404
    assert profile(world.guide_e1, shop.other).status_code == 404
    assert profile(world.s1_manager, shop.dave).status_code == 200
    assert profile(world.east_manager, shop.dave).status_code == 404
    for name in ("timeline", "note_add", "tag_add"):
        method = "get" if name == "timeline" else "post"
        url = reverse(f"customers:{name}", args=[shop.bob.pk])
        assert getattr(client_for(world.guide_e1), method)(url).status_code == 404, name


def test_registered_sections_render_in_order_and_may_opt_out(world, shop):
    register_profile_section("customers/_errors.html", lambda customer, viewer: {"errors": [f"阶段：{customer.name}"]},
                             order=5, key="stage-test", title="客户阶段")
    register_profile_section("customers/_errors.html", lambda customer, viewer: None, order=6, key="hidden-test")
    try:
        text = profile(world.admin, shop.alice).content.decode()
        assert "阶段：Alice" in text and 'data-testid="profile-section-hidden-test"' not in text
        assert text.index("profile-section-stage-test") < text.index("profile-section-groups")
    finally:
        unregister("stage-test")
        unregister("hidden-test")


def test_timeline_reads_in_chinese_newest_first_and_pages(world, shop):
    from siyu.channels.models import ChannelCode, ChannelState

    code = ChannelCode.objects.create(org=world.org, public_id="sh1", name="上海门店海报", state="store_sh")
    ChannelState.objects.create(org=world.org, code=code, state="store_sh")
    relation = Relation.objects.for_org(world.org).get(customer=shop.bob)
    relation.add_way, relation.state = 1, "store_sh"
    timeline.added(relation, at=timezone.now() - timedelta(days=3))
    timeline.tagged(relation, shop.vip, source=RelationTag.Source.RULE, source_ref="rule:7")
    timeline.deleted_by_customer(relation)
    timeline.record(shop.bob, "stage_changed", to_stage="已成交", from_stage="意向客户", source="manual")
    timeline.record(shop.bob, "coupon_redeemed", title="秋季新品")
    response = profile(world.admin, shop.bob)
    texts = timeline_texts(response)
    assert texts[0] == "其他动态"  # a kind nobody registered reads in words, never as its raw key
    assert texts[1].startswith("客户阶段：意向客户 → 已成交")  # built in, or the lifecycle app's wording
    added = "通过“扫描二维码”添加了员工 员工wang（来自渠道“上海门店海报”）"  # the state as its channel's name
    assert texts[2:] == ["删除了员工 员工wang", "被打上标签“VIP”（来源：规则）", added]
    # The guide whose customer Bob is reads the same channel name (the code itself is HQ's to open).
    assert timeline_texts(profile(world.guide_e2, shop.bob))[-1] == added
    register_timeline_kind("coupon_redeemed", lambda e: f"核销了优惠券“{e.data['title']}”")
    try:
        assert timeline_texts(profile(world.admin, shop.bob))[0] == "核销了优惠券“秋季新品”"
    finally:
        unregister("coupon_redeemed")
    # A renderer that cannot read an event's data falls back to words instead of breaking the page.
    register_timeline_kind("odd_test", lambda e: e.data["missing"])
    try:
        assert timeline_text(timeline.record(shop.bob, "odd_test")) == "其他动态"
    finally:
        unregister("odd_test")

    for i in range(30):
        timeline.record(shop.bob, "chatted", at=timezone.now() - timedelta(days=10, minutes=i), from_customer=True, text=f"第{i}条")
    first = profile(world.admin, shop.bob)
    assert len(first.context["timeline"]) == 20 and first.context["timeline_next"]
    seen = [e.event.pk for e in first.context["timeline"]]
    cursor = first.context["timeline_next"]
    while cursor:
        more = client_for(world.admin).get(reverse("customers:timeline", args=[shop.bob.pk]), {"after": cursor})
        assert more.status_code == 200
        seen += [e.event.pk for e in more.context["timeline"]]
        cursor = more.context["timeline_next"]
    expected = list(TimelineEvent.objects.for_org(world.org).filter(customer=shop.bob).values_list("pk", flat=True))
    assert seen == expected and len(seen) == 36
    assert client_for(world.admin).get(reverse("customers:timeline", args=[shop.bob.pk]), {"after": "garbage"}).status_code == 200


def test_profile_tag_form_adds_personal_tags_and_refuses_bad_ones(world, shop):
    from siyu.customers.models import Tag

    mine = Tag.objects.create(org=world.org, name="周末常来", kind=Tag.Kind.PERSONAL, owner=shop.zhang)
    client = client_for(world.guide_e1)
    response = client.post(reverse("customers:tag_add", args=[shop.alice.pk]), {"tags": [mine.pk]})
    assert response.status_code == 302
    page = profile(world.guide_e1, shop.alice)
    assert "周末常来" in page.content.decode()
    assert "被打上标签“周末常来”（来源：手动）" in timeline_texts(page)
    response = client.post(reverse("customers:tag_add", args=[shop.alice.pk]), {"tags": ["nope"]})
    assert response.status_code == 400
    response = client.post(reverse("customers:tag_remove", args=[shop.alice.pk, mine.pk]))
    assert response.status_code == 302 and not RelationTag.objects.for_org(world.org).filter(tag=mine).exists()
    assert re.search(r"移除了标签“周末常来”", " ".join(timeline_texts(profile(world.guide_e1, shop.alice))))
    make_tag(world.org, "未同步", wecom_id="")  # a corp tag not yet in WeCom is not offered
    assert "未同步" not in profile(world.guide_e1, shop.alice).content.decode().split('data-testid="tag-form"')[1]
