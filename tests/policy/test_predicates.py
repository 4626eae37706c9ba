"""The pure predicates the pack shares with the components: gpu, netpol, admission, secrets."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmplatform import labels as L
from llmplatform import naming, ports
from llmplatform.controls.sr2_gpu_admission import render as sr2_controls
from llmplatform.predicates import admission, secrets
from llmplatform.controls.sr2_gpu_admission import predicates as gpu
from llmplatform.controls.sr1_network import predicates as netpol
from tests.policy.plans import PINNED, network_policies, peer

# ---------------------------------------------------------------- gpu

gpu_names = st.one_of(st.just("nvidia.com/gpu"),
                      st.from_regex(r"nvidia\.com/mig-[1-7]g\.[0-9]{1,2}gb", fullmatch=True))
look_alikes = st.sampled_from(["nvidia.com/gpushare", "nvidia.com/mig", "amd.com/gpu", "nvidia.com/gpu.shared",
                               "cpu", "memory"])
container_lists = st.sampled_from(["containers", "initContainers", "ephemeralContainers"])
fields = st.sampled_from(["requests", "limits"])


def pod(list_name: str, field: str, resource: str, labels: dict | None = None) -> dict:
    spec = {"containers": [{"name": "main", "image": PINNED}]}
    spec.setdefault(list_name, []).append({"name": "x", "image": PINNED, "resources": {field: {resource: "1"}}})
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": labels or {}}, "spec": spec}


def deployment(template_labels: dict, labels: dict, resource: str = "nvidia.com/gpu") -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "labels": labels},
            "spec": {"template": {"metadata": {"labels": template_labels}, "spec": {"containers": [
                {"name": "c", "image": PINNED, "resources": {"limits": {resource: "1"}}}]}}}}


@given(container_lists, fields, gpu_names)
def test_a_gpu_in_any_container_list_and_field_is_found_and_needs_a_queue(list_name, field, resource):
    obj = pod(list_name, field, resource)
    assert [r.resource for r in gpu.gpu_requests(obj)] == [resource]
    assert gpu.gpu_workload_violations(obj)
    assert not gpu.gpu_workload_violations(pod(list_name, field, resource, {L.QUEUE_NAME: "gpu"}))


@given(container_lists, fields, look_alikes)
def test_look_alike_resources_are_not_gpus(list_name, field, resource):
    assert not gpu.gpu_requests(pod(list_name, field, resource))


@given(st.booleans(), st.booleans())
def test_a_gpu_workload_needs_the_queue_label_on_the_object_and_its_template(on_object, on_template):
    queued = {L.QUEUE_NAME: "gpu"}
    obj = deployment(queued if on_template else {}, queued if on_object else {})
    assert bool(gpu.gpu_workload_violations(obj)) == (not (on_object and on_template))


def test_an_empty_queue_label_does_not_count_and_cronjob_job_templates_are_checked():
    assert gpu.gpu_workload_violations(deployment({L.QUEUE_NAME: ""}, {L.QUEUE_NAME: "gpu"}))
    cron = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"labels": {L.QUEUE_NAME: "q"}}, "spec": {
        "jobTemplate": {"metadata": {}, "spec": {"template": {"metadata": {"labels": {L.QUEUE_NAME: "q"}}, "spec": {
            "containers": [{"name": "c", "resources": {"requests": {"nvidia.com/gpu": 1}}}]}}}}}}
    assert gpu.unqueued_metadata(cron) == ["spec.jobTemplate.metadata"]


def test_pod_specs_cover_hygiene_kinds_sr2_does_not_admit():
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "spec": {"template": {"spec": {"containers": [{}]}}}}
    assert [p for p, _ in gpu.pod_specs(ds)] == ["spec.template.spec"]
    assert gpu.workload_kind(ds) is None


# ---------------------------------------------------------------- netpol

label_keys = st.sampled_from([L.ROLE, L.NAME, "app", "tier"])
label_values = st.sampled_from(["model-server", "inference-gateway", "prometheus", "x"])


@given(st.dictionaries(label_keys, label_values, max_size=3), st.dictionaries(label_keys, label_values, max_size=3))
def test_a_match_labels_selector_may_match_exactly_when_no_known_label_contradicts_it(selector, known):
    expected = all(known.get(k, v) == v for k, v in selector.items())
    assert netpol.may_match({"matchLabels": selector}, known) == expected


@given(st.sampled_from([L.ROLE_TENANT_GATEWAY, L.ROLE_GATEWAY]), st.sampled_from([naming.NS_TENANT_GATEWAY,
                                                                                   naming.NS_GATEWAY]))
def test_splitting_one_peer_into_namespace_and_pod_peers_is_always_a_violation(role, ns):
    whole = peer(ns, role)
    policy = {"kind": "NetworkPolicy", "metadata": {"namespace": naming.NS_GATEWAY},
              "spec": {"podSelector": {"matchLabels": {L.ROLE: L.ROLE_GATEWAY}}, "policyTypes": ["Ingress"],
                       "ingress": [{"from": [{"namespaceSelector": whole["namespaceSelector"]},
                                             {"podSelector": whole["podSelector"]}]}]}}
    problems = netpol.ingress_violations(policy, {})
    assert len(problems) == 2 and all("ORed" in p for p in problems)


def test_the_contract_set_of_network_policies_has_no_violations_and_full_default_deny():
    nps = network_policies()
    assert [p for np in nps for p in netpol.ingress_violations(np, {})] == []
    assert netpol.default_deny_gaps(netpol.MANAGED_NAMES, nps) == {}


@pytest.mark.parametrize("peer_,reason", [
    ({"ipBlock": {"cidr": "0.0.0.0/0"}}, "ipBlock"),
    ({"namespaceSelector": {}, "podSelector": {"matchLabels": {L.ROLE: L.ROLE_TENANT_GATEWAY}}}, "any namespace"),
    ({"namespaceSelector": {"matchLabels": {L.K8S_NS_NAME: naming.NS_TENANT_GATEWAY}}}, "every pod"),
    ({"namespaceSelector": {"matchExpressions": [{"key": L.K8S_NS_NAME, "operator": "NotIn", "values": ["x"]}]},
      "podSelector": {"matchLabels": {L.ROLE: L.ROLE_TENANT_GATEWAY}}}, "does not pin"),
])
def test_each_kind_of_overbroad_peer_is_named(peer_, reason):
    problem = netpol.peer_problem(peer_, None, naming.NS_GATEWAY, netpol.SR1_CONTRACT[0].sources)
    assert problem and reason in problem


def test_a_scraper_is_allowed_only_on_its_metrics_port():
    prom = {"namespaceSelector": {"matchLabels": {L.K8S_NS_NAME: naming.NS_MONITORING}},
            "podSelector": {"matchLabels": {L.NAME: "prometheus"}}}
    epp_sources = netpol.SR1_CONTRACT[2].sources
    assert netpol.peer_problem(prom, [{"port": ports.EPP_METRICS}], naming.NS_SERVING, epp_sources) is None
    assert "ports other than" in netpol.peer_problem(prom, [{"port": ports.EPP_GRPC}], naming.NS_SERVING, epp_sources)
    assert netpol.peer_problem(prom, None, naming.NS_SERVING, epp_sources)


def test_policies_that_cannot_select_a_protected_role_are_not_judged():
    np = {"kind": "NetworkPolicy", "metadata": {"namespace": naming.NS_SERVING},
          "spec": {"podSelector": {"matchLabels": {L.ROLE: L.ROLE_BUDGET_DB}}, "ingress": [{}]}}
    assert netpol.ingress_violations(np, {}) == []
    np["spec"]["podSelector"] = {}
    assert netpol.ingress_violations(np, {})  # {} selects model servers too: an allow-all rule


@given(st.booleans(), st.booleans(), st.booleans())
def test_default_deny_needs_an_empty_selector_the_direction_and_no_rules(empty_selector, listed, no_rules):
    np = {"metadata": {"namespace": "n"}, "spec": {
        "podSelector": {} if empty_selector else {"matchLabels": {"a": "b"}},
        "policyTypes": ["Egress"] if listed else ["Ingress"], "egress": [] if no_rules else [{"to": []}]}}
    assert netpol.denies_all(np, netpol.EGRESS) == (empty_selector and listed and no_rules)


# ---------------------------------------------------------------- admission


def test_the_rendered_sr2_controls_are_recognised_and_enforce():
    exempt = ("kube-system",)
    vap, binding = sr2_controls.validating_admission_policy("p", enforce=True, exempt_namespaces=exempt)
    kyverno = sr2_controls.kyverno_cluster_policy("p", enforce=True, exempt_namespaces=exempt)
    names = sr2_controls.GPU_RESOURCE_NAMES + sr2_controls.GPU_RESOURCE_PREFIXES
    assert gpu.is_sr2_rule(vap, names, L.QUEUE_NAME) and gpu.is_sr2_rule(kyverno, names, L.QUEUE_NAME)
    required = [(k.group, r) for k in sr2_controls.WORKLOAD_KINDS for r in k.vap_resources]
    assert admission.control_problems("sr2", [vap], [binding], [kyverno], required=required,
                                      operations=("CREATE", "UPDATE")) == []
    audit_vap, audit_binding = sr2_controls.validating_admission_policy("p", enforce=False, exempt_namespaces=exempt)
    audit_kyverno = sr2_controls.kyverno_cluster_policy("p", enforce=False, exempt_namespaces=exempt)
    problems = admission.control_problems("sr2", [audit_vap], [audit_binding], [audit_kyverno], required=required,
                                          operations=("CREATE", "UPDATE"))
    assert len(problems) == 2 and "Audit" in problems[0]


def test_a_vap_that_misses_a_kind_or_fails_open_is_reported():
    vap, binding = sr2_controls.validating_admission_policy("p", enforce=True, exempt_namespaces=())
    weak = copy.deepcopy(vap)
    weak["spec"]["failurePolicy"] = "Ignore"
    weak["spec"]["matchConstraints"]["resourceRules"] = [r for r in weak["spec"]["matchConstraints"]["resourceRules"]
                                                         if r["apiGroups"] != ["batch"]]
    problems = admission.vap_problems(weak, [binding], [("batch", "jobs"), ("", "pods")], ("CREATE", "UPDATE"))
    assert any("batch/jobs" in p for p in problems) and any("Ignore" in p for p in problems)


# ---------------------------------------------------------------- secrets


@given(st.sampled_from(["password", "DB_PASSWORD", "api_key", "MASTER_KEY", "hf-token", "client_secret",
                        "credentials"]),
       st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=20))
def test_secret_named_literals_are_found_and_references_are_not(name, value):
    assert secrets.env_findings({"env": [{"name": name, "value": value}]}) == [name]
    ref = {"secretKeyRef": {"name": "s", "key": "k"}}
    assert secrets.env_findings({"env": [{"name": name, "valueFrom": ref}]}) == []
    cm = {"data": {"config.yaml": f"general:\n  {name}: os.environ/X\n"}}
    assert secrets.configmap_findings(cm) == []


@given(st.sampled_from(["sk-" + "a1" * 12, "hf_" + "b" * 34, "postgres://app:hunter2@db:5432/x",
                        "-----BEGIN RSA PRIVATE KEY-----", "[secret]"]),
       st.sampled_from(["URL", "notes", "endpoint"]))
def test_credential_shaped_values_are_found_whatever_their_name(value, name):
    assert secrets.configmap_findings({"data": {name: value}}) == [f"data.{name}"]
    assert secrets.configmap_findings({"data": {"c.json": f'{{"{name}": "{value}"}}'}}) == [f"data.c.json: {name}"]


@pytest.mark.parametrize("name", ["max_tokens", "input_cost_per_token", "key_namespace", "user_api_key_cache_ttl",
                                  "secret_name", "secretName", "token_file"])
def test_settings_that_merely_mention_keys_or_tokens_are_not_secrets(name):
    assert secrets.configmap_findings({"data": {"s.yaml": f"{name}: some-value\n"}}) == []


def test_prose_in_a_script_is_not_a_finding():
    assert secrets.configmap_findings({"data": {"db_ready.py": '"""No password is sent."""\nPASSWORD = None\n'}}) == []
