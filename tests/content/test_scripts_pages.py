"""Console pages of the script library, as each role: list with folders and search, the editor's field errors,
the review page with highlighted findings and the override, usage counts, and no peeking at another guide's
personal scripts."""

from __future__ import annotations

import pytest

from siyu.content import scripts
from siyu.content.models import Scope, Script
from siyu.orgs.models import AuditEntry
from tests.factories import client_for

LIBRARY = "/content/scripts/"
NEW = "/content/scripts/new/"
USAGE = "/content/scripts/usage/"


def hq_draft(world, title="新品", body="秋冬新品到店"):
    return scripts.save_script(world.org, folder=None, title=title, body=body, scope=Scope.HQ, by=world.admin)


@pytest.mark.parametrize("who", ["owner", "admin", "east_manager", "guide_e1"])
def test_the_pages_render_for_every_role(world, who):
    client = client_for(getattr(world, who))
    for url in (LIBRARY, NEW, USAGE, LIBRARY + "?q=hyy&status=approved"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "话术" in response.content.decode()


def test_a_guide_cannot_see_or_open_another_guides_personal_script(world):
    theirs = scripts.save_script(world.org, folder=None, title="别人的秘诀", body="您好", scope=Scope.PERSONAL,
                                 by=world.guide_e2)
    scripts.create_folder(world.org, name="别人的分组", scope=Scope.PERSONAL, by=world.guide_e2)
    client = client_for(world.guide_e1)
    page = client.get(LIBRARY).content.decode()
    assert "别人的秘诀" not in page and "别人的分组" not in page
    assert client.get(f"/content/scripts/{theirs.pk}/edit/").status_code == 404
    assert client.post(f"/content/scripts/{theirs.pk}/edit/", {"title": "改了", "body": "x"}).status_code == 404
    assert "别人的秘诀" in client_for(world.guide_e2).get(LIBRARY).content.decode()
    assert "别人的秘诀" not in client_for(world.admin).get(LIBRARY).content.decode()


def test_a_guide_writes_a_personal_script_and_finds_it_by_pinyin_initials(world):
    client = client_for(world.guide_e1)
    response = client.post(NEW, {"title": "欢迎语", "body": "{客户称呼}您好，我是{导购姓名}", "scope": "hq"})
    assert response.status_code == 400  # a guide may not write HQ scripts: the choice is not offered
    assert not Script.objects.for_org(world.org).exists()
    response = client.post(NEW, {"title": "欢迎语", "body": "{客户称呼}您好，我是{导购姓名}", "scope": "personal"})
    assert response.status_code == 302
    script = Script.objects.for_org(world.org).get()
    assert script.owner == world.guide_e1 and script.status == Script.Status.APPROVED
    assert "欢迎语" in client.get(LIBRARY + "?q=hyy").content.decode()
    assert "欢迎语" not in client.get(LIBRARY + "?q=xyz").content.decode()


def test_an_unknown_variable_is_a_form_error_and_nothing_is_saved(world):
    response = client_for(world.admin).post(NEW, {"title": "问候", "body": "{客户姓名}您好", "scope": "hq"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "不认识的变量：{客户姓名}" in page and "{客户称呼}" in page
    assert not Script.objects.for_org(world.org).exists()


def test_review_highlights_blocked_terms_and_approves_only_with_an_audited_override(world):
    script = hq_draft(world, body="全网最低价，欢迎选购")
    client = client_for(world.admin)
    assert client.post(f"/content/scripts/{script.pk}/submit/").status_code == 302
    review = f"/content/scripts/{script.pk}/review/"
    page = client.get(review).content.decode()
    assert '<mark class="finding finding-block"' in page and ">全网最低价</mark>" in page
    response = client.post(review, {"decision": "approve", "comment": "", "override_reason": ""})
    assert response.status_code == 400 and "放行理由" in response.content.decode()
    assert Script.objects.for_org(world.org).get(pk=script.pk).status == Script.Status.IN_REVIEW
    response = client.post(review, {"decision": "approve", "override_reason": "价格经法务确认"})
    assert response.status_code == 302
    assert Script.objects.for_org(world.org).get(pk=script.pk).status == Script.Status.APPROVED
    entry = AuditEntry.objects.for_org(world.org).get(action="content.script_overridden")
    assert entry.details["reason"] == "价格经法务确认"
    assert "放行含禁用词的话术" in client.get("/audit/").content.decode()


def test_reject_needs_a_comment_and_the_author_sees_it(world):
    script = hq_draft(world)
    scripts.submit_for_review(script, by=world.admin)
    client = client_for(world.admin)
    review = f"/content/scripts/{script.pk}/review/"
    response = client.post(review, {"decision": "reject", "comment": ""})
    assert response.status_code == 400 and "驳回时请写明原因" in response.content.decode()
    assert client.post(review, {"decision": "reject", "comment": "请写明到店日期"}).status_code == 302
    assert "请写明到店日期" in client.get(LIBRARY).content.decode()


def test_only_reviewers_review_and_guides_see_only_approved_hq_scripts(world):
    script = hq_draft(world, title="待审核的话术")
    scripts.submit_for_review(script, by=world.admin)
    for member in (world.east_manager, world.guide_e1):
        client = client_for(member)
        assert client.get(f"/content/scripts/{script.pk}/review/").status_code == 403
        assert client.post(f"/content/scripts/{script.pk}/submit/").status_code == 403
        assert "待审核的话术" not in client.get(LIBRARY).content.decode()
    scripts.approve_script(script, by=world.admin)
    assert "待审核的话术" in client_for(world.guide_e1).get(LIBRARY).content.decode()


def test_usage_page_counts_uses_per_guide(world):
    script = hq_draft(world, title="欢迎语")
    scripts.submit_for_review(script, by=world.admin)
    scripts.approve_script(script, by=world.admin)
    for member in (world.guide_e1, world.guide_e1, world.guide_s1):
        scripts.record_use(script, by=member)
    page = client_for(world.east_manager).get(USAGE).content.decode()
    assert "guide_e1" in page and "guide_s1" not in page
    page = client_for(world.admin).get(USAGE).content.decode()
    assert "guide_e1" in page and "guide_s1" in page


def test_folders_are_created_from_the_library_page_with_field_errors(world):
    client = client_for(world.guide_e1)
    response = client.post(LIBRARY, {"name": "", "scope": "personal", "parent": ""})
    assert response.status_code == 400 and "请填写此项" in response.content.decode()
    assert client.post(LIBRARY, {"name": "我的开场", "scope": "personal", "parent": ""}).status_code == 302
    assert "我的开场" in client.get(LIBRARY).content.decode()
    assert "我的开场" not in client_for(world.guide_e2).get(LIBRARY).content.decode()


def test_folder_counts_show_only_the_scripts_the_viewer_sees(world):
    folder = scripts.create_folder(world.org, name="开场问候", scope=Scope.HQ, by=world.admin)
    for title in ("草稿一", "草稿二"):
        scripts.save_script(world.org, folder=folder, title=title, body="您好", scope=Scope.HQ, by=world.admin)
    guide_page = client_for(world.guide_e1).get(LIBRARY).content.decode()
    admin_page = client_for(world.admin).get(LIBRARY).content.decode()
    count = '开场问候</span><span class="muted">{}</span>'
    assert count.format(0) in guide_page and count.format(2) in admin_page
