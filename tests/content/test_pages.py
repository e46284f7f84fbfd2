"""Console pages: HQ keeps the sensitive-word list (add, import, delete, audited); anyone may paste a text into
the check page and see the findings highlighted, with the text escaped."""

from __future__ import annotations

import pytest

from siyu.content import services
from siyu.content.models import SensitiveWord
from siyu.orgs.audit_labels import action_label
from siyu.orgs.models import AuditEntry
from tests.factories import client_for

WORDS = "/content/words/"
CHECK = "/content/check/"


def words_of(org) -> list[tuple[str, str, str]]:
    return list(SensitiveWord.objects.for_org(org).order_by("word").values_list("word", "severity", "category"))


def test_hq_adds_imports_and_deletes_words_and_each_change_is_audited(world):
    client = client_for(world.admin)
    response = client.post(WORDS, {"op": "add", "word": "竞品甲", "category": "competitor", "severity": "block",
                                   "note": "竞品名称"})
    assert response.status_code == 302
    response = client.post(WORDS, {"op": "import", "category": "promise", "lines": "包退包换,提示\n竞品甲\n\n永不涨价,拦截,不能承诺"})
    assert response.status_code == 302
    assert words_of(world.org) == [("包退包换", "flag", "promise"), ("永不涨价", "block", "promise"),
                                   ("竞品甲", "block", "competitor")]
    page = client.get(WORDS).content.decode()
    assert "竞品甲" in page and "永不涨价" in page and "3 个敏感词" in page
    row = SensitiveWord.objects.for_org(world.org).get(word="竞品甲")
    assert client.post(f"/content/words/{row.pk}/remove/").status_code == 302
    assert [w for w, _s, _c in words_of(world.org)] == ["包退包换", "永不涨价"]
    entries = list(AuditEntry.objects.for_org(world.org).filter(action__startswith="content.").order_by("pk"))
    assert [e.action for e in entries] == ["content.word_added", "content.words_imported", "content.word_removed"]
    assert entries[1].details == {"added": 2, "skipped": 1, "category": "promise"}
    assert entries[0].actor == world.admin.user
    assert [action_label(e.action) for e in entries] == ["添加敏感词", "导入敏感词", "删除敏感词"]
    audit_page = client.get("/audit/").content.decode()
    assert "导入敏感词" in audit_page and "content.words_imported" not in audit_page


@pytest.mark.parametrize("data, field_error", [
    ({"op": "add", "word": "", "category": "other", "severity": "block"}, "请填写此项"),
    ({"op": "add", "word": "！？", "category": "other", "severity": "block"}, "至少包含一个文字或数字"),
    ({"op": "add", "word": "ａｃｍｅ", "category": "other", "severity": "block"}, "已在敏感词列表中"),
    ({"op": "add", "word": "新词", "category": "nope", "severity": "block"}, "不在可选范围内"),
    ({"op": "import", "category": "other", "lines": "好词\n坏词,立刻删除\n" + "长" * 51}, "第 2 行"),
])
def test_bad_input_is_a_form_error_and_changes_nothing(world, data, field_error):
    services.add_word(world.org, word="ACME", by=world.admin)
    before = words_of(world.org)
    response = client_for(world.admin).post(WORDS, data)
    assert response.status_code == 400
    assert field_error in response.content.decode()
    assert words_of(world.org) == before


def test_an_import_reports_every_bad_line_and_adds_none(world):
    response = client_for(world.admin).post(WORDS, {"op": "import", "category": "other",
                                                     "lines": "好词\n坏词,立刻删除\n" + "长" * 51})
    page = response.content.decode()
    assert "第 2 行：处理方式应为" in page and "第 3 行：敏感词最多 50 个字" in page
    assert not SensitiveWord.objects.for_org(world.org).exists()


def test_only_hq_keeps_the_list_and_only_its_own_brands(world):
    for member in (world.east_manager, world.guide_e1):
        assert client_for(member).get(WORDS).status_code == 403
        add = {"op": "add", "word": "x", "category": "other", "severity": "block"}
        assert client_for(member).post(WORDS, add).status_code == 403
    other = services.add_word(world.other_org, word="别家的词", by=world.other_admin)
    client = client_for(world.admin)
    assert "别家的词" not in client.get(WORDS).content.decode()
    assert client.post(f"/content/words/{other.pk}/remove/").status_code == 404
    assert SensitiveWord.objects.for_org(world.other_org).filter(pk=other.pk).exists()


def test_the_check_page_highlights_findings_and_escapes_the_rest(world):
    services.add_word(world.org, word="竞品甲", severity="flag", note="竞品名称", by=world.admin)
    client = client_for(world.guide_e1)
    assert client.get(CHECK).status_code == 200
    text = "<script>alert(1)</script>国家级，比竞品甲好\n最近上新"
    page = client.post(CHECK, {"text": text}).content.decode()
    assert ('<mark class="finding finding-block" title="《广告法》第九条（三）" data-rule="advertising_law">国家级</mark>'
            in page)
    assert '<mark class="finding finding-flag" title="竞品名称" data-rule="sensitive_word">竞品甲</mark>' in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert "不能发送" in page
    assert "最近" in page and ">最近<" not in page


def test_the_check_page_answers_htmx_with_the_result_only(world):
    client = client_for(world.guide_e1)
    response = client.post(CHECK, {"text": "顶级好茶"}, HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert response.status_code == 200 and "<html" not in page and 'id="content-check"' in page
    assert ">顶级</mark>" in page
    clean = client.post(CHECK, {"text": "最近上新"}, HTTP_HX_REQUEST="true").content.decode()
    assert "未发现问题" in clean and "<mark" not in clean


def test_the_check_page_refuses_empty_and_oversized_text(world):
    client = client_for(world.guide_e1)
    for text in ("", "好" * 20_001):
        response = client.post(CHECK, {"text": text})
        assert response.status_code == 400 and 'data-testid="check-result"' not in response.content.decode()
    htmx = client.post(CHECK, {"text": ""}, HTTP_HX_REQUEST="true").content.decode()
    assert 'role="alert"' in htmx and 'data-testid="check-result"' not in htmx
