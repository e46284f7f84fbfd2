"""Display masks for personal data: enough to recognise a record, not enough to leak it.

Pure functions, no framework: usable in templates, API schemas, exports and log lines alike.
Hidden characters become one ``*`` each, and at least one character of a non-empty value is
always hidden, so a mask never equals the original.
"""

from __future__ import annotations

from siyu.privacy.keyring import normalize_phone

__all__ = ["mask_email", "mask_name", "mask_phone", "mask_text"]

MASK_CHAR = "*"


def mask_text(value: str, keep_start: int = 0, keep_end: int = 0, *, mask_char: str = MASK_CHAR) -> str:
    """Keep ``keep_start`` leading and ``keep_end`` trailing characters, mask the rest.

    When the value is too short for both, the kept parts shrink (the end first) until at least
    one character is masked: ``mask_text("ab", 1, 4) == "a*"``. The empty string stays empty.
    """
    if keep_start < 0 or keep_end < 0:
        raise ValueError("keep_start and keep_end must not be negative")
    if not value:
        return ""
    excess = keep_start + keep_end - (len(value) - 1)
    if excess > 0:
        trimmed = min(excess, keep_end)
        keep_end -= trimmed
        keep_start -= excess - trimmed
    hidden = len(value) - keep_start - keep_end
    return value[:keep_start] + mask_char * hidden + value[len(value) - keep_end :]


def mask_phone(value: str) -> str:
    """``"13812345678"`` -> ``"138****5678"``; formatting and a ``+86`` prefix are dropped.

    Works on :func:`~siyu.privacy.keyring.normalize_phone`'s output (digits, leading ``+`` kept).
    Numbers of 11 or more digits show the first 3 and last 4, the common Chinese display norm
    (for a mobile, the 4 hidden middle digits are the identifying part). Shorter numbers (landlines, extensions, typos) show at most half of their
    digits, split between start (max 3) and end (max 4), because 3 + 4 would give them away.
    A value without digits is masked entirely.
    """
    if not value:
        return ""
    try:
        normalized = normalize_phone(value)
    except ValueError:
        return mask_text(value.strip())
    plus, digits = ("+", normalized[1:]) if normalized.startswith("+") else ("", normalized)
    if len(digits) >= 11:
        return plus + mask_text(digits, 3, 4)
    shown = len(digits) // 2
    keep_end = min(4, (shown + 1) // 2)
    keep_start = min(3, shown - keep_end)
    return plus + mask_text(digits, keep_start, keep_end)


def mask_email(value: str) -> str:
    """``"alice@example.com"`` -> ``"a****@example.com"``: the domain stays, it is rarely personal.

    Keeps the first character of the local part (none if it is a single character). A value
    without ``@`` is masked like a bare local part.
    """
    if not value:
        return ""
    local, at, domain = value.strip().rpartition("@")
    if not at:
        return mask_text(domain, 1, 0)
    return mask_text(local, 1, 0) + at + domain


def mask_name(value: str) -> str:
    """``"张三丰"`` -> ``"张**"``, ``"张三"`` -> ``"张*"``: only the first character shows.

    A one-character name is masked entirely.
    """
    return mask_text(value.strip(), 1, 0) if value else ""
