"""bench/plan_scaling.py fits: which series get judged, against what, from fixture rows (no timing)."""

from __future__ import annotations

import pytest

from tests.bench.benchmods import load_bench_module

plan_scaling = load_bench_module("plan_scaling")


def row(series: str, tenants: int, models: int, resources: int, total: list[float], bare: list[float],
        peak: float) -> dict:
    return {"series": series, "tenants": tenants, "models": models, "resources": resources,
            "total_s": sorted(total)[len(total) // 2], "total_s_samples": total,
            "bare_s": sorted(bare)[len(bare) // 2], "bare_s_samples": bare,
            "overhead_s_samples": [t - b for t, b in zip(total, bare)],
            "overhead_s": sorted(t - b for t, b in zip(total, bare))[len(total) // 2], "peak_rss_mib": peak}


def grid_and_untrusted() -> list[dict]:
    # Medians of the 2026-11-23 run (before the GC fix), repeats invented within +/- 2%.
    rows = [row("grid", t, 1, 99, [0.94 * k, 0.96 * k, 0.98 * k], [0.3, 0.31, 0.32], 204.0)
            for t, k in ((1, 1.0), (10, 0.95), (50, 1.05), (200, 1.16))]
    rows += [row("untrusted", t, 1, r, [0.98 * m, m, 1.02 * m], [b * 0.98, b, b * 1.02], p)
             for t, r, m, b, p in ((1, 109, 1.0001, 0.16, 204.4), (10, 217, 1.3836, 0.3, 211.2),
                                   (50, 697, 6.133, 1.0, 246.5))]
    return rows


def by_key(fits: list[dict]) -> dict[tuple[str, str, str, str], dict]:
    return {(f["series"], f["y"], f["x"], f["fixed"]): f for f in fits}


def test_the_superlinear_untrusted_series_is_non_linear_against_resources() -> None:
    fits = by_key(plan_scaling.fits(grid_and_untrusted()))
    total = fits[("untrusted", "total_s", "tenants", "models=1")]
    assert total["judged_against"] == "resources" and total["resources"] == [109, 217, 697]
    assert total["verdict"].startswith("NON-LINEAR")
    assert total["head_marginal"][1] == pytest.approx(1000 * (1.3836 - 1.0001) / 108, abs=1e-3)
    assert total["unit"] == "ms" and total["per_resource"] > 0
    # The bare SDK's marginal cost here is flat (0.16 -> 0.3 -> 1.0 s: 1.3 then 1.46 ms a resource).
    assert fits[("untrusted", "bare_s", "tenants", "models=1")]["verdict"].startswith("linear")
    assert fits[("untrusted", "overhead_s", "tenants", "models=1")]["verdict"].startswith("NON-LINEAR")


def test_tenants_without_resources_are_judged_per_tenant_and_a_noisy_flat_line_is_not_non_linear() -> None:
    fits = by_key(plan_scaling.fits(grid_and_untrusted()))
    grid = fits[("grid", "total_s", "tenants", "models=1")]
    assert grid["judged_against"] == "tenants" and grid["resources"] == [99]
    assert grid["per_resource"] is None and grid["r2_resources"] is None
    assert not grid["verdict"].startswith(("NON-LINEAR", "not tested")), grid["verdict"]
    # Constant resources: the bare SDK and the overhead are not fitted against tenants.
    assert ("grid", "bare_s", "tenants", "models=1") not in fits
    assert ("grid", "overhead_s", "tenants", "models=1") not in fits


def test_memory_is_judged_from_one_value_per_process_with_its_own_floor() -> None:
    fits = by_key(plan_scaling.fits(grid_and_untrusted()))
    mem = fits[("untrusted", "peak_rss_mib", "tenants", "models=1")]
    assert mem["unit"] == "KiB" and mem["repeat_spread"] is None
    assert mem["verdict"].startswith("linear") and "0.5% assumed" in mem["verdict"]


def test_one_repeat_leaves_time_untested_but_memory_judged() -> None:
    rows = [{**r, "total_s_samples": [r["total_s"]], "bare_s_samples": [r["bare_s"]],
             "overhead_s_samples": [r["overhead_s"]]} for r in grid_and_untrusted()]
    fits = by_key(plan_scaling.fits(rows))
    assert fits[("untrusted", "total_s", "tenants", "models=1")]["verdict"].startswith("not tested (needs >= 2")
    assert fits[("untrusted", "peak_rss_mib", "tenants", "models=1")]["verdict"].startswith("linear")


def test_rows_without_a_bare_replay_get_no_bare_or_overhead_fits() -> None:
    rows = [{k: v for k, v in r.items() if not k.startswith(("bare_s", "overhead_s"))} for r in grid_and_untrusted()]
    assert {f["y"] for f in plan_scaling.fits(rows)} == {"total_s", "peak_rss_mib"}
