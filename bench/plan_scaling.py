"""Offline-plan scaling: time and peak memory of `llmp plan` as tenants and models grow.

Usage: .venv/bin/python bench/plan_scaling.py [--tenants 1 10 50 200] [--models 1 5 20]
                                              [--untrusted-tenants 1 10 50 200] [--repeats 3]
Writes bench/results/plan_scaling.json and prints a table and the fits.

Each point is the prod stack with N generated tenants and M generated models (bench/stackgen.py; the
GPU pool is sized so the config's capacity rules accept them), planned in a fresh process
(bench/plan_point.py): time is the median of `--repeats` plans after a warm-up (every sample is kept),
each followed by a replay of its registrations on the bare SDK (`bare_s`; `overhead_s` = plan - bare,
repeat by repeat); memory is that process's peak RSS (`ru_maxrss`). Two series:
- `grid`: every tenants x models pair at prod's own tier (multi-team: tenants share the platform's
  namespaces; at the time of writing a tenant there is config data, not resources of its own);
- `untrusted`: the tier where every tenant gets its own namespace, NetworkPolicies and quota objects,
  with `--untrusted-tenants` tenants and 1 model (an empty list skips it).
Each series is fitted as y = a + b*x against tenants or models and against resources (the unit of
work; descriptive only). The verdict (bench/benchlib.py `growth_verdict`) compares the marginal cost per
resource (per tenant where tenants add no resources) of the last segment with the earlier points', each point
standing for the range of its repeats: linear, flat, NON-LINEAR or undecided (spread too wide),
printed, never hidden. With `--repeats 1` time verdicts are `not tested` (no spread measured).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib  # noqa: E402 - bench/ is not a package

NAME = "plan_scaling"
POINT = Path(__file__).resolve().parent / "plan_point.py"


def run_point(tenants: int, models: int, tier: str | None, repeats: int) -> dict:
    cmd = [sys.executable, str(POINT), "--tenants", str(tenants), "--models", str(models), "--repeats", str(repeats)]
    if tier:
        cmd += ["--tier", tier]
    proc = subprocess.run(cmd, cwd=benchlib.ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


UNITS = {"total_s": ("ms", 1000.0), "bare_s": ("ms", 1000.0), "overhead_s": ("ms", 1000.0),
         "peak_rss_mib": ("KiB", 1024.0)}
"""Per-resource unit of each measured column, and the factor from its own unit (s, MiB)."""


MEMORY_VERDICT = {"min_samples": 1, "floor": benchlib.MEMORY_FLOOR}
"""Peak memory is one value per process: judged with its own noise floor, not a repeat spread."""


def samples(row: dict, y: str) -> tuple[float, ...]:
    """Every repeat's value of `y` at this point; peak memory is one value per process."""
    return tuple(row.get(f"{y}_samples") or [row[y]])


def fit_row(series: str, x: str, y: str, fixed: str, points: list[dict]) -> dict | None:
    """`y` against `x` (tenants or models) and against resources, with the growth verdict; None when the
    points have fewer than two distinct `x`."""
    if len({p[x] for p in points}) < 2:
        return None
    unit, scale = UNITS[y]  # marginal costs: `unit` per resource, or per `x` where resources are constant
    per_x = benchlib.linear_fit([float(p[x]) for p in points], [float(p[y]) for p in points])
    resources = sorted({p["resources"] for p in points})
    per_res = (benchlib.linear_fit([float(p["resources"]) for p in points], [float(p[y]) for p in points])
               if len(resources) > 1 else None)
    # Resources are the unit of work; where they do not change (grid: tenants are config data), the
    # series' own x is.
    judged = "resources" if per_res is not None else x
    growth = benchlib.growth_verdict([benchlib.Point(float(p[judged]), samples(p, y)) for p in points],
                                     **MEMORY_VERDICT if y == "peak_rss_mib" else {})
    return {"series": series, "x": x, "y": y, "fixed": fixed, "points": len(points), "resources": resources,
            "judged_against": judged,
            "unit": unit, "slope": round(per_x.slope, 6), "intercept": round(per_x.intercept, 4),
            "r2": round(per_x.r2, 4),
            "per_resource": None if per_res is None else round(scale * per_res.slope, 4),
            "r2_resources": None if per_res is None else round(per_res.r2, 4), **growth.as_dict(scale)}


def fits(rows: list[dict]) -> list[dict]:
    """Per-series fits and verdicts: total time and peak memory everywhere; the bare SDK's time and our
    overhead over it where the resources change (with constant resources they say nothing new)."""
    out: list[dict | None] = []
    grid = [r for r in rows if r["series"] == "grid"]
    untrusted = [r for r in rows if r["series"] == "untrusted"]
    for y in ("total_s", "bare_s", "overhead_s", "peak_rss_mib"):
        if y in ("total_s", "peak_rss_mib"):
            for m in sorted({r["models"] for r in grid}):
                out.append(fit_row("grid", "tenants", y, f"models={m}", [r for r in grid if r["models"] == m]))
        if not all(y in r for r in rows):
            continue
        for t in sorted({r["tenants"] for r in grid}):
            out.append(fit_row("grid", "models", y, f"tenants={t}", [r for r in grid if r["tenants"] == t]))
        out.append(fit_row("untrusted", "tenants", y, "models=1", untrusted))
    return [f for f in out if f is not None]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, nargs="+", default=[1, 10, 50, 200])
    parser.add_argument("--models", type=int, nargs="+", default=[1, 5, 20])
    parser.add_argument("--untrusted-tenants", type=int, nargs="*", default=[1, 10, 50, 200],
                        help="Tenants for the untrusted-tier series at 1 model; none to skip (default 1 10 50 200).")
    parser.add_argument("--repeats", type=int, default=3, help="Timed plans per point, median (default 3).")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    points = [("grid", t, m, None) for m in args.models for t in args.tenants]
    points += [("untrusted", t, 1, "untrusted") for t in args.untrusted_tenants]
    rows = []
    for series, t, m, tier in points:
        row = {"series": series, **run_point(t, m, tier, args.repeats)}
        row["ms_per_resource"] = round(1000 * row["total_s"] / row["resources"], 2)
        rows.append(row)
        print(f"  {series}: {t} tenants, {m} models -> {row['resources']} resources, {row['total_s']:.2f} s "
              f"(bare SDK {row['bare_s']:.2f} s), {row['peak_rss_mib']:.0f} MiB", flush=True)
    doc = benchlib.envelope(NAME, benchlib.command_line("plan_scaling.py", argv))
    doc.update(repeats=args.repeats, statistic="median", memory="peak RSS (ru_maxrss) of one process per point",
               time="llmp plan phases in-process: program + render + policies",
               bare="the same registrations replayed on the bare SDK's stock mocks after each plan "
                    "(full garbage collections paused on both sides)",
               limits={"marginal_limit": benchlib.MARGINAL_LIMIT, "noise_floor": benchlib.NOISE_FLOOR,
                       "memory_floor": benchlib.MEMORY_FLOOR, "flat_spread": benchlib.FLAT_SPREAD},
               rows=rows, fits=fits(rows),
               elapsed_s=round(time.perf_counter() - started, 1))
    path = benchlib.write_result(doc)
    print(benchlib.format_table(
        ["series", "tenants", "models", "resources", "program s", "total s", "bare SDK s", "overhead s",
         "ms/resource", "peak MiB"],
        [[r["series"], r["tenants"], r["models"], r["resources"], r["program_s"], r["total_s"], r["bare_s"],
          r["overhead_s"], r["ms_per_resource"], r["peak_rss_mib"]] for r in rows]))
    print()
    print(benchlib.format_table(
        ["series", "y", "against", "fixed", "resources", "per resource", "r^2 (resources)", "repeat spread",
         "verdict"],
        [[f["series"], f["y"], f["x"], f["fixed"], "/".join(map(str, f["resources"])),
          None if f["per_resource"] is None else f"{f['per_resource']} {f['unit']}", f["r2_resources"],
          f["repeat_spread"], f["verdict"]] for f in doc["fits"]]))
    print(f"wrote {path.relative_to(benchlib.ROOT)} in {doc['elapsed_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
