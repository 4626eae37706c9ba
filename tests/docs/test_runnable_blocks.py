"""Every code block marked runnable in README.md and docs/**/*.md runs as written and exits 0.

A block is marked by the word `runnable` after its language: ```` ```sh runnable ````. It runs with
`bash -e -o pipefail` in the repository root (writing build/ is expected). Blocks that need the
Pulumi CLI, credentials or a cluster are not marked, and say so next to them.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.docs.blocks import ROOT, all_blocks, code_blocks

BLOCK_TIMEOUT_S = 600
"""Per block; the marked set is a few offline plans and one verify (about a minute on 2 idle cores)."""


def run_block(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=BLOCK_TIMEOUT_S)


def test_the_extractor_takes_only_blocks_marked_runnable():
    text = "\n".join([
        "```sh runnable", "echo one", "```",
        "```sh", "pulumi up", "```",
        "1. step", "", "   ```bash runnable", "   echo indented", "   ```",
        "````md", "```sh runnable", "echo nested, not a block of its own", "```", "````",
    ])
    blocks = code_blocks(text)
    assert [(b.lang, b.runnable) for b in blocks] == [("sh", True), ("sh", False), ("bash", True), ("md", False)]
    assert blocks[2].body == "echo indented\n"


def test_a_block_fails_when_any_of_its_commands_fails():
    assert run_block("false\necho after").returncode != 0
    assert run_block("false | cat").returncode != 0
    assert run_block("true\necho ok").returncode == 0


def test_the_readme_marks_its_offline_commands_runnable():
    readme = [b for b in all_blocks() if b.path.name == "README.md" and b.path.parent == ROOT]
    marked = "".join(b.body for b in readme if b.runnable)
    assert "make plan" in marked and "llmp verify" in marked
    assert not any("make test" in b.body for b in readme if b.runnable), "make test would run this test again"


RUNNABLE = [b for b in all_blocks() if b.runnable]


@pytest.mark.slow
@pytest.mark.parametrize("block", RUNNABLE, ids=[b.where for b in RUNNABLE])
def test_marked_block_runs_as_written(block):
    assert block.is_shell, f"{block.where}: only shell blocks can be runnable, got {block.lang!r}"
    proc = run_block(block.body)
    assert proc.returncode == 0, (f"{block.where} exited {proc.returncode}\n--- block\n{block.body}"
                                  f"--- stderr (tail)\n{proc.stderr[-3000:]}\n--- stdout (tail)\n{proc.stdout[-2000:]}")
