"""Namespaces SR2 does not manage: the one list GovernancePack renders and `llmp verify` expects.

Everything else is managed (deny-by-default): a new namespace is covered the moment it exists, and
no namespace can exempt itself with a label. Only controllers that cannot carry a Kueue queue (and
never request GPUs) are listed.
"""

from __future__ import annotations

from llmplatform import naming

KUBERNETES_SYSTEM = ("kube-system", "kube-public", "kube-node-lease")
GKE_SYSTEM = ("gke-managed-system", "gke-gmp-system", "gmp-public", "gke-managed-cim", "gke-managed-filestorecsi")
PLATFORM_CONTROLLERS = (naming.NS_KUEUE, naming.NS_KEDA, naming.NS_CNPG, naming.NS_KYVERNO, naming.NS_MONITORING,
                        "istio-system")


def sr2_exempt_namespaces(extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Sorted, de-duplicated: system and controller namespaces plus the stack's `extra_exempt_namespaces`."""
    return tuple(sorted(set(KUBERNETES_SYSTEM) | set(GKE_SYSTEM) | set(PLATFORM_CONTROLLERS) | set(extra)))
