"""ServingStack under recording mocks: per-model objects, parents, providers, GPU pods, the only path in.

Configs: dev with 2 models, prod with 4 (tests/serving/conftest.py), built with the program's loader,
rendered without per-model code. Manifests are taken from the recorded registrations the way
`llmp plan` writes them, so these assertions hold for what the plan files contain.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from components.platform_namespaces import PlatformNamespaces, PlatformNamespacesArgs
from components.serving_stack import TYPE, ServingStack, ServingStackArgs
from llmplatform import labels
from llmplatform.config import TrustTier
from llmp.plan.render import is_manifest, manifest_of
from llmplatform.config.rules import control_plan_for
from llmplatform.controls.tiers import plan_controls
from llmplatform.predicates.images import is_pinned_by_digest
from llmplatform.serving import names
from tests.support.gates import require_crd_schemas
from tests.support.recording import Recorder
from llmp.verify.manifests.core import validate_core
from llmp.verify.manifests.crd import validate_custom_resource
from tests.serving.conftest import MODEL_COUNTS, capabilities, platform_config

GPU = "nvidia.com/gpu"


def build(stack: str, *, hf_token: bool = True, **overrides: Any) -> tuple[ServingStack, k8s.Provider]:
    cfg = platform_config(stack)
    provider = k8s.Provider("k8s", kubeconfig="{}")
    opts = pulumi.ResourceOptions(providers={"kubernetes": provider})
    plan = control_plan_for(cfg)
    namespaces = PlatformNamespaces("platform", PlatformNamespacesArgs(
        control_plan=plan, tenants=tuple(t.name for t in cfg.tenants)), opts=opts)
    args = ServingStackArgs(models=cfg.models, tenants=cfg.tenants, capabilities=capabilities(cfg), control_plan=plan,
                            gpu_capacity=cfg.gpu_pool.capacity, namespaces=namespaces,
                            hf_token=pulumi.Output.secret("hf_test") if hf_token else None, **overrides)
    return ServingStack("serving", args, opts=opts), provider


def manifests(recorder: Recorder, kind: str | None = None) -> list[dict[str, Any]]:
    docs = [manifest_of(r) for r in recorder.registrations if is_manifest(r)]
    return [d for d in docs if kind is None or d["kind"] == kind]


def pod_specs(recorder: Recorder) -> list[tuple[dict, dict]]:
    """(Deployment, pod template) for every Deployment the stack renders."""
    return [(d, d["spec"]["template"]) for d in manifests(recorder, "Deployment")]


def requests_gpu(template: dict) -> bool:
    spec = template["spec"]
    containers = spec.get("containers", []) + spec.get("initContainers", [])
    return any(GPU in (c.get("resources", {}).get(k) or {}) for c in containers for k in ("requests", "limits"))


@pytest.mark.parametrize("recorder", [False, True], indirect=True, ids=["up", "preview"])
@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_each_model_gets_one_deployment_service_scaledobject_pool_epp_and_route(recorder, stack):
    comp, _ = recorder.run(lambda: build(stack))
    n = MODEL_COUNTS[stack]
    deployments = [d["metadata"]["name"] for d in manifests(recorder, "Deployment")]
    assert len([d for d in deployments if d.startswith("vllm-")]) == n
    assert len([d for d in deployments if d.endswith("-epp")]) == n
    services = [s for s in manifests(recorder, "Service") if s["metadata"]["namespace"] == "llm-serving"]
    assert len([s for s in services if s["metadata"]["name"].startswith("vllm-")]) == n
    for kind in ("ScaledObject", "InferencePool", "HTTPRoute"):
        assert len(manifests(recorder, kind)) == n, kind
    assert len(manifests(recorder, "Gateway")) == 1
    assert set(comp.served_names) == {m.name for m in platform_config(stack).models}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_gpu_pod_template_requests_its_gpus_and_names_its_queue_twice(recorder, stack):
    recorder.run(lambda: build(stack))
    per_replica = {m.name: m.gpus_per_replica for m in platform_config(stack).models}
    gpu_workloads = [(d, t) for d, t in pod_specs(recorder) if requests_gpu(t)]
    assert len(gpu_workloads) == MODEL_COUNTS[stack]
    for dep, template in gpu_workloads:
        assert dep["metadata"]["labels"][labels.QUEUE_NAME] == names.LOCAL_QUEUE
        assert template["metadata"]["labels"][labels.QUEUE_NAME] == names.LOCAL_QUEUE
        model = template["metadata"]["labels"][labels.MODEL]
        gpus = [c["resources"]["limits"][GPU] for c in template["spec"]["containers"]
                if GPU in c["resources"].get("limits", {})]
        assert gpus == [str(per_replica[model])]
    queues = {(q["metadata"]["namespace"], q["metadata"]["name"]) for q in manifests(recorder, "LocalQueue")}
    assert ("llm-serving", names.LOCAL_QUEUE) in queues


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_container_image_is_pinned_by_digest(recorder, stack):
    recorder.run(lambda: build(stack))
    templates = pod_specs(recorder)
    assert templates
    for _dep, template in templates:
        for c in template["spec"]["containers"] + template["spec"].get("initContainers", []):
            assert is_pinned_by_digest(c["image"]), c["image"]


def _selects_model_servers(selector: dict) -> bool:
    return selector.get(labels.ROLE) == labels.ROLE_MODEL_SERVER


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_gateway_path_is_the_only_route_to_the_model_servers(recorder, stack):
    recorder.run(lambda: build(stack))
    services = manifests(recorder, "Service")
    to_models = [s for s in services if _selects_model_servers(s["spec"].get("selector") or {})]
    assert len(to_models) == MODEL_COUNTS[stack]
    for svc in to_models:
        assert svc["spec"]["clusterIP"] == "None"
    assert all(s["spec"].get("type", "ClusterIP") == "ClusterIP" for s in services)
    for route in manifests(recorder, "HTTPRoute"):
        refs = [b for rule in route["spec"]["rules"] for b in rule["backendRefs"]]
        assert refs and all(b["kind"] == "InferencePool" for b in refs)
        assert route["metadata"]["namespace"] == "llm-gateway"
    by_name = {s["metadata"]["name"]: s for s in services}
    for pool in manifests(recorder, "InferencePool"):
        assert _selects_model_servers(pool["spec"]["selector"]["matchLabels"])
        epp = by_name[pool["spec"]["endpointPickerRef"]["name"]]
        assert epp["spec"]["selector"][labels.ROLE] == labels.ROLE_EPP
    (gateway,) = manifests(recorder, "Gateway")
    assert gateway["spec"]["infrastructure"]["annotations"]["networking.istio.io/service-type"] == "ClusterIP"
    assert gateway["spec"]["infrastructure"]["labels"][labels.ROLE] == labels.ROLE_GATEWAY
    assert all(lst["allowedRoutes"]["namespaces"]["from"] == "Same" for lst in gateway["spec"]["listeners"])
    assert not manifests(recorder, "Ingress")
    (grant,) = manifests(recorder, "ReferenceGrant")
    assert grant["spec"]["from"][0]["namespace"] == "llm-gateway"


@pytest.mark.parametrize("recorder", [False, True], indirect=True, ids=["up", "preview"])
def test_every_child_is_parented_to_the_stack_and_uses_the_callers_kubernetes_provider(recorder):
    recorder.run(lambda: build("prod"))
    by_urn = {r.urn: r for r in recorder.registrations}
    root = recorder.named("serving")
    provider = recorder.named("k8s")
    assert root.type == TYPE
    ours = [r for r in recorder.registrations if r.name.startswith("serving-")]
    assert len(ours) > 50
    for reg in ours:
        node = reg
        while node.parent and node.parent != root.urn:
            node = by_urn[node.parent]
        assert node.parent == root.urn, reg.name
        if reg.type.startswith("kubernetes:") and reg.custom:
            assert reg.provider == provider.urn, reg.name
    assert {r.name for r in recorder.children_of(root)} == {r.name for r in ours}


def test_the_model_key_is_secret_and_both_secrets_hold_only_placeholders(recorder):
    comp, _ = recorder.run(lambda: build("dev"))
    value, is_secret = recorder.resolve(comp.model_api_key)
    assert is_secret
    password = recorder.inputs(recorder.named("serving-api-key"))
    assert password["length"] >= 32 and password["special"] is False
    for name in ("serving-api-key-secret", "serving-hf-token"):
        data = recorder.inputs(recorder.named(name))["stringData"]
        assert data == "[secret]" or set(data.values()) == {"[secret]"}, data
    others = [recorder.inputs(r) for r in recorder.registrations
              if r.type != "random:index/randomPassword:RandomPassword"]
    assert value not in str(others)


def test_without_an_hf_token_no_secret_is_created_and_downloads_run_anonymously(recorder):
    recorder.run(lambda: build("dev", hf_token=False))
    assert not [r for r in recorder.registrations if r.name == "serving-hf-token"]


def test_outputs_give_the_tenant_gateway_url_key_names_and_headers(recorder):
    comp, _ = recorder.run(lambda: build("prod"))
    url, _secret = recorder.resolve(comp.gateway_url)
    assert url == "http://inference-gateway-istio.llm-gateway.svc.cluster.local:80"
    assert comp.served_names["qwen-7b"] == "qwen2.5-7b-instruct"
    assert comp.model_headers["qwen-7b"] == {"X-Gateway-Model-Name": "qwen2.5-7b-instruct"}
    assert comp.queue_name == "gpu"
    assert set(comp.deployments) == set(comp.served_names)


def test_untrusted_tenants_get_a_local_queue_and_quota_in_their_namespace(recorder):
    recorder.run(lambda: build("prod"))
    cqs = {q["metadata"]["name"]: q for q in manifests(recorder, "ClusterQueue")}
    assert set(cqs) == {"serving", "tenant-search", "tenant-support", "tenant-labs"}

    def quota(cq: str) -> int:
        return cqs[cq]["spec"]["resourceGroups"][0]["flavors"][0]["resources"][0]["nominalQuota"]

    assert quota("tenant-search") == 4 and quota("tenant-labs") == 0
    assert quota("serving") == 4 * 1 + 3 + 2 + 2 * 2
    assert {q["metadata"]["namespace"] for q in manifests(recorder, "LocalQueue")} == {
        "llm-serving", "tenant-search", "tenant-support", "tenant-labs"}


def test_releases_are_pinned_and_kueue_manages_only_serving_and_tenant_namespaces(recorder):
    recorder.run(lambda: build("prod"))
    releases = {recorder.inputs(r)["name"]: recorder.inputs(r)
                for r in recorder.of_type("kubernetes:helm.sh/v3:Release")}
    assert set(releases) == {"kueue", "keda", "prometheus", "istio-base", "istiod"}
    assert all(r["version"] for r in releases.values())
    config = releases["kueue"]["values"]["managerConfig"]["controllerManagerConfigYaml"]
    for ns in ("llm-serving", "tenant-search", "tenant-labs"):
        assert ns in config
    assert "kube-system" not in config
    assert releases["istiod"]["values"]["env"]["ENABLE_GATEWAY_API_INFERENCE_EXTENSION"] == "true"


def test_invalid_inputs_are_reported_together(recorder):
    cfg = platform_config("prod")
    narrow = dataclasses.replace(capabilities(cfg), gpus_per_node=1, gpu_product_label_values=())

    def bad() -> None:
        untrusted = plan_controls(trust_tier=TrustTier.UNTRUSTED, profile=cfg.profile,
                                  capabilities=capabilities(cfg), governance=cfg.governance)
        namespaces = PlatformNamespaces("platform", PlatformNamespacesArgs(control_plan=untrusted,
                                                                           tenants=("ghost",)))
        ServingStack("bad", ServingStackArgs(models=cfg.models, tenants=cfg.tenants, capabilities=narrow,
                                             gpu_capacity=0, namespaces=namespaces, control_plan=untrusted))

    with pytest.raises(pulumi.errors.InputPropertiesError) as err:
        recorder.run(bad)
    paths = {e["property_path"] for e in err.value.errors}
    assert {"models[llama-70b].gpus_per_replica", "capabilities.gpu_product_label_values", "gpu_capacity",
            "namespaces.tenants"} <= paths


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_rendered_objects_validate_strictly_against_upstream_and_kubernetes_schemas(recorder, stack):
    schemas = require_crd_schemas()
    recorder.run(lambda: build(stack))
    findings = []
    checked = 0
    for reg in recorder.registrations:
        if not reg.name.startswith("serving-") or not is_manifest(reg):
            continue
        doc = manifest_of(reg)
        findings += validate_custom_resource(doc, schema_dir=schemas, strict=True)
        findings += validate_core(doc, kubernetes_version="1.33", strict=True)
        checked += 1
    assert checked > 10
    assert not findings, "\n".join(map(str, findings))
