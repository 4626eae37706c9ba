"""Per-test wall and CPU time, to see where `make test` spends its time (docs/benchmarks.md).

Off unless `LLMP_TEST_TIMES` names a file: then every test's setup+call+teardown wall seconds and CPU
seconds (this process and the subprocesses it reaped meanwhile: checkov, nca, `llmp`, LiteLLM
proxies) are appended to it as JSON lines, with its xdist group and worker. The machine is shared,
so wall time is noisy; CPU time says what a test costs whoever else is running.

    LLMP_TEST_TIMES=/tmp/times.jsonl .venv/bin/python -m pytest -n 2 --dist loadgroup
    .venv/bin/python -m tests.support.timings /tmp/times.jsonl     # per-group sums, slowest tests
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import time
from pathlib import Path

import pytest

ENV = "LLMP_TEST_TIMES"


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    path = os.environ.get(ENV)
    if not path:
        yield
        return
    wall, cpu = time.perf_counter(), _cpu()
    yield
    group = item.get_closest_marker("xdist_group")
    record = {"test": item.nodeid.split("@")[0], "wall": round(time.perf_counter() - wall, 3),
              "cpu": round(_cpu() - cpu, 3), "group": group.args[0] if group and group.args else None,
              "worker": os.environ.get("PYTEST_XDIST_WORKER", "main")}
    with open(path, "a", encoding="utf-8") as out:  # one short line per write: appends do not interleave
        out.write(json.dumps(record) + "\n")


def summary(records: list[dict], top: int = 15) -> str:
    lines = []
    groups: dict[str, list[dict]] = collections.defaultdict(list)
    for r in records:
        groups[r["group"] or "(no group: shared out test by test)"].append(r)
    lines.append("| xdist group | tests | wall s (sum) | CPU s (sum) |")
    lines.append("|---|---:|---:|---:|")
    for name, rs in sorted(groups.items(), key=lambda kv: -sum(r["wall"] for r in kv[1])):
        lines.append(f"| {name} | {len(rs)} | {sum(r['wall'] for r in rs):.0f} | {sum(r['cpu'] for r in rs):.0f} |")
    workers: dict[str, list[dict]] = collections.defaultdict(list)
    for r in records:
        workers[r["worker"]].append(r)
    lines.append("")
    lines.append("| worker | tests | wall s (sum) | CPU s (sum) |")
    lines.append("|---|---:|---:|---:|")
    for name, rs in sorted(workers.items()):
        lines.append(f"| {name} | {len(rs)} | {sum(r['wall'] for r in rs):.0f} | {sum(r['cpu'] for r in rs):.0f} |")
    lines.append("")
    lines.append(f"| slowest {top} (setup+call+teardown) | wall s | CPU s | group |")
    lines.append("|---|---:|---:|---|")
    for r in sorted(records, key=lambda r: -r["wall"])[:top]:
        lines.append(f"| `{r['test']}` | {r['wall']:.1f} | {r['cpu']:.1f} | {r['group'] or ''} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("times", type=Path, help="the JSON-lines file LLMP_TEST_TIMES named")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    records = [json.loads(line) for line in args.times.read_text().splitlines() if line.strip()]
    print(summary(records, args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
