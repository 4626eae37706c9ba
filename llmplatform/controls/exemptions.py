"""Namespaces SR2 does not manage: the one list GovernancePack renders and `llmp verify` expects.

Everything else is managed (deny-by-default): a new namespace is covered the moment it exists, and
no namespace can exempt itself with a label. Only controllers that cannot carry a Kueue queue (and
never request GPUs) are listed.
"""

from __future__ import annotations

from llmplatform import naming

KUBERNETES_SYSTEM = ("kube-system", "kube-public", "kube-node-lease")
# Google Cloud Managed Service for Prometheus, which our Standard clusters enable
# (`monitoring_config.managed_prometheus`), runs its operator, collectors and rule evaluator in `gmp-system`
# and keeps its OperatorConfig in `gmp-public`; `gke-gmp-system` is its namespace on Autopilot. Sources:
# Google's managed-collection page for GKE clusters outside Google Cloud, which states both names
# (https://cloud.google.com/kubernetes-engine/multi-cloud/docs/azure/how-to/managed-service-prometheus:
# enabling managed collection creates gmp-system, and gmp-public for the OperatorConfig),
# and the managed-collection operator's manifest, which declares the two Namespaces
# (https://github.com/GoogleCloudPlatform/prometheus-engine/blob/main/manifests/operator.yaml). Setup on
# GKE: https://cloud.google.com/stackdriver/docs/managed-prometheus/setup-managed.
# components/gke_cluster.py ADDON_NAMESPACES lists what the cluster's add-ons create; a test checks that
# each is exempt here.
GKE_SYSTEM = ("gke-managed-system", "gke-gmp-system", "gmp-system", "gmp-public", "gke-managed-cim",
              "gke-managed-filestorecsi")
PLATFORM_CONTROLLERS = (naming.NS_KUEUE, naming.NS_KEDA, naming.NS_CNPG, naming.NS_KYVERNO, naming.NS_MONITORING,
                        "istio-system")


def sr2_exempt_namespaces(extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Sorted, de-duplicated: system and controller namespaces plus the stack's `extra_exempt_namespaces`."""
    return tuple(sorted(set(KUBERNETES_SYSTEM) | set(GKE_SYSTEM) | set(PLATFORM_CONTROLLERS) | set(extra)))
