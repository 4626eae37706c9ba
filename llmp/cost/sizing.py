"""Does the system pool hold every non-GPU pod? Requests from the offline plan vs GKE's allocatable.

Pure functions over `plan.json`'s resources. Rendered workloads (Deployments, StatefulSets, Jobs, the
CNPG cluster, Istio-provisioned gateways) are read from their inputs; Helm releases are recorded
unrendered, so their pods' requests come from `CHART_PODS`: each pinned chart's default requests,
overridden where the release's values set them. A release whose chart version has no entry raises,
so a chart bump cannot silently skip its pods. GKE's own kube-system pods are not counted: their
requests are not documented (see docs/cost.md "Dev sizing").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GPU_RESOURCES = ("nvidia.com/gpu",)


@dataclass(frozen=True)
class Requests:
    cpu_m: float
    """CPU in millicores."""
    memory_mi: float
    """Memory in MiB."""

    def __add__(self, other: Requests) -> Requests:
        return Requests(self.cpu_m + other.cpu_m, self.memory_mi + other.memory_mi)

    def times(self, n: int) -> Requests:
        return Requests(self.cpu_m * n, self.memory_mi * n)

    def fits_in(self, room: Requests) -> bool:
        return self.cpu_m <= room.cpu_m and self.memory_mi <= room.memory_mi


ZERO = Requests(0, 0)


@dataclass(frozen=True, kw_only=True)
class SizingRow:
    workload: str
    """`<namespace>/<name>` for rendered objects, `<release>: <component>` for chart pods."""
    source: str
    """Where the requests come from: `rendered`, or `<chart> <version> default` / `... values`."""
    replicas: int
    per_pod: Requests
    transient: bool = False
    """True: a Job's pod, which runs to completion (it still needs room while it runs)."""

    @property
    def total(self) -> Requests:
        return self.per_pod.times(self.replicas)


@dataclass(frozen=True, kw_only=True)
class MachineShape:
    vcpus: int
    memory_gib: float


MACHINE_SHAPES: dict[str, MachineShape] = {
    "e2-standard-2": MachineShape(vcpus=2, memory_gib=8),
    "e2-standard-4": MachineShape(vcpus=4, memory_gib=16),
    "e2-standard-8": MachineShape(vcpus=8, memory_gib=32),
    "t2d-standard-4": MachineShape(vcpus=4, memory_gib=16),
}
"""vCPUs and memory of the CPU machine types the pricing table prices (its SkyPilot catalog source's
vCPUs and MemoryGiB columns)."""

EVICTION_THRESHOLD_MI = 100.0
"""Memory GKE keeps free for kubelet eviction, MiB."""
_CPU_STEPS = ((1, 0.06), (1, 0.01), (2, 0.005), (math.inf, 0.0025))
"""GKE's CPU reservation: 6% of the first core, 1% of the next, 0.5% of the next 2, 0.25% above 4."""
_MEMORY_STEPS = ((4, 0.25), (4, 0.20), (8, 0.10), (112, 0.06), (math.inf, 0.02))
"""GKE's memory reservation (GiB bands): 25% of the first 4, 20% of the next 4, 10% of the next 8,
6% of the next 112, 2% above 128. Machines under 1 GiB (255 MiB flat) are not used here."""


def _banded(amount: float, steps: tuple[tuple[float, float], ...]) -> float:
    reserved, left = 0.0, amount
    for width, share in steps:
        part = min(left, width)
        reserved += part * share
        left -= part
        if left <= 0:
            break
    return reserved


def allocatable(shape: MachineShape) -> Requests:
    """What pods may request on one GKE Standard node of `shape` (GKE's reservations, from nominal size).

    The kubelet reports a memory capacity slightly below the nominal size, so real allocatable memory
    is a few percent lower than this; CPU matches exactly (4 vCPU -> 3920m).
    """
    cpu_m = shape.vcpus * 1000 - _banded(shape.vcpus, _CPU_STEPS) * 1000
    memory_mi = shape.memory_gib * 1024 - _banded(shape.memory_gib, _MEMORY_STEPS) * 1024 - EVICTION_THRESHOLD_MI
    return Requests(round(cpu_m, 3), round(memory_mi, 3))


_MEM_UNITS = {"Ki": 1 / 1024, "Mi": 1.0, "Gi": 1024.0, "Ti": 1024.0 ** 2,
              "k": 1e3 / 2 ** 20, "M": 1e6 / 2 ** 20, "G": 1e9 / 2 ** 20}


def cpu_millicores(quantity: str | float | int) -> float:
    text = str(quantity)
    return float(text[:-1]) if text.endswith("m") else float(text) * 1000


def memory_mib(quantity: str | float | int) -> float:
    text = str(quantity)
    for unit in sorted(_MEM_UNITS, key=len, reverse=True):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * _MEM_UNITS[unit]
    return float(text) / 2 ** 20


def container_requests(resources: Mapping[str, Any] | None) -> Requests:
    """A container's requests; as in Kubernetes, limits stand in for requests that are not set."""
    resources = resources or {}
    asked = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
    return Requests(cpu_millicores(asked.get("cpu", 0)), memory_mib(asked.get("memory", 0)))


def _uses_gpu(container: Mapping[str, Any]) -> bool:
    res = container.get("resources") or {}
    return any(name in (res.get(kind) or {}) for kind in ("requests", "limits") for name in GPU_RESOURCES)


def pod_requests(pod_spec: Mapping[str, Any]) -> Requests | None:
    """The scheduler's view of a pod: the larger of its biggest init container and its containers' sum
    (per resource). None for a pod with a GPU container: it runs on the GPU pool, not the system pool."""
    containers = list(pod_spec.get("containers") or [])
    inits = list(pod_spec.get("initContainers") or [])
    if any(_uses_gpu(c) for c in containers + inits):
        return None
    total = sum((container_requests(c.get("resources")) for c in containers), ZERO)
    for init in inits:
        req = container_requests(init.get("resources"))
        total = Requests(max(total.cpu_m, req.cpu_m), max(total.memory_mi, req.memory_mi))
    return total


def _get(values: Mapping[str, Any], path: str) -> Any:
    node: Any = values
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


@dataclass(frozen=True, kw_only=True)
class ChartPod:
    """One Deployment a chart installs: where its replica count and resources live in the values."""

    component: str
    replicas_key: str | None
    resources_key: str
    default: Requests
    """The chart's default requests for this pod (all its containers)."""


CHART_PODS: dict[tuple[str, str], tuple[ChartPod, ...]] = {
    # kyverno/kyverno tag kyverno-chart-3.9.0, charts/kyverno/values.yaml
    ("kyverno", "3.9.0"): (
        ChartPod(component="admission-controller", replicas_key="admissionController.replicas",
                 resources_key="admissionController.container.resources", default=Requests(100, 128)),
        ChartPod(component="background-controller", replicas_key="backgroundController.replicas",
                 resources_key="backgroundController.resources", default=Requests(100, 64)),
        ChartPod(component="cleanup-controller", replicas_key="cleanupController.replicas",
                 resources_key="cleanupController.resources", default=Requests(100, 64)),
        ChartPod(component="reports-controller", replicas_key="reportsController.replicas",
                 resources_key="reportsController.resources", default=Requests(100, 64)),
    ),
    # istio/istio tag 1.29.2: the base chart installs CRDs only.
    ("base", "1.29.2"): (),
    # istio/istio tag 1.29.2, manifests/charts/istio-control/istio-discovery/values.yaml
    ("istiod", "1.29.2"): (
        ChartPod(component="istiod", replicas_key="replicaCount", resources_key="resources",
                 default=Requests(500, 2048)),
    ),
    # kedacore/charts tag v2.20.2, keda/values.yaml
    ("keda", "2.20.2"): (
        ChartPod(component="operator", replicas_key="operator.replicaCount", resources_key="resources.operator",
                 default=Requests(100, 100)),
        ChartPod(component="metrics-apiserver", replicas_key="metricsServer.replicaCount",
                 resources_key="resources.metricServer", default=Requests(100, 100)),
        ChartPod(component="admission-webhooks", replicas_key="webhooks.replicaCount",
                 resources_key="resources.webhooks", default=Requests(100, 100)),
    ),
    # kubernetes-sigs/kueue tag v0.19.2, charts/kueue/values.yaml (KueueViz is off by default)
    ("oci://registry.k8s.io/kueue/charts/kueue", "0.19.2"): (
        ChartPod(component="controller-manager", replicas_key="controllerManager.replicas",
                 resources_key="controllerManager.manager.resources", default=Requests(500, 512)),
    ),
    # prometheus-community/helm-charts tag prometheus-28.10.0: server and config reloader request nothing.
    # The server pod has two containers with resources in two places: one row each, same replica count.
    ("prometheus", "28.10.0"): (
        ChartPod(component="server", replicas_key="server.replicaCount", resources_key="server.resources",
                 default=ZERO),
        ChartPod(component="server (config reloader container)", replicas_key="server.replicaCount",
                 resources_key="configmapReload.prometheus.resources", default=ZERO),
    ),
    # cloudnative-pg/charts tag cloudnative-pg-v0.29.0, charts/cloudnative-pg/values.yaml (`resources: {}`)
    ("cloudnative-pg", "0.29.0"): (
        ChartPod(component="operator", replicas_key="replicaCount", resources_key="resources", default=ZERO),
    ),
}
"""Default requests of every chart version the components pin (read from each chart's values.yaml at
its release tag). Add an entry when a component bumps a chart."""

ISTIO_PROXY_KEY = "global.proxy.resources"
"""Where istiod's values hold the proxy resources that Istio-provisioned gateway Deployments get."""
ISTIO_PROXY_DEFAULT = Requests(100, 128)
"""istiod 1.29.2's default `global.proxy.resources.requests`."""


class UnknownChart(KeyError):
    """A Helm release pins a chart version whose default requests are not in `CHART_PODS`."""


def _chart_rows(name: str, inputs: Mapping[str, Any]) -> list[SizingRow]:
    chart, version, values = str(inputs.get("chart")), str(inputs.get("version")), inputs.get("values") or {}
    if (chart, version) not in CHART_PODS:
        raise UnknownChart(f"release {name}: chart {chart} {version} has no entry in CHART_PODS "
                           "(read its values.yaml at that version and add its pods' default requests)")
    rows = []
    for pod in CHART_PODS[(chart, version)]:
        override = _get(values, pod.resources_key)
        replicas = _get(values, pod.replicas_key) if pod.replicas_key else None
        short = chart.rsplit("/", 1)[-1]
        rows.append(SizingRow(
            workload=f"{name}: {pod.component}",
            source=f"{short} {version} " + ("values" if override else "default"),
            replicas=int(replicas) if replicas is not None else 1,
            per_pod=container_requests(override) if override else pod.default,
        ))
    return rows


_POD_KINDS = {"Deployment": False, "StatefulSet": False, "Job": True}


def plan_rows(resources: Iterable[Mapping[str, Any]]) -> list[SizingRow]:
    """Every non-GPU pod the plan schedules onto the cluster, with its requests."""
    resources = list(resources)
    istiod = next((r["inputs"] for r in resources if r.get("type") == "kubernetes:helm.sh/v3:Release"
                   and str(r["inputs"].get("chart")) == "istiod"), None)
    # A Deployment an HPA scales leaves `replicas` unset: it must have room at the HPA's maximum.
    hpa_max = {(str((r["inputs"].get("metadata") or {}).get("namespace", "")),
                str(((r["inputs"].get("spec") or {}).get("scaleTargetRef") or {}).get("name", ""))):
               int((r["inputs"].get("spec") or {}).get("maxReplicas", 1))
               for r in resources if (r.get("inputs") or {}).get("kind") == "HorizontalPodAutoscaler"}
    rows: list[SizingRow] = []
    for res in resources:
        inputs = res.get("inputs") or {}
        if res.get("type") == "kubernetes:helm.sh/v3:Release":
            rows += _chart_rows(str(res.get("name")), inputs)
            continue
        kind, meta, spec = inputs.get("kind"), inputs.get("metadata") or {}, inputs.get("spec") or {}
        where = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
        if kind in _POD_KINDS:
            req = pod_requests((spec.get("template") or {}).get("spec") or {})
            count = int(spec.get("replicas", 1)) if kind != "Job" else int(spec.get("parallelism", 1))
            scaled = hpa_max.get((str(meta.get("namespace", "")), str(meta.get("name", "")))) \
                if kind == "Deployment" else None
            if req is not None and (scaled or count) > 0:
                rows.append(SizingRow(workload=where, source="rendered (HPA max)" if scaled else "rendered",
                                      replicas=scaled or count, per_pod=req, transient=_POD_KINDS[kind]))
        elif kind == "Cluster" and str(inputs.get("apiVersion", "")).startswith("postgresql.cnpg.io/"):
            rows.append(SizingRow(workload=where, source="rendered (CNPG instances)",
                                  replicas=int(spec.get("instances", 1)),
                                  per_pod=container_requests(spec.get("resources"))))
        elif kind == "Gateway" and spec.get("gatewayClassName") == "istio":
            override = _get((istiod or {}).get("values") or {}, ISTIO_PROXY_KEY)
            rows.append(SizingRow(workload=where, source="istiod proxy " + ("values" if override else "default"),
                                  replicas=1, per_pod=container_requests(override) if override else ISTIO_PROXY_DEFAULT))
    return sorted(rows, key=lambda r: r.workload)


@dataclass(frozen=True, kw_only=True)
class Fit:
    machine_type: str
    nodes: int
    requested: Requests
    """Every row's total, Jobs included (they must be schedulable while they run)."""
    allocatable: Requests
    """Per node x nodes."""

    @property
    def headroom(self) -> Requests:
        return Requests(self.allocatable.cpu_m - self.requested.cpu_m,
                        self.allocatable.memory_mi - self.requested.memory_mi)

    @property
    def fits(self) -> bool:
        return self.requested.fits_in(self.allocatable)


def fit(rows: Iterable[SizingRow], machine_type: str, nodes: int) -> Fit:
    """Sum of the rows' requests against `nodes` x the machine's allocatable (no bin-packing: an upper
    bound on what fits; one node, as on dev, makes it exact)."""
    if machine_type not in MACHINE_SHAPES:
        raise KeyError(f"no shape for {machine_type}: add its vCPUs and memory to MACHINE_SHAPES")
    requested = sum((r.total for r in rows), ZERO)
    return Fit(machine_type=machine_type, nodes=nodes, requested=requested,
               allocatable=allocatable(MACHINE_SHAPES[machine_type]).times(nodes))


def sizing_markdown(rows: Iterable[SizingRow], fits: Iterable[Fit]) -> str:
    """The "Dev sizing" table of docs/cost.md: one line per pod group, the total, then each machine."""
    rows = list(rows)
    out = ["| Pods | Requests from | Replicas | CPU (m) | Memory (MiB) |", "|---|---|---|---|---|"]
    for r in rows:
        note = " (Job, while it runs)" if r.transient else ""
        out.append(f"| {r.workload}{note} | {r.source} | {r.replicas} | {r.total.cpu_m:,.0f} | {r.total.memory_mi:,.0f} |")
    total = sum((r.total for r in rows), ZERO)
    out.append(f"| **total** | | | **{total.cpu_m:,.0f}** | **{total.memory_mi:,.0f}** |")
    for f in fits:
        verdict = "fits" if f.fits else "does not fit"
        out.append(f"| {f.nodes} x {f.machine_type} allocatable; headroom {f.headroom.cpu_m:,.0f} m / "
                   f"{f.headroom.memory_mi:,.0f} MiB: {verdict} | GKE reservations | | {f.allocatable.cpu_m:,.0f} | "
                   f"{f.allocatable.memory_mi:,.0f} |")
    return "\n".join(out)
