"""SR2's exemption list is a privilege: nobody may create a Namespace whose name SR2 exempts and the platform
does not create itself (`exemptions.unowned_exempt_names`).

Rendered as a native ValidatingAdmissionPolicy on Namespace CREATE with its binding (Deny where SR2
is enforced, Audit on the trusted tier, like SR2). The names the substrate creates at cluster creation
(`kube-system`, GKE's `gmp-system`, k3s' `nvidia-device-plugin`, ...) already exist when this policy
is applied, so their CREATE never happens again; a name that is missing (an add-on turned off later,
an `extra_exempt_namespaces` entry nobody created) cannot be claimed. Names are immutable, so UPDATE
needs no rule. The CEL is portable (`in` on a list literal) and reads only `object.metadata.name`.
"""

from __future__ import annotations

from collections.abc import Sequence

from llmplatform import labels

MESSAGE = ("SR2: this namespace name is exempt from GPU admission and is not created by the platform; "
           "creating it is refused (pick another name, or ask the platform owners to manage it)")


def _lit(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def expression(names: Sequence[str]) -> str:
    """True admits: the new Namespace's name is not one of `names`."""
    listed = "[" + ", ".join(_lit(n) for n in sorted(set(names))) + "]"
    return f"!(has(object.metadata) && has(object.metadata.name) && object.metadata.name in {listed})"


def validating_admission_policy(name: str, *, enforce: bool, names: Sequence[str]) -> tuple[dict, dict]:
    """The guard and its binding, `(policy, binding)`. `names`: the exempt names nobody may create."""
    common = {labels.PART_OF: "llm-platform", labels.MANAGED_BY: "pulumi", f"{labels.PREFIX}/control": "sr2"}
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name, "labels": dict(common)},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "matchPolicy": "Equivalent",
                "resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                                   "resources": ["namespaces"], "scope": "Cluster"}],
            },
            "validations": [{"expression": expression(names), "message": MESSAGE, "reason": "Forbidden"}],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": f"{name}-binding", "labels": dict(common)},
        "spec": {"policyName": name, "validationActions": ["Deny"] if enforce else ["Audit"]},
    }
    return policy, binding
