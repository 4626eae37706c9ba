"""SR1 identity admission: the rendered CEL, evaluated on cel-expr-python (and cel-python), admits
LiteLLM's own pods and templates and nothing else that wears LiteLLM's label."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmplatform import labels as L
from llmplatform import naming
from llmplatform.controls import identity
from llmplatform.validate.core import validate_core
from llmplatform.verify.sr2 import inline_variables

TGW = naming.NS_TENANT_GATEWAY
SA = "litellm"
ROLE = {L.ROLE: L.ROLE_TENANT_GATEWAY}


@lru_cache(maxsize=None)
def rendered() -> tuple[dict, dict]:
    return identity.validating_admission_policy([identity.litellm_binding(SA)])


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
    ("litellm's SA name in another namespace", pod("tenant-evil", SA, ROLE), False),
    ("no ServiceAccount at all", pod(TGW, None, ROLE), False),
    ("no namespace on the object", pod(None, SA, ROLE), False),
    ("no role label", pod("tenant-evil", "x", {"app": "x"}), True),
    ("no labels at all", pod("tenant-evil", "x", None), True),
    ("another platform role", pod("tenant-evil", "x", {L.ROLE: L.ROLE_MODEL_SERVER}), True),
    ("a look-alike value", pod("tenant-evil", "x", {L.ROLE: "tenant-gateway-2"}), True),
    ("a bare object", {"kind": "Pod"}, True),
])
def test_the_identity_rule_on_pods(engine, case, obj, admitted):
    assert engine(obj) is admitted, case


@pytest.mark.parametrize("kind", sorted(TEMPLATE_PATHS))
def test_workload_templates_are_judged_by_their_pod_template_and_the_objects_namespace(kind):
    assert admit_cpp(workload(kind, TGW, SA, ROLE))
    assert not admit_cpp(workload(kind, "tenant-evil", SA, ROLE))
    assert not admit_cpp(workload(kind, TGW, "default", ROLE))
    assert admit_cpp(workload(kind, "tenant-evil", "x", {"app": "x"}))
    assert admit_cpp({"kind": kind, "metadata": {"namespace": "x"}}), "a template-less object is not labelled"


namespaces = st.sampled_from([TGW, "tenant-a", "default", "kube-system", naming.NS_SERVING, None])
service_accounts = st.sampled_from([SA, "default", "litellm2", "", None])
label_sets = st.one_of(st.none(), st.dictionaries(
    st.sampled_from([L.ROLE, "app", "llmplatform.io/rol"]),
    st.sampled_from([L.ROLE_TENANT_GATEWAY, L.ROLE_GATEWAY, "tenant-gateway ", "x"]), max_size=3))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(kind=st.sampled_from(sorted(TEMPLATE_PATHS)), namespace=namespaces, sa=service_accounts, pod_labels=label_sets)
def test_the_rule_matches_its_plain_language_statement_on_every_generated_object(kind, namespace, sa, pod_labels):
    """"A pod may carry role tenant-gateway only in LiteLLM's namespace with LiteLLM's ServiceAccount."""
    claims = (pod_labels or {}).get(L.ROLE) == L.ROLE_TENANT_GATEWAY
    expected = not claims or (namespace == TGW and sa == SA)
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
        identity.validating_admission_policy([identity.litellm_binding(SA), identity.litellm_binding("it's")])
    assert "must be a Kubernetes name" in str(exc.value)
