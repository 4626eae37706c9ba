"""The estimate of a stack on disk: `Pulumi.<stack>.yaml` read and validated as the program reads it."""

from __future__ import annotations

from pathlib import Path
from llmplatform.config import PlatformConfig
from llmplatform.config.stack_file import load_stack_file
from llmp.cost.assumptions import Assumptions
from llmp.cost.estimate import Estimate, estimate
from llmp.cost.pricing import PricingTable, load_pricing


def stack_platform_config(project_dir: Path, stack: str) -> PlatformConfig:
    """The typed config of `stack`. Secret keys are skipped: no price depends on a secret."""
    return load_stack_file(project_dir, stack)


def stack_estimate(project_dir: Path, stack: str, assumptions: Assumptions = Assumptions(),
                   table: PricingTable | None = None) -> Estimate:
    """`estimate` for the stack file in `project_dir`, priced with `table` (default: the newest in the repo)."""
    return estimate(stack, stack_platform_config(project_dir, stack), table or load_pricing(), assumptions)
