"""Criterion (c): GPU time-slicing is configured as the stack says, and GPUs are really shared.

Expectations come from the stack's capability object (never from the cluster itself):
- every GPU node carries `gpu_product_label_key` with one of `gpu_product_label_values` (on k3s with
  time-slicing: GFD's product name plus `-SHARED`), GFD's `nvidia.com/gpu.count` equals
  `gpus_per_node`, and it advertises `gpus_per_node x gpu_time_slicing_replicas` allocatable GPUs;
- every serving pod that requests GPUs is Running and Ready, uses the capability's RuntimeClass and
  runs vLLM with `--gpu-memory-utilization` at most the capability's lowered fraction (~0.9/N);
- on some node the Ready serving pods request more GPUs than the node physically has, so (pigeonhole)
  at least two replicas share one GPU and both started with the lowered memory fraction.
Skipped when the stack does not time-slice (`gpu_time_slicing_replicas` 1).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from llmp.multigpu.report import CriterionResult, Status
from substrates.capabilities import SubstrateCapabilities

NAME = "timeslicing"
GFD_COUNT = "nvidia.com/gpu.count"
GFD_REPLICAS = "nvidia.com/gpu.replicas"
MEMORY_FLAG = "--gpu-memory-utilization"


@dataclass(frozen=True, kw_only=True)
class GpuNode:
    name: str
    product: str | None
    physical: int | None
    """GFD's `nvidia.com/gpu.count` (physical GPUs); None when the label is absent."""
    replicas: int | None
    allocatable: int


@dataclass(frozen=True, kw_only=True)
class GpuPod:
    name: str
    node: str | None
    phase: str
    ready: bool
    gpus: int
    memory_utilization: float | None
    runtime_class: str | None


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def gpu_nodes(nodes: list[dict[str, Any]], caps: SubstrateCapabilities) -> list[GpuNode]:
    """Nodes that carry the capability's product label key (whatever its value)."""
    out = []
    for node in nodes:
        labels = (node.get("metadata") or {}).get("labels") or {}
        if caps.gpu_product_label_key not in labels:
            continue
        out.append(GpuNode(
            name=node["metadata"]["name"], product=labels.get(caps.gpu_product_label_key),
            physical=_int(labels.get(GFD_COUNT)), replicas=_int(labels.get(GFD_REPLICAS)),
            allocatable=_int(((node.get("status") or {}).get("allocatable") or {}).get(caps.gpu_resource_name)) or 0))
    return out


def memory_utilization(args: list[str]) -> float | None:
    for i, arg in enumerate(args):
        value = args[i + 1] if arg == MEMORY_FLAG and i + 1 < len(args) else (
            arg.split("=", 1)[1] if arg.startswith(MEMORY_FLAG + "=") else None)
        if value is not None:
            try:
                return float(value)
            except ValueError:
                return None
    return None


def gpu_pods(pods: list[dict[str, Any]], caps: SubstrateCapabilities) -> list[GpuPod]:
    """Pods with a container that requests the capability's GPU resource."""
    out = []
    for pod in pods:
        spec, status = pod.get("spec") or {}, pod.get("status") or {}
        gpus, fraction = 0, None
        for c in spec.get("containers") or []:
            limits = (c.get("resources") or {}).get("limits") or {}
            requests = (c.get("resources") or {}).get("requests") or {}
            n = _int(limits.get(caps.gpu_resource_name, requests.get(caps.gpu_resource_name))) or 0
            if n:
                gpus += n
                fraction = memory_utilization([*(c.get("command") or []), *(c.get("args") or [])])
        if not gpus:
            continue
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        out.append(GpuPod(name=pod["metadata"]["name"], node=spec.get("nodeName"), phase=status.get("phase", ""),
                          ready=ready, gpus=gpus, memory_utilization=fraction,
                          runtime_class=spec.get("runtimeClassName")))
    return out


def evaluate_time_slicing(nodes: list[GpuNode], pods: list[GpuPod], caps: SubstrateCapabilities) -> CriterionResult:
    replicas = caps.gpu_time_slicing_replicas
    metrics: dict[str, Any] = {
        "expected": {"labelKey": caps.gpu_product_label_key, "labelValues": list(caps.gpu_product_label_values),
                     "gpusPerNode": caps.gpus_per_node, "replicas": replicas,
                     "allocatablePerNode": caps.gpus_per_node * replicas,
                     "maxMemoryUtilization": caps.gpu_memory_utilization,
                     "runtimeClass": caps.runtime_class_name},
        "nodes": [vars(n) for n in nodes],
        "pods": [vars(p) for p in pods],
    }
    if replicas <= 1:
        return CriterionResult(name=NAME, status=Status.SKIPPED, metrics=metrics,
                               summary="the stack does not time-slice GPUs (gpu_time_slicing_replicas 1)")
    failures: list[str] = []
    matched = [n for n in nodes if n.product in caps.gpu_product_label_values]
    if not matched:
        seen = sorted({str(n.product) for n in nodes}) or ["no GPU node at all"]
        failures.append(f"no node has {caps.gpu_product_label_key} in {list(caps.gpu_product_label_values)}; "
                        f"seen: {seen}")
    for n in matched:
        physical = n.physical if n.physical is not None else caps.gpus_per_node
        if n.physical is not None and n.physical != caps.gpus_per_node:
            failures.append(f"node {n.name} has {n.physical} physical GPUs; the stack expects {caps.gpus_per_node}")
        if n.allocatable != physical * replicas:
            failures.append(f"node {n.name} advertises {n.allocatable} {caps.gpu_resource_name}; expected "
                            f"{physical} GPUs x {replicas} replicas = {physical * replicas}")
        if not (n.product or "").endswith("-SHARED"):
            failures.append(f"node {n.name} product label {n.product!r} lacks the time-slicing suffix -SHARED")
        if n.replicas is not None and n.replicas != replicas:
            failures.append(f"node {n.name} reports {n.replicas} replicas per GPU ({GFD_REPLICAS}); expected {replicas}")
    on_matched = {n.name for n in matched}
    serving = [p for p in pods if p.node in on_matched]
    if not serving:
        failures.append("no GPU-requesting serving pod runs on a matching node")
    for p in serving:
        if p.phase != "Running" or not p.ready:
            failures.append(f"pod {p.name} is {p.phase or 'unknown'}{'' if p.ready else ' and not Ready'}")
        if p.memory_utilization is None:
            failures.append(f"pod {p.name} sets no {MEMORY_FLAG}: sharing pods would each claim 90% of the GPU")
        elif p.memory_utilization > caps.gpu_memory_utilization + 1e-9:
            failures.append(f"pod {p.name} runs with {MEMORY_FLAG} {p.memory_utilization}; at most "
                            f"{caps.gpu_memory_utilization} with {replicas} replicas per GPU")
        if caps.runtime_class_name and p.runtime_class != caps.runtime_class_name:
            failures.append(f"pod {p.name} uses RuntimeClass {p.runtime_class!r}; expected {caps.runtime_class_name!r}")
    ready_gpus: dict[str, int] = defaultdict(int)
    for p in serving:
        if p.ready and p.phase == "Running":
            ready_gpus[p.node or ""] += p.gpus
    shared_on = sorted(n.name for n in matched
                       if ready_gpus[n.name] > (n.physical if n.physical is not None else caps.gpus_per_node))
    if matched and not shared_on:
        detail = ", ".join(f"{n.name}: {ready_gpus[n.name]} on {n.physical or caps.gpus_per_node}" for n in matched)
        failures.append(f"no node runs more Ready GPU replicas than it has GPUs ({detail}), so sharing is not "
                        "shown; run more replicas than physical GPUs")
    metrics["sharedOn"] = shared_on
    metrics["readyGpuRequestsPerNode"] = dict(ready_gpus)
    summary = (f"{len(matched)} GPU node(s) advertising "
               + ", ".join(f"{n.allocatable} on {n.physical}" for n in matched)
               + f"; {sum(p.ready for p in serving)} Ready replica(s), shared GPUs on {shared_on or 'no node'}")
    return CriterionResult.decide(NAME, failures, summary, metrics)
