"""The HTTP control API and the ``python -m siyu.wecom.simulator`` CLI against a real loopback server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from siyu.wecom.simulator import SimClock, Simulator, run_in_thread
from siyu.wecom.simulator.__main__ import main

from .support import AES_KEY, AGENT_ID, CORP_ID, SECRET, START, TOKEN

SRC = str(Path(__file__).resolve().parents[3] / "src")


@pytest.fixture
def served(receiver):
    sim = Simulator(CORP_ID, SECRET, AGENT_ID, TOKEN, AES_KEY, "https://siyu.test/cb",
                    clock=SimClock(START, frozen=True), deliver=receiver)
    base_url, stop = run_in_thread(sim)
    yield sim, base_url
    stop()
    sim.close()


def test_run_in_thread_serves_the_api_on_a_free_loopback_port(served):
    sim, base_url = served
    assert base_url.startswith("http://127.0.0.1:") and not base_url.endswith(":0")
    token = httpx.get(f"{base_url}/cgi-bin/gettoken", params={"corpid": CORP_ID, "corpsecret": SECRET}).json()
    assert token["errcode"] == 0
    follow = httpx.get(f"{base_url}/cgi-bin/externalcontact/get_follow_user_list",
                       params={"access_token": token["access_token"]})
    assert follow.status_code == 200 and follow.json() == {"errcode": 0, "errmsg": "ok", "follow_user": []}
    assert httpx.get(f"{base_url}/elsewhere").status_code == 404


def test_http_control_api(served, receiver):
    sim, base_url = served
    control = httpx.Client(base_url=f"{base_url}/sim")
    assert control.post("/add-staff", json={"userid": "zhangsan", "name": "张三"}).json()["userid"] == "zhangsan"
    assert receiver.changes() == [("change_contact", "create_user")]
    customer = control.post("/add-customer", json={"userid": "zhangsan", "name": "王姐"}).json()
    message = control.post("/chat", json={"external_userid": customer["external_userid"], "text": "请问这款香薰还有货吗"}).json()
    assert message["from"] == customer["external_userid"] and message["tolist"] == ["zhangsan"]
    assert control.post("/advance", json={"seconds": 60}).json()["now"] == START + 60

    state = control.get("/state").json()
    assert (state["staff"], state["customers"], state["archive_messages"]) == (1, 1, 1)
    assert control.get("/customers").json()[0]["relations"][0]["userid"] == "zhangsan"
    assert [d["change_type"] for d in control.get("/deliveries", params={"limit": 1}).json()] == ["add_external_contact"]
    archive = control.get("/archive", params={"seq": 0, "limit": 10}).json()
    assert archive["errcode"] == 0
    (item,) = archive["chatdata"]
    assert set(item) == {"seq", "msgid", "publickey_ver", "message"}
    assert item["message"]["msgtype"] == "text" and item["message"]["action"] == "send"
    assert control.get("/archive", params={"seq": 1}).json()["chatdata"] == []
    assert control.get("/archive", params={"limit": 1001}).json()["errcode"] == 10000

    missing = control.post("/scan", json={"state": "nope"})
    assert missing.status_code == 404 and "nope" in missing.json()["error"]
    bad_args = control.post("/scan", json={"bogus": 1})
    assert bad_args.status_code == 400 and "bad arguments" in bad_args.json()["error"]
    assert control.post("/scan", content=b"[1]").status_code == 400
    assert control.get("/scan").status_code == 405
    assert control.post("/summary").status_code == 404  # only listed routes are reachable
    assert control.post("/set-limits", json={"nonsense": 1}).status_code == 400
    assert control.post("/fail-next", json={"path": "gettoken", "errcode": 45009}).json()["errcode"] == 45009
    assert httpx.get(f"{base_url}/cgi-bin/gettoken", params={"corpid": CORP_ID, "corpsecret": SECRET}).json()["errcode"] == 45009

    assert control.post("/set-callback-url", json={"url": ""}).json() == {"callback_url": None}
    calls = len(receiver.calls)
    control.post("/add-staff", json={"userid": "lisi"})
    assert len(receiver.calls) == calls and control.get("/deliveries").json()[-1]["status"] == "skipped"
    assert control.post("/update-staff", json={"userid": "lisi", "salary": 1}).status_code == 400


def test_cli_client_commands(served, capsys):
    sim, base_url = served
    sim.add_staff("zhangsan", "张三")

    def run(*argv):
        code = main([*argv[:1], "--url", base_url, *argv[1:]])
        return code, json.loads(capsys.readouterr().out)

    assert run("add-staff", "lisi", "--name", "李四")[1]["name"] == "李四"
    code, customer = run("add-customer", "zhangsan", "--name", "王姐")
    assert code == 0
    ext = customer["external_userid"]
    assert run("chat", ext, "请问这款香薰还有货吗")[1]["text"]["content"] == "请问这款香薰还有货吗"
    code, group = run("create-group", "zhangsan", "--name", "香薰群")
    assert run("join-group", "--chat-id", group["chat_id"], "--external-userid", ext)[1]["member_count"] == 2
    assert run("delete", ext, "--userid", "zhangsan")[1]["status"] == "deleted_by_customer"
    assert run("remove-staff", "lisi")[1]["userid"] == "lisi"
    assert run("advance", "30")[1]["now"] == START + 30
    assert run("call", "admin-add-tags", '{"names": ["金卡"], "group_name": "等级"}')[1]["tags"][0]["name"] == "金卡"
    assert run("state")[1]["groups"] == 1
    code, error = run("scan", "--state", "nope")
    assert code == 1 and "nope" in error["error"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_python_dash_m_serve_and_client(tmp_path):
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    state_file = tmp_path / "state.json"
    server = subprocess.Popen(
        [sys.executable, "-m", "siyu.wecom.simulator", "serve", "--port", str(port), "--corp-id", CORP_ID,
         "--secret", SECRET, "--token", TOKEN, "--aes-key", AES_KEY, "--agent-id", str(AGENT_ID),
         "--state-file", str(state_file), "--quiet"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        banner = server.stdout.readline()
        assert f"127.0.0.1:{port}" in banner
        url = f"http://127.0.0.1:{port}"
        client = subprocess.run(
            [sys.executable, "-m", "siyu.wecom.simulator", "add-staff", "zhangsan", "--name", "张三", "--url", url],
            env=env, capture_output=True, text=True, timeout=60,
        )
        assert client.returncode == 0, client.stderr
        assert json.loads(client.stdout)["userid"] == "zhangsan"
        assert httpx.get(f"{url}/sim/state").json()["staff"] == 1
    finally:
        server.terminate()  # SIGTERM: the server saves its state before exiting
        server.wait(timeout=30)
    assert server.returncode == 0
    assert "zhangsan" in json.loads(state_file.read_text(encoding="utf-8"))["staff"]

