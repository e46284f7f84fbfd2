"""Customer source (客户来源): the first channel and every channel a customer came through; tags and remark."""

from __future__ import annotations

from django.template.loader import render_to_string

from siyu.channels import queries, services
from siyu.channels.models import AddFollowUp, CustomerChannel
from siyu.customers.models import Customer, Relation, RelationTag, TimelineEvent


def test_first_and_every_channel_are_kept(world, corp):
    alice, bob = corp.staff("alice"), corp.staff("bob")
    poster = services.create_channel_code(world.org, by=world.admin, name="门店海报", staff=[alice], folder_name="门店")
    live = services.create_channel_code(world.org, by=world.admin, name="直播间", staff=[bob], partner_name="柔云纸巾")
    external_userid = corp.scan(poster, name="王小姐")["external_userid"]
    corp.scan(live, external_userid=external_userid)  # the same person, later, through another channel
    someone_else = corp.scan(live, name="李先生")["external_userid"]

    customer = Customer.objects.for_org(world.org).get(external_userid=external_userid)
    links = queries.channels_of(customer)
    assert [(link.code.name, link.is_first, link.staff.userid) for link in links] == [("门店海报", True, "alice"), ("直播间", False, "bob")]
    assert queries.first_channel(customer) == poster
    from_live = queries.customers_from_channel(world.org, live)
    assert set(from_live.values_list("external_userid", flat=True)) == {external_userid, someone_else}
    assert list(queries.customers_from_channel(world.org, live, first_only=True).values_list("external_userid", flat=True)) == [someone_else]

    html = render_to_string("channels/_customer_sources.html", {"customer_sources": links})
    assert "门店海报" in html and "首个渠道" in html and "柔云纸巾" in html and "直播间" in html


def test_redelivered_events_record_the_source_once(world, corp):
    alice = corp.staff("alice")
    code = services.create_channel_code(world.org, by=world.admin, name="海报", staff=[alice])
    corp.sim.set_duplicate_deliveries(True)
    corp.scan(code)
    corp.sim.redeliver_all()
    corp.run()
    link = CustomerChannel.objects.for_org(world.org).get()
    assert link.adds == 1 and link.state == code.state


def test_a_customer_who_comes_back_counts_again_today(world, corp):
    alice = corp.staff("alice")
    code = services.create_channel_code(world.org, by=world.admin, name="海报", staff=[alice])
    external_userid = corp.scan(code)["external_userid"]
    corp.sim.customer_deletes_staff(external_userid, "alice")
    corp.run()
    corp.sim.advance(2)  # a later add (a redelivered event has the same CreateTime and is not counted)
    corp.scan(code, external_userid=external_userid)
    link = CustomerChannel.objects.for_org(world.org).get()
    assert link.adds == 2 and link.last_at >= link.first_at


def test_the_codes_tags_and_remark_go_on_the_relation(world, corp):
    alice = corp.staff("alice", "张晓")
    tea, afternoon = corp.tags("奶茶爱好者", "下午茶")
    code = services.create_channel_code(world.org, by=world.admin, name="南京路店", staff=[alice], tags=[tea, afternoon],
                                        remark_template="{channel}-{customer_nickname}")
    scan = corp.scan(code, name="王小姐")
    relation = Relation.objects.for_org(world.org).get(customer__external_userid=scan["external_userid"])
    links = RelationTag.objects.for_org(world.org).filter(relation=relation)
    assert {(link.tag.name, link.source, link.source_ref) for link in links} == {
        ("奶茶爱好者", "channel", f"channel:{code.pk}"), ("下午茶", "channel", f"channel:{code.pk}")}
    wecom = next(c for c in corp.sim.list_customers() if c["external_userid"] == scan["external_userid"])["relations"][0]
    assert set(wecom["tag_ids"]) == {tea.wecom_id, afternoon.wecom_id}
    assert relation.remark == "南京路店-王小姐" == wecom["remark"]
    assert TimelineEvent.objects.for_org(world.org).filter(customer=relation.customer, kind="remarked").exists()
    row = AddFollowUp.objects.for_org(world.org).get()
    assert sorted(row.tags_added) == ["下午茶", "奶茶爱好者"] and row.remark == "南京路店-王小姐"


def test_a_tag_deleted_after_the_code_was_made_is_skipped(world, corp):
    alice = corp.staff("alice")
    tea, afternoon = corp.tags("奶茶爱好者", "下午茶")
    code = services.create_channel_code(world.org, by=world.admin, name="海报", staff=[alice], tags=[tea, afternoon])
    corp.sim.admin_delete_tags(tag_ids=[tea.wecom_id])
    corp.run()
    scan = corp.scan(code)
    relation = Relation.objects.for_org(world.org).get(customer__external_userid=scan["external_userid"])
    assert list(RelationTag.objects.for_org(world.org).filter(relation=relation).values_list("tag__name", flat=True)) == ["下午茶"]


def test_adds_that_are_not_through_a_code_record_no_source(world, corp):
    corp.staff("alice")
    corp.sim.add_customer("alice")
    corp.run()
    assert not CustomerChannel.objects.for_org(world.org).exists()
    assert queries.code_for_state(world.org, "") is None and queries.code_for_state(world.org, "unknown") is None
