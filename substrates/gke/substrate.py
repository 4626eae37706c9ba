"""GKE substrate: a GkeCluster, its GPU pool and the budget-backup identity, and the capability object GKE offers."""

from __future__ import annotations

import pulumi

from llmplatform.config import ACCELERATORS, GkeSubstrate, GpuPoolSpec, GpuSharing
from llmplatform.config.model import ExposureMode, TenantExposure
from llmplatform.controls.exemptions import KUBERNETES_SYSTEM
from llmplatform.serving.images import GIE_INFERENCE_POOL_CRD
from substrates.base import BackupWriter, Substrate
from substrates.capabilities import (
    GATEWAY_API_STANDARD_CRDS,
    GatewayImplementation,
    GpuTaint,
    SubstrateCapabilities,
)
from substrates.gke.budget_backup import BudgetBackupIdentity, BudgetBackupIdentityArgs
from substrates.gke.cluster import ADDON_NAMESPACES, GkeCluster, GkeClusterArgs
from substrates.gke.gpu_pool import GPU_TAINT_KEY, GPU_TAINT_VALUE, GpuPool, GpuPoolArgs
from substrates.gke.tenant_edge import TenantEdgeGcp, TenantEdgeGcpArgs


GKE_GATEWAY_POLICY_CRDS = ("GCPBackendPolicy.networking.gke.io", "HealthCheckPolicy.networking.gke.io")
"""GKE Gateway controller's policy CRDs, installed by GKE with the Gateway API (`gateway_api_config`); the
public tenant edge attaches Cloud Armor and its health check to LiteLLM's backend through them."""


def gke_capabilities(pool: GpuPoolSpec) -> SubstrateCapabilities:
    """What a GKE Standard cluster with Dataplane V2 and this GPU pool offers the serving layer."""
    return SubstrateCapabilities(
        display_name="GKE",
        gpus_per_node=pool.gpus_per_node,
        gpu_resource_name="nvidia.com/gpu",
        gpu_product_label_key="cloud.google.com/gke-accelerator",
        gpu_product_label_values=(pool.accelerator,),
        gpu_taint=GpuTaint(GPU_TAINT_KEY, GPU_TAINT_VALUE),  # what GpuPool taints its nodes with
        runtime_class_name=None,
        network_policy_enforced=True,  # Dataplane V2 enforces NetworkPolicy natively
        mig_available=ACCELERATORS[pool.accelerator].mig_capable and pool.sharing == GpuSharing.MIG,
        gpu_time_slicing_replicas=pool.shared_clients,
        storage_class="standard-rwo",
        load_balancer_available=True,
        gateway=GatewayImplementation.ISTIO,
        # Gateway API from `gateway_api_config`; InferencePool v1 is installed and owned by GKE from 1.34
        # (GkeCluster pins that minimum), so the program must not apply the Inference Extension bundle.
        managed_crds=(*GATEWAY_API_STANDARD_CRDS, GIE_INFERENCE_POOL_CRD, *GKE_GATEWAY_POLICY_CRDS),
        # Kubernetes' own three plus the namespaces of the add-ons GkeCluster enables (managed Prometheus);
        # GKE names of add-ons this cluster leaves off (Filestore CSI, Autopilot's gke-gmp-system, ...) are
        # not exempt: nobody may squat them.
        system_namespaces=(*KUBERNETES_SYSTEM, *ADDON_NAMESPACES),
    )


def build_gke(name: str, stack: str, cfg: GkeSubstrate, pool: GpuPoolSpec, *,
              control_plane_ports: tuple[int, ...] = (), backup_writer: BackupWriter | None = None,
              exposure: TenantExposure | None = None) -> Substrate:
    """Create the cluster, its GPU pool and (with `backup_writer`) the backup identity; return the
    provider, capabilities and the rest of the Substrate.

    `control_plane_ports`: TCP ports the control plane must reach on the nodes (the charts' admission
    webhooks and APIServices); with private nodes they get one firewall rule. Empty: no rule.
    `backup_writer`: a BudgetBackupIdentity named `tenant-gateway-backup` (its resources' names since
    before it was a component); None: no identity, `backup_identity` is None.
    `exposure`: the tenant edge; mode public adds TenantEdgeGcp `tenant-edge` (Cloud Armor, the proxies'
    firewall rule, a managed certificate), whose names the Substrate's `edge` carries.
    Exports the stack output `kubeApiEndpoint`, the control-plane address the kubeconfig uses.
    """
    cluster = GkeCluster(
        name,
        GkeClusterArgs(
            stack=stack,
            project=cfg.project,
            region=cfg.region,
            node_zones=cfg.zones,
            release_channel=cfg.release_channel,
            private_nodes=cfg.private_nodes,
            master_ipv4_cidr=cfg.master_ipv4_cidr,
            node_cidr=cfg.node_cidr,
            pods_cidr=cfg.pods_cidr,
            services_cidr=cfg.services_cidr,
            master_authorized_cidrs=cfg.master_authorized_cidrs,
            api_endpoint=cfg.api_endpoint,  # one enum, shared by the config and the component
            control_plane_ports=control_plane_ports,
            system_machine_type=cfg.system_machine_type,
            system_nodes_per_zone=cfg.system_nodes_per_zone,
            location=cfg.location,
            system_spot=cfg.system_spot,
            system_disk_size_gb=cfg.system_disk_size_gb,
            deletion_protection=cfg.deletion_protection,
        ),
    )
    GpuPool(
        f"{name}-gpu",
        GpuPoolArgs(
            stack=stack,
            project=cfg.project,
            location=cluster.cluster.location,
            cluster_name=cluster.cluster.name,
            node_zones=cfg.zones,
            accelerator=pool.accelerator,
            machine_type=pool.machine_type,
            gpus_per_node=pool.gpus_per_node,
            # Pool totals, as the config states them; GpuPool sets GKE's total (not per-zone) limits.
            min_nodes=pool.min_nodes,
            max_nodes=pool.max_nodes,
            spot=pool.spot,
            sharing=pool.sharing,
            max_shared_clients_per_gpu=pool.max_shared_clients_per_gpu,
            mig_partition_size=pool.mig_partition_size,
            disk_size_gb=pool.disk_size_gb,
            service_account_email=cluster.node_service_account_email,
        ),
        opts=pulumi.ResourceOptions(parent=cluster),
    )
    # For proofs that compare the authorized networks (the cluster's inputs) with the endpoint in use.
    pulumi.export("kubeApiEndpoint", cluster.kube_api_endpoint)
    backup = None if backup_writer is None else BudgetBackupIdentity(
        "tenant-gateway-backup",
        BudgetBackupIdentityArgs(stack=stack, project=cfg.project, bucket=backup_writer.bucket,
                                 namespace=backup_writer.namespace, service_account=backup_writer.service_account,
                                 cluster=cluster.cluster),
    )
    edge = None
    if exposure is not None and exposure.mode == ExposureMode.PUBLIC:
        edge = TenantEdgeGcp("tenant-edge", TenantEdgeGcpArgs(
            stack=stack, project=cfg.project, exposure=exposure, network=cluster.network_id,
            node_service_account=cluster.node_service_account_email)).edge
    return Substrate(
        provider=cluster.kubernetes_provider,
        capabilities=gke_capabilities(pool),
        kubeconfig=cluster.kubeconfig,
        # Private nodes: the `kubernetes` Service's endpoint is the control plane's private endpoint
        # inside master_ipv4_cidr. Public nodes: not known at plan time.
        kube_api_cidrs=(cfg.master_ipv4_cidr,) if cfg.private_nodes else (),
        backup_identity=backup.email if backup else None,
        root=cluster,
        edge=edge,
    )
