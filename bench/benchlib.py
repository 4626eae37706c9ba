"""What every benchmark script shares: the result envelope, JSON output, a text table, statistics.

A result file is `bench/results/<name>.json`:
`{"benchmark", "date", "machine": {"cpus", "memory_gib", "python"}, "versions": {...}, "command", ...rows}`.
`bench/render_docs.py` turns the files into docs/benchmarks.md. Pure helpers (median, linear_fit,
growth_verdict, format_table) have no side effects; only `write_result` touches the disk.
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
    """y = intercept + slope * x, by least squares. Descriptive only: `growth_verdict` judges linearity
    (r^2 calls a flat, noisy series a bad fit and can be high for a curve)."""

    intercept: float
    slope: float
    points: int
    """Distinct x values; with 2 the line passes through both and r^2 is 1 by construction."""
    r2: float
    """Coefficient of determination; 1.0 for a perfect line (and for a series with no spread at all)."""

    def as_dict(self) -> dict[str, float]:
        return {"intercept": round(self.intercept, 6), "slope": round(self.slope, 6), "r2": round(self.r2, 4),
                "distinct_x": self.points}


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
    return LinearFit(intercept, slope, len(set(xs)), r2)


MARGINAL_LIMIT = 1.5
"""Growth counts as linear while the marginal cost per resource of the last segment stays within this
factor of the earlier points' (1.0 for a straight line; y = x^2 over 1, 10, 50, 200 untrusted tenants'
resources gives 4.0)."""
NOISE_FLOOR = 0.02
"""The least relative spread assumed at a point (2% of its median): three repeats can agree more
closely by chance than plans do run to run (repeats of one point spread 3% to 50% on this 2-CPU machine
under CI load)."""
MEMORY_FLOOR = 0.005
"""The noise floor for peak memory (one sample per process): peak RSS of the same point (50 untrusted
tenants) in four processes spanned 0.4 MiB of 243 (0.16%); this is three times that."""
FLAT_SPREAD = 0.10
"""Medians within this fraction of their mean are `flat` (no growth worth judging) even where the
repeats' ranges do not overlap."""


@dataclass(frozen=True)
class Point:
    """One measured point: its amount of work (`x`, e.g. resources) and every repeat's value."""

    x: float
    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return median(self.samples)

    @property
    def spread(self) -> float:
        """(max - min) / median of the repeats; 0 with one sample."""
        return (max(self.samples) - min(self.samples)) / self.median if self.median else 0.0

    def bounds(self, floor: float = NOISE_FLOOR) -> tuple[float, float]:
        """The repeats' range, widened to at least median * (1 -/+ floor / 2)."""
        m = self.median
        return min(min(self.samples), m * (1 - floor / 2)), max(max(self.samples), m * (1 + floor / 2))


@dataclass(frozen=True)
class Growth:
    """How `y` grows with the work `x`: the last segment's marginal cost against the one before it."""

    verdict: str
    """`linear`, `flat`, `NON-LINEAR`, `undecided` or `not tested`, then the reason."""
    spread: float | None
    """Largest repeat spread ((max - min) / median) over the points; None when every point has one sample."""
    head: tuple[float, float, float] | None
    """Marginal cost (dy/dx) from the first point to the start of the last segment (the first segment
    when there are 3 distinct x): lowest, from the medians, highest the repeats allow."""
    tail: tuple[float, float, float] | None
    """The same for the last segment."""

    def as_dict(self, scale: float = 1.0) -> dict[str, object]:
        """JSON fields; marginal costs multiplied by `scale` (e.g. 1000 for ms per resource)."""
        def seg(v: tuple[float, float, float] | None) -> list[float] | None:
            return None if v is None else [round(scale * c, 4) for c in v]
        return {"verdict": self.verdict, "repeat_spread": None if self.spread is None else round(self.spread, 4),
                "head_marginal": seg(self.head), "tail_marginal": seg(self.tail)}


def merge_points(points: Sequence[Point]) -> list[Point]:
    """Points with equal x pooled into one (their samples together), sorted by x."""
    by_x: dict[float, list[float]] = {}
    for p in points:
        by_x.setdefault(p.x, []).extend(p.samples)
    return [Point(x, tuple(v)) for x, v in sorted(by_x.items())]


def _segment(a: Point, b: Point, floor: float) -> tuple[float, float, float]:
    (alo, ahi), (blo, bhi), dx = a.bounds(floor), b.bounds(floor), b.x - a.x
    return (blo - ahi) / dx, (b.median - a.median) / dx, (bhi - alo) / dx


def growth_verdict(points: Sequence[Point], *, limit: float = MARGINAL_LIMIT, floor: float = NOISE_FLOOR,
                   min_samples: int = 2) -> Growth:
    """Judge growth of y with x: the marginal cost of the last segment (between the last two distinct x)
    against the head's (first point to the start of the last segment; points with equal x are pooled).

    The head spans every earlier point rather than just the first segment: a short first segment turns
    a few percent of noise into a wrong slope, sign included. A point stands for the interval its
    repeats span (at least `floor` wide). flat: one interval overlaps all the others', or the medians
    lie within `FLAT_SPREAD` of their mean. NON-LINEAR: even the most favourable reading (lowest tail
    slope, highest head slope) makes the tail more than `limit` times as steep, or the tail surely rises
    while the head surely does not. linear: even the least favourable reading keeps the tail within
    `limit`. Otherwise undecided: the spread is too wide to tell. Points with fewer than `min_samples`
    samples have no measured spread: `not tested`.
    """
    spreads = [p.spread for p in points if len(p.samples) > 1]
    spread = max(spreads) if spreads else None
    merged = merge_points(points)
    if len(merged) < 3:
        return Growth(f"not tested ({len(merged)} distinct x: any 2 points fit a line)", spread, None, None)
    if any(len(p.samples) < min_samples for p in points):
        return Growth(f"not tested (needs >= {min_samples} repeats per point to measure the spread)",
                      spread, None, None)
    noise = (f"repeat spread up to {100 * spread:.0f}%" if spread is not None
             else f"one sample per point, {100 * floor:g}% assumed")
    lows, highs = zip(*(p.bounds(floor) for p in points))
    medians = [p.median for p in points]
    rng = (max(medians) - min(medians)) / (sum(medians) / len(medians))
    head, tail = _segment(merged[0], merged[-2], floor), _segment(merged[-2], merged[-1], floor)
    if max(lows) <= min(highs):
        return Growth(f"flat (every point within the others' repeat range, {noise})", spread, head, tail)
    if rng <= FLAT_SPREAD:
        return Growth(f"flat (medians within {100 * rng:.0f}% of their mean, {noise})", spread, head, tail)
    if tail[0] > 0 and head[2] <= 0:
        return Growth(f"NON-LINEAR (the last segment rises while the points before it do not, {noise})",
                      spread, head, tail)
    if tail[0] > limit * head[2] > 0:
        return Growth(f"NON-LINEAR (last segment's marginal cost at least {tail[0] / head[2]:.1f}x the earlier "
                      f"points', {noise})", spread, head, tail)
    if head[0] > 0 and tail[2] <= limit * head[0]:
        return Growth(f"linear (last segment's marginal cost at most {tail[2] / head[0]:.2f}x the earlier "
                      f"points', {noise})", spread, head, tail)
    return Growth(f"undecided ({noise} is too wide to tell: last segment's marginal cost between "
                  f"{_ratio(tail[0], head[2])} and {_ratio(tail[2], head[0])}x the earlier points')",
                  spread, head, tail)


def _ratio(num: float, den: float) -> str:
    return f"{num / den:.2f}" if den > 0 else ("-inf" if num < 0 else "inf")


def is_bad(verdict: str) -> bool:
    """A verdict that says the growth is not acceptable (printed, never hidden)."""
    return verdict.startswith("NON-LINEAR")


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
