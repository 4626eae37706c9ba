"""SR1 identity admission: the rendered CEL, evaluated on cel-expr-python (and cel-python), admits
LiteLLM's own pods and templates and nothing else that wears LiteLLM's label in its namespace; the
bindings are generated from the NetworkPolicies, and a trusted peer without an identity is refused."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmplatform import labels as L
from llmplatform import naming
from llmplatform.controls.sr1_identity import render as identity
from llmplatform.controls.sr1_network import render as sr1
from llmplatform.k8s.networkpolicy import allow_from, match_labels, one_of, pod_peer, tcp
from llmp.verify.manifests.core import validate_core
from llmp.verify.sr2 import inline_variables

TGW = naming.NS_TENANT_GATEWAY
SA = "litellm"
ROLE = {L.ROLE: L.ROLE_TENANT_GATEWAY}


LITELLM = identity.IdentityBinding(identity.peer(TGW, ROLE), (SA,))


@lru_cache(maxsize=None)
def rendered() -> tuple[dict, dict]:
    return identity.validating_admission_policy([LITELLM])


def cel_text() -> str:
    spec = rendered()[0]["spec"]
    variables = [(v["name"], v["expression"]) for v in spec["variables"]]
    return inline_variables(variables, spec["validations"][0]["expression"])


@lru_cache(maxsize=None)
def cpp_program():
    from cel_expr_python import cel

    env = cel.NewEnv(variables={"object": cel.Type.DYN})
    return cel, env, env.compile(cel_text())


def admit_cpp(obj: dict) -> bool:
    cel, env, program = cpp_program()
    value = program.eval(env.Activation({"object": obj}))
    assert value.type() == cel.Type.BOOL, f"not a boolean: {value.value()}"
    return bool(value.value())


@lru_cache(maxsize=None)
def py_program():
    import celpy

    env = celpy.Environment()
    return celpy, env.program(env.compile(cel_text()))


def admit_py(obj: dict) -> bool:
    celpy, program = py_program()
    value = program.evaluate({"object": celpy.json_to_cel(obj)})
    assert not isinstance(value, Exception), value
    return bool(value)


def pod(namespace: str | None, sa: str | None, pod_labels: dict | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "p"}
    if namespace is not None:
        meta["namespace"] = namespace
    if pod_labels is not None:
        meta["labels"] = pod_labels
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "i"}]}
    if sa is not None:
        spec["serviceAccountName"] = sa
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


TEMPLATE_PATHS = {k.kind: k.template_path for k in identity.TEMPLATE_KINDS}


def workload(kind: str, namespace: str | None, sa: str | None, pod_labels: dict | None) -> dict[str, Any]:
    if kind == "Pod":
        return pod(namespace, sa, pod_labels)
    template = pod(None, sa, pod_labels)
    template.pop("apiVersion"), template.pop("kind"), template["metadata"].pop("name")
    obj: dict[str, Any] = {"kind": kind, "metadata": {"name": "w", **({"namespace": namespace} if namespace else {})}}
    node = obj
    path = TEMPLATE_PATHS[kind]
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = template
    return obj


@pytest.mark.parametrize("engine", [admit_cpp, admit_py], ids=["cel-expr-python", "cel-python"])
@pytest.mark.parametrize(("case", "obj", "admitted"), [
    ("litellm's SA in its namespace", pod(TGW, SA, ROLE), True),
    ("another SA in litellm's namespace", pod(TGW, "default", ROLE), False),
    ("no ServiceAccount at all (runs as default)", pod(TGW, None, ROLE), False),
    ("an empty ServiceAccount name", pod(TGW, "", ROLE), False),
    # NetworkPolicy trusts the label only with LiteLLM's namespace (one peer, both selectors): elsewhere
    # wearing it gains nothing, and the SR1 proof's probe pods show that.
    ("litellm's label in another namespace", pod("tenant-evil", "x", ROLE), True),
    ("no namespace on the object", pod(None, SA, ROLE), True),
    ("no role label", pod(TGW, "x", {"app": "x"}), True),
    ("no labels at all", pod(TGW, "x", None), True),
    ("another platform role", pod(TGW, "x", {L.ROLE: L.ROLE_MODEL_SERVER}), True),
    ("a look-alike value", pod(TGW, "x", {L.ROLE: "tenant-gateway-2"}), True),
    ("the label among others", pod(TGW, "x", {**ROLE, "app": "litellm"}), False),
    ("a bare object", {"kind": "Pod"}, True),
])
def test_the_identity_rule_on_pods(engine, case, obj, admitted):
    assert engine(obj) is admitted, case


@pytest.mark.parametrize("kind", sorted(TEMPLATE_PATHS))
def test_workload_templates_are_judged_by_their_pod_template_and_the_objects_namespace(kind):
    assert admit_cpp(workload(kind, TGW, SA, ROLE))
    assert not admit_cpp(workload(kind, TGW, "default", ROLE))
    assert not admit_cpp(workload(kind, TGW, None, ROLE)), "a template naming no ServiceAccount runs as default"
    assert admit_cpp(workload(kind, "tenant-evil", "x", ROLE))
    assert admit_cpp(workload(kind, TGW, "x", {"app": "x"}))
    assert admit_cpp({"kind": kind, "metadata": {"namespace": TGW}}), "a template-less object is not labelled"


namespaces = st.sampled_from([TGW, "tenant-a", "default", "kube-system", naming.NS_SERVING, None])
service_accounts = st.sampled_from([SA, "default", "litellm2", "", None])
label_sets = st.one_of(st.none(), st.dictionaries(
    st.sampled_from([L.ROLE, "app", "llmplatform.io/rol"]),
    st.sampled_from([L.ROLE_TENANT_GATEWAY, L.ROLE_GATEWAY, "tenant-gateway ", "x"]), max_size=3))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(kind=st.sampled_from(sorted(TEMPLATE_PATHS)), namespace=namespaces, sa=service_accounts, pod_labels=label_sets)
def test_the_rule_matches_its_plain_language_statement_on_every_generated_object(kind, namespace, sa, pod_labels):
    """"In LiteLLM's namespace, a pod may carry role tenant-gateway only with LiteLLM's ServiceAccount."""
    claims = (pod_labels or {}).get(L.ROLE) == L.ROLE_TENANT_GATEWAY and namespace == TGW
    runs_as = "default" if sa is None else sa
    expected = not claims or runs_as == SA
    obj = workload(kind, namespace, sa, pod_labels)
    assert admit_cpp(obj) is expected
    assert admit_py(obj) is expected


def test_the_policy_covers_create_and_update_of_pods_their_status_and_every_template_kind_cluster_wide():
    policy, binding = rendered()
    spec = policy["spec"]
    assert spec["failurePolicy"] == "Fail"
    assert "namespaceSelector" not in spec["matchConstraints"], "cluster-wide: no namespace is exempt"
    resources = {(g, r) for rule in spec["matchConstraints"]["resourceRules"]
                 for g in rule["apiGroups"] for r in rule["resources"]}
    assert resources == {("", "pods"), ("", "pods/status"), ("apps", "deployments"), ("apps", "replicasets"),
                         ("apps", "statefulsets"), ("apps", "daemonsets"), ("batch", "jobs"), ("batch", "cronjobs")}
    assert all(rule["operations"] == ["CREATE", "UPDATE"] for rule in spec["matchConstraints"]["resourceRules"])
    assert binding["spec"] == {"policyName": policy["metadata"]["name"], "validationActions": ["Deny"]}
    assert "nvidia.com" not in str(policy), "the SR2 proof finds its own VAP by the GPU resource name"


def test_the_rendered_objects_are_strictly_valid_for_kubernetes():
    for obj in rendered():
        assert validate_core(obj, strict=True) == [], obj["metadata"]["name"]


def test_bad_bindings_are_reported_at_once():
    with pytest.raises(ValueError, match="bound more than once") as exc:
        identity.validating_admission_policy([LITELLM, identity.IdentityBinding(LITELLM.peer, ("it's",))])
    assert "must be a Kubernetes name" in str(exc.value)


# ---- bindings generated from the policies -----------------------------------------------------------


def platform_bindings(policies: list[dict]) -> tuple[identity.IdentityBinding, ...]:
    known = identity.platform_identities(litellm_service_account=SA, serving_models=("qwen", "mistral"))
    return identity.bindings_for(policies, known)


def test_every_peer_the_rendered_policies_trust_is_bound_to_its_service_accounts():
    facts = sr1.NetworkFacts(tenant_namespaces=("tenant-a",))
    bound = {b.peer: b.service_accounts for b in platform_bindings(sr1.all_policies(facts))}
    assert bound[identity.peer(TGW, ROLE)] == (SA,)
    assert bound[identity.peer(naming.NS_SERVING, {L.ROLE: L.ROLE_EPP})] == ("mistral-epp", "qwen-epp")
    assert bound[identity.peer(naming.NS_MONITORING, sr1.PROMETHEUS_POD_LABELS)] == ("prometheus-server",)
    assert bound[identity.peer(naming.NS_CNPG, sr1.CNPG_OPERATOR_POD_LABELS)] == ("cnpg",)
    assert bound[identity.peer(naming.NS_GATEWAY, {L.ROLE: L.ROLE_GATEWAY})] == ("inference-gateway-istio",)
    assert not any(p.namespace == "kube-system" for p in bound), "kube-dns: only admins create pods there"
    peers, problems = identity.trusted_peers(sr1.all_policies(facts))
    assert problems == () and set(peers) == set(bound), "every trusted peer, and only those, is bound"


GRAFANA = {L.NAME: "grafana"}


def with_new_peer() -> list[dict]:
    policies = sr1.all_policies(sr1.NetworkFacts())
    prom = next(p for p in policies if p["metadata"]["name"] == "sr1-prometheus")
    prom["spec"]["ingress"].append(
        allow_from([pod_peer(naming.NS_MONITORING, match_labels(GRAFANA))], tcp(9090)))
    return policies


def test_a_new_trusted_peer_label_without_a_binding_is_refused_by_name():
    with pytest.raises(identity.UnboundPeerError) as exc:
        platform_bindings(with_new_peer())
    assert "app.kubernetes.io/name=grafana in namespace monitoring" in str(exc.value)


@pytest.mark.parametrize(("peer", "problem"), [
    ({"podSelector": match_labels(GRAFANA)}, None),  # a bare podSelector: the policy's own namespace
    ({"namespaceSelector": {}, "podSelector": match_labels(GRAFANA)}, "not pinned"),
    ({"namespaceSelector": {"matchLabels": {"team": "x"}}, "podSelector": match_labels(GRAFANA)}, "not pinned"),
    ({"namespaceSelector": {"matchLabels": {L.K8S_NS_NAME: "monitoring"}},
      "podSelector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]}}, "only matchLabels"),
])
def test_peers_that_cannot_be_bound_are_problems(peer, problem):
    policy = {"metadata": {"namespace": "monitoring", "name": "x"}, "spec": {"ingress": [{"from": [peer]}]}}
    peers, problems = identity.trusted_peers([policy])
    if problem is None:
        assert peers == (identity.peer("monitoring", GRAFANA),) and problems == ()
    else:
        assert problem in " ".join(problems)


def test_an_in_expression_trusts_each_of_its_values():
    peer = pod_peer(TGW, one_of(L.ROLE, [L.ROLE_BUDGET_DB, L.ROLE_BUDGET_CACHE]))
    peers, _ = identity.trusted_peers([{"metadata": {"namespace": TGW, "name": "x"},
                                        "spec": {"egress": [{"to": [peer]}]}}])
    assert peers == (identity.peer(TGW, {L.ROLE: L.ROLE_BUDGET_CACHE}), identity.peer(TGW, {L.ROLE: L.ROLE_BUDGET_DB}))


def test_the_generated_rule_binds_every_peer_and_admits_the_platforms_own_pods():
    policy, _ = identity.validating_admission_policy(platform_bindings(sr1.all_policies(sr1.NetworkFacts())))
    spec = policy["spec"]
    text = inline_variables([(v["name"], v["expression"]) for v in spec["variables"]],
                            spec["validations"][0]["expression"])
    from cel_expr_python import cel

    env = cel.NewEnv(variables={"object": cel.Type.DYN})
    program = env.compile(text)

    def admit(obj: dict) -> bool:
        return bool(program.eval(env.Activation({"object": obj})).value())

    prometheus = dict(sr1.PROMETHEUS_POD_LABELS)
    assert admit(pod(naming.NS_MONITORING, "prometheus-server", prometheus))
    assert not admit(pod(naming.NS_MONITORING, "default", prometheus))
    assert admit(pod(naming.NS_SERVING, "qwen-epp", {L.ROLE: L.ROLE_EPP}))
    assert not admit(pod(naming.NS_SERVING, "vllm", {L.ROLE: L.ROLE_EPP}))
    assert not admit(pod(naming.NS_CNPG, "default", dict(sr1.CNPG_OPERATOR_POD_LABELS)))
