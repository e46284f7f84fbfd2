"""Identifier values without Django: their canonical form, and keyed indexes and ciphertexts for many at once.

Framework-free on purpose (stdlib + :mod:`siyu.privacy.keyring`), like the keyring itself: keyed hashing and
encryption are most of the cost of storing a batch of identifiers and need no database.
"""

from __future__ import annotations

from siyu.privacy.keyring import KeyRing, normalize_email, normalize_phone

# Values SDKs, forms and test scripts send when they have no real identifier: linking by them would merge
# strangers. Compared case-insensitively after stripping.
BLOCKED_VALUES = frozenset({
    "0", "-1", "null", "none", "nil", "nan", "undefined", "unknown", "anonymous", "guest", "n/a", "na", "[]", "{}",
    "test", "testing", "demo", "123", "1234", "12345", "123456", "1234567", "12345678", "123456789", "111111",
    "000000", "00000000000", "11111111111", "test@test.com", "test@example.com",
})

#: The column an identifier's value is encrypted for (``cdp.Identifier.value``): its tokens are bound to it.
VALUE_CONTEXT = b"cdp.identifier.value"


def canonical(kind: str, value) -> str:
    """``value`` in the canonical form of an identifier of ``kind`` (phones and emails as the keyring normalizes them, others
    stripped); ValueError when it is empty or one of the :data:`BLOCKED_VALUES`. The kind is checked by the
    caller."""
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


def index_purpose(kind: str, namespace: str) -> str:
    # The kind and namespace are part of the MAC's purpose: the same string as a user_id and as a member_id are
    # two different identifiers.
    return f"identifier:{kind}:{namespace}"


Digest = tuple[str, str, str] | None  # (canonical value, index, the phone's "phone"-purpose index or "")


def digest_all(ring: KeyRing, items: list[tuple[str, str, str]]) -> list[Digest]:
    """For each (kind, namespace, raw value): its canonical value, its keyed index and, for a phone, the index
    WeCom customers' remark phones are stored under; None for a value that is no usable identifier."""
    indexers: dict = {}
    phone_index = ring.blind_indexer("phone")
    out: list[Digest] = []
    for kind, namespace, value in items:
        try:
            normalized = canonical(kind, value)
        except ValueError:
            out.append(None)
            continue
        indexer = indexers.get((kind, namespace))
        if indexer is None:
            indexer = indexers[(kind, namespace)] = ring.blind_indexer(index_purpose(kind, namespace))
        out.append((normalized, indexer(normalized), phone_index(normalized) if kind == "phone" else ""))
    return out


def seal_all(ring: KeyRing, values: list[str]) -> list[str]:
    """Each canonical value encrypted for ``cdp.Identifier.value``."""
    return ring.encrypt_many(values, context=VALUE_CONTEXT)
