"""Physical names and their length limits: the one place a cloud or Kubernetes name is made.

Logical (Pulumi) names are never truncated; physical names are checked against their limit and
fail loudly at plan time instead of being cut (a cut name can collide or change on a rename).
"""

from __future__ import annotations

import re

# Limits, in characters, from each API's documentation.
GKE_CLUSTER_MAX = 40
GKE_NODE_POOL_MAX = 40
GCP_NETWORK_MAX = 63
GCP_FIREWALL_MAX = 63
GCP_SERVICE_ACCOUNT_ID = (6, 30)
VAST_LABEL_MAX = 256
"""Vast's instance label (`create_instance.yaml`); VastHost checks the same limit on its input."""
K8S_DNS_LABEL_MAX = 63
HELM_RELEASE_MAX = 53

_DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


class NameTooLong(ValueError):
    """A physical name would exceed its API's limit; shorten the stack or object name in config."""


def _check(name: str, limit: int, what: str) -> str:
    if len(name) > limit:
        raise NameTooLong(f"{what} name {name!r} is {len(name)} characters; the limit is {limit}")
    if not _DNS_1035.match(name):
        raise ValueError(f"{what} name {name!r} must be lowercase letters, digits and '-', starting with a letter")
    return name


def gke_cluster(stack: str) -> str:
    return _check(f"llmp-{stack}", GKE_CLUSTER_MAX, "GKE cluster")


def gke_node_pool(stack: str, role: str) -> str:
    return _check(f"llmp-{stack}-{role}", GKE_NODE_POOL_MAX, "GKE node pool")


def gcp_network(stack: str, role: str) -> str:
    return _check(f"llmp-{stack}-{role}", GCP_NETWORK_MAX, "GCP network")


def gcp_firewall(stack: str, role: str) -> str:
    """A VPC firewall rule (RFC 1035 name, at most 63 characters)."""
    return _check(f"llmp-{stack}-{role}", GCP_FIREWALL_MAX, "GCP firewall rule")


def gcp_edge(stack: str, role: str) -> str:
    """The public edge's Cloud Armor policy and Certificate Manager objects (RFC 1035, at most 63 characters)."""
    return _check(f"llmp-{stack}-{role}", GCP_FIREWALL_MAX, "GCP load-balancing resource")


def gcp_service_account_id(stack: str, role: str) -> str:
    name = f"llmp-{stack}-{role}"
    low, high = GCP_SERVICE_ACCOUNT_ID
    if not low <= len(name) <= high:
        raise NameTooLong(f"service account id {name!r} is {len(name)} characters; it must be {low}-{high}")
    return _check(name, high, "service account")


GKE_PODS_RANGE = "pods"
GKE_SERVICES_RANGE = "services"
"""Names of the node subnet's secondary ranges for pods and services; the cluster's IP allocation
policy refers to them by these names."""


def gke_workload_pool(project: str) -> str:
    """The project's Workload Identity pool; GKE creates it with the project's first cluster that enables it."""
    return f"{project}.svc.id.goog"


def gke_workload_identity_member(project: str, namespace: str, service_account: str) -> str:
    """The IAM member that a Kubernetes ServiceAccount acts as under Workload Identity."""
    return f"serviceAccount:{gke_workload_pool(project)}[{namespace}/{service_account}]"


def vast_label(stack: str) -> str:
    """The Vast instance label of a stack's VM (find strays on Vast's console by it)."""
    name = f"llmp-{stack}"
    if len(name) > VAST_LABEL_MAX:
        raise NameTooLong(f"Vast label {name!r} is {len(name)} characters; the limit is {VAST_LABEL_MAX}")
    return name


def k8s(name: str) -> str:
    """A Kubernetes object name or label value that must be a DNS-1035 label."""
    return _check(name, K8S_DNS_LABEL_MAX, "Kubernetes")


def helm_release(name: str) -> str:
    return _check(name, HELM_RELEASE_MAX, "Helm release")


# Namespaces are fixed names: the governance layer, the policy pack and the proofs select on them.
NS_SERVING = "llm-serving"
NS_GATEWAY = "llm-gateway"
NS_TENANT_GATEWAY = "llm-tenant-gateway"
NS_KUEUE = "kueue-system"
NS_KEDA = "keda"
NS_MONITORING = "monitoring"
NS_CNPG = "cnpg-system"
NS_KYVERNO = "kyverno"


def tenant_namespace(tenant: str) -> str:
    """Per-tenant namespace on the untrusted tier."""
    return k8s(f"tenant-{tenant}")
