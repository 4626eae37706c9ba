"""Stack files for the IDE tests: the repository's own, or a copy with one edit in a throwaway project."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from llmplatform.config.model import PlatformConfig
from llmplatform.config.stack_file import load_stack_file
from tests.support.gates import REPO_ROOT

STACKS = ("dev", "prod", "vast")
CLIENTS = ("continue", "opencode")
BASE_URL = "https://llm.example.com/v1"


def config(stack: str) -> PlatformConfig:
    return load_stack_file(REPO_ROOT, stack)


def project_with(tmp_path: Path, stack: str, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A project folder holding Pulumi.yaml and `Pulumi.<stack>.yaml` with `edit` applied to its `config:`
    mapping (keys without the `llm-platform:` prefix)."""
    project = tmp_path / "project"
    project.mkdir(parents=True)
    shutil.copy(REPO_ROOT / "Pulumi.yaml", project / "Pulumi.yaml")
    doc = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())
    plain = {k.split(":", 1)[1]: v for k, v in doc["config"].items()}
    edit(plain)
    doc["config"] = {f"llm-platform:{k}": v for k, v in plain.items()}
    (project / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return project
