"""Properties of the checker on arbitrary text: it never raises, every finding is a span of the text as written
and findings never overlap; a listed term planted anywhere is always found."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from siyu.content import compliance
from siyu.content.compliance import check

LAW_TERMS = sorted({term for name in compliance.TERM_FILES.values()
                    for term, _severity in compliance.read_term_file(compliance.TERMS_DIR / name)})
CJK_TERMS = [term for term in LAW_TERMS if not any(c.isascii() for c in term)]
# Text whose characters cannot be part of a Chinese term: letters, spaces and punctuation (no digits, which
# could make a promised-rate pattern or a phone number around the planted term).
NEIGHBOURS = st.text(alphabet=string.ascii_letters + " ,.!?-\n", max_size=40)
# Any text, with Chinese and full-width characters and combining marks drawn often enough to matter.
ANY_TEXT = st.text(alphabet=st.one_of(st.characters(), st.sampled_from("最第一国家级全网低价１３８００ＮＯ．\u0301\u200b ")),
                   max_size=200)


def assert_well_formed(text: str, findings) -> None:
    at = 0
    for finding in findings:
        assert 0 <= finding.start < finding.end <= len(text)
        assert text[finding.start:finding.end] == finding.term
        assert finding.start >= at, "findings overlap or are out of order"
        at = finding.end
        assert finding.severity in ("block", "flag") and finding.rule in compliance.RULE_LABELS


@settings(max_examples=400, deadline=None)
@given(ANY_TEXT)
def test_any_text_gives_well_formed_findings(text):
    assert_well_formed(text, check(text))


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT, st.sampled_from(LAW_TERMS), ANY_TEXT)
def test_a_planted_term_is_always_found_wherever_it_lands(before, term, after):
    text = before + term + after
    findings = check(text)
    assert_well_formed(text, findings)
    start, end = len(before), len(before) + len(term)
    # Whatever surrounds it, some finding covers part of the planted term (a longer or stronger one may win) …
    assert any(f.start < end and start < f.end for f in findings), (text, findings)


@settings(max_examples=300, deadline=None)
@given(NEIGHBOURS, st.sampled_from(CJK_TERMS), NEIGHBOURS)
def test_a_planted_term_among_other_words_is_found_whole(before, term, after):
    text = before + term + after
    start, end = len(before), len(before) + len(term)
    # … and among words that cannot join it, a finding covers exactly the planted term.
    assert [(f.start, f.end) for f in check(text)] == [(start, end)], text
