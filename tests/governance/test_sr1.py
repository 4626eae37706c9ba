"""SR1 NetworkPolicies: selector discipline (property), default-deny everywhere, the allow-list, and
network-config-analyzer's verdict on the rendered set."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmplatform import labels as L
from llmplatform import naming, ports
from llmplatform.controls.sr1_identity import render as identity
from llmplatform.controls.sr1_host_isolation import render as podsecurity
from llmplatform.controls.sr1_network import render as sr1
from llmplatform.controls.sr1_network.render import NetworkFacts
from llmplatform.serving.charts import GATEWAY_METRICS_PORT
from llmp.verify.manifests.core import validate_core

TGW, SERVING, GATEWAY = naming.NS_TENANT_GATEWAY, naming.NS_SERVING, naming.NS_GATEWAY

tenant_names = st.lists(st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True), max_size=4, unique=True)
cidrs = st.lists(st.sampled_from(["172.16.0.32/28", "10.0.0.0/8", "192.168.10.0/24", "35.1.2.3/32"]),
                 max_size=2, unique=True)
facts_strategy = st.builds(
    NetworkFacts,
    tenant_namespaces=tenant_names.map(lambda names: tuple(f"tenant-{n}" for n in names)),
    kube_api_cidrs=cidrs.map(tuple),
    model_download_egress=st.booleans(),
    budget_backups=st.booleans(),
    client_cidrs=cidrs.map(tuple),
    gateway_metrics_scrape=st.booleans(),
)


def by_name(policies: list[dict], ns: str, name: str) -> dict:
    return next(p for p in policies if p["metadata"] == {**p["metadata"], "namespace": ns, "name": name})


def rule_ports(rule: dict) -> set[tuple[str, int]]:
    return {(p["protocol"], p["port"]) for p in rule.get("ports", [])}


def peer_key(peer: dict) -> Any:
    return repr(sorted(peer.items()))


# ---- properties over every rendering ------------------------------------------------------------------


@given(facts_strategy)
def test_every_peer_that_names_pods_pairs_namespace_and_pod_selector_in_one_peer(facts):
    for policy in sr1.all_policies(facts):
        assert sr1.selector_problems(policy) == []
        for peer in sr1.peers(policy):
            assert peer.get("namespaceSelector") != {}, "namespaceSelector: {} lets any namespace wear a label"
            if "podSelector" in peer:
                assert peer["namespaceSelector"]["matchLabels"].keys() == {L.K8S_NS_NAME}
                assert peer["podSelector"].get("matchLabels"), "a pod peer names its pods"


@given(facts_strategy)
def test_every_managed_namespace_has_default_deny_for_both_directions_and_dns(facts):
    policies = sr1.all_policies(facts)
    for ns in (*sr1.MANAGED_NAMESPACES, *facts.tenant_namespaces):
        deny = by_name(policies, ns, "sr1-default-deny")["spec"]
        assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": [], "egress": []}
        dns = by_name(policies, ns, "sr1-allow-dns")["spec"]
        assert dns["podSelector"] == {} and dns["policyTypes"] == ["Egress"]
        assert dns["egress"] == [{"to": [{"namespaceSelector": {"matchLabels": {L.K8S_NS_NAME: "kube-system"}},
                                          "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                                  "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]


@given(facts_strategy)
def test_policies_select_pods_only_by_the_role_label_and_every_rule_names_its_ports(facts):
    for policy in sr1.all_policies(facts):
        selector = policy["spec"]["podSelector"]
        # Prometheus is the chart's pod: selected by the chart's own name label (bound to its ServiceAccount).
        assert selector == {} or set(selector["matchLabels"]) == {L.ROLE} or \
            selector["matchLabels"] == dict(sr1.PROMETHEUS_POD_LABELS)
        for direction in ("ingress", "egress"):
            for rule in policy["spec"].get(direction, []):
                assert rule.get("ports"), f"{policy['metadata']['name']}: a rule without ports opens every port"


@given(facts_strategy)
def test_budget_store_accepts_only_litellm_its_own_instances_and_the_cnpg_operator(facts):
    """... and Prometheus, on the database's metrics port alone."""
    policies = sr1.all_policies(facts)
    allowed = {peer_key(sr1.role_peer(TGW, L.ROLE_TENANT_GATEWAY)), peer_key(sr1.role_peer(TGW, L.ROLE_BUDGET_DB)),
               peer_key(sr1.pod_peer(naming.NS_CNPG, sr1.CNPG_OPERATOR_POD_LABELS))}
    prometheus = peer_key(sr1.pod_peer(naming.NS_MONITORING, {L.NAME: "prometheus"}))
    for role in (L.ROLE_BUDGET_DB, L.ROLE_BUDGET_CACHE):
        for policy in policies:
            if policy["spec"]["podSelector"].get("matchLabels", {}).get(L.ROLE) == role:
                for rule in policy["spec"].get("ingress", []):
                    peers = {peer_key(p) for p in rule["from"]}
                    if prometheus in peers:
                        assert role == L.ROLE_BUDGET_DB and peers == {prometheus}
                        assert rule_ports(rule) == {("TCP", ports.CNPG_METRICS)}
                    else:
                        assert peers <= allowed


# ---- the allow-list ---------------------------------------------------------------------------------


def test_model_servers_take_port_8000_from_the_gateway_only_and_the_metrics_port_from_the_picker_and_prometheus():
    policy = sr1.model_server_policy(NetworkFacts())
    rules = policy["spec"]["ingress"]
    assert [rule_ports(r) for r in rules] == [{("TCP", ports.VLLM_HTTP)}] + [{("TCP", ports.VLLM_METRICS)}] * 2
    assert [r["from"] for r in rules] == [
        [sr1.role_peer(GATEWAY, L.ROLE_GATEWAY)], [sr1.role_peer(SERVING, L.ROLE_EPP)],
        [sr1.pod_peer(naming.NS_MONITORING, {L.NAME: "prometheus"})]]


def test_the_inference_gateway_listener_is_litellms_alone_and_prometheus_gets_only_the_metrics_port():
    rules = sr1.gateway_policy(NetworkFacts())["spec"]["ingress"]
    assert rules[0] == {"from": [sr1.role_peer(TGW, L.ROLE_TENANT_GATEWAY)], "ports": sr1.tcp(ports.GATEWAY_HTTP)}
    assert rules[1]["ports"] == sr1.tcp(GATEWAY_METRICS_PORT) == sr1.tcp(sr1.GATEWAY_METRICS)
    assert len(sr1.gateway_policy(NetworkFacts(gateway_metrics_scrape=False))["spec"]["ingress"]) == 1


def test_the_endpoint_picker_grpc_port_is_the_gateways_alone():
    rules = sr1.endpoint_picker_policy(NetworkFacts())["spec"]["ingress"]
    assert rules == [{"from": [sr1.role_peer(GATEWAY, L.ROLE_GATEWAY)], "ports": sr1.tcp(ports.EPP_GRPC)},
                     {"from": [sr1.pod_peer(naming.NS_MONITORING, {L.NAME: "prometheus"})],
                      "ports": sr1.tcp(ports.EPP_METRICS)}]


def test_litellm_is_open_to_tenants_everywhere_but_the_platforms_own_serving_namespaces():
    facts = NetworkFacts(client_cidrs=("10.128.0.0/20",))
    rule = sr1.litellm_policy(facts)["spec"]["ingress"][0]
    assert rule["ports"] == sr1.tcp(ports.LITELLM_HTTP)
    assert rule["from"][0] == {"namespaceSelector": {"matchExpressions": [
        {"key": L.K8S_NS_NAME, "operator": "NotIn", "values": sorted([SERVING, GATEWAY, TGW])}]}}
    assert rule["from"][1] == {"ipBlock": {"cidr": "10.128.0.0/20"}}


def test_litellm_egress_reaches_only_the_gateway_postgres_and_redis():
    egress = sr1.litellm_policy(NetworkFacts())["spec"]["egress"]
    assert [(r["to"], rule_ports(r)) for r in egress] == [
        ([sr1.role_peer(GATEWAY, L.ROLE_GATEWAY)], {("TCP", 80)}),
        ([sr1.role_peer(TGW, L.ROLE_BUDGET_DB)], {("TCP", 5432)}),
        ([sr1.role_peer(TGW, L.ROLE_BUDGET_CACHE)], {("TCP", 6379)})]


def test_weights_download_egress_is_https_to_public_addresses_only_and_can_be_closed():
    egress = sr1.model_server_policy(NetworkFacts())["spec"]["egress"]
    assert egress == [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(sr1.NON_PUBLIC_CIDRS)}}],
                       "ports": sr1.tcp(443)}]
    assert "169.254.0.0/16" in sr1.NON_PUBLIC_CIDRS, "the metadata server stays closed to model servers"
    assert sr1.model_server_policy(NetworkFacts(model_download_egress=False))["spec"]["egress"] == []


def test_kube_api_egress_narrows_to_the_given_ranges():
    rule = sr1.kube_api_egress(NetworkFacts(kube_api_cidrs=("172.16.0.32/28",)))
    assert rule == {"to": [{"ipBlock": {"cidr": "172.16.0.32/28"}}], "ports": sr1.tcp(443, 6443)}
    assert sr1.kube_api_egress(NetworkFacts())["to"] == [{"ipBlock": {"cidr": "0.0.0.0/0"}}]


def test_backups_open_postgres_to_gcs_and_the_metadata_server_only_when_configured():
    def egress_cidrs(f):
        return [p["ipBlock"]["cidr"] for r in sr1.budget_db_policy(f)["spec"]["egress"] for p in r["to"]
                if "ipBlock" in p]
    assert "169.254.169.252/32" not in egress_cidrs(NetworkFacts())
    assert {"169.254.169.254/32", "169.254.169.252/32"} <= set(egress_cidrs(NetworkFacts(budget_backups=True)))


def test_tenant_namespaces_may_only_call_litellm():
    egress = sr1.tenant_namespace_policies("tenant-a", NetworkFacts())[2]["spec"]["egress"]
    assert egress == [{"to": [sr1.role_peer(TGW, L.ROLE_TENANT_GATEWAY)], "ports": sr1.tcp(ports.LITELLM_HTTP)}]


def test_the_discipline_check_catches_a_planted_or_split_and_an_any_namespace_label_match():
    policy = sr1.gateway_policy(NetworkFacts())
    split = copy.deepcopy(policy)
    peer = split["spec"]["ingress"][0]["from"][0]
    split["spec"]["ingress"][0]["from"] = [{"namespaceSelector": peer["namespaceSelector"]},
                                           {"podSelector": peer["podSelector"]}]
    assert any("without a namespaceSelector" in p for p in sr1.selector_problems(split))
    anyns = copy.deepcopy(policy)
    anyns["spec"]["ingress"][0]["from"][0]["namespaceSelector"] = {}
    assert any("not by" in p for p in sr1.selector_problems(anyns))


def test_every_rendered_policy_is_strictly_valid_for_kubernetes():
    for policy in sr1.all_policies(NetworkFacts(tenant_namespaces=("tenant-a",), budget_backups=True,
                                                client_cidrs=("10.0.0.0/8",))):
        assert validate_core(policy, strict=True) == [], policy["metadata"]


# ---- network-config-analyzer ----------------------------------------------------------------------

DOCUMENTED_ALLOWANCES = (
    # (namespace, policy, ingress rule peers) that `llmp verify`'s queries predate; see docs/governance.md.
    (SERVING, "sr1-model-server", [sr1.role_peer(SERVING, L.ROLE_EPP)]),
    (GATEWAY, "sr1-inference-gateway", [sr1.pod_peer(naming.NS_MONITORING, sr1.PROMETHEUS_POD_LABELS)]),
)


def _namespaces(names) -> list[dict]:
    return [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in names]


def _without_documented_allowances(policies: list[dict]) -> list[dict]:
    out = copy.deepcopy(policies)
    for ns, name, peers in DOCUMENTED_ALLOWANCES:
        spec = by_name(out, ns, name)["spec"]
        before = len(spec["ingress"])
        spec["ingress"] = [r for r in spec["ingress"] if r["from"] != peers]
        assert len(spec["ingress"]) == before - 1, f"{ns}/{name}: the documented allowance is not rendered"
    return out


@pytest.mark.parametrize("tenants", [(), ("tenant-search", "tenant-support")], ids=["multi-team", "untrusted"])
def test_network_config_analyzer_proves_every_sr1_query_on_the_rendered_policies(tenants):
    from llmp.verify.sr1 import prove_sr1

    facts = NetworkFacts(tenant_namespaces=tenants, kube_api_cidrs=("172.16.0.32/28",), budget_backups=True)
    objects = _namespaces([*sr1.MANAGED_NAMESPACES, *tenants, naming.NS_MONITORING, naming.NS_CNPG,
                           sr1.ISTIO_NAMESPACE])
    policies = sr1.all_policies(facts)
    objects += _without_documented_allowances(policies)
    # The SR1 admission rules as the GovernancePack renders them (the proof evaluates them too).
    known = identity.platform_identities(litellm_service_account="litellm", serving_models=("qwen",))
    objects += [*identity.validating_admission_policy(identity.bindings_for(policies, known)),
                *podsecurity.validating_admission_policy(podsecurity.host_exempt_namespaces())]
    result = prove_sr1(objects)
    assert result.passed, [(q.name, q.detail) for q in result.queries if not q.passed] + result.warnings
    assert {q.kind for q in result.queries} == {"forbidden", "required", "config", "admission"}


# ---- monitoring (issue 15 defect 6) ---------------------------------------------------------------


def test_only_kedas_operator_and_metrics_server_reach_prometheus_and_only_on_its_api_port():
    facts = NetworkFacts()
    prom = by_name(sr1.all_policies(facts), naming.NS_MONITORING, "sr1-prometheus")
    assert prom["spec"]["podSelector"] == {"matchLabels": dict(sr1.PROMETHEUS_POD_LABELS)}
    (rule,) = prom["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": ports.PROMETHEUS_HTTP}]
    assert rule["from"] == [sr1.pod_peer(naming.NS_KEDA, r) for r in sr1.PROMETHEUS_READERS]


def test_prometheus_egress_is_exactly_what_its_targets_let_it_in_on_plus_the_kube_api():
    facts = NetworkFacts(kube_api_cidrs=("172.16.0.32/28",))
    policies = sr1.all_policies(facts)
    me = sr1.prometheus_peer(facts)
    admitted = sorted(
        (p["metadata"]["namespace"], str(p["spec"]["podSelector"]), str(r["ports"]))
        for p in policies for r in p["spec"].get("ingress", []) if me in r.get("from", []))
    egress = by_name(policies, naming.NS_MONITORING, "sr1-prometheus")["spec"]["egress"]
    opened = sorted((r["to"][0]["namespaceSelector"]["matchLabels"][L.K8S_NS_NAME], str(r["to"][0]["podSelector"]),
                     str(r["ports"])) for r in egress[:-1])
    assert opened == admitted and len(admitted) >= 3, "model servers, endpoint pickers and gateway proxies"
    assert egress[-1] == sr1.kube_api_egress(facts), "pod discovery (kubernetes_sd_configs)"
