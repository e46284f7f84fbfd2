"""Encryption keys for personal data: AES-256-GCM tokens and keyed blind indexes.

Framework-free on purpose (stdlib + ``cryptography``): the Django model fields sit on top of this
module, and a key-management CLI or a migration script can use it without settings.

Why two kinds of key
--------------------
* **Encryption keys** (AES-256-GCM, 32 bytes, each with a short id, the *kid*). The first key is
  the *current* one and encrypts everything new; older keys are kept only to decrypt old tokens.
  Rotating = putting a new key first; :meth:`KeyRing.needs_reencrypt` and :meth:`KeyRing.reencrypt`
  let a job move old rows to the current key afterwards.
* **The blind-index key** (HMAC-SHA256, 32 bytes). It does *not* rotate with the encryption keys:
  blind indexes are what the database searches on, and rotating their key would silently make
  every stored index unfindable until all rows were recomputed.

Where the keys come from (:meth:`KeyRing.from_env_or_dir`)
----------------------------------------------------------
1. The environment variable ``SIYU_ENCRYPTION_KEYS``, if set and non-blank. Exact format::

       <kid>:<base64 key>[,<kid>:<base64 key>...];index:<base64 key>

   - the comma-separated list before ``;`` are the encryption keys, **current key first**;
   - after ``;`` comes exactly one entry, the blind-index key, named ``index``;
   - a kid is 1-32 characters of ``A-Z a-z 0-9 _ -`` and may not be ``index``;
   - each key is 32 random bytes in base64 (standard or URL-safe alphabet, padding optional);
   - spaces around entries are ignored.

   Example (keys shortened)::

       SIYU_ENCRYPTION_KEYS="k2:q3Jv...=,k1:8aZ0...=;index:Yt5r...="

   A key can be made with
   ``python -c "import base64,os; print(base64.b64encode(os.urandom(32)).decode())"``.
2. Otherwise ``<data_dir>/keys.json``, created on first use with fresh random keys (mode 0600,
   written atomically, never overwritten by a concurrent first start). Back it up: losing it makes
   every encrypted value unreadable.

Token format (what :meth:`KeyRing.encrypt` returns, pure ASCII)::

    v1.<kid>.<base64url without padding of: 12-byte nonce || ciphertext || 16-byte GCM tag>

The associated data authenticated with every token is ``b"v1.<kid>." + context``, so neither the
header nor the column the caller names in ``context`` can be swapped without decryption failing.
Nonces are random; keep each key well below 2**32 encryptions (rotate long before that).

Nothing in this module logs or puts key material into exception messages or ``repr``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import unicodedata
from collections.abc import Callable, Iterable
from contextlib import suppress
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "BLIND_INDEX_LENGTH",
    "ENV_VAR",
    "INDEX_KEY_NAME",
    "KEYS_FILENAME",
    "DecryptionError",
    "KeyRing",
    "is_token",
    "normalize_email",
    "normalize_phone",
]

ENV_VAR = "SIYU_ENCRYPTION_KEYS"
KEYS_FILENAME = "keys.json"
INDEX_KEY_NAME = "index"
TOKEN_VERSION = "v1"
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
#: Hex characters kept from the HMAC: 128 bits, plenty against collisions, short in an index.
BLIND_INDEX_LENGTH = 32

_KID_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
_B64URL_RE = re.compile(r"[A-Za-z0-9_-]+")
_TOKEN_RE = re.compile(r"v1\.[A-Za-z0-9_-]{1,32}\.[A-Za-z0-9_-]{38,}")  # 38 chars = nonce + tag
_FILE_VERSION = 1


class DecryptionError(ValueError):
    """A token could not be decrypted: malformed, unknown key id, tampered, or wrong context.

    One exception type for all of these, because callers can rarely do anything different for
    them, and the message never contains the token's plaintext or key material.
    """


def is_token(value: object) -> bool:
    """Whether ``value`` looks like a token from :meth:`KeyRing.encrypt` (cheap, no decryption).

    Handy for telling legacy plaintext apart from ciphertext when encrypting an existing column.
    """
    return isinstance(value, str) and _TOKEN_RE.fullmatch(value) is not None


class KeyRing:
    """Named AES-256-GCM keys (current first) plus one non-rotating blind-index key.

    Immutable after construction and safe to share between threads. Build one with
    :meth:`from_env_or_dir` (or :meth:`from_env`, :meth:`from_dir`, :meth:`generate`).
    """

    __slots__ = ("_aeads", "_index_key", "_keys")

    def __init__(self, keys: Iterable[tuple[str, bytes]], index_key: bytes):
        """``keys`` is ``(kid, 32-byte key)`` pairs, current key first."""
        ordered: dict[str, bytes] = {}
        for kid, key in keys:
            _check_kid(kid)
            if kid in ordered:
                raise ValueError(f"duplicate key id {kid!r}")
            ordered[kid] = _check_key(key, f"key {kid!r}")
        if not ordered:
            raise ValueError("at least one encryption key is required")
        index_key = _check_key(index_key, "blind-index key")
        if index_key in ordered.values():
            # Key separation: the same bytes must never serve as both AES and HMAC key.
            raise ValueError("the blind-index key must differ from every encryption key")
        self._keys = ordered
        self._index_key = index_key
        self._aeads = {kid: AESGCM(key) for kid, key in ordered.items()}

    def __repr__(self) -> str:
        return f"KeyRing(kids={list(self._keys)!r})"

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def generate(cls, kid: str | None = None) -> KeyRing:
        """A fresh ring: one random encryption key and a random blind-index key."""
        return cls([(kid or _new_kid(()), os.urandom(KEY_BYTES))], os.urandom(KEY_BYTES))

    @classmethod
    def from_env_or_dir(cls, env_value: str | None, data_dir: Path | str) -> KeyRing:
        """Keys from ``SIYU_ENCRYPTION_KEYS`` if it is set and non-blank, else from ``data_dir``."""
        if env_value is not None and env_value.strip():
            return cls.from_env(env_value)
        return cls.from_dir(data_dir)

    @classmethod
    def from_env(cls, env_value: str) -> KeyRing:
        """Parse the ``SIYU_ENCRYPTION_KEYS`` format described in the module docstring."""
        expected = f"expected '<kid>:<base64 key>[,<kid>:<base64 key>...];{INDEX_KEY_NAME}:<base64 key>'"
        sections = env_value.strip().split(";")
        if len(sections) == 1:
            raise ValueError(f"{ENV_VAR}: missing the blind-index key ';{INDEX_KEY_NAME}:...'; {expected}")
        if len(sections) != 2:
            raise ValueError(f"{ENV_VAR}: more than one ';'; {expected}")
        key_section, index_section = (section.strip() for section in sections)

        keys = []
        for position, entry in enumerate(key_section.split(","), start=1):
            kid, key = _parse_entry(entry, f"{ENV_VAR} encryption key #{position}", expected)
            if kid == INDEX_KEY_NAME:
                raise ValueError(f"{ENV_VAR}: '{INDEX_KEY_NAME}' belongs after ';', not among the encryption keys")
            keys.append((kid, key))
        name, index_key = _parse_entry(index_section, f"{ENV_VAR} blind-index key", expected)
        if name != INDEX_KEY_NAME:
            raise ValueError(f"{ENV_VAR}: the entry after ';' must be named '{INDEX_KEY_NAME}', got {name!r}")
        try:
            return cls(keys, index_key)
        except ValueError as exc:
            raise ValueError(f"{ENV_VAR}: {exc}") from None

    @classmethod
    def from_dir(cls, data_dir: Path | str) -> KeyRing:
        """Load ``data_dir/keys.json``, creating it (and ``data_dir``) with fresh keys if missing.

        Creation is race-free: if two processes start at once, both end up with the file that
        was linked into place first, so no process ever encrypts with keys that get lost.
        """
        path = Path(data_dir) / KEYS_FILENAME
        with suppress(FileNotFoundError):
            return cls._read(path)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        ring = cls.generate()
        if _write_private(path, ring._dump(), replace=False):
            return ring
        return cls._read(path)  # another process created it first: use theirs

    @classmethod
    def rotate(cls, data_dir: Path | str) -> str:
        """Put a new current key first in ``data_dir/keys.json``, keeping the old ones; return its kid.

        Works on the file only (call it as ``KeyRing.rotate(path)``): running processes pick the
        new key up when they reload the ring. The blind-index key is left unchanged. Not meant to
        run concurrently with another rotation. With ``SIYU_ENCRYPTION_KEYS``, rotate by
        prepending a new ``kid:key`` entry to the variable instead.
        """
        ring = cls.from_dir(data_dir)
        kid = _new_kid(ring._keys)
        rotated = cls([(kid, os.urandom(KEY_BYTES)), *ring._keys.items()], ring._index_key)
        _write_private(Path(data_dir) / KEYS_FILENAME, rotated._dump(), replace=True)
        return kid

    def to_env_value(self) -> str:
        """This ring in ``SIYU_ENCRYPTION_KEYS`` format, e.g. to move from keys.json to a secret store."""
        entries = ",".join(f"{kid}:{_b64(key)}" for kid, key in self._keys.items())
        return f"{entries};{INDEX_KEY_NAME}:{_b64(self._index_key)}"

    # -- encryption ---------------------------------------------------------------------------

    @property
    def current_kid(self) -> str:
        """The id of the key used for new encryptions."""
        return next(iter(self._keys))

    @property
    def kids(self) -> tuple[str, ...]:
        """All encryption key ids, current first."""
        return tuple(self._keys)

    def encrypt(self, plaintext: str, *, context: bytes = b"") -> str:
        """Encrypt with the current key into an ASCII token; ``context`` must match on decrypt.

        Pass e.g. ``b"crm.contact.phone"`` as context so a token copied to another column (or
        another table) fails to decrypt instead of leaking there.
        """
        if not isinstance(plaintext, str):
            raise TypeError(f"plaintext must be str, not {type(plaintext).__name__}")
        kid = self.current_kid
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aeads[kid].encrypt(nonce, plaintext.encode("utf-8"), _aad(kid, context))
        return f"{TOKEN_VERSION}.{kid}.{_b64url(nonce + sealed)}"

    def encrypt_many(self, plaintexts: list[str], *, context: bytes = b"") -> list[str]:
        """:meth:`encrypt` for many values at once (bulk writes): the same tokens' format, with the nonces drawn
        in one call and the per-value checks done once."""
        kid = self.current_kid
        seal, aad, head = self._aeads[kid].encrypt, _aad(kid, context), f"{TOKEN_VERSION}.{kid}."
        nonces = os.urandom(NONCE_BYTES * len(plaintexts))
        tokens = []
        for n, plaintext in enumerate(plaintexts):
            nonce = nonces[n * NONCE_BYTES:(n + 1) * NONCE_BYTES]
            raw = nonce + seal(nonce, plaintext.encode("utf-8"), aad)
            tokens.append(head + base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii"))
        return tokens

    def decrypt(self, token: str, *, context: bytes = b"") -> str:
        """Decrypt a token with the key it names; :class:`DecryptionError` on any failure."""
        kid, raw = self._parse_token(token)
        aead = self._aeads.get(kid)
        if aead is None:
            raise DecryptionError(f"unknown key id {kid!r}: was the key removed from the key ring?")
        try:
            plaintext = aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(kid, context))
        except InvalidTag:
            raise DecryptionError("token failed authentication: tampered, or wrong context") from None
        return plaintext.decode("utf-8")

    def encrypt_bytes(self, data: bytes, *, context: bytes = b"") -> bytes:
        """Encrypt a file's contents with the current key: a ``v1.<kid>`` line, then the nonce and the sealed
        bytes (no base64: exports run to megabytes). ``context`` must match on decrypt."""
        kid = self.current_kid
        nonce = os.urandom(NONCE_BYTES)
        return f"{TOKEN_VERSION}.{kid}\n".encode("ascii") + nonce + self._aeads[kid].encrypt(nonce, data, _aad(kid, context))

    def decrypt_bytes(self, blob: bytes, *, context: bytes = b"") -> bytes:
        """The contents :meth:`encrypt_bytes` sealed; :class:`DecryptionError` on any failure."""
        head, newline, raw = blob.partition(b"\n")
        version, _dot, kid = head.decode("ascii", "replace").partition(".")
        if not newline or version != TOKEN_VERSION or not _KID_RE.fullmatch(kid):
            raise DecryptionError(f"malformed sealed file: expected a '{TOKEN_VERSION}.<kid>' line")
        if len(raw) < NONCE_BYTES + TAG_BYTES:
            raise DecryptionError("malformed sealed file: too short")
        aead = self._aeads.get(kid)
        if aead is None:
            raise DecryptionError(f"unknown key id {kid!r}: was the key removed from the key ring?")
        try:
            return aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(kid, context))
        except InvalidTag:
            raise DecryptionError("sealed file failed authentication: tampered, or wrong context") from None

    def needs_reencrypt(self, token: str) -> bool:
        """Whether ``token`` was made with an older key (so a rotation job should re-encrypt it).

        Raises :class:`DecryptionError` for a malformed token or a kid this ring does not hold.
        """
        kid, _ = self._parse_token(token)
        if kid not in self._keys:
            raise DecryptionError(f"unknown key id {kid!r}")
        return kid != self.current_kid

    def reencrypt(self, token: str, *, context: bytes = b"") -> str:
        """The same plaintext under the current key (the token itself if it already is)."""
        if not self.needs_reencrypt(token):
            return token
        return self.encrypt(self.decrypt(token, context=context), context=context)

    # -- blind index --------------------------------------------------------------------------

    def blind_index(
        self, value: str, *, purpose: str, normalizer: Callable[[str], str] | None = None
    ) -> str:
        """Keyed HMAC-SHA256 of ``value`` as :data:`BLIND_INDEX_LENGTH` lowercase hex characters.

        Equal (normalized) values give equal indexes, so the database can search on them without
        storing the value. ``purpose`` (e.g. ``"phone"``) is mixed into the MAC so an index made
        for one kind of value can't be matched against another's. Pass ``normalizer`` (e.g.
        :func:`normalize_phone`) or normalize beforehand: the HMAC sees exactly the given string.
        """
        if not isinstance(value, str):
            raise TypeError(f"value must be str, not {type(value).__name__}")
        if not purpose or "\x00" in purpose:
            raise ValueError("purpose must be a non-empty string without NUL characters")
        if normalizer is not None:
            value = normalizer(value)
        message = b"siyu-blind-index-v1\x00" + purpose.encode("utf-8") + b"\x00" + value.encode("utf-8")
        return hmac.new(self._index_key, message, hashlib.sha256).hexdigest()[:BLIND_INDEX_LENGTH]

    def blind_indexer(self, purpose: str) -> Callable[[str], str]:
        """:meth:`blind_index` for one ``purpose`` as a function of the (normalized) value: the same indexes,
        without the per-call checks, for hashing many values at once (bulk imports, identity resolution)."""
        if not purpose or "\x00" in purpose:
            raise ValueError("purpose must be a non-empty string without NUL characters")
        # HMAC by hand (RFC 2104) from hash states that already hold the padded key and the purpose: each value
        # then costs two hash updates instead of a fresh HMAC set-up, half the time over a million values.
        key = self._index_key.ljust(hashlib.sha256().block_size, b"\x00")
        inner = hashlib.sha256(bytes(b ^ 0x36 for b in key) + b"siyu-blind-index-v1\x00" + purpose.encode("utf-8")
                               + b"\x00")
        outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

        def index(value: str, inner_copy=inner.copy, outer_copy=outer.copy) -> str:
            mac = inner_copy()
            mac.update(value.encode("utf-8"))
            result = outer_copy()
            result.update(mac.digest())
            return result.hexdigest()[:BLIND_INDEX_LENGTH]

        return index

    # -- internals ----------------------------------------------------------------------------

    @staticmethod
    def _parse_token(token: str) -> tuple[str, bytes]:
        if not isinstance(token, str):
            raise DecryptionError(f"token must be str, not {type(token).__name__}")
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != TOKEN_VERSION:
            raise DecryptionError(f"malformed token: expected '{TOKEN_VERSION}.<kid>.<data>'")
        _, kid, payload = parts
        if not _KID_RE.fullmatch(kid):
            raise DecryptionError("malformed token: invalid key id")
        if not _B64URL_RE.fullmatch(payload):
            raise DecryptionError("malformed token: data is not base64url")
        try:
            raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        except (binascii.Error, ValueError):
            raise DecryptionError("malformed token: data is not base64url") from None
        if _b64url(raw) != payload:  # non-canonical encodings would let a token be altered unnoticed
            raise DecryptionError("malformed token: non-canonical base64url")
        if len(raw) < NONCE_BYTES + TAG_BYTES:
            raise DecryptionError("malformed token: too short")
        return kid, raw

    def _dump(self) -> bytes:
        data = {
            "_comment": "Siyu encryption keys. Secret: never share or commit. Back up: losing it loses the data.",
            "version": _FILE_VERSION,
            "keys": [{"kid": kid, "key": _b64(key)} for kid, key in self._keys.items()],
            INDEX_KEY_NAME: _b64(self._index_key),
        }
        return (json.dumps(data, indent=2) + "\n").encode("ascii")

    @classmethod
    def _read(cls, path: Path) -> KeyRing:
        text = path.read_text(encoding="utf-8")  # FileNotFoundError propagates on purpose
        try:
            data = json.loads(text)
            if data.get("version") != _FILE_VERSION:
                raise ValueError(f"unsupported version {data.get('version')!r}")
            keys = [(entry["kid"], _decode_key(entry["key"], f"key {entry['kid']!r}")) for entry in data["keys"]]
            return cls(keys, _decode_key(data[INDEX_KEY_NAME], "blind-index key"))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc) or type(exc).__name__
            raise ValueError(f"{path}: invalid key file ({detail})") from None


def _aad(kid: str, context: bytes) -> bytes:
    return f"{TOKEN_VERSION}.{kid}.".encode("ascii") + _check_context(context)


def _check_context(context: bytes) -> bytes:
    if not isinstance(context, bytes):
        raise TypeError(f"context must be bytes, not {type(context).__name__}")
    return context


def _check_kid(kid: str) -> None:
    if not isinstance(kid, str) or not _KID_RE.fullmatch(kid):
        raise ValueError(f"invalid key id {kid!r}: use 1-32 characters of A-Z a-z 0-9 _ -")
    if kid == INDEX_KEY_NAME:
        raise ValueError(f"key id {INDEX_KEY_NAME!r} is reserved for the blind-index key")


def _check_key(key: bytes, label: str) -> bytes:
    if not isinstance(key, bytes):
        raise ValueError(f"{label} must be bytes")
    if len(key) != KEY_BYTES:
        raise ValueError(f"{label} must be {KEY_BYTES} bytes, got {len(key)}")
    return key


def _decode_key(text: str, label: str) -> bytes:
    """Base64 (standard or URL-safe, padding optional) to exactly 32 bytes."""
    if not isinstance(text, str):
        raise ValueError(f"{label} must be a base64 string")
    cleaned = text.strip().replace("-", "+").replace("_", "/").rstrip("=")
    try:
        key = base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{label} is not valid base64") from None
    return _check_key(key, label)


def _parse_entry(entry: str, label: str, expected: str) -> tuple[str, bytes]:
    name, sep, encoded = entry.strip().partition(":")
    name = name.strip()
    if not sep or not name or not encoded.strip():
        raise ValueError(f"{label}: not in '<name>:<base64 key>' form; {expected}")
    if name != INDEX_KEY_NAME:
        _check_kid(name)
    return name, _decode_key(encoded, f"{label} ({name!r})")


def _new_kid(existing: Iterable[str]) -> str:
    """Random short id: a regenerated key file can't reuse an old id and mis-decrypt with it."""
    taken = set(existing)
    while (kid := "k" + secrets.token_hex(4)) in taken:
        pass
    return kid


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _write_private(path: Path, data: bytes, *, replace: bool) -> bool:
    """Atomically write ``data`` to ``path`` with mode 0600.

    The bytes go to a private temp file in the same directory first, so readers never see a
    half-written file. ``replace=False`` links it into place only if ``path`` does not exist yet
    and returns False if it does; ``replace=True`` swaps it in with ``os.replace``.
    """
    fd, tmp = tempfile.mkstemp(prefix=".keys-", suffix=".tmp", dir=path.parent)  # created 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
        _fsync_dir(path.parent)
        return True
    finally:
        with suppress(FileNotFoundError):
            os.unlink(tmp)


def _fsync_dir(directory: Path) -> None:
    """Make the new directory entry durable (best effort: not every platform allows it)."""
    with suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# -- normalizers (feed blind indexes, so equal values must normalize identically) ----------------

_CN_MOBILE_RE = re.compile(r"1[3-9]\d{9}")
_PHONE_SEPARATORS = frozenset(" \t\r\n\u00a0\u3000-()./")


def normalize_phone(value: str) -> str:
    """Canonical form of a phone number, so ``+86 138-1234-5678`` and ``13812345678`` index alike.

    Full-width characters are folded (NFKC) and spaces, dashes, dots, slashes and parentheses
    dropped. A Chinese mobile (``1[3-9]`` + 9 digits) loses a leading ``+86``, ``0086`` or
    ``86``; any other number is kept as its digits, with a leading ``+`` preserved. Other
    characters (e.g. ``tel:``) are dropped. Raises ValueError if there are no digits at all.
    """
    if not isinstance(value, str):
        raise TypeError(f"phone must be str, not {type(value).__name__}")
    if value.isascii() and value.isdigit():
        # Most numbers arrive as plain ASCII digits (imports, SDKs): the same result without the per-character
        # Unicode work, which dominated bulk identity resolution.
        plus, digits = False, value
    else:
        text = "".join(ch for ch in unicodedata.normalize("NFKC", value) if ch not in _PHONE_SEPARATORS)
        plus = text.startswith("+")
        digits = "".join(str(unicodedata.decimal(ch)) for ch in text if ch.isdecimal())
    if not digits:
        raise ValueError("not a phone number: it contains no digits")
    for prefix in ("86",) if plus else ("", "0086", "86"):
        if digits.startswith(prefix) and _CN_MOBILE_RE.fullmatch(digits[len(prefix):]):
            return digits[len(prefix):]
    return ("+" if plus else "") + digits


def normalize_email(value: str) -> str:
    """Lower-cased and stripped: mail providers treat addresses case-insensitively in practice."""
    if not isinstance(value, str):
        raise TypeError(f"email must be str, not {type(value).__name__}")
    return value.strip().lower()
