"""What every substrate hands to the substrate-agnostic components."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from substrates.capabilities import SubstrateCapabilities


@dataclass(frozen=True)
class Substrate:
    """A Kubernetes provider plus the facts about the cluster behind it."""

    provider: k8s.Provider
    capabilities: SubstrateCapabilities
    root: pulumi.ComponentResource
    """The substrate's top component (GkeCluster, VastCluster), for exports and dependencies."""
    kubeconfig: pulumi.Output[str]
