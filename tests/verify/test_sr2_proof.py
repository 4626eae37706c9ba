"""SR2 proof: the clean renderings pass on >= 30,000 shapes with both engines agreeing, and every
planted weakness in a rendered manifest makes the proof fail and say what is wrong."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import pytest

from llmplatform.controls.sr2_gpu_admission import render as sr2
from llmp.verify.sr2 import Sr2Proof, inline_variables, prove_sr2, string_literals

EXEMPT = ("kueue-system", "kyverno", "keda")
NAME = "sr2-gpu-admission"
QUICK = {"stride": 11, "cel_python_sample": 40}
"""Planted cases: every 11th shape (~5,800) and 40 shapes on cel-python, about 1 s each."""


def _renderings(enforce: bool = True) -> tuple[dict, dict, dict]:
    kyverno = sr2.kyverno_cluster_policy(NAME, enforce=enforce, exempt_namespaces=EXEMPT)
    policy, binding = sr2.validating_admission_policy(NAME, enforce=enforce, exempt_namespaces=EXEMPT)
    return kyverno, policy, binding


def _prove(kyverno: dict, policy: dict, binding: dict, *, enforce: bool = True, **kw: Any) -> Sr2Proof:
    options = {**QUICK, **kw}
    return prove_sr2(kyverno, policy, binding, enforce=enforce, exempt_namespaces=EXEMPT, **options)


def _kyverno_vars(k: dict) -> list[dict]:
    return k["spec"]["rules"][0]["validate"]["cel"]["variables"]


def _edit(variables: list[dict], name: str, old: str, new: str) -> None:
    (var,) = [v for v in variables if v["name"] == name]
    assert old in var["expression"], f"plant target not found in {name}: {old!r}"
    var["expression"] = var["expression"].replace(old, new)


def _problems(proof: Sr2Proof) -> set[tuple[str, str]]:
    return {(m.rendering, m.problem) for m in proof.mismatches}


def _example(proof: Sr2Proof, rendering: str, problem: str) -> str:
    return next(m.example for m in proof.mismatches if m.rendering == rendering and m.problem == problem
                and m.engine == "cel-expr-python")


@pytest.fixture(scope="module")
def clean() -> Sr2Proof:
    kyverno, policy, binding = _renderings()
    return prove_sr2(kyverno, policy, binding, enforce=True, exempt_namespaces=EXEMPT, cel_python_sample=1000)


# ---- clean ---------------------------------------------------------------------------------------


def test_clean_renderings_pass_on_at_least_30000_shapes(clean: Sr2Proof) -> None:
    assert clean.ok, clean.summary()
    assert clean.mismatches == () and clean.structural_problems == ()
    assert clean.shapes >= 30_000
    assert clean.evaluations >= clean.shapes  # every shape reached the C++ engine
    # not vacuous: thousands of shapes must be denied, thousands admitted
    assert 5_000 < clean.violating_shapes < clean.shapes - 5_000


def test_both_engines_ran_and_agreed(clean: Sr2Proof) -> None:
    assert clean.cel_python_shapes == 1000 and clean.cel_python_evaluations >= 1000
    assert not [m for m in clean.mismatches if m.problem == "engine-disagreement"]
    assert set(clean.engine_versions) == {"cel-expr-python", "cel-python"}
    assert all(v != "not installed" for v in clean.engine_versions.values())
    assert clean.evals_per_second > 1_000 and clean.cel_python_evals_per_second > 10


def test_probe_namespaces_cover_managed_system_and_exempt(clean: Sr2Proof) -> None:
    assert {"default(managed)", "tenant-spoof(managed)", "kube-system(system)", "kube-node-lease(system)",
            "kueue-system(exempt)"} <= set(clean.namespaces)


def test_the_proof_reads_the_cel_out_of_the_renderings(clean: Sr2Proof) -> None:
    kyverno, policy, _ = _renderings()
    assert set(clean.texts) == {"kyverno", "vap"}
    (text,) = clean.texts["vap"]
    assert "variables." not in text  # inlined
    assert "spec.initContainers" in text


def test_audit_tier_renderings_pass_when_audit_is_expected() -> None:
    proof = _prove(*_renderings(enforce=False), enforce=False, stride=3)
    assert proof.ok, proof.summary()


def test_platform_workloads_labelled_for_kueue_are_admitted_and_unlabelled_ones_reported() -> None:
    good = {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "vllm", "namespace": "serving", "labels": {"kueue.x-k8s.io/queue-name": "serving"}},
            "spec": {"template": {"metadata": {"labels": {"kueue.x-k8s.io/queue-name": "serving"}},
                                  "spec": {"containers": [{"name": "vllm", "resources": {
                                      "limits": {"nvidia.com/gpu": "1"}}}]}}}}
    bad = copy.deepcopy(good)
    bad["metadata"]["name"] = "vllm-unqueued"
    del bad["spec"]["template"]["metadata"]
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "vllm", "namespace": "serving"}}
    proof = _prove(*_renderings(), stride=50, cel_python_sample=0, extra_objects=[good, bad, service])
    assert [e.name for e in proof.extras] == ["vllm", "vllm-unqueued"]
    assert [(e.name, e.flagged_by, e.blocked_by) for e in proof.extras_flagged] == [
        ("vllm-unqueued", ("kyverno", "vap"), ("kyverno", "vap"))]
    assert not proof.ok and "vllm-unqueued" in proof.summary()


# ---- planted weaknesses in the CEL ---------------------------------------------------------------

IGNORE_INIT = ("requestsGpu", "(has(spec.initContainers) ? spec.initContainers : []) +\n   ", "")
IGNORE_MIG = ("requestsGpu", " || r.startsWith('nvidia.com/mig-')", "")
REQUESTS_ONLY = ("requestsGpu", " || (has(c.resources.limits) && c.resources.limits.exists(r, r == 'nvidia.com/gpu'"
                                " || r.startsWith('nvidia.com/mig-')))", "")


def test_a_vap_expression_that_ignores_init_containers_fails_the_proof() -> None:
    kyverno, policy, binding = _renderings()
    _edit(policy["spec"]["variables"], *IGNORE_INIT)
    proof = _prove(kyverno, policy, binding)
    assert not proof.ok
    assert ("vap", "missed-violation") in _problems(proof) and ("vap", "cel-alone-missed") in _problems(proof)
    assert not any(m.rendering == "kyverno" for m in proof.mismatches)
    assert "initContainers" in _example(proof, "vap", "missed-violation")


def test_a_kyverno_expression_that_ignores_mig_slices_fails_the_proof() -> None:
    kyverno, policy, binding = _renderings()
    _edit(_kyverno_vars(kyverno), *IGNORE_MIG)
    proof = _prove(kyverno, policy, binding)
    assert ("kyverno", "missed-violation") in _problems(proof)
    assert "nvidia.com/mig-" in _example(proof, "kyverno", "missed-violation")


def test_an_expression_that_only_checks_requests_fails_the_proof() -> None:
    kyverno, policy, binding = _renderings()
    _edit(_kyverno_vars(kyverno), *REQUESTS_ONLY)
    _edit(policy["spec"]["variables"], *REQUESTS_ONLY)
    proof = _prove(kyverno, policy, binding)
    for rendering in ("kyverno", "vap"):
        assert " limits " in _example(proof, rendering, "missed-violation")


def test_an_expression_that_accepts_the_label_on_the_template_alone_fails_the_proof() -> None:
    kyverno, policy, binding = _renderings()
    _edit(policy["spec"]["variables"], "queueLabelled", "variables.queueMetadata.all(",
          "variables.queueMetadata.exists(")
    proof = _prove(kyverno, policy, binding)
    assert ("vap", "missed-violation") in _problems(proof)


def test_a_cel_exemption_for_a_managed_namespace_fails_the_proof() -> None:
    kyverno, policy, binding = _renderings()
    _edit(_kyverno_vars(kyverno), "managedNamespace", "['keda',", "['team-a', 'keda',")
    proof = _prove(kyverno, policy, binding)
    assert ("kyverno", "cel-alone-missed") in _problems(proof)
    assert "ns=team-a(managed)" in _example(proof, "kyverno", "cel-alone-missed")


# ---- planted weaknesses in matching, actions and bindings ----------------------------------------


def test_a_vap_namespace_selector_that_exempts_a_managed_namespace_fails_the_proof() -> None:
    kyverno, policy, binding = _renderings()
    policy["spec"]["matchConstraints"]["namespaceSelector"]["matchExpressions"][0]["values"].append("team-a")
    proof = _prove(kyverno, policy, binding)
    assert "ns=team-a(managed)" in _example(proof, "vap", "missed-violation")


def test_a_vap_selector_a_namespace_can_satisfy_with_its_own_label_fails_the_proof() -> None:
    kyverno, policy, binding = _renderings()
    policy["spec"]["matchConstraints"]["namespaceSelector"] = {
        "matchExpressions": [{"key": "llmplatform.io/gpu-policy", "operator": "NotIn", "values": ["off"]}]}
    proof = _prove(kyverno, policy, binding)
    assert "ns=tenant-spoof(managed)" in _example(proof, "vap", "missed-violation")


def test_an_opt_in_binding_selector_fails_the_proof() -> None:
    kyverno, policy, binding = _renderings()
    binding["spec"]["matchResources"] = {"namespaceSelector": {"matchLabels": {"llmplatform.io/gpu-policy": "on"}}}
    proof = _prove(kyverno, policy, binding)
    assert ("vap", "missed-violation") in _problems(proof)


def test_a_kyverno_namespace_wildcard_exclusion_fails_the_proof() -> None:
    kyverno, policy, binding = _renderings()
    kyverno["spec"]["rules"][0]["exclude"]["any"][0]["resources"]["namespaces"].append("team-*")
    proof = _prove(kyverno, policy, binding)
    assert "ns=team-" in _example(proof, "kyverno", "missed-violation")


@pytest.mark.parametrize("kind, shown", [("batch/v1/CronJob", "CronJob["),
                                         ("v1/Pod/ephemeralcontainers", "op=UPDATE/ephemeralcontainers")])
def test_a_kyverno_match_missing_a_kind_fails_the_proof(kind: str, shown: str) -> None:
    kyverno, policy, binding = _renderings()
    kyverno["spec"]["rules"][0]["match"]["any"][0]["resources"]["kinds"].remove(kind)
    proof = _prove(kyverno, policy, binding)
    assert shown in _example(proof, "kyverno", "missed-violation")


def test_vap_resource_rules_missing_leaderworkersets_fail_the_proof() -> None:
    kyverno, policy, binding = _renderings()
    rules = policy["spec"]["matchConstraints"]["resourceRules"]
    policy["spec"]["matchConstraints"]["resourceRules"] = [
        r for r in rules if r["apiGroups"] != ["leaderworkerset.x-k8s.io"]]
    proof = _prove(kyverno, policy, binding)
    assert _example(proof, "vap", "missed-violation").startswith("LeaderWorkerSet")


PLANTS: dict[str, tuple[Callable[[dict, dict, dict], None], str, str]] = {
    "kyverno audits on an enforcing tier": (
        lambda k, p, b: k["spec"]["rules"][0]["validate"].update(failureAction="Audit"), "kyverno", "not-blocked"),
    "kyverno lets existing violators be updated": (
        lambda k, p, b: k["spec"]["rules"][0]["validate"].pop("allowExistingViolations"), "kyverno", "not-blocked"),
    "vap binding only audits on an enforcing tier": (
        lambda k, p, b: b["spec"].update(validationActions=["Audit"]), "vap", "not-blocked"),
    "vap binding names another policy": (
        lambda k, p, b: b["spec"].update(policyName="other"), "vap", "missed-violation"),
}


@pytest.mark.parametrize("plant", list(PLANTS), ids=list(PLANTS))
def test_weak_actions_and_bindings_fail_the_proof(plant: str) -> None:
    mutate, rendering, problem = PLANTS[plant]
    kyverno, policy, binding = _renderings()
    mutate(kyverno, policy, binding)
    proof = _prove(kyverno, policy, binding)
    assert (rendering, problem) in _problems(proof), proof.summary()
    if plant == "kyverno lets existing violators be updated":
        assert "op=UPDATE" in _example(proof, rendering, problem)


def test_enforcing_renderings_on_an_audit_tier_fail_the_proof() -> None:
    proof = _prove(*_renderings(enforce=True), enforce=False)
    assert {("kyverno", "blocked-in-audit"), ("vap", "blocked-in-audit")} <= _problems(proof)


def test_fail_open_settings_are_structural_problems() -> None:
    kyverno, policy, binding = _renderings()
    kyverno["spec"]["webhookConfiguration"]["failurePolicy"] = "Ignore"
    policy["spec"]["failurePolicy"] = "Ignore"
    proof = _prove(kyverno, policy, binding, stride=50, cel_python_sample=0)
    text = "\n".join(proof.structural_problems)
    assert "kyverno failurePolicy is 'Ignore'" in text and "vap failurePolicy is 'Ignore'" in text


def test_fields_the_proof_cannot_model_are_reported_not_ignored() -> None:
    kyverno, policy, binding = _renderings()
    kyverno["spec"]["rules"][0]["preconditions"] = {"all": [{"key": "{{ request.operation }}", "operator": "Equals",
                                                             "value": "CREATE"}]}
    policy["spec"]["paramKind"] = {"apiVersion": "v1", "kind": "ConfigMap"}
    proof = _prove(kyverno, policy, binding, stride=50, cel_python_sample=0)
    text = "\n".join(proof.structural_problems)
    assert "['preconditions']" in text and "['paramKind']" in text and not proof.ok


# ---- the engines ---------------------------------------------------------------------------------


def test_an_expression_the_engines_evaluate_differently_fails_the_proof() -> None:
    # `map != null` is true on cel-expr-python (and cel-go) but an error on cel-python.
    kyverno, policy, binding = _renderings()
    for variables in (_kyverno_vars(kyverno), policy["spec"]["variables"]):
        _edit(variables, "namespaceName", "has(object.metadata) && has(object.metadata.namespace)",
              "namespaceObject != null && has(object.metadata) && has(object.metadata.namespace)")
    proof = _prove(kyverno, policy, binding, cel_python_sample=300)
    assert ("engines", "engine-disagreement") in _problems(proof)
    detail = next(m.detail for m in proof.mismatches if m.problem == "engine-disagreement")
    assert re.search(r"cel-expr-python=(True|False) cel-python='error", detail), detail


def test_non_portable_cel_is_a_structural_problem() -> None:
    kyverno, policy, binding = _renderings()
    _edit(policy["spec"]["variables"], "queueLabelled",
          "has(m.labels) && 'kueue.x-k8s.io/queue-name' in m.labels && m.labels['kueue.x-k8s.io/queue-name'] != ''",
          "m.?labels[?'kueue.x-k8s.io/queue-name'].orValue('') != ''")
    proof = _prove(kyverno, policy, binding, stride=50, cel_python_sample=20)
    assert any("does not compile on cel-python" in p for p in proof.structural_problems)
    assert not any("does not compile on cel-expr-python" in p for p in proof.structural_problems)


# ---- CEL text helpers ----------------------------------------------------------------------------


def test_inlining_substitutes_earlier_variables_outside_string_literals_only() -> None:
    variables = [("a", "object.x"), ("b", "variables.a + 'variables.a'")]
    assert inline_variables(variables, "variables.b == r'variables.b' && myvariables.a") == (
        "((object.x) + 'variables.a') == r'variables.b' && myvariables.a")
    # a forward reference stays as written, so it fails to compile instead of being guessed
    assert inline_variables([("a", "variables.b"), ("b", "1")], "variables.a") == "(variables.b)"


def test_string_literals_are_read_from_every_quote_style() -> None:
    assert string_literals("""x in ['kube-system', "team-a"] || y == '''multi''' || z == 'it\\'s'""") == [
        "kube-system", "team-a", "multi", "it\\'s"]
