"""Offline CrossGuard: run the `policy/` pack on an offline plan, in-process or as the real pack over gRPC.

`run_policies(plan_path, stack)` picks the pack config for the stack (`policy/config/<stack>.json`, else
`<profile>.json`), hands the pack the stack's own config (as the CLI does), and returns sorted
findings. `llmp plan` writes them to `build/<stack>/policy.json` and exits POLICY_EXIT_CODE when any is
mandatory. Both runners must report identical findings (tests/policy checks that they do).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from llmp.plan.crossguard import pack_config
from llmp.plan.crossguard.findings import (
    ADVISORY,
    MANDATORY,
    NOT_APPLICABLE,
    STACK,
    Finding,
    has_mandatory,
    policy_document,
    sort_findings,
    write_policy_json,
)

POLICY_EXIT_CODE = 4
"""`llmp plan`'s exit status when a mandatory policy is violated (2: config error, 3: plan failed)."""

Runner = Literal["in-process", "grpc"]


def run_policies(plan_path: Path, stack: str, *, runner: Runner = "in-process", config_path: Path | None = None,
                 project_dir: Path | None = None, pack_dir: Path = pack_config.PACK_DIR) -> list[Finding]:
    """The pack's findings on `plan_path` (a plan.json of `stack`), sorted.

    `config_path`: the pack config; default `policy/config/<stack>.json`, else the file of the stack's
    profile (dev.json / prod.json), else prod.json. `project_dir`: where `Pulumi.<stack>.yaml` is
    (default: this checkout). `runner`: "in-process" (about 0.1 s) or "grpc" (the real pack process,
    about 1 s). Raises pack_config.PackConfigError for a bad pack config and, for "grpc",
    grpc_runner.PackStartError when the pack does not start.
    """
    project_dir = project_dir or pack_config.PROJECT_ROOT
    stack_cfg = pack_config.stack_config(project_dir, stack)
    project = json.loads(Path(plan_path).read_text()).get("project", "llm-platform")
    profile = stack_cfg.get(f"{project}:profile")
    config_path = config_path or pack_config.config_file_for(stack, profile, pack_dir)
    if runner == "in-process":
        from llmp.plan.crossguard.inprocess import run_in_process

        return run_in_process(plan_path, config_path, stack_config=stack_cfg, pack_dir=pack_dir)
    if runner == "grpc":
        from llmp.plan.crossguard.grpc_runner import run_grpc

        return run_grpc(plan_path, config_path, stack_config=stack_cfg, pack_dir=pack_dir)
    raise ValueError(f"runner must be 'in-process' or 'grpc', got {runner!r}")


__all__ = [
    "ADVISORY", "MANDATORY", "NOT_APPLICABLE", "POLICY_EXIT_CODE", "STACK", "Finding", "has_mandatory",
    "policy_document", "run_policies", "sort_findings", "write_policy_json",
]
