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


def print_findings(findings: Iterable[Finding], console, err_console, *, quiet: bool = False) -> None:
    """The findings for a person reading `llmp plan`: every mandatory violation in full on `err_console`;
    unless `quiet`, one line per advisory policy and one line naming the policies that do not apply to
    this stack (their reasons are in policy.json). `console`s are rich Consoles."""
    from rich.markup import escape

    ordered = sort_findings(findings)
    for f in (f for f in ordered if f.enforcement == MANDATORY):
        where = "" if f.resource == STACK else f" ({escape(f.resource.rsplit('::', 1)[-1])})"
        err_console.print(f"[red]policy mandatory[/] {f.policy}{where}: {escape(f.message)}", highlight=False)
    if quiet:
        return
    advisory: dict[str, list[Finding]] = {}
    for f in ordered:
        if f.enforcement == ADVISORY:
            advisory.setdefault(f.policy, []).append(f)
    for policy, group in advisory.items():
        more = f" (and {len(group) - 1} more like it)" if len(group) > 1 else ""
        console.print(f"[yellow]policy advisory[/] {policy}: {escape(group[0].message)}{more}", highlight=False)
    idle = sorted({f.policy for f in ordered if f.enforcement == NOT_APPLICABLE})
    if idle:
        console.print(f"[dim]policy not applicable on this stack ({len(idle)}):[/] {', '.join(idle)} "
                      "[dim](reasons in policy.json)[/]", highlight=False)
