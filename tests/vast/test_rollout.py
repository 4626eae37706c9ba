"""Criterion (b), rollout: `kubectl rollout status` logic as a pure function, then restarts of fake
pods under steady load: graceful (drain, then delete) passes; abrupt deletes and Recreate fail."""

from __future__ import annotations

import asyncio

import pytest

from llmp.multigpu.loadgen import LoadSpec, Target
from llmp.multigpu.report import Status
from llmp.multigpu.rollout import RolloutTiming, check_rollout, rollout_state, strategy_of
from tests.vast.fakes import API_KEY, MODEL, FakeRolloutDriver, fake_cluster

FAST = RolloutTiming(warmup_s=0.3, settle_s=0.3, timeout_s=15, poll_s=0.05)
STEADY = LoadSpec(requests=5000, concurrency=4)


def restart_under_load(**cluster_kw):
    with fake_cluster(2, delay_s=0.02, chunks=5, **cluster_kw) as c:
        target = Target(base_url=c.base_url, model=MODEL, headers={"Authorization": f"Bearer {API_KEY}"})
        result = asyncio.run(check_rollout(target, STEADY, FakeRolloutDriver(c), FAST))
        assert c.rollouts == 1
    return result


def deployment(generation=2, observed=2, want=2, replicas=2, updated=2, available=2, **status):
    return {"metadata": {"generation": generation}, "spec": {"replicas": want},
            "status": {"observedGeneration": observed, "replicas": replicas, "updatedReplicas": updated,
                       "availableReplicas": available, **status}}


@pytest.mark.parametrize(("dep", "done", "detail"), [
    (deployment(observed=1), False, "observe"),
    (deployment(updated=1, replicas=3), False, "1 of 2 replicas updated"),
    (deployment(replicas=3), False, "1 old replica(s) pending termination"),
    (deployment(available=1), False, "1 of 2 updated replicas available"),
    (deployment(conditions=[{"type": "Progressing", "reason": "ProgressDeadlineExceeded", "message": "m"}]),
     False, "progress deadline exceeded"),
    (deployment(), True, "2 replicas updated and available"),
])
def test_a_rollout_is_done_only_when_kubectl_would_say_so(dep, done, detail) -> None:
    state = rollout_state(dep)
    assert state.done is done and detail in state.detail


def test_an_unset_rolling_update_gets_kubernetes_defaults_which_allow_unavailability() -> None:
    facts = strategy_of({"spec": {"replicas": 2}})
    assert facts.type == "RollingUpdate" and facts.max_unavailable == "25%" and not facts.zero_unavailable
    assert strategy_of({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}}}}
                       ).zero_unavailable


def test_a_graceful_rolling_restart_under_load_loses_no_request() -> None:
    result = restart_under_load(rollout="graceful")
    assert result.status == Status.PASS, result.failures
    assert result.metrics["requestsDuringRollout"] > 0 and result.metrics["failedDuringRollout"] == 0
    assert result.metrics["load"]["cutOff"] == 0


def test_pods_deleted_without_draining_cut_streams_and_the_criterion_fails() -> None:
    result = restart_under_load(rollout="abrupt")
    assert result.status == Status.FAIL
    assert result.metrics["load"]["cutOff"] > 0
    assert any("cut off" in f for f in result.failures)


def test_recreate_drops_requests_and_is_refused_as_a_strategy() -> None:
    result = restart_under_load(strategy="Recreate")
    assert result.status == Status.FAIL
    assert any("strategy is Recreate" in f for f in result.failures)
    assert any("responses failed" in f for f in result.failures)
    assert "503" in result.metrics["load"]["statuses"]


def test_max_unavailable_above_zero_fails_even_when_no_request_was_lost() -> None:
    result = restart_under_load(max_unavailable=1)
    assert result.status == Status.FAIL
    assert result.failures == ("strategy is RollingUpdate with maxUnavailable 1; zero-downtime needs "
                               "RollingUpdate with maxUnavailable 0",)


def test_a_load_bound_reached_before_the_rollout_ends_is_reported_as_such() -> None:
    with fake_cluster(2, delay_s=0.02, chunks=5, start_delay_s=1.0) as c:
        target = Target(base_url=c.base_url, model=MODEL, headers={"Authorization": f"Bearer {API_KEY}"})
        result = asyncio.run(check_rollout(target, LoadSpec(requests=20, concurrency=2), FakeRolloutDriver(c), FAST))
    assert result.status == Status.FAIL
    assert any("raise --requests" in f for f in result.failures)
