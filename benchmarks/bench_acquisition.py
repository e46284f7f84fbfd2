"""New customers through the full acquisition path, paced at the goal rate and then overloaded.

Real processes on one machine: a WeCom simulator (its own process), ``siyu web`` (granian, 2 workers) and
``siyu worker`` (dispatcher), SQLite in a throwaway data dir. A channel code with two staff (round-robin), two
tags and a welcome message with an image is created through Siyu's services (so WeCom has the contact way). Then
customers scan it at RATE per second for DURATION seconds, through the simulator's control API. Each scan makes
WeCom send ``add_external_contact``; Siyu stores and acknowledges it, queues the welcome at once, sends it
(``send_welcome_msg``) before WeCom's 20 s deadline and, behind it, re-reads the customer, creates the
relation and applies both tags (``mark_tag``).

Welcomes are counted from the simulator's own records (what WeCom accepted), never from Siyu's rows. Figures per
phase: adds welcomed per second (welcomed ÷ time from the first scan to the last welcome) and the p99 time from
a scan to its welcome (Siyu's ``sent_at``, written when WeCom answered). First the goal pace (50/s), whose
welcomed rate is the sustained capacity; then an overload (150/s), whose welcomed rate is compared with it: a
system that serves the adds it can still welcome keeps that ratio near 1 instead of collapsing. The physical
limit beside them: callbacks the same web server acknowledges per second with nothing processing them. A phase
where nothing was welcomed reports 0 welcomed and no latency (absent, not 0 ms).
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
from benchmarks.common import REPO, figure, free_port, setup_django

RATE = float(os.environ.get("SIYU_BENCH_ACQUISITION_RATE", "50"))  # the goal
OVERLOAD_RATE = float(os.environ.get("SIYU_BENCH_ACQUISITION_OVERLOAD_RATE", "150"))
DURATION = float(os.environ.get("SIYU_BENCH_ACQUISITION_SECONDS", "20"))
SETTLE_SECONDS = 120  # after the last scan: long past every welcome window, so what is not welcomed never will be
DRIVER_THREADS = 32


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _cpu_seconds(root: int) -> float:
    """User + system CPU seconds of process ``root`` and all its descendants (granian forks its workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)  # ppid, utime+stime
    tree = {root}
    for _ in range(4):
        tree |= {pid for pid, (ppid, _cpu) in stats.items() if ppid in tree}
    return sum(stats[pid][1] for pid in tree if pid in stats)


def _calls_by_endpoint(org) -> dict[str, int]:
    from django.db.models import Count

    from siyu.wecom.models import ApiCall

    return dict(ApiCall.objects.for_org(org).values_list("endpoint").annotate(n=Count("pk")).order_by())


def _start(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run() -> list[dict]:
    data_dir = setup_django()
    from siyu.channels.models import WelcomeSend
    from siyu.wecom.models import CallbackEvent
    from siyu.channels.services import create_channel_code
    from siyu.customers.models import Relation, RelationTag, Tag
    from siyu.orgs.models import Staff
    from siyu.wecom.sync import start_full_sync
    from tests.factories import make_org
    from tests.wecom.helpers import connect

    web_port, sim_port = free_port(), free_port()
    sim_url = f"http://127.0.0.1:{sim_port}"
    org = make_org()
    connection = connect(org, corp_id="wwbench0000000001", api_base=f"{sim_url}/cgi-bin/", secret="bench-secret")
    env = {**os.environ, "SIYU_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "siyu.settings",
           "PYTHONPATH": os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(REPO)])),
           "SIYU_LOG_LEVEL": "WARNING", "SIYU_DISPATCH_IDLE_SLEEP": "0.1",
           # The welcome image is one of Siyu's own static files: its public URL is what the worker may fetch.
           "SIYU_PUBLIC_URL": f"http://127.0.0.1:{web_port}"}
    processes = [
        _start(["-m", "siyu.wecom.simulator", "serve", "--port", str(sim_port), "--quiet",
                "--corp-id", connection.corp_id, "--secret", "bench-secret", "--agent-id", connection.agent_id,
                "--senders", "8", "--token", connection.callback_token, "--aes-key", connection.encoding_aes_key,
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

        _wait(lambda: up(f"http://127.0.0.1:{web_port}/login/") and up(f"{sim_url}/sim/state"), 180, "servers")
        for userid in ("guide1", "guide2"):
            control.post("add-staff", json={"userid": userid, "name": userid}).raise_for_status()
        control.post("admin-add-tags", json={"names": ["抖音", "新客"], "group_name": "来源"}).raise_for_status()
        _wait(lambda: Staff.objects.for_org(org).count() == 2 and Tag.objects.for_org(org).count() == 2, 60, "callbacks")
        # Only a full sync learns who has 客户联系 (get_follow_user_list); codes refuse members without it.
        start_full_sync(org, reason="benchmark")
        _wait(lambda: Staff.objects.for_org(org).filter(is_customer_contact=True).count() == 2, 120, "full sync")
        def phase(rate: float, duration: float, label: str) -> dict:
            """Scan a fresh code at ``rate`` for ``duration`` s; then wait until every welcome is settled."""
            code = create_channel_code(
                org, name=f"压测渠道 {label}", staff=list(Staff.objects.for_org(org).order_by("userid")),
                tags=list(Tag.objects.for_org(org)), welcome_enabled=True,
                welcome_text="你好 {customer_nickname}，我是 {staff_name}，欢迎来到山茶物语！",
                # Served by Siyu's own web server: the machine has no internet, and Siyu fetches the
                # image once to upload it to WeCom (media/uploadimg) before the first welcome.
                welcome_attachments=[{"msgtype": "image", "image": {
                    "pic_url": f"http://127.0.0.1:{web_port}/static/demo/afternoon-tea.png"}}],
            )
            count = int(rate * duration)
            cpu_before = [_cpu_seconds(process.pid) for process in processes] + [time.process_time()]
            calls_before = _calls_by_endpoint(org)
            scanned: dict[str, float] = {}
            failed_scans: list[str] = []
            started = time.monotonic()

            def scan(i: int) -> None:
                delay = started + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                at = time.time()
                try:
                    answer = control.post("scan", json={"state": code.state, "name": f"客户{label}{i}"})
                    answer.raise_for_status()
                except httpx.HTTPError as error:
                    failed_scans.append(str(error))
                    return
                scanned[answer.json()["external_userid"]] = at

            with ThreadPoolExecutor(max_workers=DRIVER_THREADS) as pool:
                list(pool.map(scan, range(count)))
            scan_seconds = time.monotonic() - started
            sends = WelcomeSend.objects.for_org(org).filter(external_userid__in=list(scanned))
            settled = sends.exclude(status__in=["pending", "running"])
            _settle(lambda: settled.count() >= len(scanned), SETTLE_SECONDS)
            welcomed = {w["external_userid"] for w in control.get("welcome").json() if w["external_userid"] in scanned}
            sent_at = dict(sends.filter(external_userid__in=welcomed).exclude(sent_at=None)
                           .values_list("external_userid", "sent_at"))
            latencies = sorted(sent_at[ext].timestamp() - scanned[ext] for ext in welcomed if ext in sent_at)
            span = (max(s.timestamp() for s in sent_at.values()) - min(scanned.values())) if sent_at else 0.0
            tagged = RelationTag.objects.for_org(org).filter(relation__state=code.state).values("relation").distinct().count()
            _settle(lambda: not CallbackEvent.objects.for_org(org).filter(status__in=["pending", "running"]).exists(),
                    SETTLE_SECONDS)  # the next phase starts from an empty queue
            cpu_after = [_cpu_seconds(process.pid) for process in processes] + [time.process_time()]
            cpu = {name: (after - before) / max(len(scanned), 1) * 1000 for name, before, after
                   in zip(("simulator", "web", "worker", "driver"), cpu_before, cpu_after)}
            calls = {endpoint: (n - calls_before.get(endpoint, 0)) / max(len(scanned), 1)
                     for endpoint, n in _calls_by_endpoint(org).items() if n > calls_before.get(endpoint, 0)}
            return {"rate": rate, "duration": duration, "count": count, "scanned": len(scanned),
                    "failed_scans": len(failed_scans), "scan_rate": len(scanned) / scan_seconds,
                    "welcomed": len(welcomed), "span": span, "latencies": latencies, "tagged": tagged, "cpu": cpu, "calls": calls}

        sustained = phase(RATE, DURATION, "A")
        overload = phase(OVERLOAD_RATE, DURATION, "B")
        per_staff = list(Relation.objects.for_org(org).values_list("staff__userid").order_by().distinct())

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

    capacity = _welcomed_rate(sustained)
    figures = []
    for result, name in ((sustained, "adds welcomed"), (overload, "overload: adds welcomed")):
        rate = _welcomed_rate(result)
        notes = (f"{result['count']:,} scans asked over {result['duration']:g} s, {result['scanned']:,} taken by the "
                 f"simulator ({result['scan_rate']:.1f}/s; {result['failed_scans']:,} refused or timed out); "
                 f"{result['welcomed']:,} welcomed (image) within WeCom's 20 s by the simulator's records, "
                 f"{result['scanned'] - result['welcomed']:,} not; {result['tagged']:,} relations tagged twice; "
                 f"staff used: {', '.join(sorted(u for (u,) in per_staff))}; CPU per add (the whole add, welcome, "
                 "tags and all): " + ", ".join(f"{k} {v:.0f} ms" for k, v in result["cpu"].items())
                 + "; WeCom calls per add: " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(result["calls"].items()))
                 + ". "
                 "Limit: the same web server acknowledging callbacks with nothing processing them")
        if result is sustained:
            figures.append(figure(f"{name}, scans paced at {result['rate']:g}/s", rate, "adds/s",
                                  limit_value=ingest_rate, limit_unit="callbacks/s", notes=notes + "; goal ≥ 50/s"))
        else:
            figures.append(figure(f"{name}, scans paced at {result['rate']:g}/s", rate, "adds/s",
                                  limit_value=capacity or None, limit_unit="adds/s welcomed at the goal pace",
                                  notes=notes.replace("Limit: the same web server acknowledging callbacks with nothing "
                                                      "processing them", f"Limit: the welcomed rate at {sustained['rate']:g}/s "
                                                      "in this run (goal ratio ≥ 0.9)")))
        latencies = result["latencies"]
        if latencies:
            def p(q: float) -> float:
                return latencies[min(len(latencies) - 1, int(q / 100 * (len(latencies) - 1)))]

            figures.append(figure(f"{name}: scan to welcome p99, paced at {result['rate']:g}/s", p(99) * 1000, "ms",
                                  notes=f"p50 {p(50) * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms over "
                                        f"{len(latencies):,} welcomes; goal p99 ≤ 5,000 ms at the goal pace"))
    return figures


def _welcomed_rate(result: dict) -> float:
    return result["welcomed"] / result["span"] if result["welcomed"] and result["span"] > 0 else 0.0


def _settle(predicate, timeout: float) -> bool:
    """Wait for ``predicate`` up to ``timeout`` s; False when it did not come true (reported, never raised)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True
