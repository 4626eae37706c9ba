"""How long `make test` takes, and where the time goes: per xdist group, per worker, the slowest tests.

Usage: .venv/bin/python bench/make_test.py [--label NAME]          (runs the suite as `make test` does)
       .venv/bin/python bench/make_test.py --times T.jsonl --wall S --label NAME [--commit C] [--note TEXT]
                                                                  (records a run made elsewhere, e.g. by CI)
Adds (or replaces) the run NAME in bench/results/make_test.json; `make bench-docs` renders it.

The suite runs as `make test` runs it (`pytest -n 2 --dist loadgroup`, CI=true), with `LLMP_TEST_TIMES` set
so every test's wall and CPU seconds are recorded (tests/support/timings.py). Wall time depends on whoever
else uses the machine; CPU seconds much less, and the per-group sums show which worker is the critical path.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib  # noqa: E402 - bench/ is not a package

NAME = "make_test"
TOP = 15
COMMAND = [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "--durations=20", "-p", "no:cacheprovider"]


def summarize(records: list[dict[str, Any]], top: int = TOP) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    workers: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for r in records:
        groups[r["group"] or ""].append(r)
        workers[r["worker"]].append(r)

    def sums(rs: list[dict[str, Any]]) -> dict[str, Any]:
        return {"tests": len(rs), "wall_s": round(sum(r["wall"] for r in rs), 1),
                "cpu_s": round(sum(r["cpu"] for r in rs), 1)}

    return {
        "tests": len(records),
        "wall_sum_s": round(sum(r["wall"] for r in records), 1),
        "cpu_sum_s": round(sum(r["cpu"] for r in records), 1),
        "live": sums(groups.get("live", [])),
        "groups": {name or "(none)": sums(rs) for name, rs in sorted(groups.items())},
        "workers": {name: sums(rs) for name, rs in sorted(workers.items())},
        "slowest": [{"test": r["test"], "wall_s": round(r["wall"], 1), "cpu_s": round(r["cpu"], 1),
                     "group": r["group"] or ""} for r in sorted(records, key=lambda r: -r["wall"])[:top]],
    }


def git_commit() -> str:
    proc = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=benchlib.ROOT, capture_output=True, text=True)
    return proc.stdout.strip() or "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="current", help="Name of this run in the results (replaces one so named).")
    parser.add_argument("--times", type=Path, help="A LLMP_TEST_TIMES file of a run made elsewhere.")
    parser.add_argument("--wall", type=float, help="That run's pytest wall seconds.")
    parser.add_argument("--commit", help="That run's commit (default: HEAD).")
    parser.add_argument("--note", default="", help="What else was running, how it was made.")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    if args.times is None:
        with tempfile.TemporaryDirectory() as tmp:
            times = Path(tmp) / "times.jsonl"
            start = time.perf_counter()
            proc = subprocess.run(COMMAND, cwd=benchlib.ROOT, env={**os.environ, "CI": "true",
                                                                   "LLMP_TEST_TIMES": str(times)})
            wall = time.perf_counter() - start
            records = [json.loads(line) for line in times.read_text().splitlines() if line.strip()]
        exit_code = proc.returncode
    else:
        if args.wall is None:
            parser.error("--times needs --wall")
        records = [json.loads(line) for line in args.times.read_text().splitlines() if line.strip()]
        wall, exit_code = args.wall, None
    run = {"label": args.label, "commit": args.commit or git_commit(), "wall_s": round(wall, 1),
           "exit": exit_code, "load_avg_1m_at_record": round(load, 2), "note": args.note, **summarize(records)}
    path = benchlib.RESULTS_DIR / f"{NAME}.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    doc = benchlib.envelope(NAME, benchlib.command_line("make_test.py", argv))
    doc["runs"] = [r for r in old.get("runs", []) if r["label"] != args.label] + [run]
    print(f"wrote {benchlib.write_result(doc)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
