"""Reading a stack file outside the Pulumi engine: same validation, secrets skipped, clear errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from llmplatform.config import ConfigError
from llmplatform.config.stack_file import load_stack_file, plain_stack_values

ROOT = Path(__file__).resolve().parents[2]


def _project(tmp_path: Path, stack: str, config: dict) -> Path:
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}))
    return tmp_path


def test_secrets_and_other_projects_keys_are_skipped(tmp_path):
    doc = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    doc["llm-platform:hf_token"] = {"secure": "v1:abc"}
    doc["gcp:project"] = "elsewhere"
    raw = plain_stack_values(_project(tmp_path, "dev", doc), "dev")
    assert "hf_token" not in raw and "project" not in raw
    assert raw["profile"] == "dev"


def test_overrides_are_validated_like_the_file(tmp_path):
    doc = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    project = _project(tmp_path, "dev", doc)
    assert load_stack_file(project, "dev").profile.value == "dev"
    with pytest.raises(ConfigError, match=r"tenant_gateway.replicas"):
        load_stack_file(project, "dev", tenant_gateway={"replicas": 0})


def test_a_missing_stack_names_the_stacks_present(tmp_path):
    project = _project(tmp_path, "dev", {"llm-platform:profile": "dev"})
    with pytest.raises(ValueError, match=r"no stack config Pulumi.nope.yaml .*stacks here: dev"):
        load_stack_file(project, "nope")
