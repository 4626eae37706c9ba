"""`make test` relies on pytest-xdist's `--dist loadgroup` keeping an xdist group on one worker: the live
tests share one Postgres and Redis in order, and the plan/proof modules build their fixtures once
(tests/conftest.py). pytest 9.2.0 silently broke that (pytest-xdist #1386); this runs a small suite the
way `make test` runs ours and fails if a group is split across workers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

GROUPED = '''
import pytest

@pytest.mark.xdist_group(name="together")
@pytest.mark.parametrize("i", range(6))
def test_grouped(i):
    pass
'''


def test_one_xdist_group_runs_on_one_worker(tmp_path: Path) -> None:
    for name in ("test_a.py", "test_b.py"):
        (tmp_path / name).write_text(GROUPED)
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "--dist",
                           "loadgroup", "-v", "-c", "/dev/null", "--rootdir", str(tmp_path), str(tmp_path)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    passed = [line for line in done.stdout.splitlines() if "PASSED" in line]
    assert done.returncode == 0 and len(passed) == 12, done.stdout + done.stderr
    workers = {line.split("]")[0] for line in passed}
    assert len(workers) == 1, f"the group was split across {sorted(workers)}:\n{done.stdout}"
