"""The English catalog: complete, not fuzzy, placeholders intact, the committed .mo built from the committed .po.

Source strings are Chinese (zh-hans is the default language); English is the translation. Both django.po and
django.mo are committed because a fresh machine may have no GNU gettext, so these tests use the standard
library only: a small .po reader and a small msgfmt. ``scripts/messages.sh`` refreshes both files.
"""

from __future__ import annotations

import ast
import gettext
import io
import re
import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import translation

import siyu

SIYU_DIR = Path(siyu.__file__).resolve().parent
LC_MESSAGES = SIYU_DIR / "locale" / "en" / "LC_MESSAGES"
PO = LC_MESSAGES / "django.po"
MO = LC_MESSAGES / "django.mo"
FIX = "run scripts/messages.sh, translate what it reports, and commit django.po and django.mo"


# -- a small .po reader ---------------------------------------------------------------------------------------
@dataclass
class Entry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    line: int = 0

    @property
    def key(self) -> tuple[str | None, str, str | None]:
        return (self.msgctxt, self.msgid, self.msgid_plural)

    def __str__(self) -> str:
        ctx = f"[{self.msgctxt}] " if self.msgctxt else ""
        return f"django.po:{self.line} {ctx}{self.msgid!r}"


_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr)(?:\[(\d+)\])?\s+(".*")\s*$')


def _unquote(literal: str, where: int) -> str:
    if not (literal.startswith('"') and literal.endswith('"')):
        raise ValueError(f"django.po:{where}: expected a quoted string, got {literal!r}")
    return ast.literal_eval(literal)  # PO escapes (\n \t \" \\) are a subset of Python's


def parse_po(text: str) -> tuple[list[Entry], list[int]]:
    """Entries (the header is the one with msgid ""), and the line numbers of obsolete (#~) entries."""
    entries: list[Entry] = []
    obsolete: list[int] = []
    entry: Entry | None = None
    flags: set[str] = set()
    target: tuple[str, int] | None = None  # which string a continuation line extends
    seen_msgstr = False

    def finish():
        nonlocal entry, seen_msgstr, target
        if entry is not None:
            entries.append(entry)
        entry, seen_msgstr, target = None, False, None

    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            finish()
            flags = set()
            continue
        if line.startswith("#~"):
            obsolete.append(number)
            continue
        if line.startswith("#"):
            if seen_msgstr:  # comments start the next entry
                finish()
            if line.startswith("#,"):
                flags |= {f.strip() for f in line[2:].split(",") if f.strip()}
            continue
        match = _KEYWORD.match(line)
        if match:
            keyword, index, literal = match.groups()
            value = _unquote(literal, number)
            if keyword in ("msgctxt", "msgid") and seen_msgstr:
                finish()
            if entry is None:
                entry, flags = Entry(flags=flags, line=number), set()
            if keyword == "msgstr":
                seen_msgstr = True
                slot = int(index) if index is not None else 0
                entry.msgstr[slot] = value
                target = ("msgstr", slot)
            else:
                setattr(entry, keyword, value)
                target = (keyword, 0)
            continue
        if line.startswith('"') and entry is not None and target is not None:
            value = _unquote(line, number)
            name, slot = target
            if name == "msgstr":
                entry.msgstr[slot] += value
            else:
                setattr(entry, name, getattr(entry, name) + value)
            continue
        raise ValueError(f"django.po:{number}: cannot parse {raw!r}")
    finish()
    return entries, obsolete


# -- a small msgfmt -------------------------------------------------------------------------------------------
def _without_creation_date(header: str) -> str:
    # GNU msgfmt (0.22 on) leaves POT-Creation-Date out of the .mo; older ones keep it. It says nothing anyway.
    return "".join(line for line in header.splitlines(keepends=True) if not line.startswith("POT-Creation-Date:"))


def catalog_of(mo: io.BufferedIOBase) -> dict:
    """msgid → msgstr as Python's gettext reads them from a .mo (plural forms keyed by (msgid, n))."""
    catalog = dict(gettext.GNUTranslations(mo)._catalog)
    if "" in catalog:
        catalog[""] = _without_creation_date(catalog[""])
    return catalog


def compile_mo(entries: list[Entry]) -> bytes:
    """GNU .mo bytes for ``entries``, as msgfmt writes them: fuzzy and untranslated entries are left out."""
    catalog: dict[bytes, bytes] = {}
    for entry in entries:
        is_header = entry.msgid == "" and entry.msgctxt is None
        if not is_header and ("fuzzy" in entry.flags or not any(entry.msgstr.values())):
            continue
        key = entry.msgid if entry.msgid_plural is None else f"{entry.msgid}\0{entry.msgid_plural}"
        if entry.msgctxt is not None:
            key = f"{entry.msgctxt}\x04{key}"
        value = "\0".join(entry.msgstr[i] for i in sorted(entry.msgstr))
        if is_header:
            value = _without_creation_date(value)
        catalog[key.encode()] = value.encode()
    keys = sorted(catalog)
    ids = strs = b""
    offsets = []
    for key in keys:
        offsets.append((len(ids), len(key), len(strs), len(catalog[key])))
        ids += key + b"\0"
        strs += catalog[key] + b"\0"
    n = len(keys)
    keystart = 7 * 4 + 16 * n
    valuestart = keystart + len(ids)
    koffsets, voffsets = [], []
    for id_offset, id_length, str_offset, str_length in offsets:
        koffsets += [id_length, id_offset + keystart]
        voffsets += [str_length, str_offset + valuestart]
    header = struct.pack("Iiiiiii", 0x950412DE, 0, n, 7 * 4, 7 * 4 + n * 8, 0, 0)
    return header + struct.pack(f"{len(koffsets)}i", *koffsets) + struct.pack(f"{len(voffsets)}i", *voffsets) + ids + strs


# -- placeholders ---------------------------------------------------------------------------------------------
_PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]|%[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]|\{\{?\s*[\w.]*\s*\}?\}")


def placeholders(text: str) -> list[str]:
    return sorted(p for p in _PLACEHOLDER.findall(text) if p != "%%")


_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
# Entries whose English is meant to keep Chinese: the language switch names each language in itself.
KEEP_CHINESE = {"简体中文"}


@pytest.fixture(scope="module")
def po():
    entries, obsolete = parse_po(PO.read_text(encoding="utf-8"))
    header = [e for e in entries if e.msgid == "" and e.msgctxt is None]
    assert len(header) == 1, "django.po needs exactly one header entry"
    return {"entries": [e for e in entries if e is not header[0]], "header": header[0], "obsolete": obsolete, "all": entries}


# -- the catalog ----------------------------------------------------------------------------------------------
def test_parser_reads_the_tricky_bits():
    text = '''msgid ""
msgstr "Content-Type: text/plain; charset=UTF-8\\n"

# translator comment
#, fuzzy, python-format
#| msgid "旧 %(n)s"
msgctxt "ctx"
msgid "新 "
"%(n)s 个"
msgstr "new \\"%(n)s\\""

msgid "共 %(total)s 条"
msgid_plural "共 %(total)s 条"
msgstr[0] "%(total)s item"
msgstr[1] "%(total)s items"

#~ msgid "gone"
#~ msgstr "gone"
'''
    entries, obsolete = parse_po(text)
    assert [e.msgid for e in entries] == ["", "新 %(n)s 个", "共 %(total)s 条"]
    assert entries[1].msgctxt == "ctx" and entries[1].msgstr == {0: 'new "%(n)s"'}
    assert entries[1].flags == {"fuzzy", "python-format"}
    assert entries[2].msgid_plural == "共 %(total)s 条" and entries[2].msgstr == {0: "%(total)s item", 1: "%(total)s items"}
    assert entries[2].flags == set()
    assert obsolete == [17, 18]
    translations = gettext.GNUTranslations(io.BytesIO(compile_mo(entries)))
    assert translations.ngettext("共 %(total)s 条", "共 %(total)s 条", 2) == "%(total)s items"
    assert translations.pgettext("ctx", "新 %(n)s 个") == "新 %(n)s 个"  # fuzzy: left out, as msgfmt does


def test_catalog_is_not_empty(po):
    assert len(po["entries"]) > 100
    ids = {e.msgid for e in po["entries"]}
    assert {"数据总览", "成员", "审计日志", "后台任务", "退出登录", "用户名或密码错误，或尝试次数过多，请稍后再试。"} <= ids


def test_header_declares_utf8_and_english(po):
    header = po["header"].msgstr[0]
    assert "charset=UTF-8" in header
    assert "Language: en\n" in header
    assert "Plural-Forms: nplurals=2; plural=(n != 1);" in header
    assert "fuzzy" not in po["header"].flags


def test_every_entry_is_translated(po):
    untranslated = [str(e) for e in po["entries"] if not all(s.strip() for s in e.msgstr.values())]
    assert not untranslated, f"untranslated entries ({FIX}):\n" + "\n".join(untranslated)
    plural_forms = [str(e) for e in po["entries"] if e.msgid_plural is not None and sorted(e.msgstr) != [0, 1]]
    assert not plural_forms, "plural entries need msgstr[0] and msgstr[1]:\n" + "\n".join(plural_forms)


def test_no_entry_is_fuzzy(po):
    fuzzy = [str(e) for e in po["all"] if "fuzzy" in e.flags]
    assert not fuzzy, f"fuzzy entries: check the translation and remove the fuzzy flag ({FIX}):\n" + "\n".join(fuzzy)


def test_no_obsolete_entries(po):
    assert not po["obsolete"], f"obsolete (#~) entries at lines {po['obsolete']} of django.po: {FIX}"


def test_placeholders_match(po):
    wrong = []
    for entry in po["entries"]:
        for index, text in entry.msgstr.items():
            source = entry.msgid_plural if index and entry.msgid_plural else entry.msgid
            if placeholders(text) != placeholders(source):
                wrong.append(f"{entry} msgstr[{index}]: {placeholders(source)} vs {placeholders(text)}")
    assert not wrong, "placeholders differ between msgid and msgstr:\n" + "\n".join(wrong)


def test_python_format_flag_matches_the_text(po):
    # makemessages flags strings with %(name)s as python-format; msgfmt --check then checks them too.
    missing = [str(e) for e in po["entries"] if re.search(r"%\(\w+\)", e.msgid) and "python-format" not in e.flags]
    assert not missing, "\n".join(missing)


def test_translations_are_english(po):
    chinese = [
        f"{e} -> {s!r}" for e in po["entries"] for s in e.msgstr.values() if _CJK.search(s) and e.msgid not in KEEP_CHINESE
    ]
    assert not chinese, "msgstr still holds Chinese:\n" + "\n".join(chinese)


def test_placeholder_pattern():
    assert placeholders("共 %(total)s 条 · 第 %(number)s/%(pages)s 页") == ["%(number)s", "%(pages)s", "%(total)s"]
    assert placeholders("100%% %s {name} {{ x }}") == ["%s", "{name}", "{{ x }}"]


# -- the committed .mo ----------------------------------------------------------------------------------------
def test_committed_mo_matches_the_po(po):
    assert MO.exists(), f"{MO} is missing: {FIX}"
    with MO.open("rb") as committed:
        mo_catalog = catalog_of(committed)
    po_catalog = catalog_of(io.BytesIO(compile_mo(po["all"])))
    stale = sorted(
        (repr(k) for k in mo_catalog.keys() | po_catalog.keys() if mo_catalog.get(k) != po_catalog.get(k)), key=str
    )
    assert not stale, f"django.mo is out of date with django.po ({FIX}); differing entries:\n" + "\n".join(stale[:20])


@pytest.mark.skipif(not shutil.which("msgfmt"), reason="GNU gettext is not installed")
def test_small_msgfmt_agrees_with_gnu_msgfmt(po, tmp_path):
    import subprocess

    out = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check-format", "-o", str(out), str(PO)], check=True)
    with out.open("rb") as gnu:
        expected = catalog_of(gnu)
    assert catalog_of(io.BytesIO(compile_mo(po["all"]))) == expected


@pytest.mark.skipif(not shutil.which("xgettext"), reason="GNU gettext is not installed")
def test_po_covers_every_marked_string(po, tmp_path, monkeypatch):
    """Extract the strings afresh from a copy of src/siyu and compare with the committed catalog."""
    copy = tmp_path / "siyu"
    shutil.copytree(SIYU_DIR, copy, ignore=shutil.ignore_patterns("static", "locale", "__pycache__"))
    (copy / "locale").mkdir()
    monkeypatch.chdir(copy)
    with override_settings(LOCALE_PATHS=[]):
        call_command("makemessages", locale=["en"], ignore_patterns=["static"], verbosity=0)
    fresh, _ = parse_po((copy / "locale" / "en" / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8"))
    fresh_keys = {e.key for e in fresh if e.msgid}
    committed_keys = {e.key for e in po["entries"]}
    missing = sorted(fresh_keys - committed_keys, key=str)
    assert not missing, f"strings missing from django.po ({FIX}):\n" + "\n".join(repr(k[1]) for k in missing)
    gone = sorted(committed_keys - fresh_keys, key=str)
    assert not gone, f"django.po has strings no longer in the code ({FIX}):\n" + "\n".join(repr(k[1]) for k in gone)


# -- Siyu's Chinese wording for Django's own messages --------------------------------------------------------
ZH_LC_MESSAGES = SIYU_DIR / "locale" / "zh_Hans" / "LC_MESSAGES"


def test_chinese_override_mo_matches_its_po():
    entries, obsolete = parse_po((ZH_LC_MESSAGES / "django.po").read_text(encoding="utf-8"))
    assert not obsolete
    with (ZH_LC_MESSAGES / "django.mo").open("rb") as committed:
        assert catalog_of(committed) == catalog_of(io.BytesIO(compile_mo(entries))), f"zh_Hans django.mo is stale: {FIX}"


def test_validator_messages_read_as_chinese_not_machine_translation():
    from django import forms
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    class Form(forms.Form):
        name = forms.CharField(max_length=3)
        price = forms.DecimalField(decimal_places=2)
        note = forms.CharField()

    with translation.override("zh-hans"):
        form = Form({"name": "abcdef", "price": "1.234", "note": "a\x00b"})
        assert not form.is_valid()
        assert form.errors == {
            "name": ["最多 3 个字，现在是 6 个。"], "price": ["最多保留 2 位小数。"], "note": ["不能包含空字符。"],
        }
        with pytest.raises(ValidationError) as raised:
            validate_password("1234")
        assert raised.value.messages[0] == "密码太短：至少需要 10 个字符。"
        assert not any(_LATIN_WORD.search(m) for m in raised.value.messages)


_LATIN_WORD = re.compile(r"[A-Za-z]{3,}")


# -- Django uses it -------------------------------------------------------------------------------------------
def test_english_is_active_through_django():
    from siyu.orgs.models import Store
    from siyu.orgs.roles import Role

    with translation.override("en"):
        assert translation.gettext("数据总览") == "Overview"
        assert translation.gettext("审计日志") == "Audit log"
        assert translation.gettext("用户名或密码错误，或尝试次数过多，请稍后再试。") == "Wrong username or password, or too many attempts. Try again later."
        assert translation.pgettext("singular", "门店") == "Store"
        assert translation.gettext("门店") == "Stores"
        assert translation.ngettext("共 %(total)s 条", "共 %(total)s 条", 1) % {"total": 1} == "1 item"
        assert translation.ngettext("共 %(total)s 条", "共 %(total)s 条", 3) % {"total": 3} == "3 items"
        assert str(Role.GUIDE.label) == "Shop guide"
        assert str(Store.Kind.STORE.label) == "Store"
        # Django's own strings still come from Django's catalog.
        assert translation.gettext("This field is required.") == "This field is required."
    with translation.override("zh-hans"):
        assert translation.gettext("数据总览") == "数据总览"
        assert str(Role.GUIDE.label) == "导购"
        assert translation.gettext("This field is required.") == "请填写此项。"  # our zh_Hans override


@pytest.mark.django_db
def test_language_cookie_switches_pages(client):
    assert "登录" in client.get("/login/").content.decode()
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    assert response.status_code == 302 and response.cookies["siyu_language"].value == "en"
    page = client.get("/login/").content.decode()
    assert 'lang="en"' in page and "Sign in" in page and "Private-domain operations on WeCom" in page
    assert "登录" not in page
