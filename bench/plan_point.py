"""One point of the scaling benchmark, in a fresh process: plan the prod stack with N tenants / M models.

Usage: .venv/bin/python bench/plan_point.py --tenants N --models M [--tier untrusted] [--repeats R]
Prints one JSON object on stdout. bench/plan_scaling.py starts one of these per point so that each
point's peak memory is its own process's `ru_maxrss` (peak resident set size, which includes the
interpreter and the imported SDKs: see `warm_rss_mib` for the level before the measured plans).

An untimed warm-up plan (1 tenant, 1 model, same tier) and its bare replay first pay the imports, so
the timed plans measure planning, not importing. Each repeat plans (`total_s`: program + render +
policies), then replays the same registrations on the bare SDK (`bare_s`, bench/planphases.py);
`overhead_s` is their difference, repeat by repeat. Medians are reported with every sample. Peak RSS
is read after the first timed plan, before any bare replay.
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

from llmp.plan.runner import PlanRun  # noqa: E402

STACK = "bench"
"""The generated stack's name (Pulumi.bench.yaml in a temporary project folder)."""


def rss_mib() -> float:
    """This process's peak resident set size so far, MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def plan_once(tenants: int, models: int, tier: str | None) -> tuple[planphases.PlanTiming, PlanRun]:
    cfg = stackgen.scaled_config(stackgen.base_config("prod"), tenants=tenants, models=models, trust_tier=tier)
    project = stackgen.write_project(cfg, STACK)
    try:
        return planphases.timed_plan(project, STACK)
    finally:
        shutil.rmtree(project, ignore_errors=True)


def bare_once(run: PlanRun) -> float:
    """Seconds for the bare SDK to register what `run` registered (bench/planphases.py `timed_bare`)."""
    return planphases.timed_bare(planphases.bare_program(run.registrations), run.project, STACK)


def _stats(name: str, values: list[float]) -> dict:
    return {name: round(benchlib.median(values), 4), f"{name}_samples": [round(v, 4) for v in values]}


def measure(tenants: int, models: int, tier: str | None, repeats: int) -> dict:
    _, warm_run = plan_once(1, 1, tier)
    bare_once(warm_run)
    warm = rss_mib()
    timings, bare, peak = [], [], 0.0
    for i in range(repeats):
        timing, run = plan_once(tenants, models, tier)
        timings.append(timing)
        if i == 0:  # the plan's own peak, before any bare replay adds to the process
            peak = rss_mib()
        bare.append(bare_once(run))
        del run
    last = timings[-1]
    total = [t.total_s for t in timings]
    return {
        "tenants": tenants, "models": models, "trust_tier": tier or "prod's",
        "resources": last.resources, "components": last.components,
        "program_s": round(benchlib.median([t.program_s for t in timings]), 4),
        "render_s": round(benchlib.median([t.render_s for t in timings]), 4),
        "policies_s": round(benchlib.median([t.policies_s for t in timings]), 4),
        **_stats("total_s", total), **_stats("bare_s", bare),
        # Paired repeat by repeat (plan, then its bare replay), so load hits both alike.
        **_stats("overhead_s", [t - b for t, b in zip(total, bare)]),
        "peak_rss_mib": round(peak, 1), "warm_rss_mib": round(warm, 1), "repeats": repeats,
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
