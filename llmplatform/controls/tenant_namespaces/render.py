"""Untrusted tier: what each tenant's own namespace (`tenant-<name>`) holds, as plain dicts.

Per tenant namespace:
- **ResourceQuota** `tenant-quota`: GPUs (`requests.<gpu resource>` = the tenant's `gpu_quota`), pods,
  CPU and memory requests (a base plus a share per GPU), PVCs and storage, and **no** LoadBalancer or
  NodePort Services (either would open a path into the tenant namespace from outside the pod network,
  around SR1's default-deny).
- **LimitRange** `tenant-defaults`: default requests/limits for containers that set none, so the quota
  can admit them (a quota on requests rejects pods without requests).
- **Role + RoleBinding** `tenant-key-reader`: the tenant's group may `get` exactly one Secret, its
  virtual key `tenant-<name>-key` (written there by the TenantGateway's reconciler). `get` by name
  only: no `list`/`watch`, which `resourceNames` cannot restrict and would reveal every Secret.
  The group is `llmplatform:tenant:<name>` by default, a name the cluster's authenticator must put
  in the tenant's credentials (OIDC groups claim, an impersonation rule, a client certificate's O=).
  On GKE with Google Groups for RBAC, pass the group's e-mail pattern instead (`group_format`).
- **NetworkPolicies** (`llmplatform.controls.sr1_network.render.tenant_namespace_policies`): default-deny ingress
  and egress; egress only to LiteLLM :4000 and kube-dns.

Nothing here grants the tenant rights to create workloads, NetworkPolicies or RBAC: who deploys
into a tenant namespace (a CI identity, an operator) is the cluster owner's decision, and any extra
NetworkPolicy they add can only widen the tenant's own egress, never reach into the platform
namespaces (those have their own default-deny).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmplatform import labels, naming
from llmplatform.config.model import TenantSpec
from llmplatform.controls.rendering import ControlInputs, Rendered
from llmplatform.controls.sr1_network import render as sr1
from llmplatform.gateway.workloads import key_secret_name
from llmplatform.problems import Problem

DEFAULT_GROUP_FORMAT = "llmplatform:tenant:{name}"
"""RBAC group a tenant's people and CI authenticate as; `{name}` is the tenant name."""
KEY_READER = "tenant-key-reader"


@dataclass(frozen=True, kw_only=True)
class TenantQuota:
    """Per-tenant-namespace limits besides GPUs (which come from each tenant's `gpu_quota`)."""

    pods: int = 20
    base_cpu: int = 4
    """CPU cores a tenant may request with no GPU (clients, notebooks, batch drivers)."""
    base_memory_gib: int = 16
    cpu_per_gpu: int = 4
    """Added per GPU of `gpu_quota`: a GPU job needs host CPU and memory too."""
    memory_gib_per_gpu: int = 24
    persistent_volume_claims: int = 10
    storage_gib: int = 200
    default_cpu_request: str = "100m"
    default_cpu_limit: str = "1"
    default_memory_request: str = "128Mi"
    default_memory_limit: str = "512Mi"

    def problems(self) -> list[Problem]:
        """Every limit that is not a whole number >= 0, at `tenant_quota.<field>`."""
        out = []
        for name in ("pods", "base_cpu", "base_memory_gib", "cpu_per_gpu", "memory_gib_per_gpu",
                     "persistent_volume_claims", "storage_gib"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                out.append(Problem(f"tenant_quota.{name}", value, "must be an integer >= 0"))
        return out


def group_name(tenant: str, group_format: str = DEFAULT_GROUP_FORMAT) -> str:
    return group_format.format(name=tenant)


def _meta(name: str, namespace: str, tenant: str) -> dict[str, Any]:
    return {"name": naming.k8s(name), "namespace": namespace,
            "labels": {labels.PART_OF: "llm-platform", labels.MANAGED_BY: "pulumi", labels.TENANT: tenant,
                       f"{labels.PREFIX}/control": "tenancy"}}


def resource_quota(tenant: TenantSpec, namespace: str, *, gpu_resource: str, quota: TenantQuota) -> dict[str, Any]:
    gpus = tenant.gpu_quota
    hard = {
        f"requests.{gpu_resource}": str(gpus),
        "pods": str(quota.pods),
        "requests.cpu": str(quota.base_cpu + quota.cpu_per_gpu * gpus),
        "requests.memory": f"{quota.base_memory_gib + quota.memory_gib_per_gpu * gpus}Gi",
        "limits.memory": f"{quota.base_memory_gib + quota.memory_gib_per_gpu * gpus}Gi",
        "persistentvolumeclaims": str(quota.persistent_volume_claims),
        "requests.storage": f"{quota.storage_gib}Gi",
        "services.loadbalancers": "0",
        "services.nodeports": "0",
    }
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": _meta("tenant-quota", namespace, tenant.name),
            "spec": {"hard": hard}}


def limit_range(tenant: TenantSpec, namespace: str, *, quota: TenantQuota) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "LimitRange", "metadata": _meta("tenant-defaults", namespace, tenant.name),
            "spec": {"limits": [{
                "type": "Container",
                "defaultRequest": {"cpu": quota.default_cpu_request, "memory": quota.default_memory_request},
                "default": {"cpu": quota.default_cpu_limit, "memory": quota.default_memory_limit},
            }]}}


def key_reader_role(tenant: TenantSpec, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": _meta(KEY_READER, namespace, tenant.name),
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"],
                       "resourceNames": [key_secret_name(tenant.name)]}]}


def key_reader_binding(tenant: TenantSpec, namespace: str, *, group_format: str) -> dict[str, Any]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": _meta(KEY_READER, namespace, tenant.name),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": KEY_READER},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                          "name": group_name(tenant.name, group_format)}]}


def tenant_objects(tenant: TenantSpec, *, gpu_resource: str, facts: sr1.NetworkFacts,
                   quota: TenantQuota = TenantQuota(), group_format: str = DEFAULT_GROUP_FORMAT,
                   namespace: str | None = None) -> list[dict[str, Any]]:
    """Everything the tenant's namespace holds (it must exist; PlatformNamespaces creates it)."""
    ns = namespace or naming.tenant_namespace(tenant.name)
    return [
        resource_quota(tenant, ns, gpu_resource=gpu_resource, quota=quota),
        limit_range(tenant, ns, quota=quota),
        key_reader_role(tenant, ns),
        key_reader_binding(tenant, ns, group_format=group_format),
        *sr1.tenant_namespace_policies(ns, facts),
    ]


def group_format_problems(group_format: str) -> list[Problem]:
    try:
        rendered = group_format.format(name="x")
    except (KeyError, IndexError, ValueError):
        rendered = ""
    if "{name}" not in group_format or not rendered:
        return [Problem("tenant_group_format", group_format, "must contain '{name}' and no other placeholder")]
    return []


_ROLES = {"ResourceQuota": "quota", "LimitRange": "limits", "Role": "key-reader-role", "RoleBinding": "key-reader-binding"}
"""Kind -> logical-name suffix of a tenant's object (after `tenant-<name>-`)."""


def objects(inputs: ControlInputs) -> list[Rendered]:
    """What GovernancePack creates in each tenant namespace: quota, limits, key-reader RBAC (the binding
    after its role) and the namespace's NetworkPolicies."""
    out: list[Rendered] = []
    for tenant in inputs.tenants:
        base = f"tenant-{tenant.name}"
        for obj in tenant_objects(tenant, gpu_resource=inputs.capabilities.gpu_resource_name, facts=inputs.network,
                                  quota=inputs.tenant_quota or TenantQuota(),
                                  group_format=inputs.tenant_group_format or DEFAULT_GROUP_FORMAT):
            kind, meta = obj["kind"], obj["metadata"]
            if kind == "NetworkPolicy":
                out.append(Rendered(role=f"netpol-{meta['namespace']}-{meta['name']}", obj=obj))
            else:
                after = (f"{base}-{_ROLES['Role']}",) if kind == "RoleBinding" else ()
                out.append(Rendered(role=f"{base}-{_ROLES[kind]}", obj=obj, after=after))
    return out
