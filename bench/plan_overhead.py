"""Offline-plan overhead: `llmp plan` versus the Pulumi SDK's bare mock registration of the same resources.

Usage: .venv/bin/python bench/plan_overhead.py [--stacks dev prod] [--repeats 5] [--untrusted-tenants 25]
Writes bench/results/plan_overhead.json and prints a table.

Both sides run in this one process, after one untimed warm-up each (imports, first-use caches), and
alternate repeat by repeat so that machine load hits both alike; the median of `--repeats` is reported.
- platform/program: `run_program` (config validation + the real `__main__.py` under recording mocks);
- platform/full: program + render (plan.json, manifests) + the policy pack in-process, i.e. `llmp plan`
  without printing;
- bare: the same registrations (types, names, parent tree, input values) replayed as plain
  `CustomResource`/`ComponentResource` under stock `set_mocks` (bench/planphases.py).
Both register with CPython's full garbage collections paused, as `llmp plan` does
(llmp/plan/gcpause.py). bench/plan_scaling.py compares the two at growing resource counts.
`--untrusted-tenants N` (default 25, 0 skips) adds a row for the prod stack at the untrusted tier with
N generated tenants and 1 model (bench/stackgen.py, a temporary project folder): more resources per tenant.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib  # noqa: E402 - bench/ is not a package
import planphases  # noqa: E402
import stackgen  # noqa: E402

NAME = "plan_overhead"


def measure(stack: str, repeats: int, project_dir: Path = benchlib.ROOT, label: str | None = None) -> dict:
    """One row: median seconds of each side over `repeats`, after a warm-up of each."""
    timing, run = planphases.timed_plan(project_dir, stack)
    bare = planphases.bare_program(run.registrations)
    planphases.timed_bare(bare, run.project, stack)
    program, full, bare_s = [], [], []
    for _ in range(repeats):
        timing, _ = planphases.timed_plan(project_dir, stack)
        program.append(timing.program_s)
        full.append(timing.total_s)
        bare_s.append(planphases.timed_bare(bare, run.project, stack))
    p, f, b = benchlib.median(program), benchlib.median(full), benchlib.median(bare_s)
    return {
        "stack": label or stack, "resources": timing.resources, "components": timing.components,
        "platform_program_s": round(p, 4), "platform_full_s": round(f, 4), "bare_s": round(b, 4),
        "program_over_bare": round(p / b, 2), "full_over_bare": round(f / b, 2),
        "samples": {"platform_program_s": [round(x, 4) for x in program],
                    "platform_full_s": [round(x, 4) for x in full], "bare_s": [round(x, 4) for x in bare_s]},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stacks", nargs="+", default=["dev", "prod"], help="Stacks to plan (default: dev prod).")
    parser.add_argument("--repeats", type=int, default=5, help="Timed repeats per side after one warm-up (default 5).")
    parser.add_argument("--untrusted-tenants", type=int, default=25,
                        help="Also plan prod at the untrusted tier with this many generated tenants (default 25; "
                             "0 skips).")
    args = parser.parse_args(argv)
    doc = benchlib.envelope(NAME, benchlib.command_line("plan_overhead.py", argv))
    rows = [measure(stack, args.repeats) for stack in args.stacks]
    if args.untrusted_tenants:
        n = args.untrusted_tenants
        cfg = stackgen.scaled_config(stackgen.base_config("prod"), tenants=n, models=1, trust_tier="untrusted")
        project = stackgen.write_project(cfg, "bench")
        try:
            rows.append(measure("bench", args.repeats, project, f"prod, untrusted, {n} tenants, 1 model"))
        finally:
            shutil.rmtree(project, ignore_errors=True)
    doc.update(repeats=args.repeats, statistic="median", mode="in-process, alternating, one warm-up each", rows=rows)
    path = benchlib.write_result(doc)
    print(benchlib.format_table(
        ["stack", "resources", "components", "program s", "full plan s", "bare SDK s", "program/bare", "full/bare"],
        [[r["stack"], r["resources"], r["components"], r["platform_program_s"], r["platform_full_s"], r["bare_s"],
          r["program_over_bare"], r["full_over_bare"]] for r in doc["rows"]]))
    print(f"wrote {path.relative_to(benchlib.ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
