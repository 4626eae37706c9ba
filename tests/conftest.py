"""Suite-wide fixtures.

- `recorder`: recording mocks for component tests (llmplatform.testing.recording).
- `planned`: `llmp plan <stack>` run once per session per stack into a temporary folder, so tests
  that read plans or manifests share one offline plan (each run takes a few seconds).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from llmplatform.testing.recording import recorder  # noqa: F401 - re-exported fixture

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def planned(tmp_path_factory) -> Callable[[str], Path]:
    """planned(stack) -> the folder holding plan.json and manifests/ for that stack (planned once)."""
    cache: dict[str, Path] = {}

    def plan(stack: str) -> Path:
        if stack not in cache:
            dest = tmp_path_factory.mktemp(f"plan-{stack}")
            proc = subprocess.run([sys.executable, "-m", "llmplatform.cli", "plan", stack, "--out", str(dest), "-q"],
                                  cwd=ROOT, capture_output=True, text=True, timeout=600,
                                  env={**os.environ, "COLUMNS": "160"})
            assert proc.returncode == 0, f"llmp plan {stack} failed:\n{proc.stderr}\n{proc.stdout}"
            cache[stack] = dest
        return cache[stack]

    return plan
