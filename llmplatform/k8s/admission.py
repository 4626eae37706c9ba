"""Builder for a `ValidatingAdmissionPolicy` and its cluster-wide binding: the objects' shape, nothing else.

The SR1 admission rules (identity, host isolation, no default ServiceAccount) share this skeleton:
`failurePolicy: Fail`, `matchPolicy: Equivalent`, namespaced resource rules, CEL variables, one validation,
and a binding that denies (`enforce`) or audits. What each rule checks stays in its control's folder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llmplatform import naming


def validating_admission_policy(
    name: str,
    *,
    resource_rules: Mapping[tuple[str, str], Sequence[str]],
    operations: Sequence[str],
    variables: Sequence[tuple[str, str]],
    expression: str,
    message: str,
    metadata_labels: Mapping[str, str],
    enforce: bool = True,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`(policy, binding)`. `resource_rules`: (group, version) -> resources (subresources as `pods/x`);
    `variables`: (name, CEL) in evaluation order; the binding is `<name>-binding`, `Deny` when `enforce`,
    else `Audit`."""
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": naming.k8s(name), "labels": dict(metadata_labels)},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "matchPolicy": "Equivalent",
                "resourceRules": [
                    {"apiGroups": [group], "apiVersions": [version], "operations": list(operations),
                     "resources": list(resources), "scope": "Namespaced"}
                    for (group, version), resources in resource_rules.items()
                ],
            },
            "variables": [{"name": n, "expression": e} for n, e in variables],
            "validations": [{"expression": expression, "message": message, "reason": "Forbidden"}],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": naming.k8s(binding_name(name)), "labels": dict(metadata_labels)},
        "spec": {"policyName": name, "validationActions": ["Deny"] if enforce else ["Audit"]},
    }
    return policy, binding


def binding_name(name: str) -> str:
    return f"{name}-binding"
