"""Shell blocks in README.md and docs/, and the PR-check workflow, name only commands that exist:
Makefile targets, `llmp` subcommands and their options, files they point at."""

from __future__ import annotations

import re
from pathlib import Path

import typer
import yaml

from llmp.cli import app
from tests.docs.blocks import ROOT, all_blocks, commands

WORKFLOW = ROOT / ".github" / "workflows" / "pr-check.yml"
KNOWN_TOOLS = frozenset({
    "make", "pulumi", "kubectl", "jq", "base64", "date", "export", "cat", "echo", "python", "python3",
    ".venv/bin/python", "llmp", ".venv/bin/llmp", "git", "tee", "crane", "[", "test", "curl",
})
"""Programs the docs may call; anything else is probably a typo or an undocumented prerequisite."""
_KEYWORDS = frozenset({"if", "then", "else", "elif", "do", "while", "until", "!"})
PULUMI_SUBCOMMANDS = frozenset({"login", "stack", "config", "preview", "up", "destroy", "refresh"})


def make_targets(makefile: Path = ROOT / "Makefile") -> set[str]:
    """Explicit targets of the Makefile and of the files it includes."""
    targets: set[str] = set()
    for line in makefile.read_text().splitlines():
        inc = re.match(r"^-?include\s+(.+)$", line)
        if inc:
            for name in inc.group(1).split():
                if (makefile.parent / name).is_file():
                    targets |= make_targets(makefile.parent / name)
        m = re.match(r"^([A-Za-z0-9_.-]+(?:\s+[A-Za-z0-9_.-]+)*)\s*:(?!=)", line)
        if m and not line.startswith("."):
            targets |= set(m.group(1).split())
    return targets


def llmp_options() -> dict[str, set[str]]:
    """llmp subcommand -> every option spelling it accepts."""
    group = typer.main.get_command(app)  # a click-style Group (typer may vendor click)
    out: dict[str, set[str]] = {}
    for name, cmd in group.commands.items():
        opts = {"--help"}
        for p in cmd.params:
            if getattr(p, "param_type_name", "") == "option":
                opts |= set(p.opts) | set(p.secondary_opts)
        out[name] = opts
    return out


def problems_in(words: list[str], targets: set[str], llmp: dict[str, set[str]]) -> list[str]:
    """What is wrong with one command (empty when it names only things that exist)."""
    while words and words[0] in _KEYWORDS:
        words = words[1:]
    if not words or words[0] in ("fi", "done"):
        return []
    tool, args = words[0], words[1:]
    if tool.startswith("$"):
        return []
    if tool not in KNOWN_TOOLS:
        return [f"unknown program {tool!r}"]
    if tool == "make":
        wanted = [a for a in args if not a.startswith("-") and "=" not in a]
        return [f"make target {t!r} is not in the Makefile" for t in wanted if t not in targets]
    if tool.endswith("llmp"):
        if not args or args[0] not in llmp:
            return [f"llmp has no subcommand {args[:1]}"]
        opts = [a.split("=")[0] for a in args[1:] if a.startswith("-")]
        return [f"llmp {args[0]} has no option {o!r}" for o in opts if o not in llmp[args[0]]]
    if tool == "pulumi" and (not args or args[0] not in PULUMI_SUBCOMMANDS):
        return [f"unexpected pulumi subcommand {args[:1]}"]
    return []


def test_the_checker_catches_unknown_targets_subcommands_and_options():
    targets, llmp = make_targets(), llmp_options()
    assert problems_in(["make", "plan", "STACK=prod"], targets, llmp) == []
    assert problems_in(["make", "deploy"], targets, llmp)
    assert problems_in([".venv/bin/llmp", "apply", "dev"], targets, llmp)
    assert problems_in(["llmp", "verify", "dev", "--no-checkov"], targets, llmp) == []
    assert problems_in(["llmp", "verify", "dev", "--fast"], targets, llmp)
    assert problems_in(["terraform", "plan"], targets, llmp)


def test_every_shell_block_names_existing_commands():
    targets, llmp = make_targets(), llmp_options()
    found = [f"{b.where}: {' '.join(words)}: {p}"
             for b in all_blocks() if b.is_shell
             for words in commands(b.body)
             for p in problems_in(words, targets, llmp)]
    assert found == []


def _workflow() -> dict:
    doc = yaml.safe_load(WORKFLOW.read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as true
    return doc


def test_the_pr_check_workflow_parses_and_runs_only_existing_commands():
    doc = _workflow()
    assert {"pull_request"} <= set(doc["on"])
    jobs = doc["jobs"]
    targets, llmp = make_targets(), llmp_options()
    found = []
    for job_name, job in jobs.items():
        assert job.get("steps"), f"job {job_name} has no steps"
        stacks = job.get("strategy", {}).get("matrix", {}).get("stack", ["dev"])
        for step in job["steps"]:
            if "uses" in step:
                assert re.search(r"@v\d+$", step["uses"]), f"{job_name}: pin {step['uses']} to a major version"
            for stack in stacks:
                script = re.sub(r"\$\{\{\s*matrix\.stack\s*\}\}", stack, step.get("run", ""))
                script = re.sub(r"\$\{\{[^}]*\}\}", "X", script)
                for words in commands(script):
                    found += [f"{job_name}: {' '.join(words)}: {p}" for p in problems_in(words, targets, llmp)]
                    found += [f"{job_name}: {w} does not exist" for w in words
                              if re.fullmatch(r"(policy/config/[\w.-]+\.json|policy/)", w) and not (ROOT / w).exists()]
    assert found == []


def test_the_workflow_checks_dev_and_prod_offline_and_with_credentials():
    jobs = _workflow()["jobs"]
    runs = {name: " ".join(s.get("run", "") for s in job["steps"]) for name, job in jobs.items()}
    offline = next(n for n, r in runs.items() if "make plan" in r)
    preview = next(n for n, r in runs.items() if "pulumi preview" in r)
    for name in (offline, preview):
        stacks = jobs[name]["strategy"]["matrix"]["stack"]
        assert set(stacks) == {"dev", "prod"}
        assert all((ROOT / f"Pulumi.{s}.yaml").is_file() for s in stacks)
    assert "llmp verify" in runs[offline] and "secrets." not in WORKFLOW.read_text().split("offline:")[1].split("preview:")[0]
    assert "--policy-pack policy/" in runs[preview] and "credentials" in jobs[preview]["needs"]
    uploads = [s for s in jobs[offline]["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
    assert uploads and "report.md" in uploads[0]["with"]["path"]
