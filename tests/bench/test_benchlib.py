"""The statistics behind the scaling verdicts: a straight line is linear, accelerating growth is flagged."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.bench.benchmods import load_bench_module

benchlib = load_bench_module("benchlib")


@given(a=st.floats(0, 100), b=st.floats(0.01, 100))
def test_points_on_a_line_fit_that_line_exactly(a: float, b: float) -> None:
    xs = [1, 10, 50, 200]
    fit = benchlib.linear_fit(xs, [a + b * x for x in xs])
    assert fit.slope == pytest.approx(b, rel=1e-6)
    assert fit.intercept == pytest.approx(a, abs=1e-6 * (1 + abs(a) + 200 * b))
    assert fit.r2 == pytest.approx(1.0)
    verdict = benchlib.linearity_verdict(fit)
    assert verdict == ("linear" if fit.spread > benchlib.FLAT_SPREAD else
                       f"flat (max - min is {100 * fit.spread:.0f}% of the mean)")


def test_quadratic_growth_is_flagged_non_linear() -> None:
    xs = [1, 10, 50, 200]
    fit = benchlib.linear_fit(xs, [0.5 + 0.001 * x * x for x in xs])
    verdict = benchlib.linearity_verdict(fit)
    assert verdict.startswith("NON-LINEAR")
    assert "steeper than the first" in verdict
    assert fit.tail_slope_ratio == pytest.approx((0.001 * (200**2 - 50**2) / 150) / (0.001 * (100 - 1) / 9))


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


def test_repeated_x_values_are_averaged_for_the_segment_slopes() -> None:
    fit = benchlib.linear_fit([99, 99, 143, 217], [2.0, 3.0, 4.5, 7.5])
    assert fit.tail_slope_ratio == pytest.approx(((7.5 - 4.5) / 74) / ((4.5 - 2.5) / 44))


def test_two_points_are_never_called_linear() -> None:
    fit = benchlib.linear_fit([1, 10], [1.0, 5.0])
    assert fit.r2 == pytest.approx(1.0)
    assert benchlib.linearity_verdict(fit) == "not tested (2 points: any 2 points fit a line)"


def test_a_series_that_barely_moves_is_flat_whatever_its_r2() -> None:
    fit = benchlib.linear_fit([1, 10, 50, 200], [1.80, 1.86, 1.79, 1.84])
    assert fit.r2 < benchlib.LINEAR_R2
    assert benchlib.linearity_verdict(fit) == "flat (max - min is 4% of the mean)"
