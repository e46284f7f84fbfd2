"""Customer stages: the pipeline, moves with history, timeline and audit, the board and its visibility, the
automatic moves on new and lost friends, and the time-in-stage and conversion report."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from siyu.customers.models import TimelineEvent
from siyu.lifecycle import stages
from siyu.lifecycle.models import CustomerLifecycle, Stage, StageChange
from siyu.orgs.models import AuditEntry
from tests.factories import client_for


def names(org):
    return [s.name for s in stages.stages_of(org)]


def test_default_pipeline_is_created_once(world):
    assert names(world.org) == ["新客户", "意向客户", "已成交", "复购", "流失"]
    assert names(world.org) == ["新客户", "意向客户", "已成交", "复购", "流失"]
    assert Stage.objects.for_org(world.org).count() == 5
    assert stages.lost_stage(world.org).name == "流失" and stages.first_stage(world.org).name == "新客户"


def test_pipeline_edits_keep_the_lost_stage_last_and_refuse_bad_input(world):
    stage = stages.create_stage(world.org, name="到店体验", by=world.admin)
    assert names(world.org)[-2:] == ["到店体验", "流失"]
    for bad in ("", "新客户", "长" * 21):
        with pytest.raises(ValidationError) as error:
            stages.create_stage(world.org, name=bad)
        assert "name" in error.value.message_dict
    with pytest.raises(ValidationError):
        stages.create_stage(world.org, name="又一个流失", is_lost=True)
    stages.rename_stage(stage, name="体验", by=world.admin)
    stages.move_stage(stage, direction=-1, by=world.admin)
    assert names(world.org) == ["新客户", "意向客户", "已成交", "体验", "复购", "流失"]
    stages.delete_stage(stage, by=world.admin)
    assert "体验" not in names(world.org)
    assert AuditEntry.objects.for_org(world.org).filter(action__startswith="stage.").count() == 4


def test_moves_write_history_timeline_and_audit(world, corp, commit):
    alice = corp.staff("alice", world.e1, world.guide_e1)
    with commit():
        customer = corp.customer(alice)
    first, intent, won = stages.stages_of(world.org)[:3]
    assert stages.stage_of(customer) == first  # placed when they added alice
    change = stages.move_customer(customer, won, source="board", by=world.guide_e1, staff=alice)
    assert change.from_stage == first and change.to_stage == won and change.actor == world.guide_e1.user
    assert stages.move_customer(customer, won, source="board") is None
    event = TimelineEvent.objects.for_org(world.org).filter(customer=customer, kind="stage_changed").first()
    assert event.data["from_stage"] == "新客户" and event.data["to_stage"] == "已成交" and event.data["source"] == "board"
    entry = AuditEntry.objects.for_org(world.org).get(action="customer.stage_changed")
    assert entry.details == {"from": "新客户", "to": "已成交", "source": "board"}
    # Rules move forward only.
    assert stages.advance_customer(customer, intent, source="rule") is None
    assert stages.stage_of(customer) == won
    spans = list(StageChange.objects.for_org(world.org).filter(customer=customer).order_by("entered_at", "pk"))
    assert [s.to_stage.name for s in spans] == ["新客户", "已成交"] and spans[0].left_at == spans[1].entered_at


def test_stage_from_another_org_is_refused(world, corp, commit):
    alice = corp.staff("alice", world.e1)
    with commit():
        customer = corp.customer(alice)
    foreign = stages.stages_of(world.other_org)[1]
    with pytest.raises(ValidationError):
        stages.move_customer(customer, foreign, source="manual")


def test_losing_every_friend_moves_to_lost_and_returning_moves_back(world, corp, commit):
    alice, bob = corp.staff("alice", world.e1), corp.staff("bob", world.e2)
    with commit():
        customer = corp.customer(alice)
        corp.befriend(bob, customer)
    won = stages.stages_of(world.org)[2]
    stages.move_customer(customer, won, source="manual")
    with commit():
        corp.customer_deletes(customer, alice)
    assert stages.stage_of(customer) == won  # still bob's friend
    with commit():
        corp.staff_deletes(bob, customer)
    assert stages.stage_of(customer).is_lost
    with commit():
        corp.befriend(alice, customer)
    assert stages.stage_of(customer) == stages.first_stage(world.org)
    sources = list(StageChange.objects.for_org(world.org).filter(customer=customer).order_by("entered_at", "pk")
                   .values_list("source", flat=True))
    assert sources == ["added", "manual", "lost", "returned"]


# -- the board ---------------------------------------------------------------------------------------------
@pytest.fixture
def two_guides(world, corp, commit):
    e1 = corp.staff("alice", world.e1, world.guide_e1)
    s1 = corp.staff("sam", world.s1, world.guide_s1)
    with commit():
        mine = [corp.customer(e1, n) for n in ("王女士", "李先生")]
        theirs = corp.customer(s1, "赵女士")
    return mine, theirs


def test_a_guide_sees_and_moves_only_their_customers(world, two_guides):
    mine, theirs = two_guides
    guide = client_for(world.guide_e1)
    page = guide.get(reverse("lifecycle:board"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "王女士" in html and "李先生" in html and "赵女士" not in html
    won = stages.stages_of(world.org)[2]
    answer = guide.post(reverse("lifecycle:board_move"), {"customer": mine[0].pk, "stage": won.pk}, HTTP_HX_REQUEST="true")
    assert answer.status_code == 200 and f'data-customer="{mine[0].pk}"' in answer.content.decode()
    assert stages.stage_of(mine[0]) == won
    # Someone else's customer is not there for this guide: 404, and nothing moves.
    assert guide.post(reverse("lifecycle:board_move"), {"customer": theirs.pk, "stage": won.pk}, HTTP_HX_REQUEST="true").status_code == 404
    assert stages.stage_of(theirs) == stages.first_stage(world.org)
    # Another brand's stage, a missing stage, or garbage: 400 with the reason, never a 500.
    foreign = stages.stages_of(world.other_org)[2]
    for data in ({"customer": mine[1].pk, "stage": foreign.pk}, {"customer": mine[1].pk}, {"customer": "x", "stage": "y"}):
        answer = guide.post(reverse("lifecycle:board_move"), data, HTTP_HX_REQUEST="true")
        assert answer.status_code == 400 and answer.content
    # The card's own form (no JavaScript) redirects back to the board.
    answer = guide.post(reverse("lifecycle:board_move"), {"customer": mine[1].pk, "stage": won.pk})
    assert answer.status_code == 302 and stages.stage_of(mine[1]) == won
    board = guide.get(reverse("lifecycle:board")).context["columns"]
    assert [c.count for c in board] == [0, 0, 2, 0, 0]


def test_managers_and_hq_see_their_scope_and_other_brands_nothing(world, two_guides):
    mine, theirs = two_guides

    def counts(member):
        return sum(c.count for c in client_for(member).get(reverse("lifecycle:board")).context["columns"])

    assert counts(world.admin) == 3 and counts(world.east_manager) == 2 and counts(world.s1_manager) == 1
    assert counts(world.other_admin) == 0
    search = client_for(world.admin).get(reverse("lifecycle:board"), {"q": "王"}).context["columns"]
    assert sum(c.count for c in search) == 1


def test_profile_section_form_sets_stage_and_birthday(world, two_guides):
    mine, theirs = two_guides
    guide = client_for(world.guide_e1)
    intent = stages.stages_of(world.org)[1]
    url = reverse("lifecycle:customer_stage", args=[mine[0].pk])
    assert guide.post(url, {"stage": intent.pk, "birthday": "1990-05-20"}).status_code == 302
    row = CustomerLifecycle.objects.for_org(world.org).get(customer=mine[0])
    assert row.stage == intent and row.birthday.isoformat() == "1990-05-20"
    assert guide.post(reverse("lifecycle:customer_stage", args=[theirs.pk]), {"stage": intent.pk}).status_code == 404
    assert guide.post(url, {"stage": intent.pk, "birthday": "not a date"}).status_code == 302  # the error is a message
    row.refresh_from_db()
    assert row.birthday.isoformat() == "1990-05-20"


def test_settings_and_reports_need_their_capabilities(world):
    guide = client_for(world.guide_e1)
    for name in ("lifecycle:settings", "lifecycle:rules", "lifecycle:reports"):
        assert guide.get(reverse(name)).status_code == 403
    assert guide.get(reverse("lifecycle:board")).status_code == 200
    admin = client_for(world.admin)
    for name in ("lifecycle:settings", "lifecycle:rules", "lifecycle:reports", "lifecycle:todos", "lifecycle:alerts"):
        assert admin.get(reverse(name)).status_code == 200
    assert client_for(world.east_manager).get(reverse("lifecycle:reports")).status_code == 200
    answer = admin.post(reverse("lifecycle:settings"), {"form": "stage", "name": "新客户"})
    assert answer.status_code == 400 and "已有名为" in answer.content.decode()
    answer = admin.post(reverse("lifecycle:settings"), {"form": "policy", "repurchase_lead_days": 99,
                                                        "birthday_lead_days": 3, "no_contact_days": 30})
    assert answer.status_code == 400
    assert admin.get(reverse("lifecycle:reports"), {"since": "2026-02-01", "until": "2026-01-01"}).status_code == 400


def test_report_counts_time_in_stage_and_conversion(world, corp, commit):
    alice = corp.staff("alice", world.e1)
    with commit():
        customers = [corp.customer(alice) for _ in range(4)]
    first, intent, won = stages.stages_of(world.org)[:3]
    start = timezone.now() - timedelta(days=30)
    for i, customer in enumerate(customers):
        StageChange.objects.for_org(world.org).filter(customer=customer).update(entered_at=start)
        if i < 3:
            stages.move_customer(customer, intent, source="manual", at=start + timedelta(days=2))
        if i < 1:
            stages.move_customer(customer, won, source="manual", at=start + timedelta(days=6))
    rows = {f.stage.name: f for f in stages.report(world.admin)}
    assert (rows["新客户"].current, rows["意向客户"].current, rows["已成交"].current) == (1, 2, 1)
    assert rows["新客户"].entered == 4 and rows["新客户"].converted == 3 and rows["新客户"].conversion == 0.75
    assert rows["新客户"].avg_days == pytest.approx(2.0)
    assert rows["意向客户"].entered == 3 and rows["意向客户"].converted == 1
    assert rows["意向客户"].avg_days == pytest.approx(4.0)
    assert rows["流失"].next_stage is None and rows["流失"].conversion is None
    html = client_for(world.admin).get(reverse("lifecycle:reports")).content.decode()
    assert "75%" in html


def test_the_demo_loader_is_idempotent(world, corp):
    from siyu.cdp.models import Product
    from siyu.demo import load_lifecycle_demo
    from siyu.lifecycle.models import Rule

    corp.tags("关注优惠", group="购买意向")
    load_lifecycle_demo(world.org)
    load_lifecycle_demo(world.org)
    assert Product.objects.for_org(world.org).get(sku="AR-001").cycle_days == 90
    assert set(Rule.objects.for_org(world.org).values_list("name", flat=True)) == {"聊天提到优惠", "复购"}
    assert len(stages.stages_of(world.org)) == 5


def test_hq_filters_the_board_by_staff_and_by_store(world, two_guides):
    mine, theirs = two_guides
    hq = client_for(world.admin)
    everyone = hq.get(reverse("lifecycle:board")).content.decode()
    assert "王女士" in everyone and "赵女士" in everyone
    staff = mine[0].relations.get().staff
    by_staff = hq.get(reverse("lifecycle:board"), {"staff": staff.pk}).content.decode()
    assert "王女士" in by_staff and "赵女士" not in by_staff
    by_region = hq.get(reverse("lifecycle:board"), {"store": world.south.pk}).content.decode()
    assert "赵女士" in by_region and "王女士" not in by_region  # S1 is below the south region
    assert hq.get(reverse("lifecycle:board"), {"store": "junk"}).status_code == 400
    # A guide is offered only what they may see.
    form = client_for(world.guide_e1).get(reverse("lifecycle:board")).context["form"]
    assert list(form.fields["staff"].queryset) == [staff]


def test_each_column_pages_and_cards_show_tags_and_last_contact(world, corp, commit, monkeypatch):
    monkeypatch.setattr(stages, "BOARD_PAGE", 2)
    alice = corp.staff("alice", world.e1, world.guide_e1)
    with commit():
        customers = [corp.customer(alice, f"顾客{i}") for i in range(5)]
    vip, = corp.tags("VIP")
    from siyu.customers.tagging import tag_relation
    with corp.client() as client:
        tag_relation(customers[0].relations.get(), [vip], source="manual", client=client)
    guide = client_for(world.guide_e1)
    first = guide.get(reverse("lifecycle:board")).context["columns"][0]
    assert (first.count, first.pages, len(first.customers)) == (5, 3, 2)
    assert first.next_query and not first.prev_query
    last = guide.get(reverse("lifecycle:board") + "?" + first.next_query.replace("=2", "=3")).context["columns"][0]
    assert last.page == 3 and len(last.customers) == 1 and last.prev_query and not last.next_query
    seen = set()
    for page in (1, 2, 3):
        column = guide.get(reverse("lifecycle:board"), {f"p{first.stage.pk}": page}).context["columns"][0]
        seen |= {c.pk for c in column.customers}
    assert seen == {c.pk for c in customers}  # every card on exactly one of the pages
    html = "".join(guide.get(reverse("lifecycle:board"), {f"p{first.stage.pk}": p}).content.decode() for p in (1, 2, 3))
    assert '<span class="badge">VIP</span>' in html and "最近互动" in html
