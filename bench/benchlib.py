"""What every benchmark script shares: the result envelope, JSON output, a text table, statistics.

A result file is `bench/results/<name>.json`:
`{"benchmark", "date", "machine": {"cpus", "memory_gib", "python"}, "versions": {...}, "command", ...rows}`.
`bench/render_docs.py` turns the files into docs/benchmarks.md. Pure helpers (median, linear_fit,
format_table) have no side effects; only `write_result` touches the disk.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shlex
import statistics
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "bench" / "results"

PULUMI_PACKAGES = ("pulumi", "pulumi-gcp", "pulumi-kubernetes", "pulumi-random", "pulumi-policy", "llm-platform")
"""Distributions whose versions decide the plan benchmarks' numbers."""


def machine() -> dict[str, Any]:
    """CPU count, total memory (GiB, one decimal), Python version, and the 1-minute load average when
    the run started (a load near or above `cpus` means other work competed for the CPUs)."""
    try:
        mem_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        mem_bytes = 0
    try:
        load = round(os.getloadavg()[0], 2)
    except OSError:
        load = None
    return {"cpus": os.cpu_count() or 0, "memory_gib": round(mem_bytes / 2**30, 1),
            "python": platform.python_version(), "platform": platform.platform(terse=True), "load_avg_1m": load}


def versions(packages: Iterable[str] = PULUMI_PACKAGES) -> dict[str, str]:
    """Installed version of each distribution; "not installed" where it is absent."""
    out = {}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def command_line(script: str, argv: Sequence[str] | None = None) -> str:
    """The command that reproduces this run, relative to the repository root."""
    args = list(sys.argv[1:] if argv is None else argv)
    return shlex.join([".venv/bin/python", f"bench/{script}", *args])


def envelope(benchmark: str, command: str, extra_versions: dict[str, str] | None = None) -> dict[str, Any]:
    """The fields every result file starts with; the caller adds its parameters and `rows`."""
    return {
        "benchmark": benchmark,
        "date": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "machine": machine(),
        "versions": {**versions(), **(extra_versions or {})},
        "command": command,
    }


def write_result(doc: dict[str, Any], results_dir: Path = RESULTS_DIR) -> Path:
    """Write `<results_dir>/<benchmark>.json` (sorted keys, trailing newline) and return its path."""
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{doc['benchmark']}.json"
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return path


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


@dataclass(frozen=True)
class LinearFit:
    """y = intercept + slope * x, by least squares."""

    intercept: float
    slope: float
    points: int
    """Distinct x values; with 2 the line passes through both and r^2 is 1 by construction."""
    r2: float
    """Coefficient of determination; 1.0 for a perfect line (and for a flat series with no spread)."""
    spread: float
    """(max y - min y) / mean y: how much y changes across the series at all."""
    tail_slope_ratio: float | None
    """Slope between the last two points over slope between the first two; ~1 for a straight line,
    well above 1 when growth accelerates. None with fewer than 3 distinct x values or a first segment
    that does not rise."""

    def as_dict(self) -> dict[str, float | None]:
        return {"intercept": round(self.intercept, 4), "slope": round(self.slope, 6), "r2": round(self.r2, 4),
                "distinct_x": self.points, "spread": round(self.spread, 4),
                "tail_slope_ratio": None if self.tail_slope_ratio is None else round(self.tail_slope_ratio, 2)}


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> LinearFit:
    """Least-squares line through (xs, ys); needs at least two distinct x values."""
    if len(xs) != len(ys) or len(set(xs)) < 2:
        raise ValueError(f"need >= 2 distinct x values and equal lengths, got xs={list(xs)} ys={list(ys)}")
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    slope = sxy / sxx
    intercept = my - slope * mx
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys))
    r2 = 1.0 if ss_tot == 0 else 1.0 - ss_res / ss_tot
    # Segments run between distinct x values (repeated x, e.g. equal resource counts, are averaged).
    by_x: dict[float, list[float]] = {}
    for x, y in zip(xs, ys):
        by_x.setdefault(x, []).append(y)
    pts = sorted((x, sum(v) / len(v)) for x, v in by_x.items())
    ratio = None
    if len(pts) >= 3:
        first = (pts[1][1] - pts[0][1]) / (pts[1][0] - pts[0][0])
        last = (pts[-1][1] - pts[-2][1]) / (pts[-1][0] - pts[-2][0])
        ratio = last / first if first > 0 else None
    spread = (max(ys) - min(ys)) / my if my else 0.0
    return LinearFit(intercept, slope, len(pts), r2, spread, ratio)


LINEAR_R2 = 0.98
"""A series counts as linear when its fit has r^2 >= this ..."""
LINEAR_TAIL_RATIO = 2.0
"""... and its last segment is at most this many times steeper than its first."""
FLAT_SPREAD = 0.10
"""A series whose values all lie within this fraction of their mean is `flat`: it does not grow, and
its r^2 measures only noise."""


def linearity_verdict(fit: LinearFit | None) -> str:
    """`linear`, `flat (...)`, `NON-LINEAR (...)` with the reason, or `not tested (...)` where two points
    cannot show a curve."""
    if fit is None:
        return "not tested (fewer than 2 points)"
    if fit.points < 3:
        return f"not tested ({fit.points} points: any 2 points fit a line)"
    if fit.spread <= FLAT_SPREAD:
        return f"flat (max - min is {100 * fit.spread:.0f}% of the mean)"
    reasons = []
    if fit.r2 < LINEAR_R2:
        reasons.append(f"r^2 {fit.r2:.3f} < {LINEAR_R2}")
    if fit.tail_slope_ratio is not None and fit.tail_slope_ratio > LINEAR_TAIL_RATIO:
        reasons.append(f"last segment {fit.tail_slope_ratio:.1f}x steeper than the first")
    return f"NON-LINEAR ({'; '.join(reasons)})" if reasons else "linear"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table with right-aligned columns (for the terminal)."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
    return "-" if value is None else str(value)
