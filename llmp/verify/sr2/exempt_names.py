"""Exempt names cannot be squatted: creating a Namespace whose name SR2 exempts is refused unless the
platform creates that namespace itself.

For every name SR2's rendered VAP exempts (its `NotIn` values), a Namespace CREATE with that name is
put through every rendered ValidatingAdmissionPolicy that matches Namespace CREATE (resource rules,
binding, failure policy), evaluated on cel-expr-python:

- a name the plan does not create (a substrate namespace, an `extra_exempt_namespaces` entry, a name
  copied from another substrate) must be denied on an enforcing tier (reported on trusted);
- a name the plan creates (a Namespace object in the plan's own manifests) and an ordinary name
  (`team-a`) must be admitted, or the first `pulumi up` and every team would be refused.

The exempt names are read from the rendered SR2 VAP, never from the platform's exemption module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llmp.verify.sr2.engines import CppEngine
from llmp.verify.sr2.oracle import NS_NAME_LABEL


@dataclass(frozen=True)
class NameVerdict:
    name: str
    owned: bool
    denied_by: tuple[str, ...]
    reported_by: tuple[str, ...]


def _matches_namespace_create(spec: Mapping[str, Any]) -> bool:
    mc = spec.get("matchConstraints") or {}
    for rule in mc.get("resourceRules") or ():
        if not any(g in ("", "*") for g in rule.get("apiGroups") or ()):
            continue
        if not any(v in ("v1", "*") for v in rule.get("apiVersions") or ()):
            continue
        if not any(o in ("CREATE", "*") for o in rule.get("operations") or ()):
            continue
        if not any(r in ("namespaces", "*") for r in rule.get("resources") or ()):
            continue
        if rule.get("scope", "*") not in ("*", "Cluster"):
            continue
        return True
    return False


def exempt_names_from_vap(vap: Mapping[str, Any]) -> list[str]:
    """The names an SR2 VAP's namespaceSelector exempts (`kubernetes.io/metadata.name NotIn [...]`)."""
    sel = ((vap.get("spec") or {}).get("matchConstraints") or {}).get("namespaceSelector") or {}
    out: list[str] = []
    for expr in sel.get("matchExpressions") or ():
        if expr.get("key") == NS_NAME_LABEL and expr.get("operator") == "NotIn":
            out += [str(v) for v in expr.get("values") or ()]
    return sorted(set(out))


def prove_exempt_names(objects: Sequence[Mapping[str, Any]], exempt: Sequence[str], owned: Sequence[str], *,
                       enforce: bool) -> tuple[list[NameVerdict], list[str]]:
    """(verdict per probed name, problems). `owned`: namespaces the plan itself creates."""
    engine = CppEngine()
    vaps = [o for o in objects if o.get("kind") == "ValidatingAdmissionPolicy"
            and _matches_namespace_create(o.get("spec") or {})]
    bindings = [o for o in objects if o.get("kind") == "ValidatingAdmissionPolicyBinding"]
    guards: list[tuple[str, list[Any], bool, tuple[str, ...]]] = []
    problems: list[str] = []
    for vap in vaps:
        name = str((vap.get("metadata") or {}).get("name"))
        spec = vap.get("spec") or {}
        mine = [b for b in bindings if (b.get("spec") or {}).get("policyName") == name]
        if not mine:
            continue
        unmodelled = set(spec.get("matchConstraints") or {}) - {"resourceRules", "matchPolicy"}
        unmodelled |= {k for b in mine for k in (b.get("spec") or {}) if k not in ("policyName", "validationActions")}
        if spec.get("matchConditions") or spec.get("variables") or unmodelled:
            problems.append(f"ValidatingAdmissionPolicy {name} on Namespace CREATE uses fields the exempt-name proof "
                            f"does not model ({sorted(unmodelled) or 'matchConditions/variables'})")
            continue
        programs = [engine.compile(v.get("expression", "")) for v in spec.get("validations") or ()]
        actions = tuple(a for b in mine for a in (b.get("spec") or {}).get("validationActions") or ())
        guards.append((name, programs, spec.get("failurePolicy", "Fail") == "Fail", actions))

    def verdict(ns_name: str) -> NameVerdict:
        obj = {"apiVersion": "v1", "kind": "Namespace",
               "metadata": {"name": ns_name, "labels": {NS_NAME_LABEL: ns_name}}}
        act = engine.activation({"object": obj, "oldObject": None, "namespaceObject": None, "params": None,
                                 "request": {"operation": "CREATE", "name": ns_name, "namespace": "",
                                             "kind": {"group": "", "version": "v1", "kind": "Namespace"},
                                             "resource": {"group": "", "version": "v1", "resource": "namespaces"},
                                             "subResource": "", "userInfo": {"username": "team-admin"}}})
        denied, reported = [], []
        for name, programs, fail_closed, actions in guards:
            outs = [engine.run(p, act) for p in programs]
            failed = any(o is False for o in outs) or (fail_closed and any(isinstance(o, str) for o in outs))
            if failed:
                (denied if "Deny" in actions else reported).append(name)
        return NameVerdict(ns_name, ns_name in owned, tuple(denied), tuple(reported))

    verdicts = [verdict(n) for n in sorted(set(exempt) | {"team-a"} | set(owned))]
    for v in verdicts:
        must_refuse = v.name in exempt and not v.owned
        if must_refuse and enforce and not v.denied_by:
            problems.append(f"a Namespace named {v.name!r} (exempt from SR2, not created by the platform) can be "
                            "created by anyone allowed to create namespaces: no ValidatingAdmissionPolicy denies it, "
                            "so a squatter gets an SR2-free namespace")
        elif must_refuse and not enforce and not (v.denied_by or v.reported_by):
            problems.append(f"creating a Namespace named {v.name!r} (exempt from SR2, not created by the platform) "
                            "is not even reported")
        elif not must_refuse and (v.denied_by or (enforce and v.reported_by)):
            problems.append(f"creating Namespace {v.name!r} is refused by {', '.join(v.denied_by + v.reported_by)}, "
                            "although " + ("the platform creates it" if v.owned else "SR2 does not exempt it"))
    return verdicts, problems
