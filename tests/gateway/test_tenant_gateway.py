"""TenantGateway under recording mocks: children, parents, providers, dev vs prod, validation, secrets."""

from __future__ import annotations

import json

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml
from pulumi.errors import InputPropertiesError

from components.tenant_gateway import TYPE, TenantGateway, TenantGatewayArgs
from llmp.plan.mocks import MOCK_SECRET_PREFIX
from llmplatform.config.rules import control_plan_for
from tests.gateway.conftest import stack_config

URL = "http://inference-gateway-istio.llm-gateway.svc.cluster.local"


def args_for(stack: str, **overrides) -> TenantGatewayArgs:
    cfg = stack_config(stack)
    base = dict(models=cfg.models, tenants=cfg.tenants, gateway=cfg.tenant_gateway, control_plan=control_plan_for(cfg),
                gateway_url=URL,
                model_api_key=pulumi.Output.secret(MOCK_SECRET_PREFIX + "model-api-key"))
    return TenantGatewayArgs(**{**base, **overrides})


def build(stack: str, provider: bool = False, **overrides):
    def run():
        opts = None
        if provider:
            opts = pulumi.ResourceOptions(providers={"kubernetes": k8s.Provider("k8s", kubeconfig="{}")})
        return TenantGateway("tgw", args_for(stack, **overrides), opts=opts)
    return run


def kinds(recorder) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in recorder.registrations:
        out.setdefault(r.type.split(":")[-1], []).append(r.name)
    return out


@pytest.mark.parametrize("recorder", [False, True], indirect=True, ids=["up", "preview"])
def test_dev_is_one_database_instance_one_replica_no_redis_no_pdb_no_backups(recorder):
    recorder.run(build("dev"))
    db = recorder.inputs(recorder.named("tgw-db"))
    assert db["kind"] == "Cluster" and db["spec"]["instances"] == 1 and "backup" not in db["spec"]
    assert recorder.inputs(recorder.named("tgw-proxy"))["spec"]["replicas"] == 1
    found = kinds(recorder)
    assert "PodDisruptionBudget" not in found and "StatefulSet" not in found
    assert "HorizontalPodAutoscaler" not in found
    assert "tgw-db-backup" not in {r.name for r in recorder.registrations}


@pytest.mark.parametrize("recorder", [False, True], indirect=True, ids=["up", "preview"])
def test_prod_is_three_instances_backed_up_three_replicas_with_a_pdb_and_redis(recorder):
    recorder.run(build("prod", backup_gcp_service_account="sa@acme.iam.gserviceaccount.com"))
    db = recorder.inputs(recorder.named("tgw-db"))["spec"]
    assert db["instances"] == 3 and db["backup"]["barmanObjectStore"]["destinationPath"].startswith("gs://")
    assert recorder.inputs(recorder.named("tgw-db-backup"))["kind"] == "ScheduledBackup"
    # Prod autoscales: the HPA owns the pod count (3 to 8), the Deployment leaves `replicas` unset.
    proxy = recorder.named("tgw-proxy")
    assert "replicas" not in recorder.inputs(proxy)["spec"]
    hpa = recorder.named("tgw-hpa")
    assert hpa.type == "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
    spec = recorder.inputs(hpa)["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (3, 8)
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "litellm"}
    assert proxy.urn in hpa.dependencies
    assert recorder.inputs(recorder.named("tgw-pdb"))["spec"]["maxUnavailable"] == 1
    assert recorder.named("tgw-cache-set").type == "kubernetes:apps/v1:StatefulSet"


def test_the_cnpg_operator_is_a_pinned_helm_release_not_a_chart(recorder):
    recorder.run(build("prod"))
    release = recorder.inputs(recorder.named("tgw-cnpg-operator"))
    assert recorder.named("tgw-cnpg-operator").type == "kubernetes:helm.sh/v3:Release"
    assert (release["chart"], release["version"]) == ("cloudnative-pg", "0.29.0")
    assert release["repositoryOpts"] == {"repo": "https://cloudnative-pg.github.io/charts"}
    assert "@sha256:" in release["values"]["image"]["tag"]
    assert recorder.named("tgw-cnpg-operator").urn in recorder.named("tgw-db").dependencies


def test_every_child_is_parented_to_the_component_and_uses_the_given_provider(recorder):
    recorder.run(build("prod", provider=True))
    root = recorder.named("tgw")
    assert root.type == TYPE == "llmplatform:tenant_gateway:TenantGateway"
    children = [r for r in recorder.registrations if r.name.startswith("tgw-")]
    assert children and all(r.parent == root.urn for r in children)
    provider = recorder.named("k8s").urn
    k8s_children = [r for r in children if r.type.startswith("kubernetes:")]
    assert len(k8s_children) >= 15 and all(r.provider == provider for r in k8s_children)


def test_the_proxy_config_in_the_configmap_is_the_rendered_one(recorder):
    recorder.run(build("prod"))
    data = recorder.inputs(recorder.named("tgw-config"))["data"]
    config = yaml.safe_load(data["config.yaml"])
    assert config["general_settings"]["fail_closed_budget_enforcement"] is True
    assert config["model_list"][0]["litellm_params"]["api_base"] == URL + "/v1"
    assert set(data) == {"config.yaml", "tenant_cache_salt.py", "db_ready.py"}
    assert "class TenantCacheSalt" in data["tenant_cache_salt.py"]


def test_no_secret_value_appears_in_any_scrubbed_input(recorder):
    recorder.run(build("prod"))
    for reg in recorder.registrations:
        assert MOCK_SECRET_PREFIX not in json.dumps(recorder.inputs(reg)), reg.name
    for name in ("tgw-secrets", "tgw-cache-auth"):
        data = recorder.inputs(recorder.named(name))["stringData"]
        assert data == "[secret]" or set(data.values()) == {"[secret]"}, name


def test_the_master_key_is_a_secret_output_with_litellms_prefix(recorder):
    gw = recorder.run(build("dev"))
    value, secret = recorder.resolve(gw.master_key)
    assert secret and value.startswith("sk-")
    url, _ = recorder.resolve(gw.service_url)
    assert url == "http://litellm.llm-tenant-gateway.svc.cluster.local:4000"
    assert gw.service_account_name == "litellm"


def test_the_reconcile_job_is_renamed_when_a_tenant_changes_and_only_then(recorder):
    def job_name(**overrides):
        recorder.monitor.registrations.clear()
        recorder.run(build("prod", **overrides))
        return recorder.inputs(recorder.named("tgw-reconcile"))["metadata"]["name"]

    cfg = stack_config("prod")
    first, again = job_name(), job_name()
    richer = tuple(t.model_copy(update={"budget_usd": t.budget_usd + 1}) if t.name == "labs" else t
                   for t in cfg.tenants)
    assert first == again != job_name(tenants=richer)
    assert first.startswith("tenant-reconcile-")


def test_tenant_namespaces_get_their_own_secret_only_rbac(recorder):
    recorder.run(build("prod", key_namespaces={"labs": "tenant-labs"}))
    role = recorder.inputs(recorder.named("tgw-reconciler-labs-role"))
    assert role["metadata"]["namespace"] == "tenant-labs"
    assert role["rules"][1]["resourceNames"] == ["tenant-labs-key"]
    shared = recorder.inputs(recorder.named("tgw-reconciler-role"))["rules"][1]["resourceNames"]
    assert shared == ["tenant-analytics-key", "tenant-search-key", "tenant-support-key"]
    desired = json.loads(recorder.inputs(recorder.named("tgw-reconciler-config"))["data"]["tenants.json"])
    assert {t["name"]: t["key_namespace"] for t in desired["tenants"]}["labs"] == "tenant-labs"


def test_every_invalid_input_is_reported_at_once(recorder):
    cfg = stack_config("prod")
    weak = cfg.tenant_gateway.model_copy(update={"replicas": 1, "max_replicas": None, "redis": False,
                                                 "postgres_instances": 1,
                                                 "backup_bucket": None, "key_cache_ttl_seconds": 600})
    with pytest.raises(InputPropertiesError) as err:
        recorder.run(build("prod", gateway=weak, key_namespaces={"ghost": "ns"}))
    paths = [e["property_path"] for e in err.value.errors]
    reasons = " ".join(e["reason"] for e in err.value.errors)
    # SR3: instances and TTL, each at its own key (one replica needs no Redis)
    assert {"gateway.postgres_instances", "gateway.key_cache_ttl_seconds"} <= set(paths)
    assert "gateway.redis" not in paths
    assert {"gateway.backup_bucket", "gateway.replicas", "key_namespaces"} <= set(paths)
    assert "instance(s)" in reasons and "TTL" in reasons


def test_many_replicas_without_redis_are_refused_on_every_profile(recorder):
    cfg = stack_config("dev")
    with pytest.raises(InputPropertiesError, match="without Redis"):
        recorder.run(build("dev", gateway=cfg.tenant_gateway.model_copy(update={"replicas": 2})))
