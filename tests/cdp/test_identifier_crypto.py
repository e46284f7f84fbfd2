"""A large batch's hashing and encryption in a child process give what the keyring gives in-process."""

from __future__ import annotations

import pytest

from siyu.cdp.identifier_crypto import CHILD_FROM, InChild, InProcess, batch_crypto
from siyu.cdp.identifier_values import VALUE_CONTEXT, index_purpose
from siyu.privacy.keyring import KeyRing

SPANS = [
    ("anonymous_id", "", [f"a-{n}" for n in range(300)]),
    ("openid", "wx-app-1", [f"o-{n}" for n in range(200)]),
    ("phone", "", [f"139{n:08d}" for n in range(250)]),
    ("user_id", "", ["u-1", "用户二", "u 3"]),
]


def fed(crypto, spans=SPANS):
    for kind, namespace, values in spans:
        crypto.add(kind, namespace, values)
    return crypto


def test_the_child_hashes_every_position_as_the_keyring_does():
    ring = KeyRing.generate()
    child = fed(InChild(ring))
    try:
        indexes, phones = child.indexes()
    finally:
        child.close()
    expected = [ring.blind_index(value, purpose=index_purpose(kind, namespace))
                for kind, namespace, values in SPANS for value in values]
    expected_phones = [ring.blind_index(value, purpose="phone") if kind == "phone" else ""
                       for kind, _namespace, values in SPANS for value in values]
    assert indexes == expected
    assert phones == expected_phones
    assert (indexes, phones) == fed(InProcess(ring)).indexes()


def test_the_child_gives_every_position_in_the_order_of_its_kinds_indexes():
    ring = KeyRing.generate()
    child = fed(InChild(ring))
    try:
        indexes, _phones = child.indexes()
        order = child.index_order()
    finally:
        child.close()
    spans, start = [], 0
    for _kind, _namespace, values in SPANS:
        spans.append(range(start, start + len(values)))
        start += len(values)
    assert sorted(order) == list(range(start))
    for span in spans:  # each span's positions, one after the other, ascending by index
        these = order[span.start:span.stop]
        assert set(these) == set(span)
        assert [indexes[n] for n in these] == sorted(indexes[n] for n in span)
    assert order == fed(InProcess(ring)).index_order()


def test_the_child_encrypts_the_positions_asked_for_in_that_order_chunk_by_chunk():
    ring = KeyRing.generate()
    values = [value for _kind, _namespace, these in SPANS for value in these]
    order = [752, 0, 500, 3, 751, *range(10, 20)]
    child = fed(InChild(ring))
    try:
        child.indexes()
        chunks = list(child.sealed(order, 4))
    finally:
        child.close()
    assert [len(chunk) for chunk in chunks] == [4, 4, 4, 3]
    tokens = [token for chunk in chunks for token in chunk]
    assert [ring.decrypt(token, context=VALUE_CONTEXT) for token in tokens] == [values[n] for n in order]
    assert len(set(tokens)) == len(tokens)  # fresh nonces


def test_a_child_that_dies_is_reported_not_waited_for():
    child = fed(InChild(KeyRing.generate()))
    child.process.kill()
    try:
        with pytest.raises(RuntimeError, match="ended early"):
            child.indexes()
    finally:
        child.close()
    assert child.process.returncode is not None


def test_only_a_large_batch_starts_a_child_and_the_child_is_gone_after_it():
    ring = KeyRing.generate()
    with batch_crypto(ring, CHILD_FROM - 1) as crypto:
        assert isinstance(crypto, InProcess)
    with batch_crypto(ring, CHILD_FROM) as crypto:
        assert isinstance(crypto, InChild)
        fed(crypto).indexes()
        crypto.index_order()  # all the child sends unasked; a caller that stops earlier ends it with a broken pipe
    assert crypto.process.returncode == 0


@pytest.mark.parametrize("kind, values", [
    ("phone", ["13800138000", "13912345678", "19900000001"]),  # plain mobiles: one regex over all of them
    ("phone", ["13800138000\n13800138001", "13912345678"]),  # a line break must not pass for two numbers
    ("phone", ["13800138000", "+86 139-1234-5678", "0086 13912345678", "021-5555 1234", "00000000000", ""]),
    ("user_id", ["u-1", " u-2 ", "用户三"]),  # strings, none blocked: stripped in C
    ("user_id", ["u-1", "Null ", "u-3"]),  # a blocked value among strings
    ("user_id", ["u-1", "anonymous", "u-3"]),  # in lower case already
    ("user_id", ["U-1", "UNKNOWN"]),  # in upper case
    ("user_id", ["u-1", "123456"]),  # without letters
    ("user_id", ["u-1", "  ", "u-3"]),  # an empty one
    ("user_id", ["u-1", "null", "  ", "Anonymous", 42, None]),  # anything else: one by one
])
def test_canonicalizing_many_values_gives_what_one_value_at_a_time_gives(kind, values):
    from siyu.cdp.identifier_values import canonical, canonical_all

    def one(value):
        try:
            return canonical(kind, value)
        except ValueError:
            return None

    assert canonical_all(kind, values) == [one(value) for value in values]
