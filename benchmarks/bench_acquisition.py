"""New customers through the full acquisition path, paced at a target rate, beside the callback ingest rate.

Real processes on one machine: a WeCom simulator (its own process), ``siyu web`` (granian, 2 workers) and
``siyu worker`` (dispatcher), SQLite in a throwaway data dir. A channel code with two staff (round-robin), two
tags and a welcome message with an image is created through Siyu's services (so WeCom has the contact way). Then
customers scan it at RATE per second for DURATION seconds, through the simulator's control API. Each scan makes
WeCom send ``add_external_contact``; Siyu acknowledges it, re-reads the customer, creates the relation, applies
both tags (``mark_tag``) and sends the welcome (``send_welcome_msg``) — all before WeCom's 20 s deadline.

Figures: the sustained rate (adds whose welcome was sent ÷ time from the first scan to the last welcome) and
the p50/p99 time from a scan to its welcome being sent, first at a pace the machine sustains, then at the goal rate. The limit beside them: callbacks the same web server
acknowledges per second when nothing processes them (ingest alone), measured in the same run.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from benchmarks import bench_callbacks as ingest
from benchmarks.common import REPO, figure, setup_django

RATE = float(os.environ.get("SIYU_BENCH_ACQUISITION_RATE", "50"))  # the goal
SUSTAINED_RATE = float(os.environ.get("SIYU_BENCH_ACQUISITION_SUSTAINED_RATE", "15"))  # what this machine keeps up with
DURATION = float(os.environ.get("SIYU_BENCH_ACQUISITION_SECONDS", "20"))


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _start(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run() -> list[dict]:
    data_dir = setup_django()
    from siyu.channels.models import WelcomeSend
    from siyu.channels.services import create_channel_code
    from siyu.customers.models import Relation, RelationTag, Tag
    from siyu.orgs.models import Staff
    from tests.factories import make_org
    from tests.wecom.helpers import connect

    web_port, sim_port = ingest._free_port(), ingest._free_port()
    sim_url = f"http://127.0.0.1:{sim_port}"
    org = make_org()
    connection = connect(org, corp_id="wwbench0000000001", api_base=f"{sim_url}/cgi-bin/", secret="bench-secret")
    env = {**os.environ, "SIYU_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "siyu.settings",
           "PYTHONPATH": os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(REPO)])),
           "SIYU_LOG_LEVEL": "WARNING", "SIYU_DISPATCH_IDLE_SLEEP": "0.1"}
    processes = [
        _start(["-m", "siyu.wecom.simulator", "serve", "--port", str(sim_port), "--quiet",
                "--corp-id", connection.corp_id, "--secret", "bench-secret", "--agent-id", connection.agent_id,
                "--token", connection.callback_token, "--aes-key", connection.encoding_aes_key,
                "--callback-url", f"http://127.0.0.1:{web_port}/wecom/callback/{org.slug}/"], env),
        _start(["-m", "siyu", "web", "--port", str(web_port), "--workers", "2"], env),
        _start(["-m", "siyu", "worker"], env),
    ]
    control = httpx.Client(base_url=f"{sim_url}/sim/", timeout=30)
    try:
        def up(url):
            try:
                httpx.get(url, timeout=1)
                return True
            except httpx.TransportError:
                return False

        _wait(lambda: up(f"http://127.0.0.1:{web_port}/login/") and up(f"{sim_url}/sim/state"), 60, "servers")
        for userid in ("guide1", "guide2"):
            control.post("add-staff", json={"userid": userid, "name": userid}).raise_for_status()
        control.post("admin-add-tags", json={"names": ["抖音", "新客"], "group_name": "来源"}).raise_for_status()
        _wait(lambda: Staff.objects.for_org(org).count() == 2 and Tag.objects.for_org(org).count() == 2, 60, "sync")
        def phase(rate: float, duration: float, label: str) -> dict:
            """Scan a fresh code at ``rate`` for ``duration`` s; wait until every add is welcomed or expired."""
            code = create_channel_code(
                org, name=f"压测渠道 {label}", staff=list(Staff.objects.for_org(org).order_by("userid")),
                tags=list(Tag.objects.for_org(org)), welcome_enabled=True,
                welcome_text="你好 {customer_nickname}，我是 {staff_name}，欢迎来到山茶物语！",
                welcome_attachments=[{"msgtype": "image", "image": {"pic_url": "https://example.com/welcome.png"}}],
            )
            count = int(rate * duration)
            scanned: dict[str, float] = {}
            started = time.monotonic()

            def scan(i: int) -> None:
                delay = started + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                at = time.time()
                answer = control.post("scan", json={"state": code.state, "name": f"客户{label}{i}"})
                answer.raise_for_status()
                scanned[answer.json()["external_userid"]] = at

            with ThreadPoolExecutor(max_workers=16) as pool:
                list(pool.map(scan, range(count)))
            sends = WelcomeSend.objects.for_org(org).filter(code=code)
            # Every add ends with its welcome sent, or failed once WeCom's 20 s window has passed.
            _wait(lambda: sends.filter(status__in=["done", "failed"]).count() >= count, 300, "welcomes")
            rows = list(sends.exclude(sent_at=None).values_list("relation__customer__external_userid", "sent_at"))
            if not rows:
                raise RuntimeError(f"no welcome of {count} was sent in time")
            tagged = RelationTag.objects.for_org(org).filter(relation__state=code.state).values("relation").distinct().count()
            if tagged < len(rows):
                raise RuntimeError(f"{tagged} relations tagged, {len(rows)} welcomed")
            latencies = sorted(sent.timestamp() - scanned[ext] for ext, sent in rows)
            span = max(sent.timestamp() for _, sent in rows) - min(scanned.values())
            return {"rate": rate, "duration": duration, "count": count, "welcomed": len(rows), "span": span,
                    "latencies": latencies}

        phases = [phase(SUSTAINED_RATE, DURATION, "A"), phase(RATE, DURATION, "B")]
        per_staff = list(Relation.objects.for_org(org).values_list("staff__userid").order_by().distinct())
        if len(per_staff) != 2:
            raise RuntimeError(f"round-robin used {per_staff}")

        processes[2].terminate()  # the limit: ingest alone, with no worker processing what arrives
        processes[2].wait(timeout=30)
        other = make_org()
        other_connection = connect(other)
        requests, _raw = ingest._requests(other_connection, other.slug, 5000)
        ingest_started = time.perf_counter()
        _latencies, statuses = asyncio.run(ingest._load(web_port, requests))
        ingest_rate = statuses.count(200) / (time.perf_counter() - ingest_started)
    finally:
        control.close()
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            process.wait(timeout=30)

    figures = []
    for result in phases:
        latencies = result["latencies"]

        def p(q: float) -> float:
            return latencies[min(len(latencies) - 1, int(q / 100 * (len(latencies) - 1)))]

        expired = result["count"] - result["welcomed"]
        figures += [
            figure(f"adds welcomed, scans paced at {result['rate']:g}/s", result["welcomed"] / result["span"], "adds/s",
                   limit_value=ingest_rate, limit_unit="callbacks/s",
                   notes=(f"{result['count']:,} scans over {result['duration']:g} s: {result['welcomed']:,} added, tagged "
                          f"twice and welcomed (image) in time, {expired:,} past WeCom's 20 s window; callback → relation → "
                          f"mark_tag → send_welcome_msg; {result['span']:.1f} s from first scan to last welcome; goal 50/s. "
                          "Limit: the same web server acknowledging callbacks with nothing processing them")),
            figure(f"scan to welcome sent p99, paced at {result['rate']:g}/s", p(99) * 1000, "ms",
                   notes=f"p50 {p(50) * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms; goal p99 < 5,000 ms"),
        ]
    return figures
