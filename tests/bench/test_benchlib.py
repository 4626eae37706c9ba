"""The statistics behind the scaling verdicts: straight lines pass, accelerating growth is flagged, noise is
neither called growth nor hidden."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.bench.benchmods import load_bench_module

benchlib = load_bench_module("benchlib")
Point = benchlib.Point

RESOURCES = [109, 217, 697, 2497]
"""Resource counts of the untrusted series at 1, 10, 50 and 200 tenants."""


def series(ys: list[list[float]], xs: list[int] = RESOURCES) -> list:
    return [Point(float(x), tuple(y)) for x, y in zip(xs, ys)]


def with_noise(values: list[float], rel: float) -> list[list[float]]:
    """Three repeats per point: the value and +/- rel/2 of it (spread = rel)."""
    return [[v * (1 - rel / 2), v, v * (1 + rel / 2)] for v in values]


@given(a=st.floats(0.1, 1), b_ms=st.floats(3, 20), rel=st.floats(0, 0.04))
def test_a_straight_line_with_small_noise_is_linear(a: float, b_ms: float, rel: float) -> None:
    growth = benchlib.growth_verdict(series(with_noise([a + b_ms / 1000 * x for x in RESOURCES], rel)))
    assert growth.verdict.startswith("linear"), growth
    assert growth.head[1] == pytest.approx(b_ms / 1000) and growth.tail[1] == pytest.approx(b_ms / 1000)


@given(a=st.floats(0.1, 1), c=st.floats(1.5e-6, 1e-5), rel=st.floats(0, 0.04))
def test_quadratic_growth_is_non_linear_whatever_the_small_noise(a: float, c: float, rel: float) -> None:
    growth = benchlib.growth_verdict(series(with_noise([a + 0.003 * x + c * x * x for x in RESOURCES], rel)))
    assert growth.verdict.startswith("NON-LINEAR"), growth
    assert benchlib.is_bad(growth.verdict)


def test_the_superlinear_series_measured_before_the_gc_fix_is_non_linear() -> None:
    # bench/results/plan_scaling.json (2026-11-23): 1, 10, 50 untrusted tenants, medians of 3.
    growth = benchlib.growth_verdict(series(with_noise([1.0001, 1.3836, 6.133], 0.05), RESOURCES[:3]))
    assert growth.verdict.startswith("NON-LINEAR (last segment's marginal cost at least 2.3x the earlier points'")
    assert growth.head[1] == pytest.approx((1.3836 - 1.0001) / 108)
    assert growth.tail[1] == pytest.approx((6.133 - 1.3836) / 480)


def test_a_flat_noisy_series_is_flat_not_non_linear() -> None:
    # Medians within 10% and ranges that do not all overlap: the old r^2 rule said NON-LINEAR.
    flat = series([[1.75, 1.80, 1.82], [1.90, 1.93, 1.97], [1.76, 1.79, 1.80], [1.84, 1.86, 1.90]])
    growth = benchlib.growth_verdict(flat)
    assert growth.verdict == "flat (medians within 8% of their mean, repeat spread up to 4%)"
    assert benchlib.linear_fit(RESOURCES, [p.median for p in flat]).r2 < 0.5
    assert growth.spread == pytest.approx((1.82 - 1.75) / 1.80)


def test_config_data_growth_with_constant_resources_is_judged_per_tenant() -> None:
    # Grid, 20 models, 1/10/50/200 tenants (the same 308 resources): medians of the 2026-11-23 run.
    tenants = [1, 10, 50, 200]
    growth = benchlib.growth_verdict(series(with_noise([3.4131, 3.8661, 3.7302, 3.7581], 0.04), tenants))
    assert growth.verdict.startswith("linear"), growth
    assert growth.tail[1] < growth.head[1]


def test_distinct_resources_with_overlapping_repeats_are_flat() -> None:
    growth = benchlib.growth_verdict(series([[1.80, 1.95], [1.79, 1.90], [1.86, 1.88], [1.84, 1.99]]))
    assert growth.verdict.startswith("flat (every point within the others' repeat range")


def test_noise_too_wide_to_tell_is_undecided_not_linear() -> None:
    # A quadratic whose repeats spread 60%: neither reading can be excluded.
    ys = [0.5 + 0.003 * x + 2e-7 * x * x for x in RESOURCES]
    growth = benchlib.growth_verdict(series(with_noise(ys, 0.6)))
    assert growth.verdict.startswith("undecided (repeat spread up to 60% is too wide to tell")
    assert not benchlib.is_bad(growth.verdict)


def test_the_verdict_follows_the_measured_spread_not_a_fixed_threshold() -> None:
    ys = [0.5 + 0.003 * x + 2e-6 * x * x for x in RESOURCES]
    assert benchlib.growth_verdict(series(with_noise(ys, 0.02))).verdict.startswith("NON-LINEAR")
    assert benchlib.growth_verdict(series(with_noise(ys, 0.6))).verdict.startswith("undecided")


def test_one_repeat_gives_no_spread_so_time_is_not_judged() -> None:
    growth = benchlib.growth_verdict(series([[1.0], [1.4], [6.1], [30.0]]))
    assert growth.verdict == "not tested (needs >= 2 repeats per point to measure the spread)"
    assert growth.spread is None


def test_single_samples_are_judged_with_the_noise_floor_when_allowed() -> None:
    # Peak memory: one value per process (MiB at 1, 10, 50, 200 untrusted tenants).
    mem = series([[203.6], [211.2], [246.5], [395.0]])
    growth = benchlib.growth_verdict(mem, min_samples=1, floor=benchlib.MEMORY_FLOOR)
    assert growth.verdict.startswith("linear") and "one sample per point, 0.5% assumed" in growth.verdict
    lo, mid, hi = growth.head  # from the first point (109) to the start of the last segment (697)
    assert mid == pytest.approx((246.5 - 203.6) / 588)
    assert lo == pytest.approx((246.5 * 0.9975 - 203.6 * 1.0025) / 588)
    assert hi == pytest.approx((246.5 * 1.0025 - 203.6 * 0.9975) / 588)
    # Without the memory floor the default one applies: wider bounds, same medians.
    wide = benchlib.growth_verdict(mem, min_samples=1).head
    assert wide[1] == pytest.approx(mid) and wide[0] < lo and wide[2] > hi


def test_equal_resource_counts_are_pooled_before_the_segments() -> None:
    merged = benchlib.merge_points(series([[2.0], [3.0], [4.5], [7.5]], [143, 99, 99, 217]))
    assert [(p.x, p.samples) for p in merged] == [(99.0, (3.0, 4.5)), (143.0, (2.0,)), (217.0, (7.5,))]


def test_two_resource_counts_are_never_called_linear() -> None:
    growth = benchlib.growth_verdict(series(with_noise([1.0, 5.0, 6.0], 0.02), [10, 10, 20]))
    assert growth.verdict == "not tested (2 distinct x: any 2 points fit a line)"
    assert benchlib.growth_verdict(series([[1.0, 1.1]] * 3, [99] * 3)).verdict.startswith("not tested (1 distinct")


def test_points_on_a_line_fit_that_line_exactly() -> None:
    fit = benchlib.linear_fit(RESOURCES, [0.4 + 0.005 * x for x in RESOURCES])
    assert fit.slope == pytest.approx(0.005) and fit.intercept == pytest.approx(0.4)
    assert fit.r2 == pytest.approx(1.0) and fit.points == 4


def test_a_fit_needs_two_distinct_x_values() -> None:
    with pytest.raises(ValueError, match="distinct"):
        benchlib.linear_fit([5, 5], [1.0, 2.0])


def test_format_table_aligns_columns_under_their_headers() -> None:
    lines = benchlib.format_table(["stack", "s"], [["dev", 0.5], ["prod", 12.25]]).splitlines()
    assert lines[0] == "stack     s"
    assert lines[2] == "  dev   0.5"
    assert lines[3] == " prod  12.2"


def test_the_envelope_has_the_fields_every_result_file_starts_with() -> None:
    doc = benchlib.envelope("x", "cmd", {"extra": "1.0"})
    assert set(doc) == {"benchmark", "date", "machine", "versions", "command"}
    assert {"cpus", "memory_gib", "python", "load_avg_1m"} <= set(doc["machine"])
    assert doc["versions"]["extra"] == "1.0" and "pulumi" in doc["versions"]


def test_a_first_segment_that_falls_by_noise_does_not_make_a_flat_series_non_linear() -> None:
    # Grid, 1 model, 1/10/50/200 tenants, constant resources: 1 -> 10 falls (noise), 50 -> 200 rises a little.
    growth = benchlib.growth_verdict(series(with_noise([0.958, 0.91, 1.009, 1.12], 0.02), [1, 10, 50, 200]))
    assert not benchlib.is_bad(growth.verdict), growth.verdict
    assert growth.head[1] == pytest.approx((1.009 - 0.958) / 49)


def test_a_tail_that_rises_after_a_flat_head_is_non_linear() -> None:
    growth = benchlib.growth_verdict(series(with_noise([1.1, 1.05, 1.0, 3.0], 0.02)))
    assert growth.verdict.startswith("NON-LINEAR (the last segment rises while the points before it do not")
