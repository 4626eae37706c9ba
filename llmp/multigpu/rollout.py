"""Criterion (b): a rolling restart of a 2+ replica model server under steady load loses nothing.

Steady load runs; after a warm-up the Deployment is restarted the way `kubectl rollout restart`
does it (a `kubectl.kubernetes.io/restartedAt` pod-template annotation, strategic merge patch);
the load keeps running until the rollout has finished (as `kubectl rollout status` decides it) and
a settle period has passed. Pass when the Deployment is RollingUpdate with maxUnavailable 0 and at
least 2 replicas, the rollout finished within its timeout, requests were in flight during it, and
not one response failed or was cut off.

The restart annotation stays on the Deployment. Pulumi applies server-side, so it does not own
that field: the next `pulumi up` neither removes it nor restarts the pods again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass
from typing import Any, Protocol

from llmp.multigpu.kube import KubeClient, deployment_path
from llmp.multigpu.loadgen import LoadResult, LoadSpec, Target, run_load
from llmp.multigpu.report import CriterionResult

NAME = "rollout"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


@dataclass(frozen=True, kw_only=True)
class StrategyFacts:
    type: str
    max_unavailable: int | str | None
    max_surge: int | str | None
    replicas: int

    @property
    def zero_unavailable(self) -> bool:
        return self.type == "RollingUpdate" and str(self.max_unavailable) in ("0", "0%")


@dataclass(frozen=True, kw_only=True)
class RolloutState:
    done: bool
    detail: str


class RolloutDriver(Protocol):
    """Something that can be rolled: a Deployment through the API server, or a fake in tests."""

    async def strategy(self) -> StrategyFacts: ...

    async def trigger(self) -> None: ...

    async def state(self) -> RolloutState: ...


def strategy_of(deployment: dict[str, Any]) -> StrategyFacts:
    spec = deployment.get("spec") or {}
    strategy = spec.get("strategy") or {}
    rolling = strategy.get("rollingUpdate") or {}
    kind = strategy.get("type", "RollingUpdate")
    # Kubernetes defaults an unset RollingUpdate to 25% / 25%.
    default = "25%" if kind == "RollingUpdate" else None
    return StrategyFacts(type=kind, max_unavailable=rolling.get("maxUnavailable", default),
                         max_surge=rolling.get("maxSurge", default), replicas=int(spec.get("replicas", 1)))


def rollout_state(deployment: dict[str, Any]) -> RolloutState:
    """`kubectl rollout status` logic: observed, all replicas updated, no old ones left, all available."""
    meta, spec, status = deployment.get("metadata") or {}, deployment.get("spec") or {}, deployment.get("status") or {}
    want = int(spec.get("replicas", 1))
    updated, total = int(status.get("updatedReplicas", 0)), int(status.get("replicas", 0))
    available = int(status.get("availableReplicas", 0))
    if int(status.get("observedGeneration", 0)) < int(meta.get("generation", 0)):
        return RolloutState(done=False, detail="waiting for the controller to observe the new spec")
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            return RolloutState(done=False, detail=f"progress deadline exceeded: {cond.get('message', '')}")
    if updated < want:
        return RolloutState(done=False, detail=f"{updated} of {want} replicas updated")
    if total > updated:
        return RolloutState(done=False, detail=f"{total - updated} old replica(s) pending termination")
    if available < updated:
        return RolloutState(done=False, detail=f"{available} of {updated} updated replicas available")
    return RolloutState(done=True, detail=f"{want} replicas updated and available")


class DeploymentRollout:
    """`kubectl rollout restart` + `kubectl rollout status` for one Deployment, over the API."""

    def __init__(self, kube: KubeClient, namespace: str, name: str) -> None:
        self.kube, self.namespace, self.name = kube, namespace, name

    async def strategy(self) -> StrategyFacts:
        return strategy_of(await self.kube.deployment(self.namespace, self.name))

    async def trigger(self) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        await self.kube.patch(deployment_path(self.namespace, self.name),
                              {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}})

    async def state(self) -> RolloutState:
        return rollout_state(await self.kube.deployment(self.namespace, self.name))


@dataclass(frozen=True, kw_only=True)
class RolloutTiming:
    warmup_s: float = 10.0
    """Load before the restart, so the rollout starts with requests in flight."""
    settle_s: float = 15.0
    """Load after the rollout finished: old pods drain and new ones take traffic."""
    timeout_s: float = 1800.0
    """Longest a rollout may take (a vLLM start loads weights and compiles: minutes)."""
    poll_s: float = 2.0


async def check_rollout(target: Target, load: LoadSpec, driver: RolloutDriver,
                        timing: RolloutTiming = RolloutTiming()) -> CriterionResult:
    """Run the restart under load and judge it. `load.requests` bounds the requests; the duration
    bound is replaced by warm-up + timeout + settle."""
    strategy = await driver.strategy()
    spec = dataclasses.replace(load, duration_s=timing.warmup_s + timing.timeout_s + timing.settle_s)
    stop = asyncio.Event()
    load_task = asyncio.create_task(run_load(target, spec, stop=stop))
    await asyncio.sleep(timing.warmup_s)
    triggered = time.time()
    state = RolloutState(done=False, detail="not triggered")
    try:
        await driver.trigger()
        deadline = time.monotonic() + timing.timeout_s
        while time.monotonic() < deadline and not load_task.done():
            state = await driver.state()
            if state.done:
                break
            await asyncio.sleep(timing.poll_s)
        finished = time.time()
        if load_task.done() and not state.done:
            state = RolloutState(done=False, detail=f"the load stopped after {spec.requests} requests, before the "
                                 "rollout finished; raise --requests")
        if state.done:
            await asyncio.sleep(timing.settle_s)
    finally:
        stop.set()
        result = await load_task
    return evaluate_rollout(result, strategy, state, triggered_at=triggered, finished_at=finished)


def evaluate_rollout(result: LoadResult, strategy: StrategyFacts, state: RolloutState, *,
                     triggered_at: float, finished_at: float) -> CriterionResult:
    t_start, t_end = triggered_at - result.started_at, finished_at - result.started_at
    during = [r for r in result.records if r.started_s <= t_end and r.ended_s >= t_start]
    failed, cut = result.failed, result.cut_off
    failures: list[str] = []
    if not strategy.zero_unavailable:
        failures.append(f"strategy is {strategy.type} with maxUnavailable {strategy.max_unavailable}; "
                        "zero-downtime needs RollingUpdate with maxUnavailable 0")
    if strategy.replicas < 2:
        failures.append(f"the Deployment has {strategy.replicas} replica(s); the check needs at least 2")
    if not state.done:
        failures.append(f"the rollout did not finish: {state.detail}")
    if not during:
        failures.append("no request was in flight while the rollout ran; raise --requests or --concurrency")
    if failed:
        first = failed[0]
        failures.append(f"{len(failed)} of {result.sent} responses failed ({len(cut)} cut off); first: "
                        f"#{first.index} status {first.status} at {first.started_s:.1f}s: {first.error}")
    summary = (f"rollout {'finished' if state.done else 'did not finish'} in {t_end - t_start:.1f}s under "
               f"{result.sent} requests ({len(during)} during it): {len(failed)} failed, {len(cut)} cut off")
    metrics = {
        "strategy": dataclasses.asdict(strategy),
        "rolloutS": round(t_end - t_start, 2),
        "finalState": state.detail,
        "requestsDuringRollout": len(during),
        "failedDuringRollout": sum(1 for r in during if not r.ok),
        "failures": [r.to_json() for r in failed[:20]],
        "load": result.summary(),
    }
    return CriterionResult.decide(NAME, failures, summary, metrics)
