"""A stack file on disk (`Pulumi.<stack>.yaml`) read into the typed config, for tools that run outside
the Pulumi engine (cost estimate, validation kit, live-test support).

The program itself reads config through `pulumi.Config` (`pulumi_source.py`); this reads the same
file the same way, minus secrets: encrypted (`secure:`) values and the known secret keys are skipped,
as no caller of this module needs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from llmplatform.config.model import PlatformConfig, load_platform_config
from llmplatform.config.pulumi_source import SECRET_KEYS


def stack_path(project_dir: Path, stack: str) -> Path:
    """`<project_dir>/Pulumi.<stack>.yaml`; ValueError naming the stacks present when it is missing."""
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.exists():
        stacks = sorted(p.name.split(".")[1] for p in project_dir.glob("Pulumi.*.yaml"))
        raise ValueError(f"no stack config {path.name} in {project_dir}; stacks here: {', '.join(stacks) or 'none'}")
    return path


def plain_stack_values(project_dir: Path, stack: str) -> dict[str, Any]:
    """The stack's non-secret config values of this project, keys without the `<project>:` prefix."""
    project = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())["name"]
    doc = yaml.safe_load(stack_path(project_dir, stack).read_text()) or {}
    raw: dict[str, Any] = {}
    for full_key, value in (doc.get("config") or {}).items():
        namespace, _, key = str(full_key).partition(":")
        if namespace == project and key not in SECRET_KEYS and not (isinstance(value, dict) and "secure" in value):
            raw[key] = value
    return raw


def load_stack_file(project_dir: Path, stack: str, **overrides: Any) -> PlatformConfig:
    """`Pulumi.<stack>.yaml` validated as the program validates it, with whole top-level keys replaced
    by `overrides` (validated too). Raises ConfigError naming every bad key path."""
    raw = {**plain_stack_values(project_dir, stack), **overrides}
    return load_platform_config(raw, source=f"Pulumi.{stack}.yaml")
