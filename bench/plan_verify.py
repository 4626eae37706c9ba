"""Wall time of `llmp plan` and `llmp verify` per stack (a benchmark script, not a timed test).

Usage: .venv/bin/python bench/plan_verify.py [stack ...]   (default: dev prod)
Prints one line per stack and command; `verify` exits non-zero where a proof fails, which is shown,
not hidden (the time still counts).
"""

from __future__ import annotations

import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(*args: str) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "llmplatform.cli", *args], cwd=ROOT, capture_output=True, text=True)
    return time.perf_counter() - start, proc.returncode


def main() -> None:
    stacks = sys.argv[1:] or ["dev", "prod"]
    print(f"# machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    for stack in stacks:
        plan_s, plan_rc = timed("plan", stack, "-q")
        verify_s, verify_rc = timed("verify", stack)
        print(f"{stack}: plan {plan_s:.1f} s (exit {plan_rc}), verify {verify_s:.1f} s (exit {verify_rc}), "
              f"total {plan_s + verify_s:.1f} s")


if __name__ == "__main__":
    main()
