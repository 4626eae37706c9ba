"""The serving layer's pure builders: what one model, one queue, one trigger and one route look like."""

from __future__ import annotations

import re

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from llmplatform import labels, naming, ports
from llmplatform.config import ModelSpec
from llmplatform.predicates.images import is_pinned_by_digest
from llmplatform.serving import autoscaling, charts, images, kueue, names, routing, vllm
from tests.serving.conftest import GKE_TAINT, K3S_CAPS, capabilities, platform_config

REV = "a" * 40


def model(**kw) -> ModelSpec:
    base = {"name": "m", "hf_id": "Org/m", "revision": REV, "served_name": "org-m"}
    return ModelSpec.model_validate({**base, **kw})


def gke_caps():
    return capabilities(platform_config("dev"))


def container(dep: dict, name: str = "vllm") -> dict:
    return next(c for c in dep["spec"]["template"]["spec"]["containers"] if c["name"] == name)


# --- vLLM -------------------------------------------------------------------------------------


def test_vllm_serves_the_configured_name_length_and_batch_with_prefix_caching_on():
    args = vllm.vllm_args(model(max_model_len=4096, max_num_seqs=48), gke_caps(), prefix_caching=True)
    pairs = dict(zip(args, args[1:], strict=False))
    assert pairs["--served-model-name"] == "org-m"
    assert pairs["--max-model-len"] == "4096" and pairs["--max-num-seqs"] == "48"
    assert "--enable-prefix-caching" in args and "--no-enable-prefix-caching" not in args
    assert args[0] == "/models/m"


def test_prefix_caching_can_be_switched_off():
    args = vllm.vllm_args(model(), gke_caps(), prefix_caching=False)
    assert "--no-enable-prefix-caching" in args and "--enable-prefix-caching" not in args


def test_gpu_memory_fraction_follows_the_substrates_sharing():
    assert "0.45" in vllm.vllm_args(model(), K3S_CAPS, prefix_caching=True)


def test_model_deployment_requests_its_gpus_and_carries_the_queue_label_twice():
    dep = vllm.deployment(model(gpus_per_replica=2), gke_caps(), "llm-serving", queue="gpu")
    res = container(dep)["resources"]
    assert res["limits"]["nvidia.com/gpu"] == res["requests"]["nvidia.com/gpu"] == "2"
    assert dep["metadata"]["labels"][labels.QUEUE_NAME] == "gpu"
    assert dep["spec"]["template"]["metadata"]["labels"][labels.QUEUE_NAME] == "gpu"
    assert "--tensor-parallel-size" in container(dep)["args"]


def test_model_pods_carry_the_stable_role_and_model_labels():
    dep = vllm.deployment(model(), gke_caps(), "ns", queue="gpu")
    pod = dep["spec"]["template"]["metadata"]["labels"]
    assert pod[labels.ROLE] == labels.ROLE_MODEL_SERVER and pod[labels.MODEL] == "m"
    assert dep["spec"]["selector"]["matchLabels"] == {labels.ROLE: labels.ROLE_MODEL_SERVER, labels.MODEL: "m"}


def test_model_pods_run_non_root_read_only_without_a_service_account_token():
    dep = vllm.deployment(model(), gke_caps(), "ns", queue="gpu")
    pod = dep["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for c in pod["containers"] + pod["initContainers"]:
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
    mounted = {m["mountPath"] for m in container(dep)["volumeMounts"]}
    assert {"/tmp", vllm.CACHE_DIR, vllm.HOME_DIR, vllm.WEIGHTS_DIR} <= mounted


def test_weights_are_prestaged_at_the_pinned_revision_with_an_optional_token_from_a_secret():
    m = model(hf_id="Qwen/Qwen2.5-1.5B-Instruct")
    init = vllm.deployment(m, gke_caps(), "ns", queue="gpu")["spec"]["template"]["spec"]["initContainers"][0]
    cmd = init["command"]
    assert cmd[:3] == ["hf", "download", "Qwen/Qwen2.5-1.5B-Instruct"]
    assert cmd[cmd.index("--revision") + 1] == REV and cmd[cmd.index("--local-dir") + 1] == vllm.model_dir(m)
    token = next(e for e in init["env"] if e["name"] == "HF_TOKEN")
    assert token["valueFrom"]["secretKeyRef"] == {"name": names.HF_TOKEN_SECRET, "key": names.HF_TOKEN_SECRET_KEY,
                                                  "optional": True}
    assert "value" not in token


def test_the_api_key_comes_from_a_secret_and_the_server_never_contacts_the_hub():
    env = {e["name"]: e for e in container(vllm.deployment(model(), gke_caps(), "ns", queue="gpu"))["env"]}
    assert env["VLLM_API_KEY"]["valueFrom"]["secretKeyRef"]["name"] == names.API_KEY_SECRET
    assert env["HF_HUB_OFFLINE"]["value"] == "1"
    assert "HF_TOKEN" not in env


def test_probes_use_vllm_health_endpoint():
    c = container(vllm.deployment(model(), gke_caps(), "ns", queue="gpu"))
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert c["startupProbe"]["failureThreshold"] * c["startupProbe"]["periodSeconds"] >= 900


@pytest.mark.parametrize(("min_r", "max_r", "strategy", "pdb"), [
    (0, 1, "Recreate", False), (1, 3, "RollingUpdate", False), (2, 4, "RollingUpdate", True)])
def test_rollout_is_zero_downtime_where_replicas_allow_and_a_pdb_guards_two_or_more(min_r, max_r, strategy, pdb):
    m = model(min_replicas=min_r, max_replicas=max_r)
    dep = vllm.deployment(m, gke_caps(), "ns", queue="gpu")
    assert dep["spec"]["strategy"]["type"] == strategy
    if strategy == "RollingUpdate":
        assert dep["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    assert (vllm.disruption_budget(m, "ns") is not None) is pdb
    assert dep["spec"]["replicas"] == min_r


def test_gke_placement_comes_from_the_capability_object():
    sched = vllm.gpu_scheduling(gke_caps())
    term = sched["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
    assert term["matchExpressions"] == [{"key": "cloud.google.com/gke-accelerator", "operator": "In",
                                         "values": ["nvidia-l4"]}]
    assert sched["tolerations"] == [{"key": GKE_TAINT.key, "operator": "Equal", "value": GKE_TAINT.value,
                                     "effect": "NoSchedule"}]
    assert "runtimeClassName" not in sched


def test_k3s_placement_uses_its_own_label_runtime_class_and_no_toleration():
    sched = vllm.gpu_scheduling(K3S_CAPS)
    term = sched["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
    assert term["matchExpressions"][0]["key"] == "nvidia.com/gpu.product"
    assert sched["runtimeClassName"] == "nvidia" and "tolerations" not in sched


def test_model_service_is_headless_so_it_offers_no_address_to_call():
    svc = vllm.service(model(), "ns")
    assert svc["spec"]["clusterIP"] == "None" and "type" not in svc["spec"]


# --- Kueue ------------------------------------------------------------------------------------


@given(st.lists(st.tuples(st.integers(1, 8), st.integers(1, 16)), min_size=1, max_size=6), st.integers(1, 200))
def test_serving_quota_is_all_models_at_max_but_never_more_than_the_pool(shapes, capacity):
    models = [model(name=f"m{i}", served_name=f"s{i}", gpus_per_replica=g, max_replicas=r)
              for i, (g, r) in enumerate(shapes)]
    cq = kueue.cluster_queues(models, {}, serving_namespace="llm-serving", tenant_namespaces={},
                              gpu_resource="nvidia.com/gpu", flavors=["nvidia-l4"], capacity=capacity)
    quota = cq["serving"]["spec"]["resourceGroups"][0]["flavors"][0]["resources"][0]["nominalQuota"]
    assert quota == min(sum(g * r for g, r in shapes), capacity)


def test_tenants_with_a_namespace_get_their_quota_in_the_shared_cohort():
    cq = kueue.cluster_queues([model()], {"search": 4, "labs": 0}, serving_namespace="llm-serving",
                              tenant_namespaces={"search": "tenant-search"}, gpu_resource="nvidia.com/gpu",
                              flavors=["nvidia-l4"], capacity=8)
    assert set(cq) == {"serving", "tenant-search"}
    tenant = cq["tenant-search"]["spec"]
    assert tenant["cohortName"] == cq["serving"]["spec"]["cohortName"] == names.COHORT
    assert tenant["namespaceSelector"] == {"matchLabels": {labels.K8S_NS_NAME: "tenant-search"}}
    assert tenant["resourceGroups"][0]["flavors"][0]["resources"][0]["nominalQuota"] == 4
    assert "fairSharing" in tenant


def test_one_flavor_per_gpu_product_with_the_taint_declared():
    flavor = kueue.resource_flavor("cloud.google.com/gke-accelerator", "nvidia-l4", GKE_TAINT)
    assert flavor["metadata"]["name"] == "nvidia-l4"
    assert flavor["spec"]["nodeLabels"] == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
    assert names.flavor("NVIDIA-GeForce-RTX-4090-SHARED") == "nvidia-geforce-rtx-4090-shared"


def test_kueue_admits_deployments_and_pods_only_in_managed_namespaces():
    config = charts.kueue_manager_config(["llm-serving", "tenant-a"])
    assert {"deployment", "pod"} <= set(config["integrations"]["frameworks"])
    expr = config["managedJobsNamespaceSelector"]["matchExpressions"][0]
    assert expr == {"key": labels.K8S_NS_NAME, "operator": "In", "values": ["llm-serving", "tenant-a"]}
    assert config["fairSharing"]["preemptionStrategies"]
    values = charts.kueue_values(["llm-serving"], ha=True)
    assert yaml.safe_load(values["managerConfig"]["controllerManagerConfigYaml"]) == charts.kueue_manager_config(
        ["llm-serving"])
    assert values["controllerManager"]["replicas"] == 2


# --- autoscaling ------------------------------------------------------------------------------


def test_scaled_object_takes_replicas_thresholds_and_cooldown_from_config():
    m = model(max_num_seqs=32, min_replicas=1, max_replicas=3,
              autoscaling={"running_ratio": 0.6, "kv_cache_usage": 0.7, "waiting_requests": 2,
                           "cooldown_seconds": 300, "polling_seconds": 10})
    so = autoscaling.scaled_object(m, "llm-serving", "llm-serving", "monitoring")["spec"]
    replicas = (so["minReplicaCount"], so["maxReplicaCount"], so["cooldownPeriod"], so["pollingInterval"])
    assert replicas == (1, 3, 300, 10)
    by_name = {t["name"]: t for t in so["triggers"]}
    assert set(by_name) == {"running-ratio", "kv-cache", "waiting"}
    assert by_name["running-ratio"]["metadata"]["threshold"] == "0.6"
    assert by_name["running-ratio"]["metadata"]["query"].endswith("/ 32")
    assert "vllm:num_requests_running" in by_name["running-ratio"]["metadata"]["query"]
    assert by_name["kv-cache"]["metadata"]["threshold"] == "0.7"
    assert "vllm:kv_cache_usage_perc" in by_name["kv-cache"]["metadata"]["query"]
    assert by_name["waiting"]["metadata"]["threshold"] == "2"
    assert all(t["metricType"] == "AverageValue" for t in so["triggers"])
    assert so["scaleTargetRef"]["name"] == names.vllm("m")
    assert so["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300


def test_null_results_are_errors_for_always_on_models_and_zero_for_scale_to_zero_models():
    always_on = autoscaling.scaled_object(model(min_replicas=1, max_replicas=2), "ns", "ns", "monitoring")["spec"]
    assert {t["metadata"]["ignoreNullValues"] for t in always_on["triggers"]} == {"false"}
    assert always_on["fallback"]["behavior"] == "currentReplicasIfHigher"
    to_zero = autoscaling.scaled_object(model(min_replicas=0), "ns", "ns", "monitoring")["spec"]
    assert {t["metadata"]["ignoreNullValues"] for t in to_zero["triggers"]} == {"true"}
    assert "fallback" not in to_zero


def test_scale_from_zero_activates_on_the_gateway_side_request_counter():
    to_zero = {t["name"]: t for t in autoscaling.triggers(model(min_replicas=0), "llm-serving", "http://p:9090")}
    req = to_zero["requests"]["metadata"]
    assert req["activationThreshold"] == "0"
    assert "inference_objective_request_error_total" in req["query"] and "vector(0)" in req["query"]
    assert "requests" not in {t["name"] for t in autoscaling.triggers(model(min_replicas=1), "ns", "http://p")}


def test_keda_reads_the_in_cluster_prometheus():
    url = f"http://prometheus-server.monitoring.svc.cluster.local:{ports.PROMETHEUS_HTTP}"
    assert autoscaling.prometheus_url("monitoring") == url
    jobs = {j["job_name"]: j for j in charts.prometheus_scrape_configs("llm-serving", "llm-gateway")}
    assert set(jobs) == set(charts.SCRAPE_JOBS)
    vllm_job = jobs["model-servers"]
    assert vllm_job["kubernetes_sd_configs"][0]["namespaces"] == {"names": ["llm-serving"]}
    assert {"source_labels": ["__meta_kubernetes_pod_label_llmplatform_io_role"], "regex": labels.ROLE_MODEL_SERVER,
            "action": "keep"} in vllm_job["relabel_configs"]


# --- routing ----------------------------------------------------------------------------------


def test_route_matches_the_models_header_and_targets_only_its_inference_pool():
    m = model(name="qwen", served_name="qwen2.5")
    rule = routing.http_route(m, "llm-gateway", "llm-serving", timeout_seconds=600)["spec"]["rules"][0]
    assert rule["matches"][0]["headers"] == [{"type": "Exact", "name": "X-Gateway-Model-Name", "value": "qwen2.5"}]
    assert rule["backendRefs"] == [{"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": "qwen",
                                    "namespace": "llm-serving"}]
    assert routing.model_headers(m) == {"X-Gateway-Model-Name": "qwen2.5"}


def test_pool_selects_the_models_servers_and_names_its_epp():
    m = model(name="qwen")
    spec = routing.inference_pool(m, "llm-serving")["spec"]
    assert spec["selector"]["matchLabels"] == vllm.selector_labels(m)
    assert spec["targetPorts"] == [{"number": ports.VLLM_HTTP}]
    assert spec["endpointPickerRef"]["name"] == names.epp("qwen") == routing.epp_service(m, "x")["metadata"]["name"]
    assert routing.epp_service(m, "x")["spec"]["selector"][labels.ROLE] == labels.ROLE_EPP


def test_epp_pods_are_labelled_for_network_policy_and_serve_plaintext_grpc_in_cluster():
    m = model(name="qwen")
    dep = routing.epp_deployment(m, "llm-serving", "llm-serving")
    assert dep["spec"]["template"]["metadata"]["labels"][labels.ROLE] == labels.ROLE_EPP
    args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--pool-name") + 1] == "qwen" and "--secure-serving=false" in args
    assert yaml.safe_load(routing.epp_plugins_config())["kind"] == "EndpointPickerConfig"


def test_gateway_is_in_cluster_only_and_accepts_routes_from_its_own_namespace():
    gw = routing.gateway("llm-gateway")
    assert gw["spec"]["gatewayClassName"] == "istio"
    assert gw["spec"]["infrastructure"]["labels"][labels.ROLE] == labels.ROLE_GATEWAY
    assert gw["spec"]["infrastructure"]["annotations"]["networking.istio.io/service-type"] == "ClusterIP"
    assert gw["spec"]["listeners"][0]["allowedRoutes"]["namespaces"] == {"from": "Same"}
    grant = routing.reference_grant("llm-serving", "llm-gateway")["spec"]
    assert grant["from"] == [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "llm-gateway"}]
    assert grant["to"] == [{"group": "inference.networking.k8s.io", "kind": "InferencePool"}]


# --- pins and names ---------------------------------------------------------------------------


@pytest.mark.parametrize("image", images.ALL_IMAGES)
def test_every_image_is_pinned_by_digest(image):
    assert is_pinned_by_digest(image)


@pytest.mark.parametrize("pin", charts.ALL_CHARTS, ids=lambda p: p.release)
def test_every_chart_is_pinned_to_an_exact_release(pin):
    assert re.fullmatch(r"\d+\.\d+\.\d+", pin.version)
    assert pin.repo or pin.chart.startswith("oci://")


def test_istiod_enables_the_inference_extension_and_restricted_gateway_pods():
    values = charts.istiod_values()
    assert values["env"]["ENABLE_GATEWAY_API_INFERENCE_EXTENSION"] == "true"
    assert values["gateways"]["seccompProfile"] == {"type": "RuntimeDefault"}


def test_gateway_url_names_istios_service_for_the_gateway():
    assert names.GATEWAY_SERVICE == "inference-gateway-istio"


@given(st.from_regex(r"[a-z]([-a-z0-9]{0,30}[a-z0-9])?", fullmatch=True))
def test_every_per_model_name_fits_a_dns_label_for_any_valid_model_name(name):
    for derived in (names.vllm(name), names.epp(name), names.pool(name)):
        assert len(derived) <= naming.K8S_DNS_LABEL_MAX
