"""The validation report: pass/fail rules, cost arithmetic, one file per run."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from llmp.multigpu.report import CriterionResult, Status, build_report, cost, write_report
from tests.vast.fakes import node_object


def result(name: str, status: Status) -> CriterionResult:
    return CriterionResult(name=name, status=status, summary=name)


def report(*criteria: CriterionResult, **kw) -> dict:
    return build_report(criteria=list(criteria), nodes=[node_object()], started_at=1_800_000_000,
                        finished_at=1_800_000_000 + 1800, dph_usd=0.8, dph_source="test", target={}, **kw)


def test_a_run_passes_only_when_every_criterion_that_ran_passed() -> None:
    assert report(result("a", Status.PASS), result("b", Status.SKIPPED))["passed"] is True
    assert report(result("a", Status.PASS), result("b", Status.FAIL))["passed"] is False


def test_a_run_in_which_nothing_ran_does_not_pass() -> None:
    assert report(result("a", Status.SKIPPED))["passed"] is False


def test_cost_is_the_hourly_price_times_the_wall_time() -> None:
    assert report(result("a", Status.PASS))["cost"] == {"dphUsd": 0.8, "source": "test", "durationS": 1800.0,
                                                        "usd": 0.4}


@given(st.floats(min_value=0, max_value=100), st.floats(min_value=0, max_value=86_400))
def test_cost_never_goes_negative_and_scales_linearly(dph: float, seconds: float) -> None:
    usd = cost(dph, "x", seconds)["usd"]
    assert usd >= 0 and abs(usd - dph * seconds / 3600) < 1e-3


def test_without_a_price_the_cost_is_unknown_rather_than_zero() -> None:
    assert cost(None, "unknown: pass --dph-usd", 60)["usd"] is None


def test_machine_facts_carry_the_gpu_labels_the_node_reports() -> None:
    gpu = report(result("a", Status.PASS))["machine"]["nodes"][0]["gpu"]
    assert gpu == {"product": "NVIDIA-GeForce-RTX-4090-SHARED", "count": "2", "replicas": "2",
                   "sharingStrategy": "time-slicing", "memoryMiB": "24564", "driverVersion": "570.153.02"}


def test_each_run_gets_its_own_file(tmp_path: Path) -> None:
    doc = report(result("a", Status.PASS))
    first, second = write_report(doc, tmp_path), write_report(doc, tmp_path)
    assert first != second and json.loads(second.read_text()) == doc
    assert first.name == "validate-multigpu-20270115T080000Z.json"
