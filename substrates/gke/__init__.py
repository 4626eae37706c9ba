"""GKE substrate: everything GKE-specific, behind the same `Substrate` value as Vast.

- `cluster`: `GkeCluster`, a private VPC-native GKE Standard cluster with Dataplane V2, and its provider;
- `gpu_pool`: `GpuPool`, the autoscaled, tainted GPU node pool;
- `budget_backup`: `BudgetBackupIdentity`, the GCP identity that writes the budget database's backups;
- `substrate`: `gke_capabilities` and `build_gke`, which creates the three and returns the `Substrate`.
"""

from substrates.gke.substrate import build_gke, gke_capabilities

__all__ = ["build_gke", "gke_capabilities"]
