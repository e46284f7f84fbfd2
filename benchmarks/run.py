"""The benchmark harness ``make bench`` calls: ``python -m benchmarks.run [--only NAME]``.

Every ``benchmarks/bench_<name>.py`` exposes ``run() -> list[dict]`` (one dict per figure, see
:func:`benchmarks.common.figure`). The harness runs them, adds the machine and the date, prints a table and
writes ``benchmarks/results/<name>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path

from benchmarks import common

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def available() -> list[str]:
    return sorted(path.stem.removeprefix("bench_") for path in HERE.glob("bench_*.py"))


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def machine() -> dict:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "database": common.database_description(),
    }


def _fmt(value, unit) -> str:
    if value is None:
        return "—"
    return f"{value:,.1f} {unit or ''}".strip()


def print_table(name: str, figures: list[dict]) -> None:
    rows = [("figure", "value", "physical limit", "ratio")]
    for f in figures:
        ratio = f"{f['ratio']:.1%}" if f.get("ratio") is not None else "—"
        rows.append((f["name"], _fmt(f["value"], f["unit"]), _fmt(f.get("limit_value"), f.get("limit_unit")), ratio))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    print(f"\n== {name}")
    for i, row in enumerate(rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    for f in figures:
        if f.get("notes"):
            print(f"  · {f['name']}: {f['notes']}")


def today() -> str:
    # In UTC: Django's setup points the process's local time at TIME_ZONE.
    return dt.datetime.now(dt.timezone.utc).date().isoformat()


def run_one(name: str, facts: dict) -> dict:
    module = importlib.import_module(f"benchmarks.bench_{name}")
    started = time.perf_counter()
    figures = module.run()
    report = {
        "benchmark": name,
        "date": today(),
        "machine": facts,
        "seconds": round(time.perf_counter() - started, 1),
        "figures": figures,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    print_table(name, figures)
    return report


def pick(names: list[str], only: str) -> list[str]:
    """The benchmark ``only`` and its parts (``only_*``): one figure set may span files, e.g. cdp and cdp_identity."""
    return [n for n in names if n == only or n.startswith(only + "_")]


def main(argv: list[str] | None = None) -> int:
    names = available()
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--only", metavar="NAME",
                        help=f"run one benchmark and its parts (NAME_*, e.g. cdp runs cdp_identity): {', '.join(names)}")
    parser.add_argument("--keep", action="store_true",
                        help="keep the data a benchmark generates (var/bench/, PostgreSQL template databases) and "
                             "reuse it next time; same as SIYU_BENCH_KEEP=1")
    args = parser.parse_args(argv)
    if args.keep:
        os.environ["SIYU_BENCH_KEEP"] = "1"
    if args.only:
        picked = pick(names, args.only)
        if not picked:
            parser.error(f"no benchmark {args.only!r}; there are: {', '.join(names)}")
        names = picked

    common.setup_django()
    facts = machine()
    print(f"{facts['cpu']}, {facts['cores']} cores, {facts['memory_gib']} GiB; Python {facts['python']}; "
          f"{facts['database']}; {today()}")
    for name in names:
        run_one(name, facts)
    print(f"\nresults in {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
