"""No pod in a platform namespace runs as the namespace's `default` ServiceAccount.

Why: SR1 identity ties every pod label a NetworkPolicy trusts to the ServiceAccount its pods run as
(`sr1_identity`). `default` exists in every namespace and is what a pod that names no ServiceAccount
runs as, so a label bound to `default` can be worn by any pod anyone creates there without naming
an account, and whatever RBAC is ever granted to `default` reaches every such pod. So each workload
of the platform names its own ServiceAccount, and admission refuses `default`.

Rendered with SR1 identity (it rides on that decision: multi-team and untrusted) as a native
ValidatingAdmissionPolicy + binding (Deny). Scope: SR1's managed namespaces (llm-serving,
llm-gateway, llm-tenant-gateway, monitoring), by the object's namespace in the CEL (as the identity
rule does, so the SR1 proof, which evaluates the CEL, sees the scope too; a `namespaceSelector` would be
invisible to it). Pods and the pod templates of `sr1_identity.TEMPLATE_KINDS`, on CREATE and UPDATE.
Tenant namespaces (untrusted) are the tenant's to run as they like; operator namespaces run the pinned
charts' pods, each with its own account. The CEL reads only `object` and is total, like the identity
rule's: a template without `serviceAccountName` is judged as `default`.
"""

from __future__ import annotations

from collections.abc import Iterable

from llmplatform.controls.rendering import ControlInputs, Rendered
from llmplatform.k8s import admission
from llmplatform.controls.sr1_identity.render import (
    OPERATIONS,
    SERVICE_ACCOUNT,
    SR1_LABELS,
    TEMPLATE_KINDS,
    lit,
    templates_expression,
)
from llmplatform.controls.sr1_network.render import MANAGED_NAMESPACES

POLICY_NAME = "llmplatform-sr1-no-default-sa"
DEFAULT_SERVICE_ACCOUNT = "default"
MESSAGE = ("SR1: a pod in a platform namespace must run as its own ServiceAccount, not 'default' (set "
           "serviceAccountName on the pod template)")


def expression(namespaces: Iterable[str] = MANAGED_NAMESPACES) -> str:
    """CEL, True admits: outside `namespaces`, or every pod template names an account other than `default`."""
    scope = "[" + ", ".join(lit(n) for n in sorted(set(namespaces))) + "]"
    return (f"!(variables.namespaceName in {scope}) ||\n"
            f"variables.podTemplates.all(t, {SERVICE_ACCOUNT} != {lit(DEFAULT_SERVICE_ACCOUNT)})")


def validating_admission_policy(namespaces: Iterable[str] = MANAGED_NAMESPACES, *, name: str = POLICY_NAME,
                                enforce: bool = True) -> tuple[dict, dict]:
    """`(policy, binding)`: the rule over `namespaces`, bound with `Deny` (`enforce`) or `Audit`; `failurePolicy: Fail`."""
    rules: dict[tuple[str, str], list[str]] = {}
    for k in TEMPLATE_KINDS:
        rules.setdefault((k.group, k.version), []).append(k.resource)
    variables = [
        ("podTemplates", templates_expression()),
        ("namespaceName", "has(object.metadata) && has(object.metadata.namespace) ? object.metadata.namespace : ''"),
    ]
    return admission.validating_admission_policy(
        name, resource_rules=rules, operations=OPERATIONS, variables=variables, expression=expression(namespaces),
        message=MESSAGE, metadata_labels=SR1_LABELS, enforce=enforce)


def objects(inputs: ControlInputs) -> list[Rendered]:
    """What GovernancePack creates: the policy and its binding (Deny) over SR1's managed namespaces."""
    vap, binding = validating_admission_policy()
    return [Rendered(role="no-default-sa-policy", obj=vap),
            Rendered(role="no-default-sa-binding", obj=binding, after=("no-default-sa-policy",))]
