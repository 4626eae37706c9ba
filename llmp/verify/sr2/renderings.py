"""The rendered Kyverno ClusterPolicy and ValidatingAdmissionPolicy (+ binding) as decision models:
what each does with one admission request, given a runner that evaluates its CEL."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llmp.verify.sr2.admission import Admission
from llmp.verify.sr2.cel_text import inline_variables
from llmp.verify.sr2.engines import Outcome
from llmp.verify.sr2.matching import (
    Unmodelled,
    kyverno_block_matches,
    selector_strings,
    vap_match_resources,
)
from llmp.verify.sr2.oracle import get_path


@dataclass(frozen=True)
class Decision:
    """What a rendering does with one request."""

    flagged: bool
    """A violation is recorded (denied, audited or reported)."""
    blocked: bool
    """The request is rejected."""
    errors: tuple[str, ...] = ()


Runner = Callable[[str], Outcome]
"""Evaluates one (inlined) CEL text against the current request."""


class Rendering:
    label = ""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.texts: list[str] = []
        """Every inlined CEL text this rendering evaluates."""
        self.validation_texts: list[str] = []
        """The texts that decide pass/fail (used for the CEL-alone verdict)."""

    def _add(self, text: str, *, validation: bool) -> str:
        if text not in self.texts:
            self.texts.append(text)
        if validation and text not in self.validation_texts:
            self.validation_texts.append(text)
        return text

    def decide(self, adm: Admission, run: Runner) -> Decision:
        raise NotImplementedError

    def namespace_hints(self) -> tuple[list[str], list[tuple[str, str]]]:
        raise NotImplementedError


def _check_keys(node: Any, allowed: set[str], where: str, problems: list[str]) -> Mapping:
    if not isinstance(node, Mapping):
        problems.append(f"{where}: expected an object, got {type(node).__name__}")
        return {}
    unknown = set(node) - allowed
    if unknown:
        problems.append(f"{where}: fields {sorted(unknown)} are not modelled by the SR2 proof")
    return node


def cel_pass(texts: Sequence[str], run: Runner) -> tuple[bool | None, list[str]]:
    """(all true?, errors); None when an expression errored and none was false."""
    errors: list[str] = []
    verdict: bool | None = True
    for text in texts:
        out = run(text)
        if out is False:
            return False, errors
        if out is not True:
            errors.append(str(out))
            verdict = None
    return verdict, errors


class KyvernoRendering(Rendering):
    """A Kyverno ClusterPolicy's validate.cel rules, as Kyverno would apply them at admission."""

    label = "kyverno"

    def __init__(self, policy: Mapping[str, Any]) -> None:
        super().__init__()
        p = self.problems
        if policy.get("apiVersion") != "kyverno.io/v1" or policy.get("kind") != "ClusterPolicy":
            p.append(f"kyverno: expected kyverno.io/v1 ClusterPolicy, got {policy.get('apiVersion')} "
                     f"{policy.get('kind')}")
        spec = _check_keys(policy.get("spec", {}), {"admission", "background", "rules", "webhookConfiguration",
                                                    "validationFailureAction", "failurePolicy", "applyRules",
                                                    "emitWarning", "webhookTimeoutSeconds"},
                           "kyverno spec", p)
        self.admission = spec.get("admission", True) is not False
        if not self.admission:
            p.append("kyverno spec.admission is false: the policy never runs at admission")
        if spec.get("background", True) is False:
            p.append("kyverno spec.background is false: workloads that predate the policy are never reported")
        wh = _check_keys(spec.get("webhookConfiguration", {}), {"failurePolicy", "timeoutSeconds", "matchConditions"},
                         "kyverno spec.webhookConfiguration", p)
        failure_policy = wh.get("failurePolicy", spec.get("failurePolicy", "Fail"))
        self.fail_closed = failure_policy == "Fail"
        if not self.fail_closed:
            p.append(f"kyverno failurePolicy is {failure_policy!r}: errors and timeouts admit the request")
        self.match_conditions = [self._add(inline_variables((), c.get("expression", "")), validation=False)
                                 for c in wh.get("matchConditions") or ()]
        self.apply_one = spec.get("applyRules", "All") == "One"
        self.default_action = spec.get("validationFailureAction", "Audit")
        self.rules: list[dict[str, Any]] = []
        for i, rule in enumerate(spec.get("rules") or ()):
            where = f"kyverno rules[{i}] ({rule.get('name')})"
            _check_keys(rule, {"name", "match", "exclude", "validate", "celPreconditions", "skipBackgroundRequests",
                               "reportProperties"}, where, p)
            validate = _check_keys(rule.get("validate", {}), {"failureAction", "allowExistingViolations", "cel",
                                                              "message"}, f"{where}.validate", p)
            cel = _check_keys(validate.get("cel", {}), {"expressions", "variables"}, f"{where}.validate.cel", p)
            if not cel.get("expressions"):
                p.append(f"{where}: no validate.cel.expressions")
            variables = [(v.get("name", ""), v.get("expression", "")) for v in cel.get("variables") or ()]
            exprs = [self._add(inline_variables(variables, e.get("expression", "")), validation=True)
                     for e in cel.get("expressions") or ()]
            pre = [self._add(inline_variables(variables, c.get("expression", "")), validation=False)
                   for c in rule.get("celPreconditions") or ()]
            self.rules.append({
                "where": where, "match": rule.get("match"), "exclude": rule.get("exclude"), "exprs": exprs,
                "pre": pre, "action": validate.get("failureAction", self.default_action),
                "allow_existing": validate.get("allowExistingViolations", True) is not False,
            })
        if not self.rules:
            p.append("kyverno: no rules")

    def namespace_hints(self) -> tuple[list[str], list[tuple[str, str]]]:
        names: list[str] = []
        pairs: list[tuple[str, str]] = []
        for rule in self.rules:
            for block in (rule["match"], rule["exclude"]):
                for flt in _filters(block):
                    res = flt.get("resources") or {}
                    for pattern in res.get("namespaces") or ():
                        names.append(pattern)
                        names.append(pattern.replace("*", "x").replace("?", "x"))
                    n, pr = selector_strings(res.get("namespaceSelector"))
                    names += n
                    pairs += pr
        return names, pairs

    def decide(self, adm: Admission, run: Runner) -> Decision:
        if not self.admission:
            return Decision(False, False)
        errors: list[str] = []
        if self.match_conditions:
            ok, errs = cel_pass(self.match_conditions, run)
            errors += errs
            if ok is False or (ok is None and not self.fail_closed):
                return Decision(False, False, tuple(errors))
            if ok is None:  # the API server rejects when a match condition errors under failurePolicy Fail
                return Decision(True, True, tuple(errors))
        flagged = blocked = False
        for rule in self.rules:
            try:
                matched = (kyverno_block_matches(rule["match"], adm, rule["where"] + ".match", empty=False)
                           and not kyverno_block_matches(rule["exclude"], adm, rule["where"] + ".exclude",
                                                          empty=False))
            except Unmodelled as exc:
                _note(self.problems, str(exc))
                matched = False
            if not matched:
                continue
            ok, errs = cel_pass(rule["pre"], run)
            errors += errs
            if ok is False:
                continue
            verdict, errs = cel_pass(rule["exprs"], run) if ok else (None, [])
            errors += errs
            if verdict is True:
                if self.apply_one:
                    break
                continue
            # verdict False, or an error (Kyverno reports rule errors; Enforce then blocks them)
            flagged = True
            existing = adm.operation == "UPDATE"  # the old object is the same shape, so it violated too
            if rule["action"] == "Enforce" and not (existing and rule["allow_existing"]):
                blocked = True
            if self.apply_one:
                break
        return Decision(flagged, blocked, tuple(errors))


def _filters(block: Any) -> list[Mapping]:
    if not isinstance(block, Mapping):
        return []
    out = list(block.get("any") or ()) + list(block.get("all") or ())
    if "resources" in block:
        out.append({"resources": block["resources"]})
    return out


def _note(problems: list[str], text: str) -> None:
    if text not in problems:
        problems.append(text)


class VapRendering(Rendering):
    """A ValidatingAdmissionPolicy and its binding, as the API server would apply them."""

    label = "vap"

    def __init__(self, policy: Mapping[str, Any], binding: Mapping[str, Any]) -> None:
        super().__init__()
        p = self.problems
        for obj, kind in ((policy, "ValidatingAdmissionPolicy"), (binding, "ValidatingAdmissionPolicyBinding")):
            if obj.get("apiVersion") != "admissionregistration.k8s.io/v1" or obj.get("kind") != kind:
                p.append(f"vap: expected admissionregistration.k8s.io/v1 {kind}, got {obj.get('apiVersion')} "
                         f"{obj.get('kind')}")
        spec = _check_keys(policy.get("spec", {}), {"failurePolicy", "matchConstraints", "variables", "validations",
                                                    "matchConditions", "auditAnnotations"}, "vap spec", p)
        self.fail_closed = spec.get("failurePolicy", "Fail") == "Fail"
        if not self.fail_closed:
            p.append(f"vap failurePolicy is {spec.get('failurePolicy')!r}: expression errors admit the request")
        self.match = spec.get("matchConstraints")
        if not self.match:
            p.append("vap spec.matchConstraints is missing (the API server requires it)")
        variables = [(v.get("name", ""), v.get("expression", "")) for v in spec.get("variables") or ()]
        self.exprs = [self._add(inline_variables(variables, v.get("expression", "")), validation=True)
                      for v in spec.get("validations") or ()]
        if not self.exprs:
            p.append("vap: no spec.validations")
        self.conditions = [self._add(inline_variables(variables, c.get("expression", "")), validation=False)
                           for c in spec.get("matchConditions") or ()]
        bspec = _check_keys(binding.get("spec", {}), {"policyName", "validationActions", "matchResources"},
                            "vap binding spec", p)
        self.bound = bspec.get("policyName") == get_path(policy, "metadata", "name")
        if not self.bound:
            p.append(f"vap binding policyName {bspec.get('policyName')!r} does not name the policy "
                     f"{get_path(policy, 'metadata', 'name')!r}: the policy is never applied")
        self.actions = tuple(bspec.get("validationActions") or ())
        if not self.actions:
            p.append("vap binding has no validationActions")
        self.binding_match = bspec.get("matchResources")

    def namespace_hints(self) -> tuple[list[str], list[tuple[str, str]]]:
        names: list[str] = []
        pairs: list[tuple[str, str]] = []
        for mr in (self.match, self.binding_match):
            if isinstance(mr, Mapping):
                for key in ("namespaceSelector", "objectSelector"):
                    n, pr = selector_strings(mr.get(key))
                    names += n
                    pairs += pr
        return names, pairs

    def decide(self, adm: Admission, run: Runner) -> Decision:
        if not self.bound:
            return Decision(False, False)
        try:
            if not vap_match_resources(self.match, adm, "vap matchConstraints", required_rules=True):
                return Decision(False, False)
            if not vap_match_resources(self.binding_match, adm, "vap binding matchResources", required_rules=False):
                return Decision(False, False)
        except Unmodelled as exc:
            _note(self.problems, str(exc))
            return Decision(False, False)
        errors: list[str] = []
        ok, errs = cel_pass(self.conditions, run)
        errors += errs
        if ok is False or (ok is None and not self.fail_closed):
            return Decision(False, False, tuple(errors))
        verdict, errs = cel_pass(self.exprs, run) if ok else (None, [])
        errors += errs
        if verdict is True or (verdict is None and not self.fail_closed):
            return Decision(False, False, tuple(errors))
        return Decision(True, "Deny" in self.actions, tuple(errors))
