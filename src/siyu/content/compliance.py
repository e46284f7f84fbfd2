"""The content checker: the one function every send path asks before a text leaves the brand.

``check(text, org=org)`` lists the spans of ``text`` that break the advertising law (absolute terms, medical
and financial claims), that the organization listed as its own sensitive words, or that carry personal data
(mainland mobile numbers, 18-digit ID numbers whose check digit is right). Each finding is a span of the text as
written: ``text[finding.start:finding.end] == finding.term`` (offsets count code points, as Python strings do).

Matching happens on a normalized copy (NFKC + case folding, so ``１３８`` is ``138`` and ``ＮＯ．１`` is ``no.1``;
spaces and invisible characters dropped for terms, so ``国 家 级`` is found) while each normalized character
remembers which characters of the original it came from; that is how offsets point into the original text.

Where findings overlap, a blocked one beats a flagged one and then the longest wins (全网最低价, not 最低价 + 最),
so each character is reported at most once.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import ahocorasick
from django.db.models import Count, Max
from django.utils.translation import gettext_lazy as _

from siyu.content.models import SensitiveWord, Severity

TERMS_DIR = Path(__file__).parent / "terms"

ADVERTISING_LAW = "advertising_law"
MEDICAL_CLAIM = "medical_claim"
FINANCIAL_CLAIM = "financial_claim"
SENSITIVE_WORD = "sensitive_word"
PHONE_NUMBER = "phone_number"
ID_NUMBER = "id_number"
# Rules of chats (the archive watch), not of content: a guide asking for what a guide must not ask for, and a
# customer complaining.
PRIVACY_ASK = "privacy_ask"
COMPLAINT = "complaint"

RULE_LABELS = {
    ADVERTISING_LAW: _("绝对化用语"), MEDICAL_CLAIM: _("医疗用语"), FINANCIAL_CLAIM: _("收益承诺"),
    SENSITIVE_WORD: _("企业敏感词"), PHONE_NUMBER: _("手机号"), ID_NUMBER: _("身份证号"),
    PRIVACY_ASK: _("索要隐私"), COMPLAINT: _("客户投诉"),
}
# Why each rule exists, shown beside a finding (the organization's own words show their note instead).
BASIS = {
    ADVERTISING_LAW: _("《广告法》第九条（三）"), MEDICAL_CLAIM: _("《广告法》第十七条"),
    FINANCIAL_CLAIM: _("《广告法》第二十五条"), SENSITIVE_WORD: _("企业敏感词"),
    PHONE_NUMBER: _("个人信息（《个人信息保护法》第四条）"), ID_NUMBER: _("个人信息（《个人信息保护法》第四条）"),
    PRIVACY_ASK: _("《个人信息保护法》第六条：收集个人信息应限于实现处理目的的最小范围"),
    COMPLAINT: _("客户表达投诉、维权意向"),
}
TERM_FILES = {ADVERTISING_LAW: "advertising_law.txt", MEDICAL_CLAIM: "medical.txt", FINANCIAL_CLAIM: "financial.txt"}
CHAT_TERM_FILES = {PRIVACY_ASK: "privacy_ask.txt", COMPLAINT: "complaints.txt"}
# What the archive watch looks for in a guide's messages, beyond the chat-only terms.
STAFF_CHAT_RULES = frozenset({SENSITIVE_WORD, FINANCIAL_CLAIM, ID_NUMBER})

_SEVERITY_RANK = {Severity.BLOCK: 0, Severity.FLAG: 1}
_RULE_RANK = {rule: n for n, rule in enumerate(RULE_LABELS)}


@dataclass(frozen=True)
class Finding:
    term: str
    start: int
    end: int
    rule: str
    severity: str
    basis: str = ""  # the article or the organization's note: the tooltip of a highlighted span

    @property
    def blocks(self) -> bool:
        return self.severity == Severity.BLOCK

    @property
    def rule_label(self) -> str:
        return str(RULE_LABELS[self.rule])

    def as_dict(self) -> dict:
        return {"term": self.term, "start": self.start, "end": self.end, "rule": self.rule, "severity": self.severity}


@dataclass(frozen=True)
class Stem:
    """A term too short to list alone: 最 and 第一 begin absolute claims (最美, 销量第一) and ordinary words alike
    (最近, 最后, 最新, 第一次, 第一步). An occurrence followed by one of ``harmless`` is ordinary text; any other is
    flagged for a person to judge rather than blocked, because the remaining cases still include plain speech
    (我最喜欢). The clear superlatives built on them (最佳, 最低价, 全国第一 …) are blocked from the term list."""

    stem: str
    harmless: tuple[str, ...]
    with_next: bool  # highlight the word it starts (最美), not the bare stem


AMBIGUOUS_STEMS = (
    # Time and order (最近, 最后, 最新, 最终 …) and plain limits (每人最多两张, 最少起订): not claims about the product.
    Stem("最", ("近", "后", "新", "终", "初", "早", "晚", "迟", "末", "多", "少", "小"), with_next=True),
    # Counting and sequence (第一次, 第一步, 第一天, 第一时间 = "at once").
    Stem("第一", ("次", "步", "天", "日", "周", "月", "年", "期", "批", "件", "单", "个", "位", "条", "章", "节", "页",
                  "轮", "站", "场", "份", "口", "眼", "杯", "排", "时间", "阶段", "部分"), with_next=False),
)

MAX_TEXT = 20_000  # characters: the longest text the API and the console check (a long article, not a book)

# A promised rate of return, either order: "保证年化收益 8%", "收益率 8% 保证". Sentence punctuation ends the reach.
_CLAUSE = r"[^。！？!?；;]"
PROMISED_RATE = re.compile(
    rf"(?:保证|确保|承诺|保底|固定)(?:{_CLAUSE}){{0,8}}?收益率?(?:{_CLAUSE}){{0,6}}?\d+(?:\.\d+)?%"
    rf"|(?:年化)?收益率?(?:{_CLAUSE}){{0,6}}?\d+(?:\.\d+)?%(?:{_CLAUSE}){{0,6}}?(?:保证|确保|承诺|保底)")
# Mainland mobile numbers (1 + 3..9 + 9 digits), written whole or in 3-4-4 groups, optionally after +86.
PHONE = re.compile(r"(?<![0-9])(?:\+?86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}(?![0-9])")
# 18-character resident ID numbers (GB 11643-1999); the check digit is verified before one counts.
ID_CANDIDATE = re.compile(r"(?<![0-9a-z])[1-9][0-9]{16}[0-9x](?![0-9a-z])")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_number_valid(number: str) -> bool:
    """The ISO 7064 MOD 11-2 check digit of an 18-character ID number is right."""
    number = number.upper()
    if len(number) != 18 or not number[:17].isascii() or not number[:17].isdigit():
        return False
    return _ID_CHECK[sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS)) % 11] == number[17]


# -- normalization with a map back to the original ---------------------------------------------------------
@dataclass(frozen=True)
class _Stream:
    text: str
    starts: list[int]  # for each normalized character, where its source begins in the original …
    ends: list[int]    # … and where it ends

    def original(self, start: int, end: int) -> tuple[int, int]:
        return self.starts[start], self.ends[end - 1]


def _dropped(char: str, drop_spaces: bool) -> bool:
    return unicodedata.category(char) == "Cf" or (drop_spaces and char.isspace())


def _stream(text: str, *, drop_spaces: bool) -> _Stream:
    """``text`` NFKC-normalized and case-folded, a base character and its combining marks at a time (so é written
    as e + U+0301 stays one unit), without invisible format characters (zero-width spaces hide words from naive
    matching) and, for term matching, without spaces."""
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i, n = 0, len(text)
    while i < n:
        j = i + 1
        while j < n and unicodedata.combining(text[j]):
            j += 1
        for char in unicodedata.normalize("NFKC", text[i:j]).casefold():
            if not _dropped(char, drop_spaces):
                out.append(char)
                starts.append(i)
                ends.append(j)
        i = j
    return _Stream("".join(out), starts, ends)


def normalize_term(term: str) -> str:
    """A listed term as the matcher sees it (the same folding as the text)."""
    return _stream(term, drop_spaces=True).text


# -- term sets --------------------------------------------------------------------------------------------
def _automaton(entries) -> ahocorasick.Automaton | None:
    """One automaton over ``(term, rule, severity, basis)``; the first entry of a term wins."""
    automaton = ahocorasick.Automaton()
    for term, rule, severity, basis in entries:
        key = normalize_term(term)
        if key and key not in automaton:
            automaton.add_word(key, (len(key), rule, severity, basis))
    if len(automaton) == 0:
        return None
    automaton.make_automaton()
    return automaton


def read_term_file(path: Path) -> list[tuple[str, str]]:
    """``(term, severity)`` from a term file: one per line, ``#`` comments, an optional tab and severity."""
    terms = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        term, _tab, severity = line.partition("\t")
        severity = severity.strip() or Severity.BLOCK
        if severity not in Severity.values:
            raise ValueError(f"{path.name}: unknown severity {severity!r} for {term!r}")
        terms.append((term.strip(), severity))
    return terms


@cache
def _law_automaton() -> ahocorasick.Automaton:
    return _automaton(
        (term, rule, severity, str(BASIS[rule]))
        for rule, name in TERM_FILES.items() for term, severity in read_term_file(TERMS_DIR / name)
    )


@cache
def _chat_automaton(rule: str) -> ahocorasick.Automaton:
    return _automaton((term, rule, severity, str(BASIS[rule])) for term, severity in read_term_file(TERMS_DIR / CHAT_TERM_FILES[rule]))


# The organization's words: one automaton per organization, rebuilt when its list changes. The key is the row
# count and the newest updated_at, read in one indexed query per check, so a word added or removed in any process
# is seen by every process at its next check.
_org_automata: dict[int, tuple[tuple, ahocorasick.Automaton | None]] = {}
_ORG_CACHE_SIZE = 512


def _org_automaton(org_id: int) -> ahocorasick.Automaton | None:
    words = SensitiveWord.objects.for_org(org_id)
    state = words.aggregate(n=Count("id"), latest=Max("updated_at"))
    key = (state["n"], state["latest"])
    cached = _org_automata.get(org_id)
    if cached is not None and cached[0] == key:
        return cached[1]
    labels = dict(SensitiveWord.Category.choices)
    automaton = _automaton(
        (word, SENSITIVE_WORD, severity, note or str(labels.get(category, "")))
        for word, severity, note, category in words.values_list("word", "severity", "note", "category")
    )
    if len(_org_automata) >= _ORG_CACHE_SIZE:
        _org_automata.pop(next(iter(_org_automata)))
    _org_automata[org_id] = (key, automaton)
    return automaton


# -- the check --------------------------------------------------------------------------------------------
def _term_spans(automaton, stream: _Stream):
    for last, (length, rule, severity, basis) in automaton.iter(stream.text):
        yield (*stream.original(last - length + 1, last + 1), rule, severity, basis)


def _stem_spans(stream: _Stream):
    text = stream.text
    basis = str(BASIS[ADVERTISING_LAW])
    for stem in AMBIGUOUS_STEMS:
        at = text.find(stem.stem)
        while at != -1:
            after = at + len(stem.stem)
            if not text.startswith(stem.harmless, after):
                end = after + 1 if stem.with_next and after < len(text) and _is_han(text[after]) else after
                yield (*stream.original(at, end), ADVERTISING_LAW, Severity.FLAG, basis)
            at = text.find(stem.stem, after)


def _is_han(char: str) -> bool:
    return unicodedata.name(char, "").startswith("CJK UNIFIED IDEOGRAPH")


def _pattern_spans(stream: _Stream):
    for match in PROMISED_RATE.finditer(stream.text):
        yield (*stream.original(*match.span()), FINANCIAL_CLAIM, Severity.BLOCK, str(BASIS[FINANCIAL_CLAIM]))


def _personal_spans(stream: _Stream):
    for match in PHONE.finditer(stream.text):
        yield (*stream.original(*match.span()), PHONE_NUMBER, Severity.FLAG, str(BASIS[PHONE_NUMBER]))
    for match in ID_CANDIDATE.finditer(stream.text):
        if id_number_valid(match.group()):
            yield (*stream.original(*match.span()), ID_NUMBER, Severity.FLAG, str(BASIS[ID_NUMBER]))


def _longest_first(spans) -> list[tuple]:
    """Non-overlapping spans, in text order. Blocks first, so a longer flagged span never hides a blocked one
    inside it; then the longest, then the leftmost, then the law before the organization's own list."""
    ranked = sorted(set(spans), key=lambda s: (_SEVERITY_RANK[s[3]], s[0] - s[1], s[0], _RULE_RANK[s[2]]))
    kept: list[tuple] = []
    taken: set[int] = set()
    for span in ranked:
        positions = range(span[0], span[1])
        if not taken.intersection(positions):
            kept.append(span)
            taken.update(positions)
    return sorted(kept)


def check(text: str, *, org=None) -> list[Finding]:
    """Every finding in ``text``, in text order, with ``org``'s own sensitive words when an organization is given.

    A finding with severity ``block`` must stop a send; ``flag`` asks a person to look before it goes.
    """
    if not text:
        return []
    terms = _stream(text, drop_spaces=True)
    spans = list(_term_spans(_law_automaton(), terms))
    if org is not None:
        words = _org_automaton(getattr(org, "pk", org))
        if words is not None:
            spans += _term_spans(words, terms)
    spans += _stem_spans(terms)
    spans += _pattern_spans(terms)
    spans += _personal_spans(_stream(text, drop_spaces=False))
    return [Finding(text[start:end], start, end, rule, str(severity), basis)
            for start, end, rule, severity, basis in _longest_first(spans)]


def check_chat(text: str, *, org, from_customer: bool) -> list[Finding]:
    """What the chat-archive watch flags in one archived message of ``org``.

    A customer's message: complaint terms (``terms/complaints.txt``). A guide's message: the organization's
    sensitive words, promised returns (《广告法》第二十五条, which the guide's own words must keep too), an ID number
    written out, and asking for an ID number, a bank card or a password (``terms/privacy_ask.txt``). Advertising
    absolute terms and phone numbers are not flagged in chats: guides say 最近 and give the store's number all day.
    """
    if not text:
        return []
    if from_customer:
        return [Finding(text[s:e], s, e, rule, str(severity), basis) for s, e, rule, severity, basis
                in _longest_first(_term_spans(_chat_automaton(COMPLAINT), _stream(text, drop_spaces=True)))]
    found = [f for f in check(text, org=org) if f.rule in STAFF_CHAT_RULES]
    asks = list(_term_spans(_chat_automaton(PRIVACY_ASK), _stream(text, drop_spaces=True)))
    taken = {n for f in found for n in range(f.start, f.end)}
    found += [Finding(text[s:e], s, e, rule, str(severity), basis) for s, e, rule, severity, basis in _longest_first(asks)
              if not taken.intersection(range(s, e))]
    return sorted(found, key=lambda f: f.start)
