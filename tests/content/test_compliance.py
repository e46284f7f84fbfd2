"""The checker's findings: the right terms at the right offsets into the text as written, longest match first,
ordinary words left alone, full-width text, the organization's words, personal data with a valid check digit."""

from __future__ import annotations

import pytest

from siyu.content import compliance, services
from siyu.content.compliance import check, id_number_valid


def spans(text: str, org=None) -> list[tuple[str, int, int, str, str]]:
    return [(f.term, f.start, f.end, f.rule, f.severity) for f in check(text, org=org)]


def terms(text: str, org=None) -> list[str]:
    return [f.term for f in check(text, org=org)]


@pytest.mark.parametrize("text, expected", [
    ("国家级品质", [("国家级", 0, 3, "advertising_law", "block")]),
    ("本店全网最低价！", [("全网最低价", 2, 7, "advertising_law", "block")]),
    ("销量第一，最佳选择", [("销量第一", 0, 4, "advertising_law", "block"), ("最佳", 5, 7, "advertising_law", "block")]),
    ("顶级面料，极品好茶，独家配方", [("顶级", 0, 2, "advertising_law", "block"), ("极品", 5, 7, "advertising_law", "block"),
                              ("独家", 10, 12, "advertising_law", "block")]),
    ("药到病除，无副作用", [("药到病除", 0, 4, "medical_claim", "block"), ("无副作用", 5, 9, "medical_claim", "block")]),
    ("保本稳赚，零风险", [("保本", 0, 2, "financial_claim", "block"), ("稳赚", 2, 4, "financial_claim", "block"),
                    ("零风险", 5, 8, "financial_claim", "block")]),
    ("年化收益率 8% 保证到手", [("年化收益率 8% 保证", 0, 11, "financial_claim", "block")]),
    ("我们承诺收益达到12.5%", [("承诺收益达到12.5%", 2, 13, "financial_claim", "block")]),
])
def test_law_terms_are_found_at_their_offsets(text, expected):
    assert spans(text) == expected
    for term, start, end, _rule, _severity in expected:
        assert text[start:end] == term


def test_longest_match_wins_on_overlaps():
    # 全网最低价 contains 最低价 and the stem 最; one finding covers it, not three.
    assert terms("全网最低价") == ["全网最低价"]
    assert terms("最低价") == ["最低价"]
    assert terms("史上最低价") == ["史上最低价"]
    assert terms("最高级") == ["最高级"]


@pytest.mark.parametrize("text", [
    "最近上新了几款秋装", "最后一天优惠", "最新到货", "最终解释权归本店所有", "最初的味道", "每人最多领取两张",
    "第一次下单立减", "第一步：关注公众号", "第一时间通知您", "活动第一天",
])
def test_ordinary_words_built_on_zui_and_diyi_are_not_flagged(text):
    assert check(text) == []


def test_other_superlatives_on_zui_are_flagged_for_a_person_not_blocked():
    assert spans("最美的你") == [("最美", 0, 2, "advertising_law", "flag")]
    assert spans("年度第一名") == [("第一", 2, 4, "advertising_law", "flag")]
    # A clear superlative built on 最 is on the list and blocked.
    assert spans("最佳") == [("最佳", 0, 2, "advertising_law", "block")]


def test_full_width_and_spaced_text_is_matched_with_offsets_into_the_original():
    text = "电话：１３８００１３８０００，ＮＯ．１品牌，国 家 级"
    found = check(text)
    assert [(f.term, f.rule) for f in found] == [
        ("１３８００１３８０００", "phone_number"), ("ＮＯ．１", "advertising_law"), ("国 家 级", "advertising_law")]
    for finding in found:
        assert text[finding.start:finding.end] == finding.term
    # An invisible zero-width space inside a term does not hide it.
    assert terms("国\u200b家级") == ["国\u200b家级"]


def test_offsets_survive_characters_that_expand_or_combine_under_nfkc():
    # ㈱ becomes three characters and e + U+0301 composes to one: the offsets after them still point right.
    text = "㈱cafe\u0301 国家级"
    [finding] = check(text)
    assert (finding.start, finding.end) == (7, 10) and text[7:10] == "国家级"


def test_mobile_numbers_in_their_usual_shapes():
    assert terms("联系 13800138000 或 +86 139-1234-5678 或 186 1234 5678") == [
        "13800138000", "+86 139-1234-5678", "186 1234 5678"]
    # Not a mobile number: too long, wrong second digit, part of a longer number.
    assert check("订单号 138001380001，座机 12800138000，流水 9913800138000") == []


def test_id_numbers_count_only_with_a_valid_check_digit():
    valid = "11010519491231002X"
    assert id_number_valid(valid) and id_number_valid(valid.lower())
    assert not id_number_valid("110105194912310021")
    assert spans(f"身份证{valid}。") == [(valid, 3, 21, "id_number", "flag")]
    assert check("身份证110105194912310021。") == []
    # Full-width digits are the same number.
    wide = "１１０１０５１９４９１２３１００２Ｘ"
    assert spans(f"证件：{wide}") == [(wide, 3, 21, "id_number", "flag")]


def test_empty_text_has_no_findings():
    assert check("") == [] and check("   ") == []


def test_the_term_files_cite_their_article_and_parse():
    for rule, name in compliance.TERM_FILES.items():
        path = compliance.TERMS_DIR / name
        header = path.read_text(encoding="utf-8")[:600]
        assert "《中华人民共和国广告法》第" in header
        assert compliance.read_term_file(path)
    assert "第九条" in (compliance.TERMS_DIR / "advertising_law.txt").read_text(encoding="utf-8")


@pytest.mark.django_db
def test_the_organizations_words_flag_for_that_organization_only(world):
    services.add_word(world.org, word="竞品甲", severity="block", note="竞品名称", by=world.admin)
    services.add_word(world.org, word="ACME", severity="flag", by=world.admin)
    text = "比竞品甲更好，比 ａｃｍｅ 便宜"
    assert spans(text, world.org) == [("竞品甲", 1, 4, "sensitive_word", "block"),
                                      ("ａｃｍｅ", 9, 13, "sensitive_word", "flag")]
    assert check(text, org=world.org)[0].basis == "竞品名称"
    assert check(text, org=world.other_org) == []
    assert check(text) == []


@pytest.mark.django_db
def test_a_changed_list_is_seen_at_the_next_check(world):
    assert check("竞品甲", org=world.org) == []  # builds and caches the (empty) list
    row = services.add_word(world.org, word="竞品甲", by=world.admin)
    assert terms("竞品甲", world.org) == ["竞品甲"]
    services.remove_word(row, by=world.admin)
    assert check("竞品甲", org=world.org) == []
    services.import_words(world.org, lines="竞品乙\n竞品丙,提示", category="competitor", by=world.admin)
    assert spans("竞品乙竞品丙", world.org) == [("竞品乙", 0, 3, "sensitive_word", "block"),
                                             ("竞品丙", 3, 6, "sensitive_word", "flag")]


@pytest.mark.django_db
def test_overlapping_law_and_organization_terms_are_reported_once(world):
    services.add_word(world.org, word="国家级", severity="flag", by=world.admin)
    assert spans("国家级", world.org) == [("国家级", 0, 3, "advertising_law", "block")]
    # A longer flagged word never hides a blocked term inside it; a longer blocked one wins.
    services.add_word(world.org, word="国家级认证", severity="flag", by=world.admin)
    assert spans("国家级认证", world.org) == [("国家级", 0, 3, "advertising_law", "block")]
    services.add_word(world.org, word="国家级专利", severity="block", by=world.admin)
    assert spans("国家级专利", world.org) == [("国家级专利", 0, 5, "sensitive_word", "block")]
