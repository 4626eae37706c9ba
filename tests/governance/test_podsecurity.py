"""SR1 host isolation: the rendered CEL, on cel-expr-python and cel-python, refuses every pod shape
that leaves the pod network outside the exempt system namespaces, and nothing else."""

from __future__ import annotations

from functools import lru_cache

import pytest

from llmplatform.controls.sr1_host_isolation import render as podsecurity
from llmplatform.controls.sr1_host_isolation.predicates import is_host_isolation_rule
from llmplatform.controls.sr1_identity import render as identity
from llmp.verify.manifests.core import validate_core
from llmp.verify.sr1_admission import HOST_SHAPES, workload
from llmp.verify.sr2 import inline_variables

EXEMPT = podsecurity.host_exempt_namespaces(("gmp-system", "nvidia-device-plugin"))


@lru_cache(maxsize=None)
def rendered() -> tuple[dict, dict]:
    return podsecurity.validating_admission_policy(EXEMPT)


def cel_text() -> str:
    spec = rendered()[0]["spec"]
    return inline_variables([(v["name"], v["expression"]) for v in spec["variables"]],
                            spec["validations"][0]["expression"])


@lru_cache(maxsize=None)
def programs():
    import celpy
    from cel_expr_python import cel

    env = cel.NewEnv(variables={"object": cel.Type.DYN})
    py_env = celpy.Environment()
    return cel, env, env.compile(cel_text()), celpy, py_env.program(py_env.compile(cel_text()))


def admits(obj: dict) -> bool:
    cel, env, cpp, celpy, py = programs()
    a = cpp.eval(env.Activation({"object": obj}))
    assert a.type() == cel.Type.BOOL, a.value()
    b = py.evaluate({"object": celpy.json_to_cel(obj)})
    assert bool(a.value()) is bool(b), "the two engines disagree"
    return bool(a.value())


KINDS = [k.kind for k in identity.TEMPLATE_KINDS]
PLAIN = {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}]}]}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", sorted(HOST_SHAPES))
@pytest.mark.parametrize("namespace", ["default", "monitoring", "tenant-new", "keda"])
def test_every_host_shape_is_refused_outside_the_system_namespaces(kind, shape, namespace):
    assert not admits(workload(kind, namespace, HOST_SHAPES[shape])), f"{shape} {kind} in {namespace}"


@pytest.mark.parametrize("shape", sorted(HOST_SHAPES))
@pytest.mark.parametrize("namespace", ["kube-system", "gmp-system", "nvidia-device-plugin"])
def test_the_system_namespaces_keep_their_node_agents(shape, namespace):
    assert admits(workload("DaemonSet", namespace, HOST_SHAPES[shape]))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("spec", [
    PLAIN,
    {"hostNetwork": False, "hostPID": False, "hostIPC": False, **PLAIN},
    {"containers": [{"name": "c", "image": "i", "securityContext": {"privileged": False},
                     "ports": [{"containerPort": 80, "hostPort": 0}]}]},
    {},
], ids=["plain", "explicit-false", "privileged-false-hostport-0", "no-containers"])
def test_ordinary_pods_are_admitted(kind, spec):
    assert admits(workload(kind, "default", spec))


def test_a_bare_object_is_admitted_and_the_rule_is_cluster_wide_and_denies():
    assert admits({"kind": "Pod"})
    policy, binding = rendered()
    spec = policy["spec"]
    assert spec["failurePolicy"] == "Fail" and "namespaceSelector" not in spec["matchConstraints"]
    resources = {r for rule in spec["matchConstraints"]["resourceRules"] for r in rule["resources"]}
    assert {"pods", "pods/ephemeralcontainers", "deployments", "daemonsets", "cronjobs"} <= resources
    assert binding["spec"]["validationActions"] == ["Deny"]
    assert is_host_isolation_rule(policy)
    for obj in rendered():
        assert validate_core(obj, strict=True) == [], obj["metadata"]["name"]


def test_the_platform_controller_namespaces_are_not_exempt():
    assert not {"monitoring", "keda", "kueue-system", "cnpg-system", "kyverno", "istio-system"} & set(EXEMPT)
