"""Suite-wide fixtures.

- `recorder`: recording mocks for component tests (tests.support.recording).
- `planned`: `llmp plan <stack>` run once per test run per stack into a temporary folder, so tests
  that read plans or manifests share one offline plan (each run takes a few seconds). Under
  pytest-xdist the workers share it too: the first to need a stack plans it under a file lock.

Live tests (tests/live) are collected first: under `make test` (`-n 2 --dist loadgroup`) they are
one work unit, the longest, so it starts at once on one worker while the other runs the rest.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.recording import recorder  # noqa: F401 - re-exported fixture

ROOT = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    live = ROOT / "tests" / "live"
    items.sort(key=lambda item: live not in item.path.parents)  # stable: order kept within each part


@pytest.fixture(scope="session")
def planned(tmp_path_factory) -> Callable[[str], Path]:
    """planned(stack) -> the folder holding plan.json and manifests/ for that stack (planned once)."""
    base = tmp_path_factory.getbasetemp()
    # xdist workers have basetemp <run>/popen-gwN: plan into <run>, which they all share.
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    cache: dict[str, Path] = {}

    def plan(stack: str) -> Path:
        if stack not in cache:
            dest = shared / f"plan-{stack}"
            done = shared / f"plan-{stack}.done"
            with open(shared / f"plan-{stack}.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if not done.exists():
                    dest.mkdir(exist_ok=True)
                    proc = subprocess.run(
                        [sys.executable, "-m", "llmp.cli", "plan", stack, "--out", str(dest), "-q"],
                        cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "160"})
                    assert proc.returncode == 0, f"llmp plan {stack} failed:\n{proc.stderr}\n{proc.stdout}"
                    done.touch()
            cache[stack] = dest
        return cache[stack]

    return plan
