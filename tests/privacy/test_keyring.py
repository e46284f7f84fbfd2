"""The personal-data key ring: tokens, rotation, blind indexes, key sources and normalizers.

Plain pytest, no Django: ``pytest tests/privacy/test_keyring.py -p no:django``.
"""

import base64
import hashlib
import hmac
import json
import os
import stat
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

try:
    import siyu.privacy.keyring  # noqa: F401
except ModuleNotFoundError:  # package not installed into the venv: run from the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from siyu.privacy.keyring import (
    BLIND_INDEX_LENGTH,
    DecryptionError,
    KeyRing,
    is_token,
    normalize_email,
    normalize_phone,
)

CTX = b"crm.contact.phone"


def b64key(fill: int) -> str:
    return base64.b64encode(bytes([fill]) * 32).decode()


def env(*kids: str) -> str:
    """An env value whose key for each kid is derived from the kid, so rings built in turn agree."""
    keys = ",".join(f"{kid}:{base64.b64encode(hashlib.sha256(kid.encode()).digest()).decode()}" for kid in kids)
    return f"{keys};index:{b64key(0xEE)}"


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing.generate()


# -- encryption ---------------------------------------------------------------------------------


def test_round_trip(ring):
    token = ring.encrypt("13812345678", context=CTX)
    assert ring.decrypt(token, context=CTX) == "13812345678"
    assert ring.decrypt(ring.encrypt("")) == ""


def test_token_shape_and_no_plaintext(ring):
    token = ring.encrypt("alice@example.com", context=CTX)
    version, kid, data = token.split(".")
    assert (version, kid) == ("v1", ring.current_kid)
    assert token.isascii() and is_token(token)
    assert len(base64.urlsafe_b64decode(data + "==")) == 12 + len("alice@example.com") + 16
    for fragment in ("alice", "example", base64.b64encode(b"alice").decode()[:6]):
        assert fragment not in token


def test_random_nonce_but_stable_blind_index(ring):
    first, second = ring.encrypt("13812345678"), ring.encrypt("13812345678")
    assert first != second
    assert ring.decrypt(first) == ring.decrypt(second)
    index = ring.blind_index("13812345678", purpose="phone")
    assert index == ring.blind_index("13812345678", purpose="phone")
    assert len(index) == BLIND_INDEX_LENGTH and int(index, 16) >= 0


def test_wrong_context_fails(ring):
    token = ring.encrypt("secret", context=b"crm.contact.phone")
    with pytest.raises(DecryptionError):
        ring.decrypt(token, context=b"crm.contact.email")
    with pytest.raises(DecryptionError):
        ring.decrypt(token)


@pytest.mark.parametrize("position", [3, 10, 20, -5])
def test_tampering_fails(ring, position):
    token = ring.encrypt("secret value")
    chars = list(token)
    index = position % len(token)
    if chars[index] == ".":
        index += 1
    chars[index] = "A" if chars[index] != "A" else "B"
    with pytest.raises(DecryptionError):
        ring.decrypt("".join(chars))


def test_unknown_kid_fails(ring):
    token = KeyRing.generate().encrypt("secret")
    with pytest.raises(DecryptionError, match="unknown key id"):
        ring.decrypt(token)
    with pytest.raises(DecryptionError):
        ring.needs_reencrypt(token)


def test_swapped_kid_fails():
    ring = KeyRing.from_env(env("new", "old"))
    token = ring.encrypt("secret")
    with pytest.raises(DecryptionError):
        ring.decrypt(token.replace("v1.new.", "v1.old."))


@pytest.mark.parametrize(
    "token",
    ["", "garbage", "v1.k1", "v2.k1.AAAA", "v1..AAAA", "v1.k1.A", "v1.k1.!!!!", "v1.k1.AAAA.x", "v1.k1.AAAA"],
)
def test_malformed_tokens_fail(ring, token):
    with pytest.raises(DecryptionError):
        ring.decrypt(token)


def test_decryption_error_is_value_error():
    assert issubclass(DecryptionError, ValueError)


def test_type_errors(ring):
    with pytest.raises(TypeError):
        ring.encrypt(b"bytes")
    with pytest.raises(TypeError):
        ring.encrypt("x", context="not bytes")


@settings(max_examples=200, deadline=None)
@given(text=st.text(), context=st.binary(max_size=64))
def test_round_trip_any_unicode(text, context):
    ring = _SHARED
    token = ring.encrypt(text, context=context)
    assert token.isascii()
    assert ring.decrypt(token, context=context) == text


_SHARED = KeyRing.generate()


def test_repr_hides_keys():
    ring = KeyRing.from_env(f"k1:{b64key(1)};index:{b64key(2)}")
    assert b64key(1) not in repr(ring) and b64key(2) not in repr(ring) and "k1" in repr(ring)


# -- rotation -----------------------------------------------------------------------------------


def test_rotation_in_memory():
    old = KeyRing.from_env(env("k1"))
    new = KeyRing.from_env(env("k2", "k1"))
    old_token = old.encrypt("value", context=CTX)
    assert new.decrypt(old_token, context=CTX) == "value"
    assert new.needs_reencrypt(old_token)
    fresh = new.reencrypt(old_token, context=CTX)
    assert fresh.split(".")[1] == "k2" and not new.needs_reencrypt(fresh)
    assert new.decrypt(fresh, context=CTX) == "value"
    assert new.reencrypt(fresh, context=CTX) == fresh


def test_rotate_key_file(tmp_path):
    before = KeyRing.from_env_or_dir(None, tmp_path)
    old_token = before.encrypt("13812345678", context=CTX)
    old_index = before.blind_index("13812345678", purpose="phone")

    kid = KeyRing.rotate(tmp_path)
    after = KeyRing.from_env_or_dir(None, tmp_path)
    assert after.current_kid == kid != before.current_kid
    assert after.kids == (kid, before.current_kid)
    assert after.decrypt(old_token, context=CTX) == "13812345678"
    assert after.needs_reencrypt(old_token)
    new_token = after.encrypt("13812345678", context=CTX)
    assert new_token.split(".")[1] == kid and not after.needs_reencrypt(new_token)
    # The blind-index key does not rotate: lookups keep finding old rows.
    assert after.blind_index("13812345678", purpose="phone") == old_index
    assert stat.S_IMODE(os.stat(tmp_path / "keys.json").st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name != "keys.json"]  # no temp files left


# -- blind index --------------------------------------------------------------------------------


def test_blind_index_purpose_separates(ring):
    assert ring.blind_index("x", purpose="phone") != ring.blind_index("x", purpose="email")


def test_blind_index_depends_on_key():
    value = "alice@example.com"
    assert KeyRing.generate().blind_index(value, purpose="email") != KeyRing.generate().blind_index(
        value, purpose="email"
    )


def test_blind_index_with_normalizer(ring):
    plain = ring.blind_index("13812345678", purpose="phone")
    assert ring.blind_index("+86 138-1234-5678", purpose="phone", normalizer=normalize_phone) == plain
    assert ring.blind_index(" Alice@Example.COM ", purpose="email", normalizer=normalize_email) == ring.blind_index(
        "alice@example.com", purpose="email"
    )


def test_blind_index_rejects_empty_purpose(ring):
    with pytest.raises(ValueError):
        ring.blind_index("x", purpose="")


# -- key sources --------------------------------------------------------------------------------


def test_env_parsing():
    ring = KeyRing.from_env_or_dir(" k2:%s , k1:%s ; index:%s " % (b64key(2), b64key(1), b64key(9)), Path("/nope"))
    assert ring.kids == ("k2", "k1") and ring.current_kid == "k2"
    assert ring.encrypt("x").startswith("v1.k2.")
    only_old = KeyRing.from_env(f"k1:{b64key(1)};index:{b64key(9)}")
    assert ring.decrypt(only_old.encrypt("from k1")) == "from k1"


def test_env_accepts_urlsafe_unpadded_base64():
    raw = bytes(range(200, 232))
    urlsafe = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    standard = base64.b64encode(raw).decode()
    a = KeyRing.from_env(f"k1:{urlsafe};index:{b64key(9)}")
    b = KeyRing.from_env(f"k1:{standard};index:{b64key(9)}")
    assert b.decrypt(a.encrypt("same key")) == "same key"


def test_env_round_trips_through_to_env_value():
    ring = KeyRing.from_env(env("a", "b", "c"))
    copy = KeyRing.from_env(ring.to_env_value())
    assert copy.decrypt(ring.encrypt("x", context=CTX), context=CTX) == "x"
    assert copy.blind_index("x", purpose="p") == ring.blind_index("x", purpose="p")


def test_env_wins_over_dir(tmp_path):
    ring = KeyRing.from_env_or_dir(env("k1"), tmp_path)
    assert ring.kids == ("k1",)
    assert not (tmp_path / "keys.json").exists()


def test_blank_env_falls_back_to_dir(tmp_path):
    KeyRing.from_env_or_dir("  ", tmp_path)
    assert (tmp_path / "keys.json").exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (f"k1:{b64key(1)}", "missing the blind-index key"),
        (f"k1:{b64key(1)};index:{b64key(2)};x", "more than one"),
        (f"k1:{base64.b64encode(b'short').decode()};index:{b64key(2)}", "must be 32 bytes, got 5"),
        (f"k1:{b64key(1)};index:{base64.b64encode(bytes(16)).decode()}", "must be 32 bytes, got 16"),
        (f"k1:not*base64!;index:{b64key(2)}", "not valid base64"),
        (f"k1:{b64key(1)},k1:{b64key(3)};index:{b64key(2)}", "duplicate key id 'k1'"),
        (f"k1:{b64key(1)};other:{b64key(2)}", "must be named 'index'"),
        (f"k1:{b64key(1)},index:{b64key(3)};index:{b64key(2)}", "belongs after ';'"),
        (f";index:{b64key(2)}", "not in '<name>:<base64 key>' form"),
        (f"k1{b64key(1)};index:{b64key(2)}", "not in '<name>:<base64 key>' form"),
        (f"k.1:{b64key(1)};index:{b64key(2)}", "invalid key id"),
        (f"k1:{b64key(1)};index:{b64key(1)}", "must differ"),
    ],
)
def test_env_errors(value, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")) as excinfo:
        KeyRing.from_env(value)
    assert b64key(1) not in str(excinfo.value)  # no key material in messages


def test_key_file_created_private_and_reused(tmp_path):
    data_dir = tmp_path / "data"  # does not exist yet
    first = KeyRing.from_env_or_dir(None, data_dir)
    path = data_dir / "keys.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    content = json.loads(path.read_text())
    assert [entry["kid"] for entry in content["keys"]] == [first.current_kid]

    second = KeyRing.from_env_or_dir(None, data_dir)
    assert second.kids == first.kids
    assert second.decrypt(first.encrypt("again", context=CTX), context=CTX) == "again"
    assert second.blind_index("x", purpose="p") == first.blind_index("x", purpose="p")
    assert path.read_text() == json.dumps(content, indent=2) + "\n"  # untouched by the second load


def test_key_file_not_clobbered(tmp_path):
    first = KeyRing.from_dir(tmp_path)
    mtime = os.stat(tmp_path / "keys.json").st_mtime_ns
    for _ in range(3):
        assert KeyRing.from_dir(tmp_path).kids == first.kids
    assert os.stat(tmp_path / "keys.json").st_mtime_ns == mtime


def test_concurrent_first_start_agrees_on_keys(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        rings = list(pool.map(lambda _: KeyRing.from_dir(tmp_path), range(16)))
    assert {ring.kids for ring in rings} == {KeyRing.from_dir(tmp_path).kids}


@pytest.mark.parametrize(
    "content",
    ["not json", "[]", '{"version": 1}', '{"version": 2, "keys": [], "index": ""}', '{"version": 1, "keys": [], "index": "AA=="}'],
)
def test_corrupt_key_file(tmp_path, content):
    (tmp_path / "keys.json").write_text(content)
    with pytest.raises(ValueError, match="invalid key file"):
        KeyRing.from_dir(tmp_path)


# -- normalizers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13812345678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("(138) 1234-5678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("+86-13812345678", "13812345678"),
        ("008613812345678", "13812345678"),
        ("0086 138 1234 5678", "13812345678"),
        ("8613812345678", "13812345678"),
        ("＋８６ １３８１２３４５６７８", "13812345678"),  # full-width input
        ("+1 (415) 555-0100", "+14155550100"),
        ("010-8888 6666", "01088886666"),
        ("+86 10 8888 6666", "+861088886666"),  # a landline keeps its country code
        ("12345", "12345"),
    ],
)
def test_normalize_phone(raw, expected):
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "abc", "+", "--()"])
def test_normalize_phone_needs_digits(raw):
    with pytest.raises(ValueError):
        normalize_phone(raw)


def test_normalize_email():
    assert normalize_email("  Alice@Example.COM \n") == "alice@example.com"
    assert normalize_email("") == ""


@given(st.text(alphabet="0123456789", min_size=1, max_size=16))
def test_a_number_indexes_alike_however_it_is_written(digits):
    # Plain ASCII digits take a shortcut; spaced-out and full-width writings of the same number must land on the
    # same canonical form, or blind-index look-ups would miss.
    spaced = " ".join(digits)
    full_width = "".join(chr(ord(ch) + 0xFEE0) for ch in digits)
    assert normalize_phone(digits) == normalize_phone(spaced) == normalize_phone(full_width)


@given(st.text(max_size=40), st.sampled_from(["phone", "identifier:user_id:", "identifier:openid:wx1"]))
def test_the_bulk_indexer_gives_the_same_index_as_one_value_at_a_time(value, purpose):
    ring = KeyRing([("k1", b"\x01" * 32)], b"\x02" * 32)
    assert ring.blind_indexer(purpose)(value) == ring.blind_index(value, purpose=purpose)


def test_the_bulk_index_is_the_documented_hmac(ring):
    # Independent of both code paths: HMAC-SHA256 over the versioned, purpose-scoped message, cut to 32 hex.
    message = b"siyu-blind-index-v1\x00phone\x0013800138000"
    expected = hmac.new(ring._index_key, message, hashlib.sha256).hexdigest()[:32]
    assert ring.blind_indexer("phone")("13800138000") == expected


def test_bulk_encryption_gives_tokens_that_decrypt_with_fresh_nonces(ring):
    values = ["13800138000", "张三", "", "13800138000"]
    tokens = ring.encrypt_many(values, context=b"cdp.identifier.value")
    assert [ring.decrypt(t, context=b"cdp.identifier.value") for t in tokens] == values
    assert tokens[0] != tokens[3]  # the same value twice still gets two nonces
    assert len({t.split(".")[2][:16] for t in tokens}) == len(tokens)
    with pytest.raises(DecryptionError):
        ring.decrypt(tokens[0], context=b"cdp.person.name")


# -- files ----------------------------------------------------------------------------------------


def test_sealed_bytes_round_trip_without_the_plaintext(ring):
    data = "客户,手机号\n林小姐,13812345678\n".encode() * 100
    blob = ring.encrypt_bytes(data, context=CTX)
    assert ring.decrypt_bytes(blob, context=CTX) == data
    assert b"13812345678" not in blob and blob.startswith(f"v1.{ring.current_kid}\n".encode())
    assert ring.decrypt_bytes(ring.encrypt_bytes(b""), context=b"") == b""


@pytest.mark.parametrize("damage", ["flip", "context", "truncate", "header", "kid"])
def test_sealed_bytes_refuse_damage_and_the_wrong_purpose(ring, damage):
    blob = bytearray(ring.encrypt_bytes(b"13812345678" * 10, context=CTX))
    context = CTX
    if damage == "flip":
        blob[-5] ^= 1
    elif damage == "context":
        context = b"another.purpose"
    elif damage == "truncate":
        blob = blob[:len(blob.split(b"\n")[0]) + 10]
    elif damage == "header":
        blob = b"v9" + blob[2:]
    else:
        blob = blob.replace(ring.current_kid.encode(), b"nokey", 1)
    with pytest.raises(DecryptionError):
        ring.decrypt_bytes(bytes(blob), context=context)


def test_sealed_bytes_open_after_a_rotation():
    old = KeyRing.from_env(env("k1"))
    blob = old.encrypt_bytes(b"export", context=CTX)
    rotated = KeyRing.from_env(env("k2", "k1"))
    assert rotated.current_kid == "k2" and rotated.decrypt_bytes(blob, context=CTX) == b"export"
