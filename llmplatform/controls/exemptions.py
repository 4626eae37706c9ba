"""Namespaces SR2 does not manage, per substrate: the one list GovernancePack renders and `llmp verify` expects.

Everything else is managed (deny-by-default): a new namespace is covered the moment it exists, and
no namespace can exempt itself with a label. Only two kinds of namespace are listed:

- the substrate's own (`SubstrateCapabilities.system_namespaces`): Kubernetes' `kube-system`,
  `kube-public`, `kube-node-lease`, plus what this substrate really creates at cluster creation (GKE:
  the managed-Prometheus namespaces `gmp-system`/`gmp-public`, because GkeCluster turns that add-on on;
  Vast/k3s: `nvidia-device-plugin`, which bootstrap.sh's HelmChart creates). GKE names of add-ons that
  are off (`gke-managed-filestorecsi`, Autopilot's `gke-gmp-system`, ...) are not exempt on GKE, and no
  GKE name is exempt on Vast;
- the platform's controller namespaces, which its own Helm releases create (they never request GPUs);

plus the stack's `governance.extra_exempt_namespaces`. An exempt name is a privilege: creating a
Namespace with an exempt name the platform does not create is refused (`namespace_guard`), so a
missing exempt namespace cannot be claimed by whoever may create namespaces.
"""

from __future__ import annotations

from llmplatform import naming

KUBERNETES_SYSTEM = ("kube-system", "kube-public", "kube-node-lease")
# Google Cloud Managed Service for Prometheus, which our Standard clusters enable
# (`monitoring_config.managed_prometheus`), runs its operator, collectors and rule evaluator in `gmp-system`
# and keeps its OperatorConfig in `gmp-public`. Sources:
# Google's managed-collection page for GKE clusters outside Google Cloud, which states both names
# (https://cloud.google.com/kubernetes-engine/multi-cloud/docs/azure/how-to/managed-service-prometheus:
# enabling managed collection creates gmp-system, and gmp-public for the OperatorConfig),
# and the managed-collection operator's manifest, which declares the two Namespaces
# (https://github.com/GoogleCloudPlatform/prometheus-engine/blob/main/manifests/operator.yaml). Setup on
# GKE: https://cloud.google.com/stackdriver/docs/managed-prometheus/setup-managed.
# substrates/gke/cluster.py ADDON_NAMESPACES lists what the cluster's add-ons create and substrates/gke/substrate.py
# puts them into the GKE capabilities' `system_namespaces`.
PLATFORM_CONTROLLERS = (naming.NS_KUEUE, naming.NS_KEDA, naming.NS_CNPG, naming.NS_KYVERNO, naming.NS_MONITORING,
                        "istio-system")
"""Created by the platform's own Helm releases and Namespaces (the platform owns these names)."""

DEFAULT_SYSTEM = ("kube-system", "kube-public", "kube-node-lease", "gmp-public", "gmp-system")
"""GKE's (the default substrate's) system namespaces, as `SubstrateCapabilities.system_namespaces` defaults."""


def sr2_exempt_namespaces(extra: tuple[str, ...] = (), *,
                          system_namespaces: tuple[str, ...] = DEFAULT_SYSTEM) -> tuple[str, ...]:
    """Sorted, de-duplicated: the substrate's system namespaces, the controller namespaces and `extra`.

    `system_namespaces`: the substrate's (`SubstrateCapabilities.system_namespaces`); defaults to GKE's.
    """
    return tuple(sorted(set(KUBERNETES_SYSTEM) | set(system_namespaces) | set(PLATFORM_CONTROLLERS) | set(extra)))


def unowned_exempt_names(exempt: tuple[str, ...]) -> tuple[str, ...]:
    """Exempt names the platform does not create: a CREATE of a Namespace with one of these names is denied.

    The substrate's own namespaces exist from cluster creation (so their CREATE never happens again),
    and `extra_exempt_namespaces` must exist before they are listed. The controller namespaces are
    created by the first `pulumi up`; a squatter who got there first makes that create fail (Pulumi
    creates client-side: AlreadyExists), so the squat is loud, not silent.
    """
    return tuple(sorted(set(exempt) - set(PLATFORM_CONTROLLERS)))
