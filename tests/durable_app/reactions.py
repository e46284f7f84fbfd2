"""A domain-event subscriber used by the tests of events and of killing a worker mid-reaction.

Driven by the event's payload: ``key`` names the effect (one Effect row per key, whoever writes it);
``sleep_before`` / ``sleep_after`` sleep before / after writing it, on the first delivery attempt only (a marker
row says a first attempt started), so a worker can be killed in that window; ``blocked`` raises until an
``unblock:<key>`` Effect exists.
"""

from __future__ import annotations

import os
import socket
import time

CHORE_NOTED = "chore.noted"


def worker() -> str:
    # The same prefix as the dispatcher's lease owner, so a test can tell which process wrote the effect.
    return f"{socket.gethostname()}:{os.getpid()}:"


def record_effect(event) -> None:
    from tests.durable_app.models import Effect

    key = event.payload["key"]
    if event.payload.get("blocked") and not Effect.objects.filter(org_id=event.org_id, key=f"unblock:{key}").exists():
        raise RuntimeError(f"{key} is blocked")
    _, first = Effect.objects.get_or_create(org_id=event.org_id, key=f"started:{key}", defaults={"by": worker()})
    if first:
        time.sleep(event.payload.get("sleep_before", 0))
    Effect.objects.get_or_create(org_id=event.org_id, key=key, defaults={"by": worker()})
    if first:
        time.sleep(event.payload.get("sleep_after", 0))
