"""The `siyu` command: createadmin, demo, and `siyu run` starting and stopping everything."""

import os
import signal
import socket
import subprocess
import sys
import time

import io
import re

import httpx
import pytest
import zxingcpp
from PIL import Image
from django.core.management import CommandError, call_command

from siyu.orgs.models import Membership, Organization, Store, User
from siyu.orgs.roles import Role


def test_createadmin_scripted_platform_admin(db):
    call_command("createadmin", username="root", password="a long enough secret")
    user = User.objects.get(username="root")
    assert user.is_superuser and user.check_password("a long enough secret")


def test_createadmin_scripted_org_owner_creates_the_org(db):
    call_command("createadmin", username="boss", password="a long enough secret", org="tea", role="owner")
    org = Organization.objects.get(slug="tea")
    assert Membership.objects.for_org(org).get(user__username="boss").role == Role.OWNER


def test_createadmin_refuses_weak_passwords_and_changes_nothing(db):
    with pytest.raises(CommandError):
        call_command("createadmin", username="weak", password="123", org="tea2")
    assert not User.objects.filter(username="weak").exists()
    assert not Organization.objects.filter(slug="tea2").exists()


def test_demo_creates_hq_two_regions_six_stores_and_every_role_once(db, capsys):
    call_command("demo")
    call_command("demo")  # idempotent
    org = Organization.objects.get(slug="demo")
    stores = Store.objects.for_org(org)
    assert stores.filter(kind=Store.Kind.HQ).count() == 1
    assert stores.filter(kind=Store.Kind.REGION).count() == 2
    assert stores.filter(kind=Store.Kind.STORE).count() == 6
    roles = set(Membership.objects.for_org(org).values_list("role", flat=True))
    assert roles == set(Role.values)
    out = capsys.readouterr().out
    assert "demo_owner" in out and "Password for all demo accounts" in out
    password = out.split("Password for all demo accounts:")[1].split()[0]
    assert User.objects.get(username="demo_guide_sh01").check_password(password)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def decode_first_channel_qr(base: str, output: str) -> str:
    """Sign in as the demo owner, download the first channel code's QR PNG and decode what a phone would read."""
    password = output.split("Password for all demo accounts:")[1].split()[0]
    with httpx.Client(base_url=base, follow_redirects=True, timeout=10) as client:
        login = client.get("/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
        client.post("/login/", data={"csrfmiddlewaretoken": token, "username": "demo_owner", "password": password})
        # The demo's channel codes are created in WeCom (the simulator) by the worker, once it is up.
        deadline, found = time.monotonic() + 120, None
        while found is None and time.monotonic() < deadline:
            found = re.search(r'href="/channels/(\d+)/"', client.get("/channels/").text)
            time.sleep(0 if found else 1)
        assert found is not None, "no channel code appeared"
        code_id = found.group(1)
        png = client.get(f"/channels/{code_id}/qr.png")
    assert png.headers["content-type"] == "image/png"
    (decoded,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))
    return decoded.text


def test_siyu_run_serves_the_console_and_stops_cleanly_on_ctrl_c(tmp_path):
    """The README's first command, end to end: fresh data dir → migrate → demo → web + worker + simulated WeCom
    → Ctrl-C. Output goes to a file: four processes writing into an unread pipe could block on a full buffer."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIYU_", "DJANGO_"))}
    env["SIYU_DATA_DIR"] = str(tmp_path / "var")
    log = tmp_path / "run.log"
    with open(log, "wb") as output:
        proc = subprocess.Popen(
            [sys.executable, "-m", "siyu", "run", "--demo", "--port", str(port)],
            env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        deadline, response = time.monotonic() + 240, None
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/", follow_redirects=True, timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, log.read_text()
                time.sleep(0.3)
        assert response is not None and response.status_code == 200
        assert "/login/" in str(response.url) and "登录" in response.text
        for name in ["siyu.sqlite3", "huey.sqlite3", "secret_key", "keys.json"]:
            assert (tmp_path / "var" / name).exists(), name
        printed = decode_first_channel_qr(f"http://127.0.0.1:{port}", log.read_text())
        assert printed.startswith(f"http://127.0.0.1:{port}/c/demo/"), printed
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole process group
        assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
        output = log.read_text()
        assert "Siyu stopped." in output and "demo_owner" in output
        assert f"Sign in at http://127.0.0.1:{port}/login/" in output
        # granian's worker process may take a moment after its parent to let go of the port.
        closing = time.monotonic() + 15
        while time.monotonic() < closing:
            try:
                httpx.get(f"http://127.0.0.1:{port}/login/", timeout=1)
            except httpx.TransportError:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the web server still answers after siyu run stopped")
    finally:
        _kill_with_children(proc.pid)  # anything left (nothing, when all went well)


def _siyu(env, *args, timeout=300) -> str:
    done = subprocess.run([sys.executable, "-m", "siyu", *args], env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _child_pid(parent: int, name: str) -> int:
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = open(f"/proc/{entry}/stat").read()
            cmdline = open(f"/proc/{entry}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and name.encode() in cmdline:
            return int(entry)
    raise LookupError(name)


def _kill_with_children(parent: int) -> None:
    """SIGKILL ``parent``'s process group and each child's: ``siyu run`` starts every child in a session of its
    own, so killing the parent's group alone would leave them running after a failed test."""
    children = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1]) == parent:
                children.append(int(entry))
        except OSError:
            continue
    for pid in [parent, *children]:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_a_killed_worker_is_restarted_and_finishes_the_pending_work(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIYU_", "DJANGO_"))}
    env["SIYU_DATA_DIR"] = str(tmp_path / "var")
    _siyu(env, "createadmin", "--username", "boss", "--password", "a long enough secret", "--org", "acme")
    log = tmp_path / "run.log"
    with open(log, "wb") as output:
        proc = subprocess.Popen([sys.executable, "-m", "siyu", "run", "--port", str(port)],
                                env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while "Siyu is running" not in log.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.3)
        worker = None
        while worker is None and time.monotonic() < deadline:
            try:
                worker = _child_pid(proc.pid, "worker")
            except LookupError:
                time.sleep(0.3)
        # Freeze the worker, queue work it cannot take, then kill it: the work is pending when it dies.
        os.kill(worker, signal.SIGSTOP)
        job_id = _siyu(env, "shell", "-c", (
            "from siyu.customers.bulk import start_phone_reindex; from siyu.orgs.models import Organization; "
            "print(start_phone_reindex(Organization.objects.get(slug='acme')).pk)"
        )).strip().splitlines()[-1]
        os.kill(worker, signal.SIGKILL)
        check = f"from siyu.core.models import Job; print(Job.objects.get(pk={job_id}).status)"
        status, deadline = "", time.monotonic() + 180
        while status != "succeeded" and time.monotonic() < deadline:
            status = _siyu(env, "shell", "-c", check).strip().splitlines()[-1]
            time.sleep(0.5)
        output = log.read_text()
        assert status == "succeeded", output[-3000:]
        assert "worker exited with -9; restarting in 1s (restart 1)." in output
        assert _child_pid(proc.pid, "worker") != worker
        assert httpx.get(f"http://127.0.0.1:{port}/login/", timeout=5).status_code == 200  # the web server stayed up
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
        assert "Siyu stopped." in log.read_text()
    finally:
        _kill_with_children(proc.pid)


def test_a_command_on_an_unmigrated_data_dir_says_what_to_run(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIYU_", "DJANGO_"))}
    env["SIYU_DATA_DIR"] = str(tmp_path / "var")
    done = subprocess.run([sys.executable, "-m", "siyu", "wecom", "check", "--org", "acme"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"Siyu: the database in {tmp_path / 'var'} is not set up yet; run `siyu migrate` first."
    ]
