"""The SR1 admission proof models what each rule intercepts: planted scope on the rendered prod plan.

A rule refuses only what the API server sends it (the policy's matchConstraints and the binding's
matchResources both match, every matchCondition holds). Each plant narrows the host-isolation rule;
the proof (`admission_checks`, what `prove_sr1` runs beside NCA) must fail, naming what escapes:
- a namespaceSelector (on the policy or on the binding) is modelled exactly, over the namespace's
  labels, so the probe in `default` is admitted and named;
- an objectSelector or a matchCondition reads what the pod's author writes: the proof fails on the
  scope itself (`sr1-rules-intercept-every-pod`), whatever the probes carry.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from llmplatform import naming
from llmp.plan.render import load_manifests
from llmp.verify import sr1_admission as adm
from llmp.verify.sr1 import FRESH_TENANT_NS, admission_checks

Objects = list[dict[str, Any]]
HOST = "llmplatform-sr1-host-isolation"
NOT_DEFAULT = {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn",
                                     "values": ["default"]}]}
NAMESPACES = ["default", FRESH_TENANT_NS, naming.NS_SERVING, naming.NS_GATEWAY, naming.NS_TENANT_GATEWAY,
              naming.NS_MONITORING]


@pytest.fixture(scope="module")
def rendered(planned) -> Objects:
    return load_manifests(Path(planned("prod")) / "manifests")


def failures(objects: Objects) -> dict[str, str]:
    policies = [o for o in objects if o.get("kind") == "NetworkPolicy"]
    return {q.name: q.detail for q in admission_checks(objects, policies, NAMESPACES) if not q.passed}


def one(objects: Objects, kind: str, name: str) -> dict[str, Any]:
    (obj,) = [o for o in objects if o.get("kind") == kind and o["metadata"]["name"] == name]
    return obj


def policy(objects: Objects) -> dict[str, Any]:
    return one(objects, "ValidatingAdmissionPolicy", HOST)


def binding(objects: Objects) -> dict[str, Any]:
    return one(objects, "ValidatingAdmissionPolicyBinding", f"{HOST}-binding")


def test_rendered_prod_scope_holds(rendered: Objects) -> None:
    assert failures(rendered) == {}
    rules = adm.enforced_sr1_rules(rendered)
    assert {r.name for r in rules} >= {HOST} and all(not r.escapes for r in rules)


def test_policy_namespace_selector_excluding_default_fails(rendered: Objects) -> None:
    objects = copy.deepcopy(rendered)
    policy(objects)["spec"]["matchConstraints"]["namespaceSelector"] = NOT_DEFAULT
    found = failures(objects)
    detail = found["host-network-sources-refused"]
    assert "hostNetwork: true Pod in namespace default" in detail
    assert f"in namespace {FRESH_TENANT_NS}" not in detail  # the rule still intercepts elsewhere


def test_binding_namespace_selector_excluding_default_fails(rendered: Objects) -> None:
    objects = copy.deepcopy(rendered)
    binding(objects)["spec"]["matchResources"] = {"namespaceSelector": NOT_DEFAULT}
    assert "hostNetwork: true Pod in namespace default" in failures(objects)["host-network-sources-refused"]


def test_namespace_selector_reads_rendered_namespace_labels(rendered: Objects) -> None:
    """A selector on a label our Namespaces carry: namespaces without it (default, a fresh tenant's) escape."""
    objects = copy.deepcopy(rendered)
    policy(objects)["spec"]["matchConstraints"]["namespaceSelector"] = {
        "matchLabels": {"app.kubernetes.io/part-of": "llm-platform"}}
    detail = failures(objects)["host-network-sources-refused"]
    assert "in namespace default" in detail and f"in namespace {FRESH_TENANT_NS}" in detail
    assert f"in namespace {naming.NS_SERVING}" not in detail


def test_exclude_resource_rules_fail(rendered: Objects) -> None:
    objects = copy.deepcopy(rendered)
    binding(objects)["spec"]["matchResources"] = {"excludeResourceRules": [
        {"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["daemonsets"]}]}
    detail = failures(objects)["host-network-sources-refused"]
    assert "hostNetwork: true DaemonSet in namespace default" in detail
    assert "hostNetwork: true Pod in namespace" not in detail


def test_object_selector_exempting_a_label_fails(rendered: Objects) -> None:
    objects = copy.deepcopy(rendered)
    policy(objects)["spec"]["matchConstraints"]["objectSelector"] = {
        "matchExpressions": [{"key": "x", "operator": "NotIn", "values": ["y"]}]}
    detail = failures(objects)["sr1-rules-intercept-every-pod"]
    assert HOST in detail and "objectSelector" in detail


def test_binding_object_selector_fails(rendered: Objects) -> None:
    objects = copy.deepcopy(rendered)
    binding(objects)["spec"]["matchResources"] = {"objectSelector": {
        "matchExpressions": [{"key": "x", "operator": "NotIn", "values": ["y"]}]}}
    assert "binding matchResources.objectSelector" in failures(objects)["sr1-rules-intercept-every-pod"]


def test_match_condition_skipping_an_annotation_fails(rendered: Objects) -> None:
    objects = copy.deepcopy(rendered)
    policy(objects)["spec"]["matchConditions"] = [{
        "name": "not-skipped",
        "expression": "!has(object.metadata.annotations) || !('skip' in object.metadata.annotations)"}]
    detail = failures(objects)["sr1-rules-intercept-every-pod"]
    assert HOST in detail and "not-skipped" in detail


def test_match_condition_is_evaluated(rendered: Objects) -> None:
    """The condition is evaluated on the probe: one false for every pod intercepts nothing."""
    objects = copy.deepcopy(rendered)
    policy(objects)["spec"]["matchConditions"] = [{"name": "never", "expression": "object.kind == 'Nope'"}]
    found = failures(objects)
    assert "hostNetwork: true Pod in namespace default" in found["host-network-sources-refused"]
    assert "never" in found["sr1-rules-intercept-every-pod"]


def test_unmodelled_scope_field_fails(rendered: Objects) -> None:
    objects = copy.deepcopy(rendered)
    binding(objects)["spec"]["matchResources"] = {"namespaceSelector": {"matchFields": []}}
    assert "unknown selector fields" in failures(objects)["sr1-rules-intercept-every-pod"]
