"""The Segment spec's message, as the event API decodes it and the normalizer reads it back.

https://segment.com/docs/connections/spec/common/ — fields not listed here (channel, version, …) are ignored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

Id = str | int  # some SDKs send numeric user ids; they are the same id as their text
Name = Annotated[str, msgspec.Meta(max_length=200)]  # Event.name's column


class Message(msgspec.Struct, omit_defaults=True):
    type: str = ""
    userId: Id | None = None
    anonymousId: Id | None = None
    messageId: Annotated[str, msgspec.Meta(max_length=100)] | None = None
    timestamp: datetime | None = None
    originalTimestamp: datetime | None = None
    sentAt: datetime | None = None
    context: dict = {}
    properties: dict = {}
    traits: dict = {}
    event: Name | None = None
    name: Name | None = None
    category: str | None = None
    groupId: Id | None = None
    previousId: Id | None = None
    integrations: dict = {}
    writeKey: str | None = None  # a single call's key may travel in its body; never stored


class Batch(msgspec.Struct):
    """The body of ``/v1/batch``: the messages stay raw until each one's size has been checked."""

    batch: list[msgspec.Raw]
    writeKey: str | None = None
    sentAt: datetime | None = None
    context: dict = {}
    integrations: dict = {}


TYPES = frozenset({"track", "identify", "page", "screen", "group", "alias"})

message_decoder = msgspec.json.Decoder(Message)
batch_decoder = msgspec.json.Decoder(Batch)
stored_decoder = msgspec.json.Decoder(list[Message])
encoder = msgspec.json.Encoder()


def text(value: Id | None) -> str:
    """An id as text, blank when absent."""
    return "" if value is None else str(value).strip()
