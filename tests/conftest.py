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
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.recording import recorder  # noqa: F401 - re-exported fixture

ROOT = Path(__file__).resolve().parents[1]


ONE_WORKER: dict[str, frozenset[str] | None] = {
    "tests/cost/test_cli_cost.py": None,  # None: the whole module (a test picks its plan at run time)
    "tests/cli/test_cli_output.py": frozenset({"dev_plan", "dev_plan_quiet"}),
    "tests/verify/test_verify_planted.py": frozenset({"clean_prod"}),
    "tests/verify/test_sr2_proof.py": frozenset({"clean"}),
    "tests/verify/test_untrusted_tier.py": None,
    "tests/policy/test_pack.py": frozenset({"prod_baseline"}),
}
"""Modules whose module-scoped fixture is a plan or a proof (10-40 s each): the tests that use it share
one xdist group, so one worker builds it once. Ungrouped, `--dist loadgroup` hands out test by test
and each worker builds every module fixture it meets again.

pytest is pinned to 9.1.1 for this: with pytest 9.2.0, pytest-xdist 3.8.0's loadgroup groups nothing (it
marks a group by rewriting `item._nodeid`, which pytest 9.2 no longer reads; pytest-xdist issue #1386,
fix proposed in #1388), so every test, live ones included, would be handed out alone.
tests/test_xdist_groups.py fails if an upgrade brings that back."""


@pytest.hookimpl(tryfirst=True)  # before xdist's hook turns a group into the node id suffix
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    live = ROOT / "tests" / "live"
    items.sort(key=lambda item: live not in item.path.parents)  # stable: order kept within each part
    for item in items:
        module = item.path.relative_to(ROOT).as_posix() if ROOT in item.path.parents else ""
        if module not in ONE_WORKER or item.get_closest_marker("xdist_group"):
            continue
        fixtures = ONE_WORKER[module]
        if fixtures is None or fixtures & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group(module))


def _shared_tmp(tmp_path_factory) -> Path:
    """The run's temporary folder every xdist worker shares (a worker's basetemp is <run>/popen-gwN)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session", autouse=True)
def verify_cache(tmp_path_factory) -> Iterator[Path]:
    """`LLMP_VERIFY_CACHE` for this run (llmp/verify/memo.py): the SR2 proof and checkov's scan of
    byte-identical inputs run once per test run, in this process, the other worker and the `llmp`
    commands the tests start (the README's `llmp verify prod`). Keyed by content and code, and the
    folder lives for one run only, so no result outlives the code or the plan it was computed on."""
    folder = _shared_tmp(tmp_path_factory) / "verify-cache"
    folder.mkdir(exist_ok=True)
    before = os.environ.get("LLMP_VERIFY_CACHE")
    os.environ["LLMP_VERIFY_CACHE"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("LLMP_VERIFY_CACHE", None)
    else:
        os.environ["LLMP_VERIFY_CACHE"] = before


@pytest.fixture(scope="session")
def planned(tmp_path_factory) -> Callable[[str], Path]:
    """planned(stack) -> the folder holding plan.json and manifests/ for that stack (planned once)."""
    shared = _shared_tmp(tmp_path_factory)  # every worker plans into (and reads) one folder
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

from tests.support.timings import pytest_runtest_protocol  # noqa: E402,F401 - per-test times when LLMP_TEST_TIMES is set
