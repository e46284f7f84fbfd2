"""A scenario driver: simulated customers and staff acting at a chosen rate.

It powers the demo ("a brand's private domain, alive") and load tests. Every
decision comes from one seeded ``random.Random``, so the same seed against
the same starting state plays the same story. It only uses the Simulator's
public control methods, so every action produces the callbacks WeCom would.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any, Callable

from . import names
from .core import Simulator
from .errors import SimulatorError
from .state import ACTIVE, PENDING

# Relative frequencies of what happens in a brand's private domain.
WEIGHTS = {
    "scan": 35,
    "accept": 6,
    "chat": 30,
    "staff_reply": 8,
    "join_group": 10,
    "customer_deletes_staff": 4,
    "staff_deletes_customer": 2,
    "staff_joins": 1,
    "staff_leaves": 1,
}


class ScenarioDriver:
    """Plays ``max_events`` actions (or for ``duration`` seconds) at ``rate`` actions per second.

    ``rate`` of 0 means as fast as possible. Actions that cannot happen in the
    current state (no group to join yet) fall back to a scan, and anything the
    simulator refuses (a full group) is recorded as an error, not raised.
    """

    def __init__(
        self,
        sim: Simulator,
        *,
        rate: float = 1.0,
        seed: int = 0,
        max_events: int | None = None,
        duration: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate < 0:
            raise ValueError("rate must be >= 0")
        self.sim = sim
        self.rate = rate
        self.rng = random.Random(seed)
        self.max_events = max_events
        self.duration = duration
        self._sleep = sleep
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.log: list[dict[str, Any]] = []

    # running

    def run(self) -> list[dict[str, Any]]:
        """Play until the count or duration is reached or :meth:`stop` is called; returns the log."""
        started = time.monotonic()
        while not self._stop.is_set():
            if self.max_events is not None and len(self.log) >= self.max_events:
                break
            if self.duration is not None and time.monotonic() - started >= self.duration:
                break
            self.log.append(self.step())
            if self.rate:
                self._sleep(1.0 / self.rate)
        return self.log

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="wecom-sim-scenario", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    # one action

    def step(self) -> dict[str, Any]:
        action = self.rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
        options = self.sim.choices()
        try:
            return getattr(self, "_" + action)(options)
        except SimulatorError as exc:
            return {"action": action, "error": str(exc)}

    def _scan(self, options) -> dict[str, Any]:
        if not options["staff"]:
            return self._staff_joins(options)
        live = [w for w in options["contact_ways"] if w["users"]]
        ways = [w for w in live if w["state"]] or live
        name = names.person_name(self.rng)
        if not ways:  # no channel code yet: a member adds the customer by mobile number
            result = self.sim.add_customer(self.rng.choice(options["staff"]), name=name)
            return {"action": "add_customer", **result}
        way = self.rng.choice(ways)
        if way["state"]:
            result = self.sim.scan(state=way["state"], name=name)
        else:
            result = self.sim.scan(config_id=way["config_id"], name=name)
        return {"action": "scan", **result}

    def _accept(self, options) -> dict[str, Any]:
        pending = [r for r in options["relations"] if r["status"] == PENDING]
        if not pending:
            return self._scan(options)
        rel = self.rng.choice(pending)
        return {"action": "accept", **self.sim.accept(rel["userid"], rel["external_userid"])}

    def _chat(self, options, from_staff: bool = False) -> dict[str, Any]:
        active = [r for r in options["relations"] if r["status"] == ACTIVE]
        if not active:
            return self._scan(options)
        rel = self.rng.choice(active)
        lines = names.STAFF_LINES if from_staff else names.CUSTOMER_LINES
        message = self.sim.chat(rel["external_userid"], self.rng.choice(lines), userid=rel["userid"], from_staff=from_staff)
        return {"action": "staff_reply" if from_staff else "chat", "seq": message["seq"], "from": message["from"]}

    def _staff_reply(self, options) -> dict[str, Any]:
        return self._chat(options, from_staff=True)

    def _join_group(self, options) -> dict[str, Any]:
        if options["join_ways"] and self.rng.random() < 0.7:
            result = self.sim.join_group(config_id=self.rng.choice(options["join_ways"]), name=names.person_name(self.rng))
        elif options["groups"]:
            result = self.sim.join_group(chat_id=self.rng.choice(options["groups"]), via="invite",
                                         name=names.person_name(self.rng))
        else:
            return self._scan(options)
        return {"action": "join_group", **result}

    def _customer_deletes_staff(self, options) -> dict[str, Any]:
        active = [r for r in options["relations"] if r["status"] == ACTIVE]
        if not active:
            return self._scan(options)
        rel = self.rng.choice(active)
        return {"action": "customer_deletes_staff", **self.sim.customer_deletes_staff(rel["external_userid"], rel["userid"])}

    def _staff_deletes_customer(self, options) -> dict[str, Any]:
        visible = [r for r in options["relations"] if r["status"] != PENDING]
        if not visible:
            return self._scan(options)
        rel = self.rng.choice(visible)
        return {"action": "staff_deletes_customer", **self.sim.staff_deletes_customer(rel["userid"], rel["external_userid"])}

    def _staff_joins(self, options) -> dict[str, Any]:
        return {"action": "staff_joins", **self.sim.add_staff(name=names.person_name(self.rng))}

    def _staff_leaves(self, options) -> dict[str, Any]:
        # Keep the demo alive: never the last members, nor the last active member of a channel code.
        sole = {w["users"][0] for w in options["contact_ways"] if len(w["users"]) == 1}
        leavers = [u for u in options["staff"] if u not in sole]
        if len(options["staff"]) <= 2 or not leavers:
            return self._staff_joins(options)
        return {"action": "staff_leaves", **self.sim.remove_staff(self.rng.choice(leavers))}
