"""Display masks: recognisable, never revealing, never equal to the original.

Plain pytest, no Django: ``pytest tests/privacy/test_masking.py -p no:django``.
"""

import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

try:
    import siyu.privacy.masking  # noqa: F401
except ModuleNotFoundError:  # package not installed into the venv: run from the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from siyu.privacy.masking import mask_email, mask_name, mask_phone, mask_text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13812345678", "138****5678"),
        ("138 1234 5678", "138****5678"),
        ("+86 138-1234-5678", "138****5678"),
        ("008613812345678", "138****5678"),
        ("+1 (415) 555-0100", "+141****0100"),  # 11 digits: 3 + 4
        ("+44 20 7946 0958", "+442*****0958"),  # 12 digits
        ("0108888666", "01*****666"),  # 10 digits: 5 shown
        ("88886666", "88****66"),  # 8 digits: 4 shown
        ("1234567", "1****67"),
        ("1234", "1**4"),
        ("123", "**3"),
        ("12", "*2"),
        ("1", "*"),
        ("", ""),
        ("n/a", "***"),  # no digits: hide it all
    ],
)
def test_mask_phone(raw, expected):
    assert mask_phone(raw) == expected


@given(st.text(alphabet="0123456789", min_size=1, max_size=10))
def test_short_phone_reveals_at_most_half(digits):
    masked = mask_phone(digits)
    shown = sum(ch.isdigit() for ch in masked)
    assert shown <= len(digits) // 2
    assert len(masked) == len(digits) and "*" in masked


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("alice@example.com", "a****@example.com"),
        ("Bo@qq.com", "B*@qq.com"),
        ("a@x.cn", "*@x.cn"),
        ("@x.cn", "@x.cn"),
        ("first.last+tag@corp.example", "f*************@corp.example"),
        ("odd@name@example.com", "o*******@example.com"),  # the domain is after the last '@'
        ("not-an-email", "n***********"),
        ("", ""),
    ],
)
def test_mask_email(raw, expected):
    assert mask_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("张三丰", "张**"),
        ("张三", "张*"),
        ("张", "*"),
        ("欧阳娜娜", "欧***"),
        (" Alice ", "A****"),
        ("", ""),
    ],
)
def test_mask_name(raw, expected):
    assert mask_name(raw) == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("abcdefgh", 2, 3), "ab***fgh"),
        (("abcdefgh", 0, 0), "********"),
        (("abcdefgh", 0, 2), "******gh"),
        (("abc", 1, 4), "a*c"),  # the end shrinks first
        (("abc", 4, 4), "ab*"),
        (("ab", 1, 1), "a*"),
        (("a", 1, 1), "*"),
        (("", 3, 4), ""),
    ],
)
def test_mask_text(args, expected):
    assert mask_text(*args) == expected


def test_mask_text_custom_char_and_errors():
    assert mask_text("secret", 1, 1, mask_char="•") == "s••••t"
    with pytest.raises(ValueError):
        mask_text("secret", -1, 0)


@given(st.text(alphabet=st.characters(blacklist_characters="*"), min_size=1), st.integers(0, 10), st.integers(0, 10))
def test_mask_text_never_reveals_everything(value, keep_start, keep_end):
    masked = mask_text(value, keep_start, keep_end)
    assert len(masked) == len(value)
    assert "*" in masked
    assert masked != value
