"""One point of the scaling benchmark, in a fresh process: plan the prod stack with N tenants / M models.

Usage: .venv/bin/python bench/plan_point.py --tenants N --models M [--tier untrusted] [--repeats R]
Prints one JSON object on stdout. bench/plan_scaling.py starts one of these per point so that each
point's peak memory is its own process's `ru_maxrss` (peak resident set size, which includes the
interpreter and the imported SDKs: see `warm_rss_mib` for the level before the measured plans).

An untimed warm-up plan (1 tenant, 1 model, same tier) first pays the imports, so the timed plans
measure planning, not importing.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib  # noqa: E402 - bench/ is not a package
import planphases  # noqa: E402
import stackgen  # noqa: E402

STACK = "bench"
"""The generated stack's name (Pulumi.bench.yaml in a temporary project folder)."""


def rss_mib() -> float:
    """This process's peak resident set size so far, MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def plan_once(tenants: int, models: int, tier: str | None) -> planphases.PlanTiming:
    cfg = stackgen.scaled_config(stackgen.base_config("prod"), tenants=tenants, models=models, trust_tier=tier)
    project = stackgen.write_project(cfg, STACK)
    try:
        timing, _ = planphases.timed_plan(project, STACK)
    finally:
        shutil.rmtree(project, ignore_errors=True)
    return timing


def measure(tenants: int, models: int, tier: str | None, repeats: int) -> dict:
    plan_once(1, 1, tier)
    warm = rss_mib()
    timings = [plan_once(tenants, models, tier) for _ in range(repeats)]
    last = timings[-1]
    return {
        "tenants": tenants, "models": models, "trust_tier": tier or "prod's",
        "resources": last.resources, "components": last.components,
        "program_s": round(benchlib.median([t.program_s for t in timings]), 4),
        "render_s": round(benchlib.median([t.render_s for t in timings]), 4),
        "policies_s": round(benchlib.median([t.policies_s for t in timings]), 4),
        "total_s": round(benchlib.median([t.total_s for t in timings]), 4),
        "peak_rss_mib": round(rss_mib(), 1), "warm_rss_mib": round(warm, 1), "repeats": repeats,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, required=True)
    parser.add_argument("--models", type=int, required=True)
    parser.add_argument("--tier", default=None, help="Trust tier override (default: the prod stack's).")
    parser.add_argument("--repeats", type=int, default=1, help="Timed plans; the median is reported (default 1).")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.tenants, args.models, args.tier, args.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
