"""Untrusted tier tenant namespaces: quota from gpu_quota, read access to one Secret, default-deny."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmplatform.config.model import TenantSpec
from llmplatform.controls.sr1_network import render as sr1
from llmplatform.controls.tenant_namespaces import render as tenancy
from llmp.verify.manifests.core import validate_core

FACTS = sr1.NetworkFacts(tenant_namespaces=("tenant-search",))


def tenant(name: str = "search", gpus: int = 2) -> TenantSpec:
    return TenantSpec(name=name, budget_usd=10, rpm=1, tpm=1, allowed_models=("m",), gpu_quota=gpus)


def objects(t: TenantSpec, **kw) -> dict[str, dict]:
    out = tenancy.tenant_objects(t, gpu_resource="nvidia.com/gpu", facts=FACTS, **kw)
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in out}


@given(gpus=st.integers(min_value=0, max_value=64))
def test_the_quota_caps_gpus_at_the_tenants_quota_and_scales_cpu_and_memory_with_it(gpus):
    hard = objects(tenant(gpus=gpus))["ResourceQuota/tenant-quota"]["spec"]["hard"]
    q = tenancy.TenantQuota()
    assert hard["requests.nvidia.com/gpu"] == str(gpus)
    assert hard["requests.cpu"] == str(q.base_cpu + q.cpu_per_gpu * gpus)
    assert hard["requests.memory"] == f"{q.base_memory_gib + q.memory_gib_per_gpu * gpus}Gi"


def test_the_quota_forbids_load_balancer_and_node_port_services():
    hard = objects(tenant())["ResourceQuota/tenant-quota"]["spec"]["hard"]
    assert hard["services.loadbalancers"] == hard["services.nodeports"] == "0"


def test_the_tenant_group_may_get_its_own_key_secret_and_nothing_else():
    objs = objects(tenant("search"))
    assert objs["Role/tenant-key-reader"]["rules"] == [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNames": ["tenant-search-key"]}]
    binding = objs["RoleBinding/tenant-key-reader"]
    assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                    "name": "llmplatform:tenant:search"}]
    assert binding["roleRef"]["name"] == "tenant-key-reader"


def test_the_group_format_is_configurable_and_checked():
    objs = objects(tenant("search"), group_format="llm-{name}@acme.example")
    assert objs["RoleBinding/tenant-key-reader"]["subjects"][0]["name"] == "llm-search@acme.example"
    assert tenancy.group_format_problems("static-group") and tenancy.group_format_problems("{name}-{x}")
    assert tenancy.group_format_problems("{name}") == []


def test_every_tenant_object_lands_in_the_tenant_namespace_with_default_deny_networking():
    objs = objects(tenant("search"))
    assert {o["metadata"]["namespace"] for o in objs.values()} == {"tenant-search"}
    assert {"NetworkPolicy/sr1-default-deny", "NetworkPolicy/sr1-allow-dns", "NetworkPolicy/sr1-tenant-egress",
            "LimitRange/tenant-defaults"} <= set(objs)


@pytest.mark.parametrize("gpus", [0, 3])
def test_every_tenant_object_is_strictly_valid_for_kubernetes(gpus):
    for obj in tenancy.tenant_objects(tenant(gpus=gpus), gpu_resource="nvidia.com/gpu", facts=FACTS):
        assert validate_core(obj, strict=True) == [], obj["kind"]


def test_negative_quota_settings_are_reported():
    assert [p.render() for p in tenancy.TenantQuota(pods=-1).problems()] == [
        "tenant_quota.pods: -1 is not allowed; must be an integer >= 0"]
