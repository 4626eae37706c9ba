"""One JSON report per validation run: machine facts, each criterion with its numbers, and the cost.

Shape (`schema: llmp.validate-multigpu/v1`): `passed` (every criterion that ran passed),
`criteria.<name>` = {status: pass|fail|skipped, summary, metrics, failures}, `machine` (nodes as the
API server reports them: OS, kernel, runtime, CPU, memory, GPU labels from GPU Feature Discovery),
`cost` = {dphUsd, source, durationS, usd}: the price per hour times the run's wall time.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

SCHEMA = "llmp.validate-multigpu/v1"

GFD_LABELS = {
    "product": "nvidia.com/gpu.product",
    "count": "nvidia.com/gpu.count",
    "replicas": "nvidia.com/gpu.replicas",
    "sharingStrategy": "nvidia.com/gpu.sharing-strategy",
    "memoryMiB": "nvidia.com/gpu.memory",
    "driverVersion": "nvidia.com/cuda.driver-version.full",
    "cudaRuntimeVersion": "nvidia.com/cuda.runtime-version.full",
    "gkeAccelerator": "cloud.google.com/gke-accelerator",
}
"""Node labels copied into machine facts, when present."""


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIPPED = "skipped"
    """Not applicable to this cluster (e.g. time-slicing off) or not asked for; never counts as a pass."""


@dataclass(frozen=True, kw_only=True)
class CriterionResult:
    name: str
    status: Status
    summary: str
    """One sentence with the deciding numbers."""
    metrics: dict[str, Any] = field(default_factory=dict)
    failures: tuple[str, ...] = ()
    """Every reason it failed (empty when it passed)."""

    @classmethod
    def decide(cls, name: str, failures: list[str], summary: str, metrics: dict[str, Any]) -> CriterionResult:
        return cls(name=name, status=Status.FAIL if failures else Status.PASS, summary=summary, metrics=metrics,
                   failures=tuple(failures))

    @property
    def passed(self) -> bool:
        return self.status == Status.PASS

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status.value, "summary": self.summary, "metrics": self.metrics,
                "failures": list(self.failures)}


def node_facts(node: dict[str, Any], gpu_resource: str = "nvidia.com/gpu") -> dict[str, Any]:
    """What a report says about one node (from the API server's Node object)."""
    meta, status = node.get("metadata") or {}, node.get("status") or {}
    info, labels = status.get("nodeInfo") or {}, meta.get("labels") or {}
    return {
        "name": meta.get("name"),
        "kubeletVersion": info.get("kubeletVersion"),
        "osImage": info.get("osImage"),
        "kernelVersion": info.get("kernelVersion"),
        "containerRuntime": info.get("containerRuntimeVersion"),
        "architecture": info.get("architecture"),
        "cpu": (status.get("capacity") or {}).get("cpu"),
        "memory": (status.get("capacity") or {}).get("memory"),
        "gpuCapacity": (status.get("capacity") or {}).get(gpu_resource),
        "gpuAllocatable": (status.get("allocatable") or {}).get(gpu_resource),
        "gpu": {k: labels[v] for k, v in GFD_LABELS.items() if v in labels},
    }


def cost(dph_usd: float | None, source: str, duration_s: float) -> dict[str, Any]:
    """Price per hour x wall time; `usd` is None when no price is known."""
    usd = None if dph_usd is None else round(dph_usd * duration_s / 3600.0, 4)
    return {"dphUsd": dph_usd, "source": source, "durationS": round(duration_s, 1), "usd": usd}


def build_report(
    *,
    criteria: list[CriterionResult],
    nodes: list[dict[str, Any]],
    started_at: float,
    finished_at: float,
    dph_usd: float | None,
    dph_source: str,
    target: dict[str, Any],
    gpu_resource: str = "nvidia.com/gpu",
    extra_machine: dict[str, Any] | None = None,
) -> dict[str, Any]:
    ran = [c for c in criteria if c.status != Status.SKIPPED]
    return {
        "schema": SCHEMA,
        "passed": bool(ran) and all(c.passed for c in ran),
        "startedAt": _iso(started_at),
        "finishedAt": _iso(finished_at),
        "target": target,
        "machine": {"nodes": [node_facts(n, gpu_resource) for n in nodes], **(extra_machine or {}),
                    "runner": {"python": platform.python_version(), "host": platform.node()}},
        "criteria": {c.name: c.to_json() for c in criteria},
        "cost": cost(dph_usd, dph_source, finished_at - started_at),
    }


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def write_report(report: dict[str, Any], out_dir: Path) -> Path:
    """`<out_dir>/validate-multigpu-<startedAt>.json`; one file per run, never overwritten."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = report["startedAt"].replace(":", "").replace("-", "")
    path = out_dir / f"validate-multigpu-{stamp}.json"
    n = 1
    while path.exists():
        n += 1
        path = out_dir / f"validate-multigpu-{stamp}-{n}.json"
    path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    return path
