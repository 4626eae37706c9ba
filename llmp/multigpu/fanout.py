"""Criterion (a): the endpoint picker fans requests out over every model-server replica under load.

Pass when every request succeeded (or at most `max_failure_rate` failed), every Ready replica
served at least `min_fair_fraction` of a fair share (1/N), and Jain's fairness index over the
per-pod counts is at least `min_jain_index` (1.0: perfectly even; 1/N: one pod took everything).

Attribution, per response: a response header naming the pod (when the gateway sets one), else the
delta of each pod's `vllm:request_success_total` across the run (read through the API server).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from llmp.multigpu.loadgen import LoadResult
from llmp.multigpu.report import CriterionResult

NAME = "fanout"
VLLM_SUCCESS_METRIC = "vllm:request_success_total"

_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True, kw_only=True)
class FanoutThresholds:
    min_jain_index: float = 0.9
    """Jain's index over per-pod counts; 0.9 allows e.g. 45/35/20 % over three pods."""
    min_fair_fraction: float = 0.5
    """Each pod must serve at least this fraction of 1/N of the requests."""
    max_failure_rate: float = 0.0
    """Failed or cut-off responses allowed, as a fraction of those sent."""


def jain_index(counts: Sequence[float]) -> float:
    """(sum x)^2 / (n * sum x^2): 1.0 for equal counts, 1/n when one of n takes everything."""
    n, total, squares = len(counts), sum(counts), sum(c * c for c in counts)
    if n == 0 or squares == 0:
        return 0.0
    return total * total / (n * squares)


def metric_total(text: str, metric: str, labels: Mapping[str, str] | None = None) -> float:
    """Sum of a counter's samples in Prometheus text whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if not m or m["name"] != metric:
            continue
        found = dict(_LABEL.findall(m["labels"] or ""))
        if labels and any(found.get(k) != v for k, v in labels.items()):
            continue
        try:
            total += float(m["value"])
        except ValueError:
            continue
    return total


def counts_from_metrics(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    """Per-pod request counts over a run from two counter snapshots (a pod that restarted counts from 0)."""
    out = {}
    for pod, end in after.items():
        start = before.get(pod, 0.0)
        out[pod] = end - start if end >= start else end
    return out


def evaluate_fanout(
    load: LoadResult,
    per_pod: Mapping[str, float],
    expected_pods: Sequence[str],
    *,
    attribution: str,
    thresholds: FanoutThresholds = FanoutThresholds(),
) -> CriterionResult:
    """Judge one load run. `per_pod`: requests each pod served; `expected_pods`: Ready replicas."""
    pods = sorted(expected_pods)
    n = len(pods)
    counts = [float(per_pod.get(p, 0.0)) for p in pods]
    attributed = sum(counts)
    strangers = {p: c for p, c in per_pod.items() if p not in pods and c}
    shares = {p: round(c / attributed, 4) if attributed else 0.0 for p, c in zip(pods, counts, strict=True)}
    jain = jain_index(counts)
    failed = len(load.failed)
    failures: list[str] = []
    if n < 2:
        failures.append(f"fan-out needs at least 2 Ready replicas; found {n} ({', '.join(pods) or 'none'})")
    if load.sent == 0:
        failures.append("no request was sent")
    elif failed > thresholds.max_failure_rate * load.sent:
        failures.append(f"{failed} of {load.sent} responses failed or were cut off "
                        f"(allowed: {thresholds.max_failure_rate:.1%})")
    if n and attributed == 0:
        failures.append(f"no response could be attributed to a pod (attribution: {attribution})")
    elif n >= 2:
        floor = thresholds.min_fair_fraction / n
        for pod, share in shares.items():
            if share < floor:
                failures.append(f"pod {pod} served {share:.1%} of requests; each of {n} pods must serve >= {floor:.1%}")
        if jain < thresholds.min_jain_index:
            failures.append(f"Jain's fairness index {jain:.3f} < {thresholds.min_jain_index}")
    if strangers:
        failures.append(f"responses attributed to pods that are not Ready replicas: {sorted(strangers)}")
    summary = (f"{load.sent} requests, {failed} failed, over {n} pods: shares "
               + ", ".join(f"{p}={s:.0%}" for p, s in shares.items()) + f"; Jain {jain:.3f}")
    metrics = {
        "attribution": attribution,
        "pods": pods,
        "perPod": {p: c for p, c in zip(pods, counts, strict=True)},
        "shares": shares,
        "jainIndex": round(jain, 4),
        "maxMinRatio": round(max(counts) / min(counts), 3) if counts and min(counts) > 0 else None,
        "thresholds": {"minJainIndex": thresholds.min_jain_index, "minFairFraction": thresholds.min_fair_fraction,
                       "maxFailureRate": thresholds.max_failure_rate},
        "load": load.summary(),
    }
    return CriterionResult.decide(NAME, failures, summary, metrics)
