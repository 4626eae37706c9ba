"""GKE substrate: a GkeCluster plus the GPU pool, and the capability object GKE offers."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from components.gke_cluster import ADDON_NAMESPACES, ClusterLocation, GkeCluster, GkeClusterArgs
from components.gpu_pool import GpuPool, GpuPoolArgs, Sharing
from llmplatform import naming
from llmplatform.controls.exemptions import KUBERNETES_SYSTEM
from llmplatform.config import ACCELERATORS, GkeSubstrate, GpuPool as GpuPoolConfig, GpuSharing
from substrates.base import Substrate
from llmplatform.serving.images import GIE_INFERENCE_POOL_CRD
from substrates.capabilities import (
    GATEWAY_API_STANDARD_CRDS,
    GatewayImplementation,
    GpuTaint,
    SubstrateCapabilities,
)


def gke_capabilities(pool: GpuPoolConfig) -> SubstrateCapabilities:
    """What a GKE Standard cluster with Dataplane V2 and this GPU pool offers the serving layer."""
    return SubstrateCapabilities(
        display_name="GKE",
        gpus_per_node=pool.gpus_per_node,
        gpu_resource_name="nvidia.com/gpu",
        gpu_product_label_key="cloud.google.com/gke-accelerator",
        gpu_product_label_values=(pool.accelerator,),
        gpu_taint=GpuTaint("nvidia.com/gpu", "present"),
        runtime_class_name=None,
        network_policy_enforced=True,  # Dataplane V2 enforces NetworkPolicy natively
        mig_available=ACCELERATORS[pool.accelerator].mig_capable and pool.sharing == GpuSharing.MIG,
        gpu_time_slicing_replicas=pool.shared_clients,
        storage_class="standard-rwo",
        load_balancer_available=True,
        gateway=GatewayImplementation.ISTIO,
        # Gateway API from `gateway_api_config`; InferencePool v1 is installed and owned by GKE from 1.34
        # (GkeCluster pins that minimum), so the program must not apply the Inference Extension bundle.
        managed_crds=(*GATEWAY_API_STANDARD_CRDS, GIE_INFERENCE_POOL_CRD),
        # Kubernetes' own three plus the namespaces of the add-ons GkeCluster enables (managed Prometheus);
        # GKE names of add-ons this cluster leaves off (Filestore CSI, Autopilot's gke-gmp-system, ...) are
        # not exempt: nobody may squat them.
        system_namespaces=(*KUBERNETES_SYSTEM, *ADDON_NAMESPACES),
    )


def build_gke(name: str, stack: str, cfg: GkeSubstrate, pool: GpuPoolConfig, *,
              control_plane_ports: tuple[int, ...] = ()) -> Substrate:
    """Create the cluster and its GPU pool; return the provider and capabilities for the rest.

    `control_plane_ports`: TCP ports the control plane must reach on the nodes (the charts' admission
    webhooks and APIServices); with private nodes they get one firewall rule. Empty: no rule.
    Exports the stack output `kubeApiEndpoint`, the control-plane address the kubeconfig uses.
    """
    cluster = GkeCluster(
        name,
        GkeClusterArgs(
            stack=stack,
            project=cfg.project,
            region=cfg.region,
            node_zones=cfg.zones,
            release_channel=cfg.release_channel.value,
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
            location=ClusterLocation(cfg.location.value),
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
            sharing=Sharing(pool.sharing.value),
            max_shared_clients_per_gpu=pool.max_shared_clients_per_gpu,
            mig_partition_size=pool.mig_partition_size,
            disk_size_gb=pool.disk_size_gb,
            service_account_email=cluster.node_service_account_email,
        ),
        opts=pulumi.ResourceOptions(parent=cluster),
    )
    # For proofs that compare the authorized networks (the cluster's inputs) with the endpoint in use.
    pulumi.export("kubeApiEndpoint", cluster.kube_api_endpoint)
    return Substrate(
        provider=cluster.kubernetes_provider,
        capabilities=gke_capabilities(pool),
        root=cluster,
        kubeconfig=cluster.kubeconfig,
    )


def budget_backup_writer(stack: str, cfg: GkeSubstrate, bucket: str, *, namespace: str,
                         service_account: str, cluster: GkeCluster) -> pulumi.Output[str]:
    """A GCP service account that may write the budget database's backups to `bucket` (gs://name[/path]).

    CNPG's instances run as the Kubernetes ServiceAccount `namespace/service_account` (CNPG names it
    after the Cluster); Workload Identity lets it act as this account, which holds objectAdmin on the
    bucket only. Returns the account's email for the Cluster's backup configuration.

    `cluster`: the stack's GkeCluster. The Workload Identity binding waits for its cluster resource,
    whose `workload_identity_config` creates the project's pool `<project>.svc.id.goog`: on a project
    without an earlier Workload Identity cluster, binding a member of a pool that does not exist yet
    fails ("Identity Pool does not exist"; Google: the pool "isn't provisioned until cluster creation",
    https://cloud.google.com/anthos/clusters/docs/multi-cloud/azure/how-to/managed-service-prometheus).
    """
    account = gcp.serviceaccount.Account(
        "tenant-gateway-backup-sa",
        account_id=naming.gcp_service_account_id(stack, "budget-backup"),
        project=cfg.project,
        display_name=f"llm-platform {stack} budget database backups",
    )
    gcp.serviceaccount.IAMMember(
        "tenant-gateway-backup-wi",
        service_account_id=account.id,
        role="roles/iam.workloadIdentityUser",
        member=f"serviceAccount:{cfg.project}.svc.id.goog[{namespace}/{service_account}]",
        opts=pulumi.ResourceOptions(depends_on=[cluster.cluster]),
    )
    gcp.storage.BucketIAMMember(
        "tenant-gateway-backup-bucket",
        bucket=bucket.removeprefix("gs://").split("/")[0],
        role="roles/storage.objectAdmin",
        member=pulumi.Output.concat("serviceAccount:", account.email),
    )
    return account.email
