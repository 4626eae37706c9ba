"""The one substrate entry point: the stack config's substrate block decides which substrate is built.

`__main__.py` calls `build_substrate` once and hands the `Substrate` it returns to every component;
nothing else asks which substrate a stack runs on.
"""

from __future__ import annotations

import pulumi

from llmplatform.config import GkeSubstrate, PlatformConfig, VastSubstrate
from substrates.base import BackupWriter, Substrate
from substrates.gke import build_gke
from substrates.vast.substrate import build_vast


def build_substrate(
    stack: str,
    cfg: PlatformConfig,
    *,
    control_plane_ports: tuple[int, ...] = (),
    backup_namespace: str,
    backup_service_account: str,
    ssh_private_key: pulumi.Input[str] | None = None,
) -> Substrate:
    """Create the stack's cluster (logical root `gke` or `vast`) and return what the components need.

    `control_plane_ports`: TCP ports the control plane must reach on the nodes (GKE private nodes: one
    firewall rule; Vast: the VM's ports are the rented ones, unused). `backup_namespace` and
    `backup_service_account`: the Kubernetes ServiceAccount that writes the budget database's backups to
    `tenant_gateway.backup_bucket`; on GKE with a bucket it gets a GCP identity, elsewhere nothing.
    `ssh_private_key` (secret): Vast only, see build_vast; None uses the SSH agent.
    """
    match cfg.substrate:
        case GkeSubstrate() as gke:
            bucket = cfg.tenant_gateway.backup_bucket
            writer = BackupWriter(bucket=bucket, namespace=backup_namespace,
                                  service_account=backup_service_account) if bucket else None
            return build_gke("gke", stack, gke, cfg.gpu_pool, control_plane_ports=control_plane_ports,
                             backup_writer=writer, exposure=cfg.tenant_gateway.exposure)
        case VastSubstrate() as vast:
            return build_vast("vast", stack, vast, ssh_private_key=ssh_private_key)
    raise TypeError(f"no substrate builder for {type(cfg.substrate).__name__}")
