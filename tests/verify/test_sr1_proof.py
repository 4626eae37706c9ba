"""The SR1 proof engine on a hand-written policy set: it passes a correct set and names each planted flaw.

These exercise the proof itself (probe pods, ingress-only forbidden queries, default-deny queries);
tests/verify/test_verify_stack.py runs it on the platform's rendered manifests.
"""

from __future__ import annotations

import pytest

from llmplatform import labels as L
from llmplatform.controls.sr1_identity import render as identity
from llmplatform.controls.sr1_host_isolation import render as podsecurity
from llmplatform.k8s.networkpolicy import (
    allow_from,
    allow_to,
    match_labels,
    namespace_is,
    network_policy,
    one_of,
    pod_peer,
    tcp,
)
from llmp.verify.sr1 import FRESH_TENANT_NS, flows, ingress_only, probe_pods, prove_sr1


def role(r):
    return match_labels({L.ROLE: r})


def peer(ns, r):
    return pod_peer(ns, role(r))


def role_in(*roles):
    return one_of(L.ROLE, roles)


DNS = allow_to([pod_peer("kube-system", match_labels({"k8s-app": "kube-dns"}))], [{"protocol": "UDP", "port": 53}])


def correct_set() -> list[dict]:
    objs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}
            for n in ("llm-serving", "llm-gateway", "llm-tenant-gateway", "monitoring", "cnpg-system", "keda")]
    for ns in ("llm-serving", "llm-gateway", "llm-tenant-gateway"):
        objs.append(network_policy("default-deny", ns, {}, ingress=[], egress=[]))
        objs.append(network_policy("dns", ns, {}, egress=[DNS]))
    objs += [
        network_policy("vllm", "llm-serving", role("model-server"),
                       ingress=[allow_from([peer("llm-gateway", "inference-gateway")], tcp(8000))]),
        network_policy("epp", "llm-serving", role("endpoint-picker"),
                       ingress=[allow_from([peer("llm-gateway", "inference-gateway")], tcp(9002))]),
        network_policy("gateway", "llm-gateway", role("inference-gateway"),
                       ingress=[allow_from([peer("llm-tenant-gateway", "tenant-gateway")], tcp(80))],
                       egress=[allow_to([pod_peer("llm-serving", role_in("model-server", "endpoint-picker"))])]),
        # Bare podSelector peers below mean "this policy's namespace": correct here, and kept as written
        # by hand so the proof is shown to accept that spelling too.
        network_policy("litellm", "llm-tenant-gateway", role("tenant-gateway"),
                       ingress=[allow_from([{"namespaceSelector": {}}], tcp(4000))],
                       egress=[allow_to([peer("llm-gateway", "inference-gateway")]),
                               allow_to([{"podSelector": role_in("budget-db", "budget-cache")}])]),
        network_policy("budget-db", "llm-tenant-gateway", role("budget-db"),
                       ingress=[allow_from([{"podSelector": role("tenant-gateway")}], tcp(5432))]),
        network_policy("budget-cache", "llm-tenant-gateway", role("budget-cache"),
                       ingress=[allow_from([{"podSelector": role("tenant-gateway")}], tcp(6379))]),
    ]
    objs += monitoring_set()
    objs += admission_rules([o for o in objs if o["kind"] == "NetworkPolicy"])
    return objs


PROMETHEUS = {"app.kubernetes.io/name": "prometheus"}
KEDA = [{"app.kubernetes.io/name": "keda-operator"}, {"app.kubernetes.io/name": "keda-operator-metrics-apiserver"}]


def monitoring_set() -> list[dict]:
    """Monitoring under default-deny; only KEDA reaches Prometheus's API."""
    return [
        network_policy("default-deny", "monitoring", {}, ingress=[], egress=[]),
        network_policy("dns", "monitoring", {}, egress=[DNS]),
        network_policy("prometheus", "monitoring", match_labels(PROMETHEUS),
                       ingress=[allow_from([pod_peer("keda", match_labels(k)) for k in KEDA], tcp(9090))]),
    ]


def admission_rules(policies: list[dict]) -> list[dict]:
    """The SR1 admission rules for `policies`, as the GovernancePack renders them."""
    known = identity.platform_identities(litellm_service_account="litellm", serving_models=("qwen",))
    return [*identity.validating_admission_policy(identity.bindings_for(policies, known)),
            *podsecurity.validating_admission_policy(podsecurity.host_exempt_namespaces())]


def policy(objs, name, ns):
    return next(o for o in objs if o["kind"] == "NetworkPolicy" and o["metadata"] == {"name": name, "namespace": ns})


def failed(objs) -> list[str]:
    result = prove_sr1(objs)
    return [q.name for q in result.queries if not q.passed] + result.warnings


def test_a_correct_policy_set_passes_every_query():
    result = prove_sr1(correct_set())
    assert result.passed, [(q.name, q.detail) for q in result.queries if not q.passed] + result.warnings
    assert {q.kind for q in result.queries} == {"forbidden", "required", "config", "admission"}
    assert result.probe_pods > 50 and result.nca_version


def test_or_split_selectors_are_caught_even_where_source_egress_masks_them():
    objs = correct_set()
    rule = policy(objs, "gateway", "llm-gateway")["spec"]["ingress"][0]
    both = rule["from"][0]
    rule["from"] = [{"namespaceSelector": both["namespaceSelector"]}, {"podSelector": both["podSelector"]}]
    # The bare podSelector also trusts LiteLLM's label in llm-gateway, where nothing binds it.
    assert failed(objs) == ["gateway-only-from-litellm", "trusted-labels-bound-to-identity"]


def test_an_any_namespace_label_match_is_caught():
    objs = correct_set()
    policy(objs, "vllm", "llm-serving")["spec"]["ingress"][0]["from"] = [
        {"namespaceSelector": {}, "podSelector": role("inference-gateway")}]
    # The label is trusted in every namespace: no ServiceAccount binding can cover that either.
    assert failed(objs) == ["model-servers-only-from-gateway", "trusted-labels-bound-to-identity"]


def test_a_missing_default_deny_is_caught():
    objs = [o for o in correct_set() if o["metadata"] != {"name": "default-deny", "namespace": "llm-serving"}]
    assert "default-deny-llm-serving" in failed(objs)


def test_an_extra_allow_to_the_budget_store_is_caught():
    objs = correct_set()
    policy(objs, "budget-db", "llm-tenant-gateway")["spec"]["ingress"].append(
        {"from": [{"namespaceSelector": namespace_is(FRESH_TENANT_NS)}]})
    assert failed(objs) == ["budget-store-only-from-litellm"]


def test_a_broken_required_path_is_caught():
    objs = correct_set()
    policy(objs, "gateway", "llm-gateway")["spec"]["ingress"][0]["ports"] = [{"port": 8080, "protocol": "TCP"}]
    assert failed(objs) == ["litellm-reaches-gateway"]


def test_probe_pods_cover_every_role_in_every_namespace_and_each_selector_combination():
    pods = probe_pods(["a", "b"], correct_set()[5:], [])
    seen = {(p["metadata"]["namespace"], p["metadata"]["labels"].get(L.ROLE)) for p in pods}
    for ns in ("a", "b"):
        assert (ns, None) in seen
        for r in ("model-server", "endpoint-picker", "inference-gateway", "tenant-gateway", "budget-db"):
            assert (ns, r) in seen


def test_ingress_only_drops_egress_rules_and_egress_only_policies():
    objs = [o for o in correct_set() if o["kind"] == "NetworkPolicy"]
    stripped = ingress_only(objs)
    assert all("egress" not in p["spec"] and p["spec"]["policyTypes"] == ["Ingress"] for p in stripped)
    assert not any(p["metadata"]["name"] == "dns" for p in stripped)


@pytest.mark.parametrize("flow", flows(), ids=lambda f: f.name)
def test_query_specs_never_split_namespace_and_pod_selectors_of_one_peer(flow):
    for pol in flow.policies:
        for rule in pol["spec"].get("ingress", []) + pol["spec"].get("egress", []):
            for p in rule.get("from", []) + rule.get("to", []):
                if "podSelector" in p:
                    assert "namespaceSelector" in p, f"{flow.name}: a pod peer without its namespace"


def test_prometheus_on_the_budget_databases_metrics_port_passes_and_on_postgres_is_caught():
    objs = correct_set()
    prometheus = pod_peer("monitoring", match_labels(PROMETHEUS))
    db = policy(objs, "budget-db", "llm-tenant-gateway")["spec"]["ingress"]
    db.append(allow_from([prometheus], tcp(9187)))
    assert "budget-store-only-from-litellm" not in failed(objs)
    db.append(allow_from([prometheus], tcp(5432)))
    assert "budget-store-only-from-litellm" in failed(objs)
