"""Criterion (a), fan-out: pure fairness arithmetic, then judged on load against fake pods, with one
pod made slow or failing on purpose so the criterion fails."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from llmp.multigpu.fanout import (
    FanoutThresholds,
    counts_from_metrics,
    evaluate_fanout,
    jain_index,
    metric_total,
)
from llmp.multigpu.loadgen import LoadSpec, Target, run_load
from llmp.multigpu.report import Status
from tests.vast.fakes import API_KEY, MODEL, fake_cluster

LOAD = LoadSpec(requests=150, concurrency=6)


def run_against(replicas: int, tweak=None, **kw):
    with fake_cluster(replicas, **kw) as c:
        if tweak:
            tweak(c)
        pods = sorted(c.pods)
        target = Target(base_url=c.base_url, model=MODEL, headers={"Authorization": f"Bearer {API_KEY}"})
        result = asyncio.run(run_load(target, LOAD))
    return evaluate_fanout(result, result.served_counts(), pods, attribution="response header"), pods


@given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=12))
def test_jains_index_lies_between_one_over_n_and_one(counts: list[int]) -> None:
    j = jain_index(counts)
    if sum(counts) == 0:
        assert j == 0.0
    else:
        assert 1 / len(counts) - 1e-9 <= j <= 1 + 1e-9


@given(st.integers(min_value=1, max_value=1000), st.integers(min_value=1, max_value=12))
def test_equal_counts_are_perfectly_fair_and_one_pod_taking_all_is_least_fair(c: int, n: int) -> None:
    assert abs(jain_index([c] * n) - 1.0) < 1e-9
    assert abs(jain_index([c] + [0] * (n - 1)) - 1 / n) < 1e-9


def test_vllm_success_counters_are_summed_per_model_from_prometheus_text() -> None:
    text = "\n".join([
        "# HELP vllm:request_success_total Count of successfully processed requests.",
        "# TYPE vllm:request_success_total counter",
        'vllm:request_success_total{engine="0",finished_reason="stop",model_name="m"} 7.0',
        'vllm:request_success_total{engine="0",finished_reason="length",model_name="m"} 5.0',
        'vllm:request_success_total{engine="0",finished_reason="stop",model_name="other"} 100.0',
        'vllm:request_success_created{model_name="m"} 1.7e9',
    ])
    assert metric_total(text, "vllm:request_success_total", {"model_name": "m"}) == 12.0
    assert metric_total(text, "vllm:request_success_total") == 112.0


def test_metric_deltas_count_a_restarted_pod_from_zero() -> None:
    assert counts_from_metrics({"a": 10, "b": 4}, {"a": 25, "b": 2, "c": 3}) == {"a": 15, "b": 2, "c": 3}


def test_three_healthy_pods_share_the_load_fairly_and_the_criterion_passes() -> None:
    result, pods = run_against(3)
    assert result.status == Status.PASS, result.failures
    assert result.metrics["jainIndex"] > 0.95 and sorted(result.metrics["shares"]) == pods
    assert result.metrics["load"]["failed"] == 0


def test_a_slow_pod_gets_a_small_share_and_the_criterion_fails() -> None:
    def slow(c):
        c.pods[sorted(c.pods)[0]].delay_s = 0.1

    result, pods = run_against(3, slow)
    assert result.status == Status.FAIL
    assert result.metrics["shares"][pods[0]] < 0.5 / 3
    assert any(f.startswith(f"pod {pods[0]} served") for f in result.failures)
    assert any("Jain's fairness index" in f for f in result.failures)


def test_a_failing_pod_fails_the_criterion_through_its_errors() -> None:
    def failing(c):
        c.pods[sorted(c.pods)[1]].fail = True

    result, _ = run_against(3, failing)
    assert result.status == Status.FAIL
    assert any("responses failed or were cut off" in f for f in result.failures)


def test_a_single_replica_cannot_show_fan_out() -> None:
    result, _ = run_against(1)
    assert result.status == Status.FAIL and any("at least 2 Ready replicas" in f for f in result.failures)


def test_responses_from_a_pod_that_is_not_a_ready_replica_fail_the_criterion() -> None:
    with fake_cluster(2) as c:
        pods = sorted(c.pods)
        target = Target(base_url=c.base_url, model=MODEL, headers={"Authorization": f"Bearer {API_KEY}"})
        load = asyncio.run(run_load(target, LoadSpec(requests=20, concurrency=2)))
    result = evaluate_fanout(load, load.served_counts(), pods[:1] + ["some-other-pod"], attribution="header")
    assert result.status == Status.FAIL and any("not Ready replicas" in f for f in result.failures)


def test_thresholds_are_reported_and_can_be_relaxed() -> None:
    def slow(c):
        c.pods[sorted(c.pods)[0]].delay_s = 0.02

    with fake_cluster(2) as c:
        slow(c)
        pods = sorted(c.pods)
        target = Target(base_url=c.base_url, model=MODEL, headers={"Authorization": f"Bearer {API_KEY}"})
        load = asyncio.run(run_load(target, LOAD))
    lenient = FanoutThresholds(min_jain_index=0.5, min_fair_fraction=0.01)
    result = evaluate_fanout(load, load.served_counts(), pods, attribution="header", thresholds=lenient)
    assert result.status == Status.PASS and result.metrics["thresholds"]["minJainIndex"] == 0.5
