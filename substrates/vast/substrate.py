"""Vast substrate: a `VastCluster` (rented VM + k3s) and the capability object that k3s offers.

Every difference between the GKE and the Vast rendering of the same serving manifests comes from
`vast_capabilities` (see `substrates/capabilities.py`); nothing downstream asks which substrate it is on.
"""

from __future__ import annotations

import re

import pulumi

from llmplatform.config import VastSubstrate
from llmplatform.controls.exemptions import KUBERNETES_SYSTEM
from substrates.base import Substrate
from substrates.capabilities import GATEWAY_API_STANDARD_CRDS, GatewayImplementation, SubstrateCapabilities
from substrates.vast.api import canonical_gpu_name
from substrates.vast.cluster import VastCluster, VastClusterArgs

GFD_PRODUCT_LABEL = "nvidia.com/gpu.product"
"""Node label GPU Feature Discovery (deployed with the device plugin) sets to the GPU's product name."""

DEVICE_PLUGIN_NAMESPACE = "nvidia-device-plugin"
"""Where bootstrap.sh's HelmChart installs the NVIDIA device plugin and GFD (`targetNamespace`); a test compares."""

SHARED_SUFFIX = "SHARED"
"""GFD appends `-SHARED` to the product label while time-slicing replicates a GPU (`renameByDefault: false`)."""

NVML_PRODUCT_NAMES: dict[str, tuple[str, ...]] = {
    "rtx 3090": ("NVIDIA GeForce RTX 3090",),
    "rtx 4090": ("NVIDIA GeForce RTX 4090",),
    "rtx 5090": ("NVIDIA GeForce RTX 5090",),
    "rtx a6000": ("NVIDIA RTX A6000",),
    "rtx 6000ada": ("NVIDIA RTX 6000 Ada Generation",),
    "a10": ("NVIDIA A10",),
    "a40": ("NVIDIA A40",),
    "l4": ("NVIDIA L4",),
    "l40": ("NVIDIA L40",),
    "l40s": ("NVIDIA L40S",),
    "a100 pcie": ("NVIDIA A100-PCIE-40GB", "NVIDIA A100 80GB PCIe"),
    "a100 sxm4": ("NVIDIA A100-SXM4-40GB", "NVIDIA A100-SXM4-80GB"),
    "h100 pcie": ("NVIDIA H100 PCIe",),
    "h100 sxm": ("NVIDIA H100 80GB HBM3",),
}
"""Vast GPU name (canonical, case-folded) -> the product names NVML reports for it. Where one Vast
name covers several memory sizes, every spelling is listed: serving pods accept any of them."""


def gfd_product_label_value(nvml_name: str, *, shared: bool) -> str:
    """The label value GFD writes for an NVML product name: characters outside `[A-Za-z0-9-_. ]`
    dropped, runs of blanks joined with `-`, plus `-SHARED` when time-slicing is on."""
    parts = re.sub(r"[^A-Za-z0-9\-_. ]", "", nvml_name).split()
    if shared:
        parts.append(SHARED_SUFFIX)
    return "-".join(parts)


def gpu_product_label_values(gpu_name: str, time_slicing_replicas: int) -> tuple[str, ...]:
    """Label values a node renting `gpu_name` carries. Raises ValueError for a GPU not in
    `NVML_PRODUCT_NAMES` (a guessed value would leave every serving pod Pending)."""
    key = canonical_gpu_name(gpu_name).casefold()
    if key not in NVML_PRODUCT_NAMES:
        known = ", ".join(sorted(n.upper().replace(" ", "_") for n in NVML_PRODUCT_NAMES))
        raise ValueError(
            f"substrate.gpu_name {gpu_name!r} has no known GPU Feature Discovery product label; "
            f"allowed: {known}. To add one, put its NVML product name (`nvidia-smi --query-gpu=name "
            f"--format=csv`) in NVML_PRODUCT_NAMES in substrates/vast/substrate.py"
        )
    shared = time_slicing_replicas > 1
    return tuple(gfd_product_label_value(n, shared=shared) for n in NVML_PRODUCT_NAMES[key])


def vast_capabilities(cfg: VastSubstrate) -> SubstrateCapabilities:
    """What one Vast VM running k3s (as `bootstrap.sh` sets it up) offers the serving layer."""
    return SubstrateCapabilities(
        display_name=f"Vast.ai k3s ({cfg.num_gpus}x {canonical_gpu_name(cfg.gpu_name)})",
        gpus_per_node=cfg.num_gpus,
        gpu_resource_name="nvidia.com/gpu",
        gpu_product_label_key=GFD_PRODUCT_LABEL,
        gpu_product_label_values=gpu_product_label_values(cfg.gpu_name, cfg.time_slicing_replicas),
        # The single k3s node is server and GPU node at once; a taint would keep controllers off it.
        gpu_taint=None,
        # k3s registers the `nvidia` containerd runtime when it finds the NVIDIA toolkit; runc stays default.
        runtime_class_name="nvidia",
        network_policy_enforced=True,  # k3s' embedded kube-router NetworkPolicy controller (never disabled)
        mig_available=False,  # consumer/rented GPUs; the bootstrap sets no MIG strategy
        gpu_time_slicing_replicas=cfg.time_slicing_replicas,
        storage_class="local-path",  # k3s' bundled local-path provisioner, the default StorageClass
        # klipper servicelb would answer LoadBalancer Services on the VM's ports, but Vast exposes only
        # the ports rented with the host (the API server's), so nothing outside could reach them.
        load_balancer_available=False,
        # No load balancer (above), no VPC and no Google proxies: LiteLLM stays in-cluster (reach it through
        # the SSH tunnel the run uses, docs/vast.md).
        tenant_edge_modes=("cluster",),
        gateway=GatewayImplementation.ISTIO,  # the same in-cluster gateway as GKE: pods NetworkPolicy selects
        managed_crds=GATEWAY_API_STANDARD_CRDS,  # the bootstrap applies the Gateway API standard-install bundle
        # Kubernetes' own three plus the namespace the bootstrap's device-plugin HelmChart creates (its pods use
        # the nvidia runtime class and NVIDIA_VISIBLE_DEVICES, which SR2 refuses elsewhere). No GKE names here.
        system_namespaces=(*KUBERNETES_SYSTEM, DEVICE_PLUGIN_NAMESPACE),
    )


def build_vast(
    name: str,
    stack: str,
    cfg: VastSubstrate,
    *,
    ssh_private_key: pulumi.Input[str] | None = None,
) -> Substrate:
    """Rent the VM, bootstrap k3s on it, and return its Kubernetes provider and capabilities.

    `ssh_private_key` (secret): the key whose public half is on the Vast account; None uses the
    SSH agent at `SSH_AUTH_SOCK` of the process running `pulumi up`.
    """
    capabilities = vast_capabilities(cfg)  # first: an unknown GPU fails before anything is rented
    cluster = VastCluster(name, VastClusterArgs.from_config(stack, cfg, ssh_private_key=ssh_private_key))
    return Substrate(
        provider=cluster.kubernetes_provider,
        capabilities=capabilities,
        kubeconfig=cluster.kubeconfig,
        kube_api_cidrs=(),  # k3s' API server address is the rented VM's, known only once it runs
        backup_identity=None,  # no cloud identity: the budget database has no bucket to write to here
        root=cluster,
    )
