"""Fixtures for the Vast substrate and the validation kit.

- an autouse guard that leaves an event loop installed after each test: `asyncio.run` (the load
  generator's tests) unsets the loop, and Pulumi's mocks in later tests need one;
- `planned_variant(label, stack, override)`: `llmp plan`'s engine run in a subprocess for a stack
  with whole config keys replaced (a Vast variant of dev without writing a stack file), once per
  session per label; returns the folder holding plan.json and manifests/.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.gates import REPO_ROOT

_PLAN_VARIANT = """
import json, sys
from pathlib import Path
from llmp.plan.render import write_plan
from llmp.plan.runner import run_program
run = run_program(Path(sys.argv[1]), sys.argv[2], config_override=json.loads(sys.argv[3]))
write_plan(run, Path(sys.argv[4]))
"""


@pytest.fixture(autouse=True)
def _event_loop_left_installed() -> Iterator[None]:
    yield
    try:
        asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())


@pytest.fixture(scope="session")
def planned_variant(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str, dict[str, Any]], Path]:
    cache: dict[str, Path] = {}

    def plan(label: str, stack: str, override: dict[str, Any]) -> Path:
        if label not in cache:
            dest = tmp_path_factory.mktemp(f"variant-{label}")
            proc = subprocess.run(
                [sys.executable, "-c", _PLAN_VARIANT, str(REPO_ROOT), stack, json.dumps(override), str(dest)],
                cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, env={**os.environ},
            )
            assert proc.returncode == 0, f"planning {label} failed:\n{proc.stderr[-3000:]}"
            cache[label] = dest
        return cache[label]

    return plan
