"""What a policy run reports: one Finding per violation (or per check that reported itself not applicable)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

MANDATORY, ADVISORY, NOT_APPLICABLE = "mandatory", "advisory", "not-applicable"
STACK = "stack"
"""The `resource` of a stack-level finding that names no resource."""


@dataclass(frozen=True, order=True)
class Finding:
    """One diagnostic, in the shape both runners reduce the analyzer's answer to.

    `enforcement`: `mandatory` (fails the run), `advisory` (reported), or `not-applicable` (the policy
    said it does not apply, with its reason as the message: e.g. a control dormant on the trusted tier).
    `message` is the policy's own text, without the policy description CrossGuard prepends.
    """

    policy: str
    enforcement: str
    resource: str
    """The URN the finding is about, or "stack"."""
    message: str


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """A stable order: by policy, resource, enforcement, message."""
    return sorted(findings, key=lambda f: (f.policy, f.resource, f.enforcement, f.message))


def has_mandatory(findings: Iterable[Finding]) -> bool:
    """True when any finding is a mandatory violation: `llmp plan` then exits non-zero."""
    return any(f.enforcement == MANDATORY for f in findings)


def summary(findings: Iterable[Finding]) -> dict[str, int]:
    counts = Counter(f.enforcement for f in findings)
    return {MANDATORY: counts[MANDATORY], ADVISORY: counts[ADVISORY], NOT_APPLICABLE: counts[NOT_APPLICABLE]}


def policy_document(findings: Iterable[Finding], **context: str) -> dict:
    """The content of policy.json: context (stack, runner, pack config), counts and sorted findings."""
    ordered = sort_findings(findings)
    return {**context, "summary": summary(ordered), "passed": not has_mandatory(ordered),
            "findings": [asdict(f) for f in ordered]}


def write_policy_json(findings: Iterable[Finding], path: Path, **context: str) -> Path:
    """Write policy.json (sorted keys and findings, so it is byte-identical across runs); return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(policy_document(findings, **context), indent=2, sort_keys=True) + "\n")
    return path
