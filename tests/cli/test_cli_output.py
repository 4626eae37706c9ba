"""What `llmp` prints: whole lines in logs, a quiet mode of one line, the next step, a version, help
that says what exists, and clear answers for an unknown stack or a first checkov install."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from llmp import cli
from llmp.plan.crossguard.findings import ADVISORY, MANDATORY, NOT_APPLICABLE, STACK, Finding, print_findings
from llmp.verify.manifests import checkov_scan
from llmp.verify import run
from llmp.verify.run import VerifyReport

ROOT = Path(__file__).resolve().parents[2]
LLMP = Path(sys.executable).parent / "llmp"


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli.app, list(args), env={"COLUMNS": "80", **(env or {})})


@pytest.fixture(scope="module")
def dev_plan(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli-dev")
    return invoke("plan", "dev", "-C", str(ROOT), "--out", str(out)), out


@pytest.fixture(scope="module")
def dev_plan_quiet(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli-dev-q")
    return invoke("plan", "dev", "-q", "-C", str(ROOT), "--out", str(out)), out


def test_the_version_is_the_installed_package_version():
    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout == f"llmp {version('llm-platform')}\n"


def test_the_top_level_help_names_what_exists_now():
    result = invoke("--help")
    assert result.exit_code == 0
    assert "later" not in result.stdout
    for command in ("plan", "verify", "validate-multigpu"):
        assert command in result.stdout


def test_quiet_plan_prints_one_summary_line_with_the_cost_totals(dev_plan_quiet):
    result, out = dev_plan_quiet
    assert result.exit_code == 0, result.stdout + result.stderr
    (line,) = result.stdout.splitlines()
    assert line.startswith("planned ") and f"{out / 'plan.json'}" in line
    assert re.search(r"cost\.json \(idle \$[\d,.]+/mo, busy \$[\d,.]+/mo\)", line), line
    assert "policy.json (0 mandatory, 0 advisory, 5 not-applicable)" in line


def test_a_plan_written_to_a_log_has_no_line_broken_at_80_columns(dev_plan):
    result, _ = dev_plan
    assert result.exit_code == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) > 120, "COLUMNS=80 and not a terminal: lines must stay whole"
    # Type names and cost cells on one line each, as a log search expects them.
    assert any("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition" in line or
               "pulumi:providers:kubernetes" in line for line in lines)
    fee = next(line for line in lines if line.startswith("│ GKE cluster management fee"))
    assert "free-tier credit (zonal cluster; one credit per billing account)" in fee
    assert any(line.startswith("  not counted: ") and line.endswith("(docs/cost.md)") for line in lines)


def test_the_dev_plan_groups_the_policies_that_do_not_apply_and_ends_with_the_next_step(dev_plan):
    result, out = dev_plan
    lines = result.stdout.splitlines()
    not_applicable = [line for line in lines if "not applicable" in line or "not-applicable" in line]
    assert len(not_applicable) == 2, not_applicable  # the grouped line and the summary line's count
    assert not_applicable[0] == ("policy not applicable on this stack (5): sr1-default-deny, sr1-identity-rule, "
                                 "sr2-admission-enforced, sr3-prod-budget-db-ha, sr3-prod-fails-closed "
                                 "(reasons in policy.json)")
    assert lines[-2].startswith("planned 77 resources for stack dev")
    assert lines[-1] == (f"next: llmp verify dev --build-dir {out} proves SR1-SR3 and manifest validity on "
                         "this plan (docs/verify.md)")


def _consoles() -> tuple[Console, io.StringIO, Console, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Console(file=out, width=1000), out, Console(file=err, width=1000), err


FINDINGS = [
    Finding("sr3-prod-fails-closed", MANDATORY, STACK, "allow_requests_on_db_unavailable is true on prod"),
    Finding("image-pinned", ADVISORY, "urn:pulumi:p::llm-platform::kubernetes:apps/v1:Deployment::a", "tag, not digest"),
    Finding("image-pinned", ADVISORY, "urn:pulumi:p::llm-platform::kubernetes:apps/v1:Deployment::b", "tag, not digest"),
    Finding("sr1-default-deny", NOT_APPLICABLE, STACK, "dormant on the trusted tier"),
]


def test_mandatory_findings_print_in_full_on_stderr_even_when_quiet():
    console, out, err_console, err = _consoles()
    print_findings(FINDINGS, console, err_console, quiet=True)
    assert out.getvalue() == ""
    assert err.getvalue() == "policy mandatory sr3-prod-fails-closed: allow_requests_on_db_unavailable is true on prod\n"


def test_advisory_findings_are_one_line_per_policy_and_not_applicable_ones_one_line():
    console, out, err_console, _ = _consoles()
    print_findings(FINDINGS, console, err_console)
    assert out.getvalue().splitlines() == [
        "policy advisory image-pinned: tag, not digest (and 1 more like it)",
        "policy not applicable on this stack (1): sr1-default-deny (reasons in policy.json)",
    ]


def test_verify_of_an_unknown_stack_lists_the_stacks_instead_of_suggesting_a_plan(tmp_path):
    result = invoke("verify", "nosuchstack", "-C", str(ROOT))
    assert result.exit_code == 3
    assert "no stack config Pulumi.nosuchstack.yaml" in result.stderr and "stacks here: dev, prod" in result.stderr
    assert "llmp plan" not in result.stdout + result.stderr


def _stub_verify(monkeypatch, tmp_path):
    calls = []

    def verify_stack(root, stack, *, build_dir, checkov):
        calls.append(checkov)
        return VerifyReport(stack=stack, profile="dev", trust_tier="trusted", proofs=[])

    monkeypatch.setattr(run, "verify_stack", verify_stack)
    (tmp_path / "plan.json").write_text("{}")
    return calls


def test_the_first_verify_says_it_is_installing_checkov_before_it_starts(monkeypatch, tmp_path):
    calls = _stub_verify(monkeypatch, tmp_path)
    monkeypatch.setattr(checkov_scan, "checkov_installed", lambda venv=None: False)
    result = invoke("verify", "dev", "-C", str(ROOT), "--build-dir", str(tmp_path))
    assert result.exit_code == 0 and calls == [True]
    assert re.match(rf"installing checkov {checkov_scan.CHECKOV_VERSION} into \S+ \(first run only", result.stderr)
    assert "--no-checkov skips it" in result.stderr


@pytest.mark.parametrize("args", [[], ["--no-checkov"]])
def test_no_install_notice_once_checkov_is_there_or_not_wanted(monkeypatch, tmp_path, args):
    _stub_verify(monkeypatch, tmp_path)
    monkeypatch.setattr(checkov_scan, "checkov_installed", lambda venv=None: not args)
    result = invoke("verify", "dev", "-C", str(ROOT), "--build-dir", str(tmp_path), *args)
    assert result.exit_code == 0 and "installing checkov" not in result.stderr


def test_the_console_script_prints_its_version_without_a_terminal():
    proc = subprocess.run([str(LLMP), "--version"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COLUMNS": "40"})
    assert proc.returncode == 0 and proc.stdout == f"llmp {version('llm-platform')}\n"
