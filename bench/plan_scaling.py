"""Offline-plan scaling: time and peak memory of `llmp plan` as tenants and models grow.

Usage: .venv/bin/python bench/plan_scaling.py [--tenants 1 10 50 200] [--models 1 5 20]
                                              [--untrusted-tenants 1 10 50] [--repeats 3]
Writes bench/results/plan_scaling.json and prints a table and the fits.

Each point is the prod stack with N generated tenants and M generated models (bench/stackgen.py; the
GPU pool is sized so the config's capacity rules accept them), planned in a fresh process
(bench/plan_point.py): time is the median of `--repeats` plans after a warm-up, memory is that
process's peak RSS (`ru_maxrss`). Two series:
- `grid`: every tenants x models pair at prod's own tier (multi-team: tenants share the platform's
  namespaces; at the time of writing a tenant there is config data, not resources of its own);
- `untrusted`: the tier where every tenant gets its own namespace, NetworkPolicies and quota objects,
  with `--untrusted-tenants` tenants and 1 model (an empty list skips it).
Growth is fitted as time = a + b*x per series (tenants at fixed models, models at fixed tenants, and
time per resource is listed per point); r^2 and the last/first segment slope ratio decide
"linear" or "NON-LINEAR" (bench/benchlib.py), which is printed, never hidden.
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


def fit_row(series: str, x: str, y: str, fixed: str, points: list[dict]) -> dict | None:
    """A fit of `y` against `x` over `points`, or None when there are fewer than two distinct x."""
    xs, ys = [float(p[x]) for p in points], [float(p[y]) for p in points]
    if len(set(xs)) < 2:
        return None
    fit = benchlib.linear_fit(xs, ys)
    return {"series": series, "x": x, "y": y, "fixed": fixed, "points": len(points), **fit.as_dict(),
            "verdict": benchlib.linearity_verdict(fit)}


def fits(rows: list[dict]) -> list[dict]:
    """Per-series linear fits of total time and peak memory."""
    out: list[dict | None] = []
    grid = [r for r in rows if r["series"] == "grid"]
    untrusted = [r for r in rows if r["series"] == "untrusted"]
    for y in ("total_s", "peak_rss_mib"):
        for m in sorted({r["models"] for r in grid}):
            out.append(fit_row("grid", "tenants", y, f"models={m}", [r for r in grid if r["models"] == m]))
        for t in sorted({r["tenants"] for r in grid}):
            out.append(fit_row("grid", "models", y, f"tenants={t}", [r for r in grid if r["tenants"] == t]))
        out.append(fit_row("untrusted", "tenants", y, "models=1", untrusted))
    return [f for f in out if f is not None]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, nargs="+", default=[1, 10, 50, 200])
    parser.add_argument("--models", type=int, nargs="+", default=[1, 5, 20])
    parser.add_argument("--untrusted-tenants", type=int, nargs="*", default=[1, 10, 50],
                        help="Tenants for the untrusted-tier series at 1 model; none to skip (default 1 10 50).")
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
        print(f"  {series}: {t} tenants, {m} models -> {row['resources']} resources, {row['total_s']:.2f} s, "
              f"{row['peak_rss_mib']:.0f} MiB", flush=True)
    doc = benchlib.envelope(NAME, benchlib.command_line("plan_scaling.py", argv))
    doc.update(repeats=args.repeats, statistic="median", memory="peak RSS (ru_maxrss) of one process per point",
               time="llmp plan phases in-process: program + render + policies", rows=rows, fits=fits(rows),
               elapsed_s=round(time.perf_counter() - started, 1))
    path = benchlib.write_result(doc)
    print(benchlib.format_table(
        ["series", "tenants", "models", "resources", "program s", "total s", "ms/resource", "peak MiB"],
        [[r["series"], r["tenants"], r["models"], r["resources"], r["program_s"], r["total_s"], r["ms_per_resource"],
          r["peak_rss_mib"]] for r in rows]))
    print()
    print(benchlib.format_table(
        ["series", "y", "against", "fixed", "slope", "intercept", "r^2", "verdict"],
        [[f["series"], f["y"], f["x"], f["fixed"], f["slope"], f["intercept"], f["r2"], f["verdict"]]
         for f in doc["fits"]]))
    print(f"wrote {path.relative_to(benchlib.ROOT)} in {doc['elapsed_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
