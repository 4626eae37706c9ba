"""Are the rendered admission controls there, and do they enforce? (Shared by every admission control.)

Plain-dict checks over `admissionregistration.k8s.io/v1` ValidatingAdmissionPolicy (+Binding) and
Kyverno `ClusterPolicy` objects. Each control recognises its own rule by what its CEL reads (the label
contract; `is_<rule>` in the control's `predicates.py`), never by its name, so a renamed or re-rendered
control is still found and an unrelated one is not mistaken for it. Whether the CEL is *right* is proved by `llmp verify` with two CEL engines; these
predicates answer the cheaper question a preview needs: is the control present, does it cover the
resources and operations it must, and will a violation be denied rather than only audited.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any


ENFORCING_VAP_ACTION = "Deny"
ENFORCING_KYVERNO_ACTION = "enforce"


def cel_text(obj: Mapping[str, Any]) -> str:
    """Every CEL expression and message in a VAP or Kyverno ClusterPolicy, joined (for recognising it)."""
    parts: list[str] = []

    def visit(node: Any, key: str = "") -> None:
        if isinstance(node, Mapping):
            for k, v in node.items():
                visit(v, str(k))
        elif isinstance(node, (list, tuple)):
            for item in node:
                visit(item, key)
        elif isinstance(node, str) and key in ("expression", "message", "messageExpression"):
            parts.append(node)

    visit(obj.get("spec") or {})
    return "\n".join(parts)


def name_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def vap_rules(vap: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(((vap.get("spec") or {}).get("matchConstraints") or {}).get("resourceRules") or ())


def vap_covers(vap: Mapping[str, Any], group: str, resource: str, operations: Iterable[str]) -> bool:
    """Does some resourceRule match `resource` in API `group` for every one of `operations`?"""
    needed = set(operations)
    for rule in vap_rules(vap):
        groups = set(rule.get("apiGroups") or ())
        resources = set(rule.get("resources") or ())
        ops = set(rule.get("operations") or ())
        if (group in groups or "*" in groups) and (resource in resources or "*" in resources) and (
                "*" in ops or needed <= ops):
            return True
    return False


def bindings_of(vap: Mapping[str, Any], bindings: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    name = name_of(vap)
    return [b for b in bindings if (b.get("spec") or {}).get("policyName") == name]


def binding_denies(binding: Mapping[str, Any]) -> bool:
    return ENFORCING_VAP_ACTION in ((binding.get("spec") or {}).get("validationActions") or ())


def vap_problems(vap: Mapping[str, Any], bindings: Iterable[Mapping[str, Any]],
                 required: Sequence[tuple[str, str]], operations: Sequence[str]) -> list[str]:
    """Why a recognised VAP does not enforce: missing coverage, a fail-open failurePolicy, no Deny binding."""
    out = []
    name = name_of(vap)
    uncovered = [f"{g or 'core'}/{r}" for g, r in required if not vap_covers(vap, g, r, operations)]
    if uncovered:
        out.append(f"ValidatingAdmissionPolicy {name} does not match {', '.join(uncovered)} on "
                   f"{' and '.join(operations)}")
    if (vap.get("spec") or {}).get("failurePolicy", "Fail") != "Fail":
        out.append(f"ValidatingAdmissionPolicy {name} has failurePolicy "
                   f"{(vap.get('spec') or {}).get('failurePolicy')}: an evaluation error admits the request")
    mine = bindings_of(vap, bindings)
    if not mine:
        out.append(f"ValidatingAdmissionPolicy {name} has no ValidatingAdmissionPolicyBinding: it never runs")
    elif not any(binding_denies(b) for b in mine):
        actions = sorted({a for b in mine for a in (b.get("spec") or {}).get("validationActions") or ()})
        out.append(f"ValidatingAdmissionPolicy {name} is bound with validationActions {actions}, not "
                   f"{ENFORCING_VAP_ACTION}: violations are reported, not denied")
    return out


def kyverno_enforces(policy: Mapping[str, Any]) -> bool:
    """True when every validate rule of a Kyverno ClusterPolicy fails requests (per-rule action, else the spec's)."""
    spec = policy.get("spec") or {}
    default = str(spec.get("validationFailureAction") or "Audit").lower()
    rules = [r for r in spec.get("rules") or () if isinstance(r, Mapping) and r.get("validate")]
    return bool(rules) and all(
        str((r.get("validate") or {}).get("failureAction") or default).lower() == ENFORCING_KYVERNO_ACTION
        for r in rules)


def control_problems(what: str, vaps: Sequence[Mapping[str, Any]], bindings: Sequence[Mapping[str, Any]],
                     kyverno: Sequence[Mapping[str, Any]], *, required: Sequence[tuple[str, str]],
                     operations: Sequence[str], vap_required: bool = True) -> list[str]:
    """Problems with one control rendered as VAPs (+bindings) and/or Kyverno ClusterPolicies (already recognised).

    Holds when at least one rendering enforces and covers everything, and no rendering that exists
    is left in audit (an audit copy next to an enforcing one means the tier and the rendering disagree).
    `vap_required`: the native VAP must exist (Kyverno is optional and extra).
    """
    if not vaps and not kyverno:
        return [f"no admission rule found for {what}"]
    out: list[str] = []
    if vap_required and not vaps:
        out.append(f"{what}: no ValidatingAdmissionPolicy found (the native rule must exist; Kyverno alone is "
                   "not enough)")
    for vap in vaps:
        out += vap_problems(vap, bindings, required, operations)
    for policy in kyverno:
        if not kyverno_enforces(policy):
            out.append(f"Kyverno ClusterPolicy {name_of(policy)} audits instead of enforcing (failureAction is "
                       "not Enforce)")
    return out
