"""The estimate of a stack on disk: `Pulumi.<stack>.yaml` read and validated as the program reads it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from llmplatform.config import PlatformConfig, load_platform_config
from llmplatform.config.pulumi_source import SECRET_KEYS
from llmplatform.cost.assumptions import Assumptions
from llmplatform.cost.estimate import Estimate, estimate
from llmplatform.cost.pricing import PricingTable, load_pricing


def stack_platform_config(project_dir: Path, stack: str) -> PlatformConfig:
    """The typed config of `stack`. Secret keys are skipped: no price depends on a secret."""
    project = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())["name"]
    path = project_dir / f"Pulumi.{stack}.yaml"
    doc = yaml.safe_load(path.read_text()) or {}
    raw: dict[str, Any] = {}
    for full_key, value in (doc.get("config") or {}).items():
        namespace, _, key = str(full_key).partition(":")
        if namespace == project and key not in SECRET_KEYS and not (isinstance(value, dict) and "secure" in value):
            raw[key] = value
    return load_platform_config(raw, source=path.name)


def stack_estimate(project_dir: Path, stack: str, assumptions: Assumptions = Assumptions(),
                   table: PricingTable | None = None) -> Estimate:
    """`estimate` for the stack file in `project_dir`, priced with `table` (default: the newest in the repo)."""
    return estimate(stack, stack_platform_config(project_dir, stack), table or load_pricing(), assumptions)
