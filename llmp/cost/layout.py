"""What a stack's config makes GKE bill for: node pools with node counts, disks and volumes.

Pure functions of the typed config. They mirror what `substrates/gke/cluster.py`,
`substrates/gke/gpu_pool.py` and `substrates/gke/substrate.py` register (machine types, node counts and
autoscaling limits, boot disks); `tests/cost/test_cli_cost.py` checks them against the offline plan, so a
change there that this module misses fails a test instead of silently mispricing.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterable
from dataclasses import dataclass

from llmplatform.config import GkeSubstrate, GpuPoolSpec, ModelSpec, PlatformConfig
from llmplatform.config.model import ClusterLocation
from llmplatform.controls import tiers
from llmp.cost.pricing import LocationKind
from llmplatform.gateway import workloads

SYSTEM_DISK_TYPE = "pd-balanced"
"""The system pool's boot disk type as `substrates/gke/cluster.py` sets it; its size is
`substrate.system_disk_size_gb`."""
GPU_DISK_TYPE = "pd-ssd"
"""The GPU pool's boot disk type as `substrates/gke/gpu_pool.py` sets it; its size is `gpu_pool.disk_size_gb`."""
PVC_DISK_TYPE = "pd-balanced"
"""GKE's default StorageClass `standard-rwo` provisions pd-balanced; CNPG and Redis PVCs use it."""
REDIS_STORAGE_GB: int = inspect.signature(workloads.redis_statefulset_spec).parameters["storage_gb"].default
"""The Redis PVC size the tenant gateway renders (the spec builder's default)."""


@dataclass(frozen=True, kw_only=True)
class PoolLayout:
    """One node pool as billed: a machine (plus GPUs) times a node count, with a boot disk each."""

    role: str
    """`system` or `gpu` (the pool's name suffix)."""
    machine_type: str
    spot: bool
    gpu: str | None = None
    """GKE accelerator name; None for CPU pools."""
    gpus_per_node: int = 0
    disk_type: str
    disk_size_gb: int
    min_nodes: int
    """Smallest node count GKE keeps across the pool's zones."""
    max_nodes: int
    """Largest node count GKE allows across the pool's zones."""
    always_on_nodes: int
    """Nodes running all month: `min_nodes`, or more if replicas that never scale to zero need them."""
    busy_nodes: int
    """Nodes running during busy hours: enough for every model at max replicas, within `max_nodes`."""
    basis: str
    """How the counts were derived, in words, for the estimate's detail column."""


@dataclass(frozen=True, kw_only=True)
class VolumeLayout:
    """Persistent volumes that exist all month (PVCs outlive pods)."""

    name: str
    disk_type: str
    size_gb: int
    count: int


@dataclass(frozen=True, kw_only=True)
class ClusterLayout:
    region: str
    location: str
    """The cluster's GKE location: the region (regional) or a zone (zonal)."""
    location_kind: LocationKind
    pools: tuple[PoolLayout, ...]
    volumes: tuple[VolumeLayout, ...]


def nodes_for(replica_gpus: Iterable[int], slots_per_node: int) -> int:
    """Nodes needed to place replicas of the given GPU sizes, first-fit decreasing.

    A replica bigger than a node (the config forbids it) is counted as whole nodes of its own.
    """
    free: list[int] = []
    extra = 0
    for size in sorted(replica_gpus, reverse=True):
        if size > slots_per_node:
            extra += math.ceil(size / slots_per_node)
            continue
        slot = next((i for i, room in enumerate(free) if room >= size), None)
        if slot is None:
            free.append(slots_per_node - size)
        else:
            free[slot] -= size
    return len(free) + extra


def gpu_pool_layout(pool: GpuPoolSpec, zones: int, models: Iterable[ModelSpec]) -> PoolLayout:
    """Node counts of the GPU pool: GKE's limits and what the models ask for at min and max replicas.

    The config's `min_nodes`/`max_nodes` are pool totals and `GpuPool` sets them as GKE's total
    autoscaling limits, so they are what GKE keeps and allows whatever the number of `zones`.
    """
    models = tuple(models)
    gke_min, gke_max = pool.min_nodes, pool.max_nodes
    slots = pool.gpus_per_node * pool.shared_clients
    need_min = nodes_for((m.gpus_per_replica for m in models for _ in range(m.min_replicas)), slots)
    need_max = nodes_for((m.gpus_per_replica for m in models for _ in range(m.max_replicas)), slots)
    always_on = min(gke_max, max(gke_min, need_min))
    busy = min(gke_max, max(always_on, need_max))
    basis = (f"min {gke_min}/max {gke_max} in total over {zones} zone(s); "
             f"replicas need {need_min} node(s) at min, {need_max} at max")
    return PoolLayout(
        role="gpu", machine_type=pool.machine_type, spot=pool.spot, gpu=pool.accelerator,
        gpus_per_node=pool.gpus_per_node, disk_type=GPU_DISK_TYPE, disk_size_gb=pool.disk_size_gb,
        min_nodes=gke_min, max_nodes=gke_max, always_on_nodes=always_on, busy_nodes=busy, basis=basis,
    )


def system_pool_zones(sub: GkeSubstrate) -> tuple[str, ...]:
    """Zones the system pool spans: all of `zones` (regional) or `zones[0]` only (zonal), as `GkeCluster` does."""
    return (sub.zones[0],) if sub.location == ClusterLocation.ZONAL else sub.zones


def system_pool_layout(sub: GkeSubstrate) -> PoolLayout:
    """The fixed-size system pool: `system_nodes_per_zone` in each zone it spans, always on."""
    zones = len(system_pool_zones(sub))
    nodes = sub.system_nodes_per_zone * zones
    return PoolLayout(
        role="system", machine_type=sub.system_machine_type, spot=sub.system_spot, disk_type=SYSTEM_DISK_TYPE,
        disk_size_gb=sub.system_disk_size_gb, min_nodes=nodes, max_nodes=nodes, always_on_nodes=nodes,
        busy_nodes=nodes, basis=f"{sub.system_nodes_per_zone} per zone x {zones} zone(s), fixed size",
    )


def gke_layout(cfg: PlatformConfig) -> ClusterLayout:
    """The billable layout of a GKE stack. `GkeCluster` places a regional cluster in the region and a
    zonal one in `zones[0]`; only the zonal one can receive GKE's free-tier credit."""
    sub = cfg.substrate
    if not isinstance(sub, GkeSubstrate):
        raise TypeError(f"gke_layout needs a GKE substrate, got {sub.kind!r}")
    gw = cfg.tenant_gateway
    volumes = [VolumeLayout(name="budget database (CNPG PVC)", disk_type=PVC_DISK_TYPE,
                            size_gb=gw.postgres_storage_gb, count=gw.postgres_instances)]
    if gw.redis:
        volumes.append(VolumeLayout(name="budget cache (Redis PVC)", disk_type=PVC_DISK_TYPE,
                                    size_gb=REDIS_STORAGE_GB, count=1))
    if tiers.high_availability(cfg.profile):
        # Prometheus keeps the SLO windows' history on a volume where the stack is highly available (prod).
        volumes.append(VolumeLayout(name="Prometheus history (PVC)", disk_type=PVC_DISK_TYPE,
                                    size_gb=cfg.observability.storage_gib, count=1))
    zonal = sub.location == ClusterLocation.ZONAL
    return ClusterLayout(
        region=sub.region,
        location=sub.zones[0] if zonal else sub.region,
        location_kind=LocationKind.ZONAL if zonal else LocationKind.REGIONAL,
        pools=(system_pool_layout(sub), gpu_pool_layout(cfg.gpu_pool, len(sub.zones), cfg.models)),
        volumes=tuple(volumes),
    )
