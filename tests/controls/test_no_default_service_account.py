"""No platform workload as `default`: the rendered CEL (cel-expr-python and cel-python) and the CrossGuard
predicate refuse exactly the pod templates that run as `default`, in the platform namespaces only; every
workload the prod plan renders there (ours and the charts') runs as its own account."""

from __future__ import annotations

from functools import lru_cache

import pytest

from llmplatform.controls.no_default_service_account import render
from llmplatform.controls.no_default_service_account.predicates import default_service_account_problems
from llmplatform.controls.sr1_identity.render import TEMPLATE_KINDS
from llmplatform.controls.sr1_network.render import MANAGED_NAMESPACES
from llmp.plan.render import load_manifests
from llmp.verify.sr2 import inline_variables


@lru_cache(maxsize=None)
def programs():
    import celpy
    from cel_expr_python import cel

    spec = render.validating_admission_policy()[0]["spec"]
    text = inline_variables([(v["name"], v["expression"]) for v in spec["variables"]],
                            spec["validations"][0]["expression"])
    env = cel.NewEnv(variables={"object": cel.Type.DYN})
    py_env = celpy.Environment()
    return cel, env, env.compile(text), celpy, py_env.program(py_env.compile(text))


def admits(obj: dict) -> bool:
    cel, env, cpp, celpy, py = programs()
    a = cpp.eval(env.Activation({"object": obj}))
    assert a.type() == cel.Type.BOOL, a.value()
    assert bool(a.value()) is bool(py.evaluate({"object": celpy.json_to_cel(obj)})), "the two engines disagree"
    return bool(a.value())


def workload(kind_name: str, namespace: str, account: str | None) -> dict:
    kind = next(k for k in TEMPLATE_KINDS if k.kind == kind_name)
    pod_spec = {"containers": [{"name": "c", "image": "i"}], **({"serviceAccountName": account} if account else {})}
    obj: dict = {"apiVersion": f"{kind.group}/{kind.version}" if kind.group else kind.version, "kind": kind.kind,
                 "metadata": {"name": "w", "namespace": namespace}}
    if not kind.template_path:
        obj["spec"] = pod_spec
        return obj
    node = obj
    for part in kind.template_path[:-1]:
        node = node.setdefault(part, {})
    node[kind.template_path[-1]] = {"metadata": {}, "spec": pod_spec}
    return obj


@pytest.mark.parametrize("kind", [k.kind for k in TEMPLATE_KINDS])
@pytest.mark.parametrize("account,refused", [(None, True), ("default", True), ("budget-cache", False)])
def test_the_rule_and_the_predicate_refuse_exactly_the_default_account(kind, account, refused):
    for namespace in MANAGED_NAMESPACES:
        obj = workload(kind, namespace, account)
        assert admits(obj) is not refused, (kind, account)
        assert bool(default_service_account_problems(obj)) is refused, (kind, account)


@pytest.mark.parametrize("namespace", ["tenant-search", "default", "keda", ""])
def test_outside_the_platform_namespaces_neither_applies(namespace):
    obj = workload("Deployment", namespace, None)
    assert admits(obj)
    assert default_service_account_problems(obj) == []


def test_every_workload_the_prod_plan_renders_in_a_platform_namespace_has_its_own_account(planned):
    objects = load_manifests(planned("prod") / "manifests")
    scoped = [o for o in objects if (o.get("metadata") or {}).get("namespace") in MANAGED_NAMESPACES
              and o.get("kind") in {k.kind for k in TEMPLATE_KINDS}]
    assert len(scoped) >= 8  # vLLM x3, pickers x3, LiteLLM, the reconciler, the budget cache, Prometheus
    assert [p for o in scoped for p in default_service_account_problems(o)] == []
    assert all(admits(o) for o in scoped)
