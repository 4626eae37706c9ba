"""Editing copies of real plan.json documents: a governance baseline where the plan lacks one, and plants.

The baseline stands in for GovernancePack's output until that component renders into the plan: the
SR1 NetworkPolicies of the label contract, the SR2 admission rule from `llmplatform.controls.sr2_gpu_admission.render`,
and a LiteLLM identity rule. Each is added only when the plan has none of its own, so once
GovernancePack lands these tests run on what it really renders.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from llmplatform import labels as L
from llmplatform import naming, ports
from llmplatform.controls.exemptions import sr2_exempt_namespaces
from llmplatform.controls.sr1_identity.predicates import is_identity_rule
from llmplatform.controls.sr2_gpu_admission import render as sr2_controls
from llmplatform.controls.sr2_gpu_admission.predicates import is_sr2_rule
from llmplatform.k8s.networkpolicy import allow_from, allow_to, match_labels, network_policy, one_of, pod_peer, tcp
from llmplatform.predicates import admission

Doc = dict[str, Any]
PINNED = "registry.k8s.io/pause:3.10@sha256:" + "e" * 64


def load(path: Path) -> Doc:
    return json.loads(Path(path).read_text())


def save(doc: Doc, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1))
    return path


def objects(doc: Doc) -> Iterator[tuple[Doc, Doc]]:
    """(plan resource, its inputs) for every Kubernetes object of the plan."""
    for res in doc["resources"]:
        if res["type"].startswith("kubernetes:") and "kind" in res["inputs"]:
            yield res, res["inputs"]


def find(doc: Doc, kind: str, pred: Callable[[Doc], bool] = lambda o: True) -> Doc:
    """The inputs of the one object of `kind` matching `pred` (fails loudly when there is none)."""
    found = [o for _, o in objects(doc) if o["kind"] == kind and pred(o)]
    assert found, f"no {kind} matching the predicate in the plan"
    return found[0]


def template_role(obj: Doc) -> str | None:
    return (((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels", {}).get(L.ROLE)


def add_object(doc: Doc, name: str, obj: Doc) -> Doc:
    """Append a Kubernetes object as a plan resource (under the stack, with the cluster's provider)."""
    stack, project = doc["stack"], doc["project"]
    group_version = obj["apiVersion"] if "/" in obj["apiVersion"] else f"core/{obj['apiVersion']}"
    type_ = f"kubernetes:{group_version}:{obj['kind']}"
    provider = next((r["urn"] for r in doc["resources"] if r["type"] == "pulumi:providers:kubernetes"), "")
    doc["resources"].append({
        "urn": f"urn:pulumi:{stack}::{project}::{type_}::{name}", "type": type_, "name": name, "custom": True,
        "parent": f"urn:pulumi:{stack}::{project}::pulumi:pulumi:Stack::{project}-{stack}", "provider": provider,
        "inputs": obj, "options": {},
    })
    return obj


def remove_objects(doc: Doc, pred: Callable[[Doc], bool]) -> int:
    before = len(doc["resources"])
    doc["resources"] = [r for r in doc["resources"] if not ("kind" in r["inputs"] and pred(r["inputs"]))]
    return before - len(doc["resources"])


# ---------------------------------------------------------------- the governance baseline


def role(r: str) -> Doc:
    return match_labels({L.ROLE: r})


def role_in(*roles: str) -> Doc:
    return one_of(L.ROLE, roles)


def peer(ns: str, r: str) -> Doc:
    return pod_peer(ns, role(r))


def network_policies() -> list[Doc]:
    """SR1 as the label contract states it (the set tests/verify/test_sr1_proof.py proves correct)."""
    serving, gateway, tgw = naming.NS_SERVING, naming.NS_GATEWAY, naming.NS_TENANT_GATEWAY
    dns = allow_to([pod_peer("kube-system", match_labels({"k8s-app": "kube-dns"}))],
                   [{"protocol": "UDP", "port": ports.DNS}])
    prometheus = pod_peer(naming.NS_MONITORING, match_labels({L.NAME: "prometheus"}))
    out = []
    for ns in (serving, gateway, tgw, naming.NS_MONITORING):  # monitoring: default-deny too (issue 15)
        out.append(network_policy("default-deny", ns, {}, ingress=[], egress=[]))
        out.append(network_policy("dns", ns, {}, egress=[dns]))
    out += [
        network_policy("vllm", serving, role(L.ROLE_MODEL_SERVER), ingress=[
            allow_from([peer(gateway, L.ROLE_GATEWAY)], tcp(ports.VLLM_HTTP)),
            allow_from([prometheus], tcp(ports.VLLM_METRICS))]),
        network_policy("epp", serving, role(L.ROLE_EPP), ingress=[
            allow_from([peer(gateway, L.ROLE_GATEWAY)], tcp(ports.EPP_GRPC)),
            allow_from([prometheus], tcp(ports.EPP_METRICS))]),
        network_policy("gateway", gateway, role(L.ROLE_GATEWAY),
                       ingress=[allow_from([peer(tgw, L.ROLE_TENANT_GATEWAY)], tcp(ports.GATEWAY_HTTP))],
                       egress=[allow_to([pod_peer(serving, role_in(L.ROLE_MODEL_SERVER, L.ROLE_EPP))])]),
        # Bare podSelector peers mean "this policy's namespace"; kept as a hand-written baseline would have them.
        network_policy("litellm", tgw, role(L.ROLE_TENANT_GATEWAY),
                       ingress=[allow_from([{"namespaceSelector": {}}], tcp(ports.LITELLM_HTTP))],
                       egress=[allow_to([peer(gateway, L.ROLE_GATEWAY)]),
                               allow_to([{"podSelector": role_in(L.ROLE_BUDGET_DB, L.ROLE_BUDGET_CACHE)}])]),
        network_policy("budget-db", tgw, role(L.ROLE_BUDGET_DB), ingress=[
            allow_from([{"podSelector": role(L.ROLE_TENANT_GATEWAY)}], tcp(ports.POSTGRES))]),
    ]
    return out


def identity_rule(*, enforce: bool = True) -> tuple[Doc, Doc]:
    """A LiteLLM identity VAP (+binding): the role label only on LiteLLM's ServiceAccount in its namespace."""
    expression = (f"!has(object.metadata.labels) || !('{L.ROLE}' in object.metadata.labels) || "
                  f"object.metadata.labels['{L.ROLE}'] != '{L.ROLE_TENANT_GATEWAY}' || "
                  f"(object.metadata.namespace == '{naming.NS_TENANT_GATEWAY}' && "
                  "object.spec.serviceAccountName == 'litellm')")
    vap = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
           "metadata": {"name": "llmp-litellm-identity"},
           "spec": {"failurePolicy": "Fail", "matchConstraints": {"resourceRules": [
               {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
                "resources": ["pods"]}]},
               "validations": [{"expression": expression, "message": "only LiteLLM may carry its role"}]}}
    binding = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
               "metadata": {"name": "llmp-litellm-identity-binding"},
               "spec": {"policyName": "llmp-litellm-identity", "validationActions": ["Deny" if enforce else "Audit"]}}
    return vap, binding


def governed(doc: Doc) -> Doc:
    """A copy of the plan with the governance baseline added wherever the plan renders none of its own."""
    doc = copy.deepcopy(doc)
    objs = [o for _, o in objects(doc)]
    if not any(o["kind"] == "NetworkPolicy" for o in objs):
        for np in network_policies():
            add_object(doc, f"governance-np-{np['metadata']['namespace']}-{np['metadata']['name']}", np)
    names = sr2_controls.GPU_RESOURCE_NAMES + sr2_controls.GPU_RESOURCE_PREFIXES
    if not any(is_sr2_rule(o, names, L.QUEUE_NAME) for o in objs):
        exempt = sr2_exempt_namespaces()
        vap, binding = sr2_controls.validating_admission_policy("llmp-sr2-gpu-queue", enforce=True,
                                                                 exempt_namespaces=exempt)
        add_object(doc, "governance-sr2-vap", vap)
        add_object(doc, "governance-sr2-binding", binding)
        add_object(doc, "governance-sr2-kyverno",
                   sr2_controls.kyverno_cluster_policy("llmp-sr2-gpu-queue", enforce=True, exempt_namespaces=exempt))
    if not any(is_identity_rule(o) for o in objs):
        vap, binding = identity_rule()
        add_object(doc, "governance-identity-vap", vap)
        add_object(doc, "governance-identity-binding", binding)
    return doc


def governance_component_rendered(doc: Doc) -> bool:
    """Has GovernancePack itself landed in the plan (its component type token is registered)?"""
    return any(r["type"].endswith(":GovernancePack") for r in doc["resources"])
