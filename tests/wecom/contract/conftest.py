"""The simulator, driven like WeCom, for the contract tests (plain pytest, no Django; ``client`` needs the database)."""

from __future__ import annotations

import httpx
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


@pytest.fixture
def client(db, sim, settings):
    """Siyu's own WeCom client for an organization connected to ``sim`` (members zhangsan and lisi)."""
    from siyu.wecom.client import WeComClient
    from siyu.wecom.connection import save_connection
    from tests.factories import make_org

    settings.WECOM_BACKOFF_BASE, settings.WECOM_BACKOFF_MAX = 0.001, 0.01
    for userid in ("zhangsan", "lisi"):
        sim.add_staff(userid, userid.title())
    org = make_org()
    save_connection(org, corp_id=CORP_ID, agent_id=str(AGENT_ID), secret=SECRET, callback_token=TOKEN,
                    encoding_aes_key=AES_KEY, api_base="http://sim.test/cgi-bin/", by=None)
    with WeComClient.for_org(org, transport=httpx.WSGITransport(app=sim.wsgi_app)) as wecom:
        yield wecom
