"""SR1 identity binding: only LiteLLM's own pods may carry LiteLLM's role label.

NetworkPolicy selects LiteLLM as (namespace `llm-tenant-gateway` AND pod label
`llmplatform.io/role: tenant-gateway`) in one peer; it cannot select a ServiceAccount. This
admission rule closes the rest: a Pod, or the pod template of a Deployment, ReplicaSet,
StatefulSet, DaemonSet, Job or CronJob, may carry that label only if the object is in LiteLLM's
namespace **and** the pod spec's `serviceAccountName` is LiteLLM's ServiceAccount. It applies
cluster-wide (every namespace, system ones included), on CREATE and UPDATE, and also to the
`pods/status` subresource, whose updates can change a pod's labels.

Rendered as a native `admissionregistration.k8s.io/v1` ValidatingAdmissionPolicy + binding (in
the API server: no webhook to be down). Not rendered for Kyverno: SR2 is the platform's only
Kyverno policy (`llmp verify` expects exactly one ClusterPolicy), and the native rule covers every
case the Kyverno one would.

The CEL is portable (`has`, `in`, `all`, `map`, `?:`; no optional types, no Kubernetes
extensions), total (absent metadata, labels, spec, templates or ServiceAccount never raise) and
reads only `object`, so cel-expr-python and cel-python evaluate it as the API server does.

- The namespace comes from `object.metadata.namespace`, which the API server fills from the request
  path before admission; an object without one counts as "not LiteLLM's namespace" (denied if labelled).
- A Pod's `serviceAccountName` is set by the ServiceAccount admission plugin (mutating, so before
  this rule); a template without one runs as `default` and is denied when it carries the label.
- Other pod-creating kinds (LeaderWorkerSet, operators' CRDs) are not matched here; the pods they
  create are, so a spoofing pod is refused either way, only later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from llmplatform import labels, naming

OPERATIONS = ("CREATE", "UPDATE")
POLICY_NAME = "llmplatform-sr1-identity"


@dataclass(frozen=True)
class IdentityBinding:
    """Pods carrying `role` must run as `service_account` in `namespace`."""

    role: str
    namespace: str
    service_account: str


@dataclass(frozen=True)
class TemplateKind:
    group: str
    version: str
    kind: str
    resource: str
    template_path: tuple[str, ...]
    """Path from the object to its pod template; `()` for a Pod (the object is the pod)."""


TEMPLATE_KINDS: tuple[TemplateKind, ...] = (
    TemplateKind("", "v1", "Pod", "pods", ()),
    TemplateKind("apps", "v1", "Deployment", "deployments", ("spec", "template")),
    TemplateKind("apps", "v1", "ReplicaSet", "replicasets", ("spec", "template")),
    TemplateKind("apps", "v1", "StatefulSet", "statefulsets", ("spec", "template")),
    TemplateKind("apps", "v1", "DaemonSet", "daemonsets", ("spec", "template")),
    TemplateKind("batch", "v1", "Job", "jobs", ("spec", "template")),
    TemplateKind("batch", "v1", "CronJob", "cronjobs", ("spec", "jobTemplate", "spec", "template")),
)
EXTRA_SUBRESOURCES = {"pods": ("pods/status",)}
"""Subresources whose updates carry the full object and can change labels."""


def litellm_binding(service_account: str, namespace: str = naming.NS_TENANT_GATEWAY) -> IdentityBinding:
    """The binding SR1 needs: the tenant-gateway role belongs to LiteLLM's ServiceAccount in its namespace."""
    return IdentityBinding(labels.ROLE_TENANT_GATEWAY, namespace, service_account)


def _lit(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _field(path: tuple[str, ...]) -> str:
    return ".".join(("object",) + path)


def _present(path: tuple[str, ...]) -> str:
    return " && ".join(f"has({_field(path[: i + 1])})" for i in range(len(path)))


def _templates_expression() -> str:
    branches: dict[tuple[str, ...], list[str]] = {}
    for k in TEMPLATE_KINDS:
        branches.setdefault(k.template_path, []).append(k.kind)
    out = "[]"
    for path, kinds in reversed(list(branches.items())):
        test = f"object.kind == {_lit(kinds[0])}" if len(kinds) == 1 else \
            "object.kind in [" + ", ".join(_lit(k) for k in sorted(kinds)) + "]"
        value = "[object]" if not path else f"({_present(path)} ? [{_field(path)}] : [])"
        out = f"{test} ? {value} :\n{out}"
    return out


def identity_cel(bindings: Sequence[IdentityBinding]) -> tuple[tuple[tuple[str, str], ...], str, str]:
    """(variables, expression, message) of the rule; `variables` in evaluation order."""
    role = _lit(labels.ROLE)
    variables = (
        ("podTemplates", _templates_expression()),
        ("namespaceName", "has(object.metadata) && has(object.metadata.namespace) ? object.metadata.namespace : ''"),
        ("identities",
         "variables.podTemplates.map(t, {"
         f"'role': has(t.metadata) && has(t.metadata.labels) && {role} in t.metadata.labels ? "
         f"t.metadata.labels[{role}] : '', "
         "'serviceAccount': has(t.spec) && has(t.spec.serviceAccountName) ? t.spec.serviceAccountName : ''})"),
    )
    clauses = [f"(i.role != {_lit(b.role)} || (variables.namespaceName == {_lit(b.namespace)} && "
               f"i.serviceAccount == {_lit(b.service_account)}))" for b in bindings]
    expression = "variables.identities.all(i, " + " && ".join(clauses) + ")"
    message = "SR1: " + "; ".join(
        f"only pods of ServiceAccount {b.service_account} in namespace {b.namespace} may carry the label "
        f"{labels.ROLE}={b.role}" for b in bindings
    ) + " (pods and the pod templates of " + ", ".join(k.kind for k in TEMPLATE_KINDS[1:]) + ")"
    return variables, expression, message


def _check(bindings: Sequence[IdentityBinding]) -> None:
    problems = []
    if not bindings:
        problems.append("bindings: got none; pass at least litellm_binding(<service account>)")
    roles = [b.role for b in bindings]
    for b in bindings:
        if roles.count(b.role) > 1:
            problems.append(f"role {b.role!r}: bound more than once; one role has one identity")
        for what, value in (("namespace", b.namespace), ("service_account", b.service_account)):
            if not value or len(value) > 253 or any(c in value for c in "' \\\n"):
                problems.append(f"{what} {value!r} of role {b.role!r}: must be a Kubernetes name")
    if problems:
        raise ValueError("SR1 identity rule inputs are invalid: " + "; ".join(sorted(set(problems))))


def binding_name(name: str) -> str:
    return f"{name}-binding"


def validating_admission_policy(
    bindings: Sequence[IdentityBinding], *, name: str = POLICY_NAME, enforce: bool = True
) -> tuple[dict, dict]:
    """`(policy, binding)`: the native ValidatingAdmissionPolicy and its cluster-wide binding.

    `enforce`: True binds with `validationActions: [Deny]`, False with `[Audit]`. `failurePolicy:
    Fail`: an evaluation error denies (the CEL is total, so only a broken API server gets there).
    """
    _check(bindings)
    variables, expression, message = identity_cel(bindings)
    rules: dict[tuple[str, str], list[str]] = {}
    for k in TEMPLATE_KINDS:
        rules.setdefault((k.group, k.version), []).extend((k.resource, *EXTRA_SUBRESOURCES.get(k.resource, ())))
    meta_labels = {labels.PART_OF: "llm-platform", labels.MANAGED_BY: "pulumi", f"{labels.PREFIX}/control": "sr1"}
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": naming.k8s(name), "labels": meta_labels},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "matchPolicy": "Equivalent",
                "resourceRules": [
                    {"apiGroups": [group], "apiVersions": [version], "operations": list(OPERATIONS),
                     "resources": resources, "scope": "Namespaced"}
                    for (group, version), resources in rules.items()
                ],
            },
            "variables": [{"name": n, "expression": e} for n, e in variables],
            "validations": [{"expression": expression, "message": message, "reason": "Forbidden"}],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": naming.k8s(binding_name(name)), "labels": meta_labels},
        "spec": {"policyName": name, "validationActions": ["Deny"] if enforce else ["Audit"]},
    }
    return policy, binding
