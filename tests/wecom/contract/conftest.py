"""The simulator, driven like WeCom, for the contract tests (plain pytest, no Django)."""

from __future__ import annotations

import pytest

from siyu.wecom.simulator import SimClock, Simulator
from tests.wecom.simulator.support import AES_KEY, AGENT_ID, CALLBACK_URL, CORP_ID, SECRET, START, TOKEN, Api, Receiver


@pytest.fixture
def sim():
    simulator = Simulator(CORP_ID, SECRET, AGENT_ID, TOKEN, AES_KEY, CALLBACK_URL,
                          clock=SimClock(START, frozen=True), deliver=Receiver())
    yield simulator
    simulator.close()


@pytest.fixture
def api(sim) -> Api:
    return Api(sim)
