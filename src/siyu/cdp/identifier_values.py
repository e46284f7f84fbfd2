"""Identifier values without Django: their canonical form, and keyed indexes and ciphertexts for many at once.

Framework-free on purpose (stdlib + :mod:`siyu.privacy.keyring`), like the keyring itself: keyed hashing and
encryption are most of the cost of storing a batch of identifiers and need no database.
"""

from __future__ import annotations

import re
from itertools import filterfalse

from siyu.privacy.keyring import KeyRing, normalize_email, normalize_phone

# Values SDKs, forms and test scripts send when they have no real identifier: linking by them would merge
# strangers. Compared case-insensitively after stripping.
BLOCKED_VALUES = frozenset({
    "0", "-1", "null", "none", "nil", "nan", "undefined", "unknown", "anonymous", "guest", "n/a", "na", "[]", "{}",
    "test", "testing", "demo", "123", "1234", "12345", "123456", "1234567", "12345678", "123456789", "111111",
    "000000", "00000000000", "11111111111", "test@test.com", "test@example.com",
})

# Mainland mobile numbers written as plain digits, one per line: what normalize_phone() leaves as they are. None of
# them is a blocked value (those that look like phones are all 0s or all 1s).
_MAINLAND_MOBILES = re.compile(r"(?:1[3-9][0-9]{9}\n)*1[3-9][0-9]{9}")

#: The column an identifier's value is encrypted for (``cdp.Identifier.value``): its tokens are bound to it.
VALUE_CONTEXT = b"cdp.identifier.value"


def canonical(kind: str, value) -> str:
    """``value`` in the canonical form of an identifier of ``kind`` (phones and emails as the keyring normalizes
    them, others stripped); ValueError when it is empty or one of the :data:`BLOCKED_VALUES`. The kind is checked
    by the caller."""
    text = str(value if value is not None else "").strip()
    if not text:
        raise ValueError("empty identifier")
    if text.lower() in BLOCKED_VALUES:
        raise ValueError(f"blocked identifier value {text!r}")
    if kind == "phone":
        return normalize_phone(text)
    if kind == "email":
        return normalize_email(text)
    return text


def canonical_all(kind: str, values: list) -> list[str | None]:
    """:func:`canonical` of each value of ``kind``, None where it raises ValueError: the same results in one loop
    (a million identifiers)."""
    if kind == "phone" and set(map(type, values)) == {str}:
        joined = "\n".join(values)
        # Eleven characters each, so a value holding a line break cannot pass for two numbers.
        if len(joined) == 12 * len(values) - 1 and _MAINLAND_MOBILES.fullmatch(joined):
            return list(values)  # plain mainland mobiles, their own canonical form: one regex over all of them
    if kind in ("phone", "email"):
        out = []
        for value in values:
            try:
                out.append(canonical(kind, value))
            except ValueError:
                out.append(None)
        return out
    blocked = BLOCKED_VALUES
    if set(map(type, values)) == {str}:
        # The usual batch: strings, none empty or blocked once stripped; checked with loops in C.
        stripped = list(map(str.strip, values))
        # Compared in lower case, but a value already in lower case is compared as it is, not copied lowered.
        if "" not in stripped and blocked.isdisjoint(stripped) and \
                blocked.isdisjoint(map(str.lower, filterfalse(str.islower, stripped))):
            return stripped
    out = []
    for value in values:
        text = (value if value.__class__ is str else str(value if value is not None else "")).strip()
        out.append(text if text and text.lower() not in blocked else None)
    return out


def index_purpose(kind: str, namespace: str) -> str:
    # The kind and namespace are part of the MAC's purpose: the same string as a user_id and as a member_id are
    # two different identifiers.
    return f"identifier:{kind}:{namespace}"


def indexes_all(ring: KeyRing, kind: str, namespace: str, values: list[str]) -> tuple[list[str], list[str]]:
    """For canonical values of identifiers of one kind and namespace: their keyed indexes and, for phones, the
    indexes WeCom customers' remark phones are stored under ("" for other kinds). One purpose at a time, so a
    million values are hashed in tight loops."""
    indexes = ring.blind_index_all(values, purpose=index_purpose(kind, namespace))
    phones = ring.blind_index_all(values, purpose="phone") if kind == "phone" else [""] * len(values)
    return indexes, phones


def seal_all(ring: KeyRing, values: list[str]) -> list[str]:
    """Each canonical value encrypted for ``cdp.Identifier.value``."""
    return ring.encrypt_many(values, context=VALUE_CONTEXT)
