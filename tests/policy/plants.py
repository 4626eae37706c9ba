"""One planted violation per rule: each edits a governed copy of the real prod plan in place.

`PLANTS` maps a plant id to (edit, the policy that must catch it). Every edit asserts that it found
what it edits, so a plant can never silently become a no-op when the rendering changes.
"""

from __future__ import annotations

import yaml

from llmplatform import labels as L
from llmplatform import naming
from llmplatform.controls.sr3_fail_closed.predicates import LITELLM_CONFIG_KEY
from tests.policy import plans
from tests.policy.plans import PINNED, Doc, add_object, find, peer, remove_objects, template_role


def _netpols(doc: Doc, ns: str) -> list[Doc]:
    return [o for _, o in plans.objects(doc) if o["kind"] == "NetworkPolicy" and o["metadata"]["namespace"] == ns]


def _ingress_to(doc: Doc, ns: str, r: str) -> Doc:
    """The first ingress rule of a policy in `ns` that selects pods of role `r`."""
    for np in _netpols(doc, ns):
        if (np["spec"].get("podSelector") or {}).get("matchLabels", {}).get(L.ROLE) == r and np["spec"].get("ingress"):
            return np["spec"]["ingress"][0]
    raise AssertionError(f"no ingress rule for role {r} in {ns}")


def drop_default_deny(doc: Doc) -> None:
    from llmplatform.controls.sr1_network.predicates import INGRESS, denies_all

    removed = remove_objects(doc, lambda o: o["kind"] == "NetworkPolicy" and o["metadata"]["namespace"] ==
                             naming.NS_SERVING and denies_all(o, INGRESS))
    assert removed


def or_split_selectors(doc: Doc) -> None:
    rule = _ingress_to(doc, naming.NS_GATEWAY, L.ROLE_GATEWAY)
    both = next(p for p in rule["from"] if "namespaceSelector" in p and "podSelector" in p)
    rule["from"] = [{"namespaceSelector": both["namespaceSelector"]}, {"podSelector": both["podSelector"]}]


def any_namespace_label_match(doc: Doc) -> None:
    rule = _ingress_to(doc, naming.NS_SERVING, L.ROLE_MODEL_SERVER)
    rule["from"] = [{"namespaceSelector": {}, "podSelector": {"matchLabels": {L.ROLE: L.ROLE_GATEWAY}}}]


def extra_allow(doc: Doc) -> None:
    add_object(doc, "planted-extra-allow", {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "debug-access", "namespace": naming.NS_SERVING},
        "spec": {"podSelector": {"matchLabels": {L.ROLE: L.ROLE_MODEL_SERVER}}, "policyTypes": ["Ingress"],
                 "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {L.K8S_NS_NAME: "tenant-search"}}}]}]}})


def identity_rule_missing(doc: Doc) -> None:
    from llmplatform.controls.sr1_identity.predicates import is_identity_rule

    assert remove_objects(doc, is_identity_rule)


def sr2_rule_only_audits(doc: Doc) -> None:
    for _, obj in plans.objects(doc):
        if obj["kind"] == "ValidatingAdmissionPolicyBinding" and "sr2" in obj["spec"]["policyName"]:
            obj["spec"]["validationActions"] = ["Audit"]
            return
    raise AssertionError("no SR2 binding")


def datapath_legacy(doc: Doc) -> None:
    cluster = next(r["inputs"] for r in doc["resources"] if r["type"] == "gcp:container/cluster:Cluster")
    cluster["datapathProvider"] = "LEGACY_DATAPATH"


def datapath_unset(doc: Doc) -> None:
    cluster = next(r["inputs"] for r in doc["resources"] if r["type"] == "gcp:container/cluster:Cluster")
    del cluster["datapathProvider"]


def gpu_pod_init_container_unqueued(doc: Doc) -> None:
    add_object(doc, "planted-gpu-pod", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "warmup", "namespace": naming.NS_SERVING},
        # Each plant breaks one rule only: the planted workloads run as a named ServiceAccount.
        "spec": {"serviceAccountName": "vllm", "initContainers": [{"name": "warm", "image": PINNED,
                                     "resources": {"limits": {"nvidia.com/gpu": "1"}}}],
                 "containers": [{"name": "main", "image": PINNED}]}})


def mig_resource_unqueued(doc: Doc) -> None:
    add_object(doc, "planted-mig-job", {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "bench", "namespace": naming.NS_SERVING},
        "spec": {"template": {"metadata": {"labels": {L.QUEUE_NAME: "gpu"}}, "spec": {
            "restartPolicy": "Never", "serviceAccountName": "vllm",
            "containers": [{"name": "bench", "image": PINNED,
                            "resources": {"requests": {"nvidia.com/mig-1g.10gb": "1"}}}]}}}})


def deployment_template_unqueued(doc: Doc) -> None:
    vllm = find(doc, "Deployment", lambda o: template_role(o) == L.ROLE_MODEL_SERVER)
    del vllm["spec"]["template"]["metadata"]["labels"][L.QUEUE_NAME]


def _litellm_config(doc: Doc) -> tuple[Doc, dict]:
    cm = find(doc, "ConfigMap", lambda o: "general_settings" in (o.get("data") or {}).get(LITELLM_CONFIG_KEY, ""))
    return cm, yaml.safe_load(cm["data"][LITELLM_CONFIG_KEY])


def _set_general(doc: Doc, **settings) -> None:
    cm, config = _litellm_config(doc)
    config["general_settings"].update(settings)
    cm["data"][LITELLM_CONFIG_KEY] = yaml.safe_dump(config, sort_keys=False)


def reconciler_as_default_service_account(doc: Doc) -> None:
    job = find(doc, "Job", lambda o: template_role(o) == L.ROLE_TENANT_RECONCILER)
    del job["spec"]["template"]["spec"]["serviceAccountName"]


def model_server_as_default_service_account(doc: Doc) -> None:
    vllm = find(doc, "Deployment", lambda o: template_role(o) == L.ROLE_MODEL_SERVER)
    vllm["spec"]["template"]["spec"]["serviceAccountName"] = "default"


def allow_requests_on_db_unavailable(doc: Doc) -> None:
    _set_general(doc, allow_requests_on_db_unavailable=True)


def long_key_cache_ttl(doc: Doc) -> None:
    _set_general(doc, user_api_key_cache_ttl=600)


def cnpg_one_instance(doc: Doc) -> None:
    find(doc, "Cluster", lambda o: o["apiVersion"].startswith("postgresql.cnpg.io/"))["spec"]["instances"] = 1


def replicas_without_redis(doc: Doc) -> None:
    find(doc, "Deployment", lambda o: template_role(o) == L.ROLE_TENANT_GATEWAY)["spec"]["replicas"] = 2
    assert remove_objects(doc, lambda o: o["kind"] in ("StatefulSet", "Deployment")
                          and template_role(o) == L.ROLE_BUDGET_CACHE)


def autoscaled_without_redis(doc: Doc) -> None:
    """One gateway pod by its own count, but an HPA that may run four: four budgets without shared counters."""
    gateway = find(doc, "Deployment", lambda o: template_role(o) == L.ROLE_TENANT_GATEWAY)
    gateway["spec"].pop("replicas", None)
    meta = gateway["metadata"]
    remove_objects(doc, lambda o: o["kind"] == "HorizontalPodAutoscaler")
    add_object(doc, "planted-gateway-hpa", {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": meta["name"], "namespace": meta.get("namespace")},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": meta["name"]},
                 "minReplicas": 1, "maxReplicas": 4}})
    # Another plant (replicas-without-redis) may already have removed the budget cache.
    remove_objects(doc, lambda o: o["kind"] in ("StatefulSet", "Deployment") and template_role(o) == L.ROLE_BUDGET_CACHE)
    assert not any(template_role(o) == L.ROLE_BUDGET_CACHE for _, o in plans.objects(doc))


def image_by_tag(doc: Doc) -> None:
    epp = find(doc, "Deployment", lambda o: template_role(o) == L.ROLE_EPP)
    container = epp["spec"]["template"]["spec"]["containers"][0]
    container["image"] = container["image"].split("@")[0]


def plaintext_secret_in_env(doc: Doc) -> None:
    litellm = find(doc, "Deployment", lambda o: template_role(o) == L.ROLE_TENANT_GATEWAY)
    litellm["spec"]["template"]["spec"]["containers"][0]["env"].append({"name": "HF_TOKEN", "value": "hf_" + "a" * 34})


def plaintext_secret_in_configmap(doc: Doc) -> None:
    _set_general(doc, master_key="sk-planted-master-key-0123456789")


def vllm_load_balancer(doc: Doc) -> None:
    """A LoadBalancer Service on a model server: clients would reach vLLM's unguarded routes."""
    svc = find(doc, "Service", lambda o: o["metadata"]["name"].startswith("vllm-"))
    svc["spec"]["type"] = "LoadBalancer"


def inference_gateway_listener_exposed(doc: Doc) -> None:
    """The inference Gateway without its metadata annotation: istiod 1.29.2 generates a LoadBalancer Service for
    its listener (the annotation under spec.infrastructure, which stays, does not decide the type)."""
    gw = find(doc, "Gateway", lambda o: o["metadata"]["name"] == "inference-gateway")
    assert gw["metadata"]["annotations"].pop("networking.istio.io/service-type") == "ClusterIP"
    assert gw["spec"]["infrastructure"]["annotations"]["networking.istio.io/service-type"] == "ClusterIP"


def budget_cache_node_port(doc: Doc) -> None:
    svc = find(doc, "Service", lambda o: o["metadata"]["name"] == "budget-cache")
    svc["spec"]["type"] = "NodePort"


def edge_service_widened_to_tenant_gateway_namespace(doc: Doc) -> None:
    """The internal load balancer selecting every platform pod of the namespace (Postgres and Redis too)."""
    svc = find(doc, "Service", lambda o: o["metadata"]["name"] == "litellm-edge")
    svc["spec"]["selector"] = {L.PART_OF: "llm-platform"}


def widened_ip_block(doc: Doc) -> None:
    """The inference gateway admitting the edge's client range (a widened ipBlock)."""
    _ingress_to(doc, naming.NS_GATEWAY, L.ROLE_GATEWAY)["from"].append({"ipBlock": {"cidr": "10.128.0.0/16"}})


PLANTS = {
    "drop-default-deny": (drop_default_deny, "sr1-default-deny"),
    "or-split-selectors": (or_split_selectors, "sr1-only-litellm-reaches-serving"),
    "any-namespace-label-match": (any_namespace_label_match, "sr1-only-litellm-reaches-serving"),
    "extra-allow": (extra_allow, "sr1-only-litellm-reaches-serving"),
    "identity-rule-missing": (identity_rule_missing, "sr1-identity-rule"),
    "datapath-legacy": (datapath_legacy, "sr1-dataplane-v2"),
    "datapath-unset": (datapath_unset, "sr1-dataplane-v2"),
    "reconciler-as-default-service-account": (reconciler_as_default_service_account,
                                              "sr1-no-default-service-account"),
    "model-server-as-default-service-account": (model_server_as_default_service_account,
                                                "sr1-no-default-service-account"),
    "vllm-load-balancer": (vllm_load_balancer, "edge-only-litellm-exposed"),
    "inference-gateway-listener-exposed": (inference_gateway_listener_exposed, "edge-only-litellm-exposed"),
    "budget-cache-node-port": (budget_cache_node_port, "edge-only-litellm-exposed"),
    "edge-service-widened": (edge_service_widened_to_tenant_gateway_namespace, "edge-only-litellm-exposed"),
    "widened-ip-block": (widened_ip_block, "sr1-only-litellm-reaches-serving"),
    "sr2-rule-only-audits": (sr2_rule_only_audits, "sr2-admission-enforced"),
    "gpu-pod-init-container-unqueued": (gpu_pod_init_container_unqueued, "sr2-gpu-workloads-queued"),
    "mig-resource-unqueued": (mig_resource_unqueued, "sr2-gpu-workloads-queued"),
    "deployment-template-unqueued": (deployment_template_unqueued, "sr2-gpu-workloads-queued"),
    "allow-requests-on-db-unavailable": (allow_requests_on_db_unavailable, "sr3-prod-fails-closed"),
    "long-key-cache-ttl": (long_key_cache_ttl, "sr3-prod-fails-closed"),
    "cnpg-one-instance": (cnpg_one_instance, "sr3-prod-budget-db-ha"),
    "replicas-without-redis": (replicas_without_redis, "sr3-shared-budget-counters"),
    "autoscaled-without-redis": (autoscaled_without_redis, "sr3-shared-budget-counters"),
    "image-by-tag": (image_by_tag, "hygiene-images-pinned"),
    "plaintext-secret-in-env": (plaintext_secret_in_env, "hygiene-no-plaintext-secrets"),
    "plaintext-secret-in-configmap": (plaintext_secret_in_configmap, "hygiene-no-plaintext-secrets"),
}


def planted(doc: Doc, *ids: str) -> Doc:
    """A governed copy of `doc` with the named plants applied."""
    out = plans.governed(doc)
    for plant_id in ids:
        PLANTS[plant_id][0](out)
    return out


__all__ = ["PLANTS", "peer", "planted"]
