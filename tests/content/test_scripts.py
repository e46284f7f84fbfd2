"""The script library's services and reads: pinyin search, who sees which script, review with the checker and
its audited override, usage counts per guide, variables."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from siyu.content import scripts, variables
from siyu.content.models import Scope, Script, ScriptUse
from siyu.content.services import add_word
from siyu.core.events import DomainEvent
from siyu.customers.models import Customer, Relation
from siyu.orgs.models import AuditEntry, Staff


def hq_script(world, title, body, *, folder=None, approve=True):
    script = scripts.save_script(world.org, folder=folder, title=title, body=body, scope=Scope.HQ, by=world.admin)
    if approve:
        scripts.submit_for_review(script, by=world.admin)
        scripts.approve_script(script, by=world.admin)
    return script


def personal(world, member, title, body="好的，我帮您查一下。"):
    return scripts.save_script(world.org, folder=None, title=title, body=body, scope=Scope.PERSONAL, by=member)


def titles(queryset) -> set[str]:
    return set(queryset.values_list("title", flat=True))


def test_search_finds_chinese_substrings_pinyin_initials_and_full_pinyin(world):
    hq_script(world, "欢迎语", "您好，欢迎光临本店！")
    hq_script(world, "售后回访", "请问您对上次购买的大衣满意吗？")
    hq_script(world, "VIP生日祝福", "祝您生日快乐")
    rows = scripts.library(world.guide_e1)
    assert titles(scripts.search(rows, "欢迎")) == {"欢迎语"}
    assert titles(scripts.search(rows, "大衣")) == {"售后回访"}  # the body counts too
    assert titles(scripts.search(rows, "hyy")) == {"欢迎语"}
    assert titles(scripts.search(rows, "HYY")) == {"欢迎语"}
    assert titles(scripts.search(rows, "shhf")) == {"售后回访"}
    assert titles(scripts.search(rows, "huanying")) == {"欢迎语"}
    assert titles(scripts.search(rows, "vipsr")) == {"VIP生日祝福"}
    assert titles(scripts.search(rows, "xyz")) == set()
    assert titles(scripts.search(rows, "")) == {"欢迎语", "售后回访", "VIP生日祝福"}


def test_changing_a_script_rewrites_its_search_text(world):
    script = hq_script(world, "欢迎语", "您好")
    scripts.save_script(world.org, script=script, folder=None, title="节日问候", body="节日快乐", scope=Scope.HQ,
                        by=world.admin)
    rows = scripts.library(world.admin)
    assert titles(scripts.search(rows, "hyy")) == set()
    assert titles(scripts.search(rows, "jrwh")) == {"节日问候"}


def test_a_guide_sees_approved_hq_scripts_and_their_own_never_another_guides(world):
    hq_script(world, "已通过", "您好")
    hq_script(world, "草稿", "您好", approve=False)
    personal(world, world.guide_e1, "我的开场白")
    personal(world, world.guide_e2, "别人的开场白")
    assert titles(scripts.library(world.guide_e1)) == {"已通过", "我的开场白"}
    assert titles(Script.objects.visible_to(world.guide_e1)) == {"已通过", "我的开场白"}
    assert titles(Script.objects.visible_to(world.east_manager)) == {"已通过"}
    assert titles(scripts.usable_by(world.guide_e1)) == {"已通过", "我的开场白"}
    assert titles(scripts.library(world.east_manager)) == {"已通过"}
    # HQ keeps the shared library in every state, yet a guide's personal scripts stay theirs
    assert titles(scripts.library(world.admin)) == {"已通过", "草稿"}
    assert titles(scripts.usable_by(world.admin)) == {"已通过"}
    assert titles(scripts.library(world.other_admin)) == set()


def test_personal_scripts_need_no_review_and_guides_cannot_write_hq_scripts(world):
    mine = personal(world, world.guide_e1, "我的开场白")
    assert mine.status == Script.Status.APPROVED and mine.owner == world.guide_e1
    with pytest.raises(PermissionDenied):
        scripts.save_script(world.org, folder=None, title="冒充总部", body="您好", scope=Scope.HQ, by=world.guide_e1)
    with pytest.raises(PermissionDenied):
        scripts.save_script(world.org, script=mine, folder=None, title="改别人的", body="您好", scope=Scope.PERSONAL,
                            by=world.guide_e2)
    assert Script.objects.for_org(world.org).get(pk=mine.pk).title == "我的开场白"


def test_a_blocked_term_prevents_approval_without_an_override(world):
    script = hq_script(world, "新品", "全网最低价，国家级品质", approve=False)
    findings = scripts.submit_for_review(script, by=world.admin)
    assert {f.term for f in findings if f.blocks} == {"全网最低价", "国家级"}
    with pytest.raises(ValidationError) as error:
        scripts.approve_script(script, by=world.admin)
    assert "override_reason" in error.value.message_dict
    assert Script.objects.for_org(world.org).get(pk=script.pk).status == Script.Status.IN_REVIEW
    assert not AuditEntry.objects.for_org(world.org).filter(action="content.script_approved").exists()


def test_an_override_approves_and_is_audited_with_the_terms_and_reason(world):
    script = hq_script(world, "新品", "国家级品质", approve=False)
    scripts.submit_for_review(script, by=world.admin)
    scripts.approve_script(script, override_reason="已取得国家级认证，证书编号见附件", by=world.admin)
    stored = Script.objects.for_org(world.org).get(pk=script.pk)
    assert stored.status == Script.Status.APPROVED and stored.reviewed_by == world.admin.user
    entry = AuditEntry.objects.for_org(world.org).get(action="content.script_overridden")
    assert entry.actor == world.admin.user
    assert entry.details["terms"] == "国家级" and entry.details["reason"] == "已取得国家级认证，证书编号见附件"
    assert titles(scripts.usable_by(world.guide_e1)) == {"新品"}
    event = DomainEvent.objects.for_org(world.org).get(kind="script.approved")
    assert event.payload == {"overridden": True}


def test_an_organizations_own_blocked_word_also_stops_approval(world):
    add_word(world.org, word="竞品甲", by=world.admin)
    script = hq_script(world, "对比", "比竞品甲更好", approve=False)
    scripts.submit_for_review(script, by=world.admin)
    with pytest.raises(ValidationError):
        scripts.approve_script(script, by=world.admin)


def test_rejection_needs_a_comment_and_a_rejected_script_can_be_resubmitted(world):
    script = hq_script(world, "新品", "秋冬新品到店", approve=False)
    scripts.submit_for_review(script, by=world.admin)
    with pytest.raises(ValidationError) as error:
        scripts.reject_script(script, comment=" ", by=world.admin)
    assert "comment" in error.value.message_dict
    scripts.reject_script(script, comment="请写明到店日期", by=world.admin)
    assert titles(scripts.usable_by(world.guide_e1)) == set()
    scripts.submit_for_review(script, by=world.admin)
    assert Script.objects.for_org(world.org).get(pk=script.pk).status == Script.Status.IN_REVIEW
    with pytest.raises(PermissionDenied):
        scripts.approve_script(script, by=world.guide_e1)


def test_usage_is_counted_per_script_and_per_guide_as_each_viewer_may_see(world):
    welcome = hq_script(world, "欢迎语", "您好")
    thanks = hq_script(world, "致谢", "谢谢")
    mine = personal(world, world.guide_e1, "我的开场白")
    for script, member in [(welcome, world.guide_e1), (welcome, world.guide_e1), (thanks, world.guide_e1),
                           (mine, world.guide_e1), (welcome, world.guide_e2), (welcome, world.guide_s1)]:
        scripts.record_use(script, by=member)
    by_member = {row["membership_id"]: (row["uses"], row["scripts"])
                 for row in scripts.use_counts_by_member(world.admin)}
    assert by_member == {world.guide_e1.pk: (4, 3), world.guide_e2.pk: (1, 1), world.guide_s1.pk: (1, 1)}
    east = {row["membership_id"] for row in scripts.use_counts_by_member(world.east_manager)}
    assert east == {world.guide_e1.pk, world.guide_e2.pk}
    assert [(r["membership_id"], r["uses"]) for r in scripts.use_counts_by_member(world.guide_e2)] == [
        (world.guide_e2.pk, 1)]
    by_script = {row["script__title"]: row["uses"] for row in scripts.use_counts_by_script(world.admin)}
    assert by_script == {"欢迎语": 4, "致谢": 1}  # a guide's personal script is not HQ's to count
    by_script = {row["script__title"]: row["uses"] for row in scripts.use_counts_by_script(world.east_manager)}
    assert by_script == {"欢迎语": 3, "致谢": 1}
    used = DomainEvent.objects.for_org(world.org).filter(kind="script.used")
    assert sorted(e.payload["membership_id"] for e in used) == sorted(
        [world.guide_e1.pk] * 4 + [world.guide_e2.pk, world.guide_s1.pk])


def test_only_a_usable_script_can_be_recorded(world):
    draft = hq_script(world, "草稿", "您好", approve=False)
    other = personal(world, world.guide_e2, "别人的")
    for script in (draft, other):
        with pytest.raises(PermissionDenied):
            scripts.record_use(script, by=world.guide_e1)
    assert not ScriptUse.objects.for_org(world.org).exists()


def test_variables_are_filled_for_the_customer_and_the_guide(world):
    staff = Staff.objects.create(org=world.org, userid="li", name="李娜", store=world.e1, membership=world.guide_e1)
    customer = Customer.objects.create(org=world.org, external_userid="wm1", name="小王")
    text = "{客户称呼}您好，我是{门店}的{导购姓名}，{客户称呼}有空来店里看看。"
    assert variables.render(text, customer=customer, guide=world.guide_e1) == \
        "小王您好，我是E1的李娜，小王有空来店里看看。".replace("E1", world.e1.name)
    Relation.objects.create(org=world.org, customer=customer, staff=staff, remark="王女士")
    assert variables.render("{客户称呼}好", customer=customer, guide=world.guide_e1) == "王女士好"


@pytest.mark.parametrize("body, unknown", [
    ("{客户姓名}您好", ["客户姓名"]),
    ("{门店}{生日}{生日}{会员等级}", ["生日", "会员等级"]),
])
def test_unknown_variables_are_a_field_error_and_nothing_is_saved(world, body, unknown):
    assert variables.unknown_variables(body) == unknown
    with pytest.raises(ValidationError) as error:
        scripts.save_script(world.org, folder=None, title="问候", body=body, scope=Scope.HQ, by=world.admin)
    assert all("{%s}" % name in error.value.message_dict["body"][0] for name in unknown)
    assert not Script.objects.for_org(world.org).exists()


def test_a_folder_keeps_its_scope_and_owner(world):
    shared = scripts.create_folder(world.org, name="开场", scope=Scope.HQ, by=world.admin)
    mine = scripts.create_folder(world.org, name="我的", scope=Scope.PERSONAL, by=world.guide_e1)
    scripts.create_folder(world.org, name="别人的", scope=Scope.PERSONAL, by=world.guide_e2)
    assert set(scripts.folders(world.guide_e1).values_list("name", flat=True)) == {"开场", "我的"}
    with pytest.raises(ValidationError):
        scripts.create_folder(world.org, name="子分组", scope=Scope.PERSONAL, parent=shared, by=world.guide_e1)
    with pytest.raises(ValidationError):
        scripts.save_script(world.org, folder=shared, title="x", body="y", scope=Scope.PERSONAL, by=world.guide_e1)
    with pytest.raises(ValidationError):
        scripts.save_script(world.org, folder=mine, title="x", body="y", scope=Scope.PERSONAL, by=world.guide_e2)
