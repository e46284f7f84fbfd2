"""The JSON state file: atomic, throttled snapshots that survive a restart."""

from __future__ import annotations

import json
import time

from siyu.wecom.simulator import SimClock, Simulator

from .support import AES_KEY, AGENT_ID, CORP_ID, SECRET, START, TOKEN, Api, ok


def _sim(path, clock=None):
    return Simulator(CORP_ID, SECRET, AGENT_ID, TOKEN, AES_KEY, state_file=path,
                     clock=clock or SimClock(START, frozen=True), snapshot_interval=0.05)


def test_round_trip_keeps_the_corp(tmp_path):
    path = tmp_path / "sim" / "state.json"
    first = _sim(path)
    api = Api(first)
    first.add_department("上海", order=3)
    first.add_staff("zhangsan", "张三")
    config_id = ok(api.post("externalcontact/add_contact_way",
                            {"type": 1, "scene": 2, "user": ["zhangsan"], "state": "门店A"}))["config_id"]
    ext = first.scan(state="门店A", name="王姐")["external_userid"]
    tag = first.admin_add_tags(["金卡"], group_name="等级")["tags"][0]["id"]
    ok(api.post("externalcontact/mark_tag", {"userid": "zhangsan", "external_userid": ext, "add_tag": [tag]}))
    chat = first.create_group("zhangsan", "VIP群", members=[ext])["chat_id"]
    first.chat(ext, "请问这款香薰还有货吗")
    first.advance(3600)
    first.close()
    assert json.loads(path.read_text(encoding="utf-8"))["staff"]["zhangsan"]["name"] == "张三"

    second = _sim(path)
    assert second.now() == START + 3600  # the saved simulation time carries on
    assert second.state.departments[2].name == "上海"
    assert second.state.contact_ways[config_id].state == "门店A"
    assert second.state.relation("zhangsan", ext).tag_ids == [tag]
    assert second.state.groups[chat].members[1].userid == ext
    assert second.archive()["chatdata"][0]["message"]["text"]["content"] == "请问这款香薰还有货吗"
    again = Api(second)
    assert again.get("externalcontact/list", userid="zhangsan")["external_userid"] == [ext]
    old_token_result = again.http.get("/cgi-bin/externalcontact/list",
                                      params={"access_token": api.token, "userid": "zhangsan"}).json()
    assert old_token_result["errcode"] == 0  # tokens survive a restart too
    assert second.scan(state="门店A")["userid"] == "zhangsan"
    second.close()


def test_snapshots_are_throttled_and_written_in_the_background(tmp_path):
    path = tmp_path / "state.json"
    sim = _sim(path)
    sim.add_staff("zhangsan", "张三")
    deadline = time.monotonic() + 5
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "zhangsan" in json.loads(path.read_text(encoding="utf-8"))["staff"]
    assert not list(tmp_path.glob("*.tmp"))
    sim.close()
