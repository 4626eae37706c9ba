"""The human side of `llmp verify`: rich tables in the terminal and `report.md` beside verify.json."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from llmplatform.verify.run import DORMANT, FAIL, PASS, Proof, VerifyReport

_MARK = {PASS: "[green]PASS[/]", FAIL: "[red]FAIL[/]", DORMANT: "[yellow]DORMANT[/]"}
_MD_MARK = {PASS: "PASS", FAIL: "**FAIL**", DORMANT: "dormant (not enforced)"}
MAX_PROBLEMS_SHOWN = 20
"""Problems printed per proof in the terminal; verify.json and report.md hold all of them."""
MAX_DETAIL_LINES = 12
"""Lines of evidence kept under each problem in report.md (verify.json keeps the whole text)."""


def presented(proof: Proof, profile: str) -> tuple[str, str]:
    """(title, status) as a reader should see them: what was proved on this profile.

    SR3's checks pass on dev because dev is meant to fail open; "SR3 budgets fail closed: PASS" would
    claim the opposite, so off prod the row says that budgets fail open by design and is dormant. A
    failure stays a failure, and prod keeps its fail-closed title and status.
    """
    if proof.name == "sr3" and profile != "prod":
        return f"SR3 budgets: {profile} fails open (documented)", DORMANT if proof.status == PASS else proof.status
    return proof.title, proof.status


def grouped_skips(skipped: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """checkov skips grouped by (check, scope, reason): one row per accepted exception, with its objects."""
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    for skip in skipped:
        key = (skip["check"], skip["scope"], skip["reason"])
        row = groups.setdefault(key, {"check": skip["check"], "title": skip.get("title", ""),
                                      "scope": skip["scope"], "reason": skip["reason"], "objects": []})
        row["title"] = row["title"] or skip.get("title", "")
        row["objects"].append(skip["object"])
    return [groups[k] for k in sorted(groups)]


def print_report(report: VerifyReport, console: Console) -> None:
    """The proofs as one table, the accepted checkov exceptions as another, then each problem."""
    table = Table(title=f"llmp verify {report.stack} (profile {report.profile}, tier {report.trust_tier})",
                  show_lines=True)
    table.add_column("proof")
    table.add_column("result")
    table.add_column("evidence")
    table.add_column("s", justify="right")
    for proof in report.proofs:
        title, status = presented(proof, report.profile)
        table.add_row(escape(title), _MARK[status], escape(proof.summary), f"{proof.seconds:.1f}")
    console.print(table)
    skips = [row for proof in report.proofs for row in grouped_skips(proof.data.get("checkov", {}).get("skipped", []))]
    if skips:
        accepted = Table(title="checkov exceptions accepted (docs/verify.md)", show_lines=True)
        accepted.add_column("check", max_width=32)
        accepted.add_column("scope")
        accepted.add_column("objects", justify="right")
        accepted.add_column("reason")
        for row in skips:
            accepted.add_row(f"{row['check']}\n{escape(row['title'])}", row["scope"], str(len(row["objects"])),
                             escape(row["reason"]))
        console.print(accepted)
    for proof in report.proofs:
        for problem in proof.problems[:MAX_PROBLEMS_SHOWN]:
            # Problems quote manifests and checkov rule ids in [brackets]: print them as text, not markup.
            console.print(f"[red]{proof.name}:[/] {escape(problem)}", highlight=False)
        if len(proof.problems) > MAX_PROBLEMS_SHOWN:
            console.print(f"[red]{proof.name}:[/] ... and {len(proof.problems) - MAX_PROBLEMS_SHOWN} more "
                          "(see verify.json)")


def _cell(text: str) -> str:
    return text.replace("|", "/").replace("\n", " ")


def _skips_markdown(skipped: list[Mapping[str, Any]]) -> list[str]:
    rows = grouped_skips(skipped)
    if not rows:
        return ["", "checkov checks skipped: none."]
    lines = ["", "checkov checks skipped, each with the reason registered in "
             "`llmplatform/validate/checkov_skips.py` (scope `annotation`: checkov applied the object's own "
             "`checkov.io/skipN` annotation; `tier:<name>`: the check failed and the tier accepts it by design):",
             "", "| check | scope | reason | objects |", "|---|---|---|---|"]
    for row in rows:
        objects = ", ".join(f"`{o}`" for o in row["objects"])
        lines.append(f"| {row['check']} {_cell(row['title'])} | {row['scope']} | {_cell(row['reason'])} | {objects} |")
    return lines


def write_report(report: VerifyReport, out_dir: Path) -> tuple[Path, Path]:
    """Write verify.json and report.md into `out_dir`; return their paths."""
    data = report.as_json()
    json_path = out_dir / "verify.json"
    json_path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    lines = [
        f"# Verification report: stack `{report.stack}`",
        "",
        f"Profile **{report.profile}**, trust tier **{report.trust_tier}**. Overall: "
        f"**{'PASS' if report.passed else 'FAIL'}**. Generated by `llmp verify {report.stack}` from the offline "
        "plan's manifests; every proof runs a third-party engine on the rendered objects (see docs/verify.md).",
        "",
        "| proof | result | evidence |",
        "|---|---|---|",
    ]
    for proof in report.proofs:
        title, status = presented(proof, report.profile)
        lines.append(f"| {title} | {_MD_MARK[status]} | {_cell(proof.summary)} |")
    for proof in report.proofs:
        lines += ["", f"## {presented(proof, report.profile)[0]}", "", proof.summary, ""]
        if proof.name == "sr1":
            lines += [f"![connectivity matrix]({proof.data.get('matrix', 'connectivity.png')})", "",
                      "Rows are traffic sources (a representative pod per namespace and role, a fresh tenant "
                      "namespace, the outside world); columns are platform services, each probed with two pods so "
                      "that a role's path to its own kind is shown. Green: allowed, with ports; red: every port "
                      "open; grey: denied; hatched: not deployed by this plan. Computed by network-config-analyzer.",
                      ""]
            for query in proof.data.get("queries", []):
                lines.append(f"- {'holds' if query['passed'] else '**fails**'}: {query['kind']} "
                             f"`{query['name']}`: {query['description']}")
        if proof.name == "sr2":
            for key, value in proof.data.items():
                lines.append(f"- {key}: {value}")
        if proof.name == "sr3":
            live = proof.data.get("live")
            lines.append("Live evidence (real LiteLLM proxy, PostgreSQL and Redis on loopback, from `make test`): "
                         + (f"`{json.dumps(live, sort_keys=True)}`" if live else
                            "not found in build/live/; run `make test` to produce it."))
        if proof.name == "validity" and proof.data.get("uncheckedBySchema"):
            lines += ["", "Not checked against a schema (no upstream schema stored offline):"]
            lines += [f"- {u}" for u in proof.data["uncheckedBySchema"]]
        if proof.name == "validity":
            lines += _skips_markdown(proof.data["checkov"]["skipped"]) if "checkov" in proof.data else \
                ["", "checkov was not run (`--no-checkov`): no hygiene checks and no skips in this report."]
        if proof.problems:
            lines += ["", "Problems:", ""]
            for problem in proof.problems:
                first, *detail = problem.splitlines()
                lines.append(f"- {first}")
                # The evidence (an analyzer's offending flows, say) follows as an indented block.
                shown = [d for d in detail if d.strip()][:MAX_DETAIL_LINES]
                if shown:
                    lines += ["  ```text", *(f"  {d}" for d in shown), "  ```"]
    md_path = out_dir / "report.md"
    md_path.write_text("\n".join(lines) + "\n")
    return json_path, md_path
