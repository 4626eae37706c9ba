"""Stable label keys: a contract between components, the GovernancePack, `policy/` and the proofs.

Changing a key here changes what NetworkPolicies and admission rules select; treat it like an API.
"""

from __future__ import annotations

PREFIX = "llmplatform.io"

COMPONENT = "app.kubernetes.io/component"
NAME = "app.kubernetes.io/name"
INSTANCE = "app.kubernetes.io/instance"
PART_OF = "app.kubernetes.io/part-of"
MANAGED_BY = "app.kubernetes.io/managed-by"

ROLE = f"{PREFIX}/role"
"""What a pod is to the platform: one of the ROLE_* values. NetworkPolicies select on it."""
MODEL = f"{PREFIX}/model"
"""The model `name` a serving pod or InferencePool belongs to."""
TENANT = f"{PREFIX}/tenant"
NAMESPACE_TIER = f"{PREFIX}/namespace-tier"
"""On Namespaces: one of the NS_TIER_* values, so policies select namespaces by purpose."""
TRUST_TIER = f"{PREFIX}/trust-tier"

ROLE_MODEL_SERVER = "model-server"
ROLE_EPP = "endpoint-picker"
ROLE_GATEWAY = "inference-gateway"
ROLE_TENANT_GATEWAY = "tenant-gateway"
"""LiteLLM. Only pods of LiteLLM's ServiceAccount may carry it (SR1 identity binding)."""
ROLE_BUDGET_DB = "budget-db"
ROLE_BUDGET_CACHE = "budget-cache"
ROLE_TENANT_RECONCILER = "tenant-reconciler"

NS_TIER_SERVING = "serving"
NS_TIER_GATEWAY = "gateway"
NS_TIER_TENANT_GATEWAY = "tenant-gateway"
NS_TIER_TENANT = "tenant"
NS_TIER_PLATFORM = "platform"
"""Operators and controllers (Kueue, KEDA, CNPG, Kyverno, monitoring)."""

QUEUE_NAME = "kueue.x-k8s.io/queue-name"
K8S_NS_NAME = "kubernetes.io/metadata.name"


def standard(name: str, component: str, *, instance: str | None = None) -> dict[str, str]:
    """The recommended app.kubernetes.io labels every rendered object carries."""
    labels = {NAME: name, COMPONENT: component, PART_OF: "llm-platform", MANAGED_BY: "pulumi"}
    if instance:
        labels[INSTANCE] = instance
    return labels
