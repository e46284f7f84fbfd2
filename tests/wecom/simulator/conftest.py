"""Fixtures for the simulator tests: plain pytest, no Django (they also pass with ``-p no:django``)."""

from __future__ import annotations

import pytest

from siyu.wecom.simulator import SimClock, Simulator

from .support import AES_KEY, AGENT_ID, CALLBACK_URL, CORP_ID, SECRET, START, TOKEN, Api, Receiver


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def sim(receiver) -> Simulator:
    simulator = Simulator(CORP_ID, SECRET, AGENT_ID, TOKEN, AES_KEY, CALLBACK_URL,
                          clock=SimClock(START, frozen=True), deliver=receiver)
    yield simulator
    simulator.close()


@pytest.fixture
def api(sim) -> Api:
    return Api(sim)
