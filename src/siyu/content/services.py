"""Every change to an organization's sensitive words: add, remove, import a list. HQ only (``content.manage``)."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from siyu.content.compliance import normalize_term
from siyu.content.models import SensitiveWord, Severity
from siyu.orgs import audit
from siyu.orgs.models import Membership

MAX_WORD = SensitiveWord._meta.get_field("word").max_length
MAX_NOTE = SensitiveWord._meta.get_field("note").max_length
MAX_IMPORT_LINES = 2000

# What a person may type in the severity column of an import, besides the stored values.
SEVERITY_WORDS = {"拦截": Severity.BLOCK, "提示": Severity.FLAG, "block": Severity.BLOCK, "flag": Severity.FLAG}


def _require(by: Membership | None) -> None:
    if by is not None:
        by.require("content.manage")


def _actor(by: Membership | None):
    return by.user if by is not None else None


def _known(org) -> dict[str, str]:
    """The organization's words by their matching form: 'ＡＢＣ' and 'abc' are one word to the checker."""
    return {normalize_term(word): word for word in SensitiveWord.objects.for_org(org).values_list("word", flat=True)}


def _clean_word(word: str) -> str:
    word = (word or "").strip()
    if not any(char.isalnum() for char in normalize_term(word)):  # punctuation alone would flag every sentence
        raise ValidationError({"word": _("请输入敏感词（至少包含一个文字或数字）。")})
    if len(word) > MAX_WORD:
        raise ValidationError({"word": _("敏感词最多 %(max)d 个字。") % {"max": MAX_WORD}})
    return word


def _clean_choice(field: str, value: str, choices) -> str:
    if value not in choices.values:
        raise ValidationError({field: _("请选择有效的选项。")})
    return value


def add_word(org, *, word: str, category: str = SensitiveWord.Category.OTHER, severity: str = Severity.BLOCK,
             note: str = "", by: Membership | None) -> SensitiveWord:
    """Add one word to the organization's list; the checker uses it from the next check on."""
    _require(by)
    word = _clean_word(word)
    category = _clean_choice("category", category, SensitiveWord.Category)
    severity = _clean_choice("severity", severity, Severity)
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise ValidationError({"note": _("备注最多 %(max)d 个字。") % {"max": MAX_NOTE}})
    existing = _known(org).get(normalize_term(word))
    if existing is not None:
        raise ValidationError({"word": _("“%(word)s”已在敏感词列表中。") % {"word": existing}})
    try:
        with transaction.atomic():
            row = SensitiveWord.objects.create(org_id=getattr(org, "pk", org), word=word, category=category,
                                               severity=severity, note=note, created_by=_actor(by))
            audit.record("content.word_added", org=org, actor=_actor(by), obj=row,
                         details={"word": word, "category": category, "severity": severity})
    except IntegrityError:  # the same word saved by someone else a moment ago
        raise ValidationError({"word": _("“%(word)s”已在敏感词列表中。") % {"word": word}}) from None
    return row


@transaction.atomic
def remove_word(row: SensitiveWord, *, by: Membership | None) -> None:
    """Take a word off the list."""
    _require(by)
    audit.record("content.word_removed", org=row.org_id, actor=_actor(by), obj=row,
                 details={"word": row.word, "category": row.category, "severity": row.severity})
    SensitiveWord.objects.for_org(row.org_id).filter(pk=row.pk).delete()


@dataclass
class ImportResult:
    added: int
    skipped: int  # already on the list (or twice in the paste)


def import_words(org, *, lines: str, category: str, by: Membership | None) -> ImportResult:
    """Add many words at once, one per line: ``词语``, optionally followed by a severity (拦截/提示) and a note,
    separated by a comma or a tab. Words already listed are skipped. A line that cannot be read rejects the whole
    import with a report per line (``lines``: 第 3 行: …) and adds nothing."""
    _require(by)
    category = _clean_choice("category", category, SensitiveWord.Category)
    rows = (lines or "").splitlines()
    if len(rows) > MAX_IMPORT_LINES:
        raise ValidationError({"lines": _("一次最多导入 %(max)d 行。") % {"max": MAX_IMPORT_LINES}})
    known = _known(org)
    words: list[SensitiveWord] = []
    problems: list[str] = []
    skipped = 0
    for number, line in enumerate(rows, start=1):
        if not line.strip():
            continue
        cells = [cell.strip() for cell in line.replace("\t", ",").replace("，", ",").split(",", 2)]
        word, severity, note = (cells + ["", ""])[:3]
        severity = SEVERITY_WORDS.get(severity.lower(), None) if severity else Severity.BLOCK
        try:
            word = _clean_word(word)
        except ValidationError as error:
            problems += [_("第 %(n)d 行：%(reason)s") % {"n": number, "reason": m} for m in error.messages]
            continue
        if severity is None:
            problems.append(_("第 %(n)d 行：处理方式应为“拦截”或“提示”。") % {"n": number})
        elif len(note) > MAX_NOTE:
            problems.append(_("第 %(n)d 行：备注最多 %(max)d 个字。") % {"n": number, "max": MAX_NOTE})
        elif normalize_term(word) in known:
            skipped += 1
        else:
            known[normalize_term(word)] = word
            words.append(SensitiveWord(org_id=getattr(org, "pk", org), word=word, category=category,
                                       severity=severity, note=note, created_by=_actor(by)))
    if problems:
        raise ValidationError({"lines": problems})
    if not words and not skipped:
        raise ValidationError({"lines": _("请粘贴至少一个敏感词，每行一个。")})
    try:
        with transaction.atomic():
            SensitiveWord.objects.bulk_create(words)
            audit.record("content.words_imported", org=org, actor=_actor(by),
                         details={"added": len(words), "skipped": skipped, "category": category})
    except IntegrityError:  # a word saved by someone else while we read the list
        raise ValidationError({"lines": _("导入时列表被他人修改，请重试。")}) from None
    return ImportResult(added=len(words), skipped=skipped)
