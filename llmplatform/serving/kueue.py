"""Kueue objects for GPU quota: one ResourceFlavor per GPU product, ClusterQueues in one cohort, and a
LocalQueue named `gpu` in every namespace that runs GPU work.

Quota layout (decision):
- ClusterQueue `serving` (selects only llm-serving) holds the platform's model servers: nominal GPUs =
  every model at max_replicas (what KEDA may ask for), capped at the pool's capacity.
- ClusterQueue `tenant-<name>` per tenant with its own namespace (untrusted tier): nominal = the
  tenant's `gpu_quota`. Tenants without a namespace have no GPU workloads of their own to queue.
- All share cohort `llm-platform` with fair sharing: idle nominal quota is lent, and a queue
  reclaims its own nominal quota by preempting borrowers.
Only GPUs are quota'd (CPU and memory are excluded in Kueue's configuration).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from llmplatform import labels, naming
from llmplatform.config import ModelSpec
from llmplatform.serving import names

API = "kueue.x-k8s.io/v1beta2"


def managed_namespaces(tenant_namespaces: Iterable[str]) -> tuple[str, ...]:
    """The namespaces Kueue manages: the serving namespace and every tenant namespace (untrusted), sorted.

    The one list Kueue's `managedJobsNamespaceSelector` (and so its webhooks' namespace selectors) and
    SR2's "in Kueue's scope" clause are rendered from: a GPU request elsewhere is denied by SR2, since
    Kueue would never read its queue label. Exactly the namespaces a ClusterQueue selects.
    """
    return tuple(sorted({naming.NS_SERVING, *tenant_namespaces}))


def serving_gpu_demand(models: Sequence[ModelSpec]) -> int:
    """GPUs the serving queue must guarantee: every model at max_replicas."""
    return sum(m.gpus_per_replica * m.max_replicas for m in models)


def resource_flavor(label_key: str, label_value: str, taint: Any | None) -> dict[str, Any]:
    """A GPU product: admitted pods get the node label as selector; the taint is declared so Kueue
    checks the pod tolerates it."""
    spec: dict[str, Any] = {"nodeLabels": {label_key: label_value}}
    if taint is not None:
        spec["nodeTaints"] = [{"key": taint.key, "value": taint.value, "effect": taint.effect}]
    return {"apiVersion": API, "kind": "ResourceFlavor",
            "metadata": {"name": names.flavor(label_value), "labels": labels.standard("kueue", "gpu-quota")},
            "spec": spec}


def cluster_queue(name: str, namespace: str, *, gpu_resource: str, flavors: Sequence[str], nominal_gpus: int,
                  weight: int = 1) -> dict[str, Any]:
    """One queue per namespace, selected by the API-server-owned namespace name label (not spoofable)."""
    return {
        "apiVersion": API,
        "kind": "ClusterQueue",
        "metadata": {"name": name, "labels": labels.standard("kueue", "gpu-quota")},
        "spec": {
            "cohortName": names.COHORT,
            "namespaceSelector": {"matchLabels": {labels.K8S_NS_NAME: namespace}},
            "queueingStrategy": "BestEffortFIFO",
            "resourceGroups": [{
                "coveredResources": [gpu_resource],
                "flavors": [{"name": f, "resources": [{"name": gpu_resource, "nominalQuota": nominal_gpus}]}
                            for f in flavors],
            }],
            "preemption": {"reclaimWithinCohort": "Any", "withinClusterQueue": "Never"},
            "fairSharing": {"weight": weight},
        },
    }


def local_queue(namespace: Any, cluster_queue_name: str) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "LocalQueue",
            "metadata": {"name": names.LOCAL_QUEUE, "namespace": namespace,
                         "labels": labels.standard("kueue", "gpu-quota")},
            "spec": {"clusterQueue": cluster_queue_name}}


def cluster_queues(models: Sequence[ModelSpec], tenant_quotas: Mapping[str, int], *, serving_namespace: str,
                   tenant_namespaces: Mapping[str, str], gpu_resource: str, flavors: Sequence[str],
                   capacity: int) -> dict[str, dict[str, Any]]:
    """Queue name -> ClusterQueue. `tenant_namespaces` maps tenants that have a namespace to it."""
    out = {names.SERVING_CLUSTER_QUEUE: cluster_queue(
        names.SERVING_CLUSTER_QUEUE, serving_namespace, gpu_resource=gpu_resource, flavors=flavors,
        nominal_gpus=min(serving_gpu_demand(models), capacity))}
    for tenant, namespace in sorted(tenant_namespaces.items()):
        name = names.tenant_cluster_queue(tenant)
        out[name] = cluster_queue(name, namespace, gpu_resource=gpu_resource, flavors=flavors,
                                  nominal_gpus=tenant_quotas.get(tenant, 0))
    return out
