"""What the serving layer needs to know about the cluster it lands on, as one typed object.

GKE and Vast each build one (`substrates/gke/`, `substrates/vast/`); every difference between the
two renderings of the same serving manifests must come from a field here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class GatewayImplementation(StrEnum):
    """In-cluster Gateway API implementation that serves the inference gateway.

    Both run the data plane as ordinary pods, so NetworkPolicy can select them (a cloud load
    balancer reaches pods from outside the pod network and would open a path around SR1).
    """

    ISTIO = "istio"
    KGATEWAY = "kgateway"


GATEWAY_API_STANDARD_CRDS = (
    "GatewayClass.gateway.networking.k8s.io",
    "Gateway.gateway.networking.k8s.io",
    "HTTPRoute.gateway.networking.k8s.io",
    "GRPCRoute.gateway.networking.k8s.io",
    "ReferenceGrant.gateway.networking.k8s.io",
)
"""Gateway API standard-channel CRDs the platform's routing uses (Gateway, HTTPRoute, ReferenceGrant) and
their siblings. GKE installs them with `gateway_api_config.channel: CHANNEL_STANDARD`; the Vast bootstrap
applies the release's standard-install bundle."""


@dataclass(frozen=True)
class GpuTaint:
    key: str
    value: str
    effect: str = "NoSchedule"


@dataclass(frozen=True, kw_only=True)
class SubstrateCapabilities:
    """Facts about a cluster that change rendered manifests. Defaults are GKE's."""

    display_name: str
    """For humans (plan output, reports); never used to branch."""
    gpus_per_node: int
    gpu_resource_name: str = "nvidia.com/gpu"
    """Extended resource that model-server containers request."""
    gpu_product_label_key: str = "cloud.google.com/gke-accelerator"
    """Node label whose value names the GPU model; serving pods select on it."""
    gpu_product_label_values: tuple[str, ...] = ()
    """Allowed values of that label (time-slicing on k3s appends `-SHARED`)."""
    gpu_taint: GpuTaint | None = field(default_factory=lambda: GpuTaint("nvidia.com/gpu", "present"))
    """Taint on GPU nodes that serving pods must tolerate (None: GPU nodes are untainted)."""
    runtime_class_name: str | None = None
    """RuntimeClass for GPU pods (k3s + NVIDIA container toolkit: `nvidia`; GKE: none needed)."""
    network_policy_enforced: bool = True
    """False would make SR1 a paper control; the GovernancePack refuses to claim it then."""
    mig_available: bool = False
    gpu_time_slicing_replicas: int = 1
    """>1: each physical GPU is advertised this many times; lower vLLM's memory fraction to match."""
    storage_class: str = "standard-rwo"
    load_balancer_available: bool = True
    tenant_edge_modes: tuple[str, ...] = ("cluster", "internal", "public")
    """`tenant_gateway.exposure.mode` values this substrate can build (see llmplatform/gateway/edge.py):
    `internal` needs an internal passthrough load balancer that keeps client addresses, `public` a GKE
    Gateway with Certificate Manager and Cloud Armor. A mode not listed is a config error."""
    gateway: GatewayImplementation = GatewayImplementation.ISTIO
    managed_crds: tuple[str, ...] = ()
    """CRDs (`Kind.group`) the substrate installs and owns before the program runs; the program must not
    create them (pulumi-kubernetes creates client-side: an existing CRD is an AlreadyExists error) and its
    custom resources of these kinds need no installer to wait for."""
    system_namespaces: tuple[str, ...] = ("kube-system", "kube-public", "kube-node-lease", "gmp-public", "gmp-system")
    """Namespaces the substrate itself creates and runs its own pods in (SR2 exempts them by name, and
    nobody may create one that is missing). Only what this substrate really has: GKE's managed
    Prometheus namespaces only where that add-on is on, the device plugin's namespace only on k3s."""

    def as_json(self) -> dict[str, object]:
        """The facts a proof needs about the substrate, for the plan's stack outputs."""
        return {"displayName": self.display_name, "managedCrds": sorted(self.managed_crds),
                "networkPolicyEnforced": self.network_policy_enforced, "gateway": self.gateway.value,
                "runtimeClassName": self.runtime_class_name, "gpuResourceName": self.gpu_resource_name,
                "gpuTaintKey": self.gpu_taint.key if self.gpu_taint else None,
                "systemNamespaces": sorted(self.system_namespaces),
                "tenantEdgeModes": list(self.tenant_edge_modes)}

    @property
    def gpu_memory_utilization(self) -> float:
        """vLLM `--gpu-memory-utilization`: 0.90 alone on a GPU, ~0.9/N when N pods share it."""
        return round(0.9 / self.gpu_time_slicing_replicas, 2)
