"""GpuPool: an autoscaled GKE node pool of one GPU model, tainted so only GPU workloads land on it."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp
from pulumi.errors import InputPropertyErrorDetails

from llmplatform.problems import Problem, raise_problems
from llmplatform import naming
from llmplatform.config.model import GpuSharing

TYPE = "llmplatform:gpu_pool:GpuPool"
"""A contract: every deployed pool's URN carries it. Kept from `components/gpu_pool.py`, where the
component lived before `substrates/gke/`; changing it needs an alias."""

GPU_TAINT_KEY = "nvidia.com/gpu"
GPU_TAINT_VALUE = "present"
"""The taint every GPU node carries (NoSchedule), so only pods that tolerate it land there."""
POOL_LABEL = "llmplatform.io/pool"


@dataclass(frozen=True, kw_only=True)
class GpuPoolArgs:
    stack: str
    role: str = "gpu"
    """Suffix of the physical pool name (`llmp-<stack>-<role>`); a second pool needs another role."""
    project: str
    location: pulumi.Input[str]
    """The cluster's location (region for a regional cluster)."""
    cluster_name: pulumi.Input[str]
    node_zones: tuple[str, ...]
    """Zones the GPU nodes may run in; `min_nodes` and `max_nodes` count nodes across all of them."""
    accelerator: str
    machine_type: str
    gpus_per_node: int = 1
    min_nodes: int = 0
    """Fewest nodes of the whole pool (all `node_zones` together; GKE's `total_min_node_count`).
    0: the pool scales to zero when idle (the first request waits ~5-10 min for a node)."""
    max_nodes: int = 1
    """Most nodes of the whole pool (all `node_zones` together; GKE's `total_max_node_count`)."""
    spot: bool = False
    sharing: GpuSharing = GpuSharing.NONE
    """The stack config's enum (`none`, `time-sharing`, `mig`); see GpuSharing."""
    max_shared_clients_per_gpu: int | None = None
    mig_partition_size: str | None = None
    disk_size_gb: int = 200
    service_account_email: pulumi.Input[str]
    extra_labels: dict[str, str] | None = None
    extra_taints: tuple[tuple[str, str], ...] = ()
    """(key, value) NoSchedule taints, e.g. a tenant dedication on the untrusted tier."""


def initial_nodes_per_zone(min_nodes: int, max_nodes: int, zones: int) -> int:
    """Nodes each zone starts with (`initial_node_count` is per zone, and changing it replaces the pool).

    The fewest per zone that reach the pool's total minimum, never so many that the pool starts above
    its total maximum; the autoscaler then trims the pool to what its workloads need. Where no equal
    per-zone count fits between the two (min 2, max 2 over 3 zones), the pool starts below its minimum.
    """
    return min(-(-min_nodes // zones), max_nodes // zones)


def validate(args: GpuPoolArgs) -> list[InputPropertyErrorDetails]:
    """Every problem with the pool's size inputs (empty: valid)."""
    out: list[InputPropertyErrorDetails] = []
    if not args.node_zones:
        out.append({"property_path": "node_zones", "reason": "is empty; name at least one zone for the GPU nodes"})
    if args.min_nodes < 0:
        out.append({"property_path": "min_nodes", "reason": f"is {args.min_nodes}; must be 0 or more"})
    if args.max_nodes < 1:
        out.append({"property_path": "max_nodes", "reason": f"is {args.max_nodes}; must be at least 1"})
    if args.min_nodes > args.max_nodes:
        out.append({"property_path": "min_nodes",
                    "reason": f"is {args.min_nodes}, above max_nodes ({args.max_nodes}); lower it or raise max_nodes"})
    return out


class GpuPool(pulumi.ComponentResource):
    """GPU nodes with GKE-managed drivers; `node_pool` is the escape hatch."""

    node_pool: gcp.container.NodePool
    node_labels: dict[str, str]
    """Labels every node of the pool carries (plus GKE's `cloud.google.com/gke-accelerator`)."""

    def __init__(self, name: str, args: GpuPoolArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        raise_problems(f"GpuPool {name!r}",
                       [Problem(p["property_path"], reason=p["reason"]) for p in validate(args)])
        accelerator: dict = {
            "type": args.accelerator,
            "count": args.gpus_per_node,
            # GKE installs and upgrades the driver matching the node image; no driver DaemonSet to keep.
            "gpu_driver_installation_config": {"gpu_driver_version": "LATEST"},
        }
        if args.sharing == GpuSharing.TIME_SHARING:
            accelerator["gpu_sharing_config"] = {
                "gpu_sharing_strategy": "TIME_SHARING",
                "max_shared_clients_per_gpu": args.max_shared_clients_per_gpu,
            }
        if args.sharing == GpuSharing.MIG:
            accelerator["gpu_partition_size"] = args.mig_partition_size

        self.node_labels = {POOL_LABEL: args.role, **(args.extra_labels or {})}
        taints = [{"key": GPU_TAINT_KEY, "value": GPU_TAINT_VALUE, "effect": "NO_SCHEDULE"}]
        taints += [{"key": k, "value": v, "effect": "NO_SCHEDULE"} for k, v in args.extra_taints]

        self.node_pool = gcp.container.NodePool(
            f"{name}-node-pool",
            name=naming.gke_node_pool(args.stack, args.role),
            project=args.project,
            location=args.location,
            cluster=args.cluster_name,
            node_locations=list(args.node_zones),
            initial_node_count=initial_nodes_per_zone(args.min_nodes, args.max_nodes, len(args.node_zones)),
            # Total limits, not per-zone ones: per-zone limits multiply by the zone count, so a pool
            # over several zones would keep and allow more (billed) GPU nodes than the config states.
            autoscaling={
                "total_min_node_count": args.min_nodes,
                "total_max_node_count": args.max_nodes,
                # Spot and GPU capacity is scarce per zone: take it wherever it is.
                "location_policy": "ANY" if args.spot else "BALANCED",
            },
            management={"auto_repair": True, "auto_upgrade": True},
            # Surge one node at a time so an upgrade never drains every replica of a model at once.
            upgrade_settings={"max_surge": 1, "max_unavailable": 0, "strategy": "SURGE"},
            node_config={
                "machine_type": args.machine_type,
                "spot": args.spot,
                "guest_accelerators": [accelerator],
                "disk_size_gb": args.disk_size_gb,
                "disk_type": "pd-ssd",
                "image_type": "COS_CONTAINERD",
                "service_account": args.service_account_email,
                "oauth_scopes": ["https://www.googleapis.com/auth/cloud-platform"],
                "workload_metadata_config": {"mode": "GKE_METADATA"},
                "shielded_instance_config": {"enable_secure_boot": True, "enable_integrity_monitoring": True},
                "gvnic": {"enabled": True},
                "labels": self.node_labels,
                "taints": taints,
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"nodePoolName": self.node_pool.name})
