"""The keyed indexes and ciphertexts of a large identity batch, computed in a second process.

Hashing and encrypting hold the GIL (each input is a few bytes), so a thread cannot run them beside the batch's
clustering; a child process can, on the machine's other core. While the child hashes, the batch clusters its
identifiers (which needs only their canonical values); while it encrypts, chunk by chunk in write order, the batch
writes the chunks it already has.

The child is a new interpreter (``python -m siyu.cdp.identifier_crypto``), not a fork of the caller, which may hold
threads and database connections. It is framework-free (this module, :mod:`siyu.cdp.identifier_values` and the
keyring). It gets the key ring through its stdin pipe, never on its command line or in its environment, and ends
when the pipe closes.

Over the pipes, as MessagePack, each message behind its length (4 bytes, little-endian); MessagePack, not pickle,
because a pickle remembers every string it writes and costs ten times as much for a million of them:

1. caller → child: the key ring (its ``SIYU_ENCRYPTION_KEYS`` form); then, as the caller canonicalizes them, one
   message per kind and namespace, ``(kind, namespace, [canonical value, …])``, hashed as each arrives; then
   ``None``. A value's *position* is its place in all these values one after the other;
2. child → caller: the indexes and the remark-phone indexes of every position; then every position in *index
   order* (each kind and namespace's positions, in the order of their indexes: the order of the identifiers'
   unique index), computed while the caller plans;
3. caller → child: the positions to encrypt, in the order they will be written, and the chunk size;
4. child → caller: one list of tokens per chunk, then ``None``.

Small batches do the same work in-process (:class:`InProcess`): starting an interpreter costs more than they do.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress

import msgspec

from siyu.cdp.identifier_values import indexes_all, seal_all
from siyu.privacy.keyring import KeyRing

CHILD_FROM = 50_000  # identifiers from which a batch's crypto runs in a child process

_LENGTH = struct.Struct("<I")
_encode, _decode = msgspec.msgpack.Encoder().encode, msgspec.msgpack.Decoder().decode


def _put(stream, message) -> None:
    """Write one message and flush it: the other side is waiting for it."""
    payload = _encode(message)
    stream.write(_LENGTH.pack(len(payload)))
    stream.write(payload)
    stream.flush()


def _take(stream):
    """Read one message; EOFError when the stream ends before a whole one."""
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError
    (size,) = _LENGTH.unpack(head)
    payload = stream.read(size)
    if len(payload) < size:
        raise EOFError
    return _decode(payload)


class InProcess:
    """The crypto of a batch in the calling thread."""

    def __init__(self, ring: KeyRing):
        self.ring, self.values, self.index_column, self.phone_column, self.spans = ring, [], [], [], []

    def add(self, kind: str, namespace: str, values: list[str]) -> None:
        """The next canonical values, all of ``kind`` and ``namespace``."""
        indexes, phones = indexes_all(self.ring, kind, namespace, values)
        self.spans.append((len(self.values), len(self.values) + len(values)))
        self.values += values
        self.index_column += indexes
        self.phone_column += phones

    def indexes(self) -> tuple[list[str], list[str]]:
        """(index, remark-phone index or "") of every position."""
        return self.index_column, self.phone_column

    def index_order(self) -> list[int]:
        """Every position, each kind and namespace's in the order of their indexes."""
        order = []
        for start, end in self.spans:
            order += sorted(range(start, end), key=self.index_column.__getitem__)
        return order

    def sealed(self, order: list[int], chunk: int) -> Iterator[list[str]]:
        """The values at ``order`` encrypted for ``cdp.Identifier.value``, ``chunk`` at a time."""
        values = self.values
        for start in range(0, len(order), chunk):
            yield seal_all(self.ring, list(map(values.__getitem__, order[start:start + chunk])))


class InChild:
    """The crypto of a batch in a child process: :meth:`indexes` waits for the hashing that began at start."""

    def __init__(self, ring: KeyRing):
        self.process = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE)
        # Sent from a thread: a write waits until the child has read what came before (it hashes each message
        # before reading the next), and the caller has canonicalizing and clustering to do meanwhile.
        self.sending = ThreadPoolExecutor(1, "identifier-crypto-sender")
        self.sent, self.order = [], None
        self._send(ring.to_env_value())

    def add(self, kind: str, namespace: str, values: list[str]) -> None:
        self._send((kind, namespace, values))

    def _send(self, message) -> None:
        self.sent.append(self.sending.submit(self._write, message))

    def _write(self, message) -> None:
        with suppress(BrokenPipeError):  # the child died: reading its answer reports it
            _put(self.process.stdin, message)

    def indexes(self) -> tuple[list[str], list[str]]:
        self._send(None)
        for sent in self.sent:
            sent.result()
        return self._receive()

    def index_order(self) -> list[int]:
        if self.order is None:
            self.order = self._receive()
        return self.order

    def sealed(self, order: list[int], chunk: int) -> Iterator[list[str]]:
        self.index_order()  # the child sends it before any tokens, asked for or not
        _put(self.process.stdin, (order, chunk))
        while (tokens := self._receive()) is not None:
            yield tokens

    def _receive(self):
        try:
            return _take(self.process.stdout)
        except EOFError:
            raise RuntimeError(f"the identifier crypto process ended early (exit status {self.process.wait()})") \
                from None

    def close(self) -> None:
        self.sending.shutdown(wait=False, cancel_futures=True)
        # Both pipes closed first: a child stopped halfway (the batch failed) then ends on a broken pipe instead of
        # waiting to write the rest.
        for pipe in (self.process.stdin, self.process.stdout):
            with suppress(OSError):
                pipe.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def batch_crypto(ring: KeyRing, size: int):
    """The crypto of a batch of ``size`` identifiers: in a child process from :data:`CHILD_FROM`, else in-process;
    the child is stopped when the block ends."""
    if size < CHILD_FROM:
        yield InProcess(ring)
        return
    child = InChild(ring)
    try:
        yield child
    finally:
        child.close()


def serve(incoming, outgoing) -> None:
    """The child's side of the protocol above, until ``incoming`` closes."""
    work = InProcess(KeyRing.from_env(_take(incoming)))
    while (span := _take(incoming)) is not None:
        work.add(*span)
    _put(outgoing, work.indexes())
    _put(outgoing, work.index_order())
    while True:
        try:
            order, chunk = _take(incoming)
        except EOFError:
            return
        for tokens in work.sealed(order, chunk):
            _put(outgoing, tokens)  # the caller writes this chunk while the next one is encrypted
        _put(outgoing, None)


if __name__ == "__main__":
    try:
        serve(sys.stdin.buffer, sys.stdout.buffer)
    except BrokenPipeError:  # the caller stopped reading: its batch failed, and it reports why
        os._exit(1)
