"""The scenario driver, and the simulator's independence from Django."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

from siyu.wecom.simulator import ScenarioDriver, SimClock, Simulator
from siyu.wecom.simulator.names import CUSTOMER_LINES, STAFF_LINES

from .support import AES_KEY, AGENT_ID, CORP_ID, SECRET, START, TOKEN, Api, Receiver, ok

SRC = str(Path(__file__).resolve().parents[3] / "src")


def _world():
    receiver = Receiver()
    sim = Simulator(CORP_ID, SECRET, AGENT_ID, TOKEN, AES_KEY, "https://siyu.test/cb",
                    clock=SimClock(START, frozen=True), deliver=receiver)
    api = Api(sim)
    for userid in ("zhangsan", "lisi", "wangwu"):
        sim.add_staff(userid, userid)
    for state in ("门店A", "直播间"):
        ok(api.post("externalcontact/add_contact_way", {"type": 2, "scene": 2, "state": state,
                                                         "user": ["zhangsan", "lisi", "wangwu"]}))
    chat = sim.create_group("zhangsan", "香薰爱好者")["chat_id"]
    ok(api.post("externalcontact/groupchat/add_join_way", {"scene": 2, "chat_id_list": [chat], "state": "live"}))
    receiver.clear()
    return sim, receiver


def test_a_seeded_scenario_plays_the_same_story():
    stories = []
    for _ in range(2):
        sim, _receiver = _world()
        log = ScenarioDriver(sim, rate=0, seed=7, max_events=300).run()
        stories.append([(entry["action"], entry.get("userid")) for entry in log])
        sim.close()
    assert stories[0] == stories[1] and len(stories[0]) == 300


def test_scenario_produces_customers_chats_groups_and_callbacks():
    sim, receiver = _world()
    log = ScenarioDriver(sim, rate=0, seed=1, max_events=400).run()
    actions = Counter(entry["action"] for entry in log)
    assert actions["scan"] > 50 and actions["chat"] > 50 and actions["join_group"] > 10
    assert not [entry for entry in log if "error" in entry]
    states = {e.get("State") for e in receiver.events() if e["ChangeType"] == "add_external_contact"}
    assert states >= {"门店A", "直播间"}
    texts = {m["message"]["text"]["content"] for m in sim.archive(limit=1000)["chatdata"]}
    assert texts <= set(CUSTOMER_LINES) | set(STAFF_LINES) and len(texts) > 5
    assert {"change_external_chat", "change_external_contact"} <= {e for e, _c in receiver.changes()}
    sim.close()


def test_scenario_is_bounded_by_duration_and_can_run_in_a_thread():
    sim, _receiver = _world()
    slept = []
    driver = ScenarioDriver(sim, rate=1000, seed=3, duration=0.2, sleep=slept.append)
    driver.start()
    driver.stop()
    assert all(s == 0.001 for s in slept)
    bounded = ScenarioDriver(sim, rate=0, seed=3, duration=0.0).run()
    assert bounded == []
    sim.close()


def test_the_scenario_starts_an_empty_corp():
    sim = Simulator(CORP_ID, SECRET, AGENT_ID, TOKEN, AES_KEY, clock=SimClock(START, frozen=True))
    log = ScenarioDriver(sim, rate=0, seed=5, max_events=30).run()
    assert log[0]["action"] == "staff_joins"
    assert sim.summary()["customers"] > 0
    sim.close()


def test_importing_the_simulator_does_not_import_django():
    code = ("import sys; import siyu.wecom.simulator, siyu.wecom.simulator.__main__; "
            "assert not any(m == 'django' or m.startswith('django.') for m in sys.modules), 'django imported'")
    subprocess.run([sys.executable, "-c", code], check=True, env={"PYTHONPATH": SRC, "PATH": ""})
