"""Fixtures: real plans of dev and prod (planned once per session by `llmp plan <stack> --out <tmp>`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from llmp.plan.crossguard import pack_config
from llmp.plan.crossguard.findings import Finding
from llmp.plan.crossguard.grpc_runner import run_grpc
from llmp.plan.crossguard.inprocess import run_in_process
from tests.policy import plans

PACK = pack_config.PACK_DIR
DEV_CONFIG = PACK / "config" / "dev.json"
PROD_CONFIG = PACK / "config" / "prod.json"
CONFIGS = {"dev": DEV_CONFIG, "prod": PROD_CONFIG}


@pytest.fixture(scope="session")
def plan_doc(planned) -> Callable[[str], dict]:
    """plan_doc(stack) -> a fresh copy of that stack's real plan.json document."""
    return lambda stack: plans.load(planned(stack) / "plan.json")


@pytest.fixture(scope="session")
def stack_cfg() -> Callable[[str], dict[str, str]]:
    return lambda stack: pack_config.stack_config(pack_config.PROJECT_ROOT, stack)


@pytest.fixture
def run(tmp_path, stack_cfg) -> Callable[..., list[Finding]]:
    """run(doc, config, runner="in-process") -> findings of the pack on that plan document."""
    counter = iter(range(10_000))

    def _run(doc: dict, config: Path, runner: str = "in-process") -> list[Finding]:
        path = plans.save(doc, tmp_path / f"plan-{next(counter)}.json")
        fn = run_in_process if runner == "in-process" else run_grpc
        return fn(path, config, stack_config=stack_cfg(doc["stack"]))

    return _run
