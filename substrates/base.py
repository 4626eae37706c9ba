"""What every substrate hands to the substrate-agnostic components, and what it is asked for."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from llmplatform.gateway.edge import EdgeGcp
from substrates.capabilities import SubstrateCapabilities


@dataclass(frozen=True, kw_only=True)
class BackupWriter:
    """Who writes the budget database's backups, and where (a request to the substrate)."""

    bucket: str
    """`gs://<bucket>[/<path>]` (the stack config's `tenant_gateway.backup_bucket`)."""
    namespace: str
    service_account: str
    """The Kubernetes ServiceAccount (in `namespace`) that writes them: CNPG's instances run as one
    named after the Cluster."""


@dataclass(frozen=True, kw_only=True)
class Substrate:
    """A Kubernetes provider plus the facts about the cluster behind it. GKE and Vast build the same shape;
    where they differ the fields say so (`kube_api_cidrs` empty, `backup_identity` None)."""

    provider: k8s.Provider
    """The provider every substrate-agnostic component receives (`providers={"kubernetes": ...}`)."""
    capabilities: SubstrateCapabilities
    kubeconfig: pulumi.Output[str]
    """Secret: the kubeconfig the provider uses, for the stack output."""
    kube_api_cidrs: tuple[str, ...]
    """Where the `kubernetes` Service's endpoint is, when it is known at plan time: GKE private nodes have
    the control plane's private endpoint inside `master_ipv4_cidr`. Empty: not known (any address)."""
    backup_identity: pulumi.Output[str] | None
    """The GCP service account email that may write the budget database's backups (GKE with a backup
    bucket); None: no cloud identity, the backups need no workload identity (or there are none)."""
    root: pulumi.ComponentResource
    edge: EdgeGcp | None = None
    """The cloud half of a public tenant edge (Cloud Armor policy, certificate map); None: no public edge."""
    """The substrate's top component (GkeCluster, VastCluster), for exports and dependencies."""
