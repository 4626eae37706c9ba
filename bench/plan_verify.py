"""Wall time of `llmp plan` and `llmp verify` per stack (a benchmark script, not a timed test).

Usage: .venv/bin/python bench/plan_verify.py [--repeats 1] [stack ...]   (default stacks: dev prod)
Writes bench/results/plan_verify.json and prints a table.

Each command runs as a subprocess (`python -m llmp.cli ...`), exactly as a user or CI runs it,
so the times include interpreter start and imports; it writes build/<stack>/ like `llmp plan` does.
`verify` exits non-zero where a proof fails: that is recorded and shown, not hidden (the time still counts).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib  # noqa: E402 - bench/ is not a package

NAME = "plan_verify"
PROOF_PACKAGES = ("network-config-analyzer", "cel-expr-python", "cel-python", "kubernetes-validate")
"""What `llmp verify` runs besides the project (checkov is in its own venv; its pin is added below)."""


def timed(*args: str) -> tuple[float, int]:
    """Seconds and exit status of `python -m llmp.cli <args>` from the repository root."""
    # Never from a verify cache (LLMP_VERIFY_CACHE): the figure is what a fresh verify costs.
    env = {k: v for k, v in os.environ.items() if k != "LLMP_VERIFY_CACHE"}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "llmp.cli", *args], cwd=benchlib.ROOT,
                          capture_output=True, text=True, env=env)
    return time.perf_counter() - start, proc.returncode


def resource_count(stack: str) -> int | None:
    """`resourceCount` of build/<stack>/plan.json, None when the plan did not write one."""
    path = benchlib.ROOT / "build" / stack / "plan.json"
    return json.loads(path.read_text()).get("resourceCount") if path.exists() else None


def measure(stack: str, repeats: int) -> dict:
    plans, verifies, plan_rc, verify_rc = [], [], 0, 0
    for _ in range(repeats):
        plan_s, plan_rc = timed("plan", stack, "-q")
        verify_s, verify_rc = timed("verify", stack)
        plans.append(plan_s)
        verifies.append(verify_s)
    p, v = benchlib.median(plans), benchlib.median(verifies)
    return {"stack": stack, "resources": resource_count(stack), "plan_s": round(p, 2), "plan_exit": plan_rc,
            "verify_s": round(v, 2), "verify_exit": verify_rc, "total_s": round(p + v, 2),
            "samples": {"plan_s": [round(x, 2) for x in plans], "verify_s": [round(x, 2) for x in verifies]}}


def checkov_version() -> str:
    try:
        from llmp.verify.manifests.checkov_scan import CHECKOV_VERSION
    except ImportError:
        return "unknown"
    return f"{CHECKOV_VERSION} (pinned, .venv-checkov)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("stacks", nargs="*", default=["dev", "prod"], help="Stacks (default: dev prod).")
    parser.add_argument("--repeats", type=int, default=1, help="Runs per stack, median (default 1: verify is slow).")
    args = parser.parse_args(argv)
    doc = benchlib.envelope(NAME, benchlib.command_line("plan_verify.py", argv),
                            {**benchlib.versions(PROOF_PACKAGES), "checkov": checkov_version()})
    doc.update(repeats=args.repeats, statistic="median", mode="subprocess per command (as CI runs it)",
               rows=[measure(stack, args.repeats) for stack in args.stacks])
    path = benchlib.write_result(doc)
    print(benchlib.format_table(
        ["stack", "resources", "plan s", "plan exit", "verify s", "verify exit", "total s"],
        [[r["stack"], r["resources"], r["plan_s"], r["plan_exit"], r["verify_s"], r["verify_exit"], r["total_s"]]
         for r in doc["rows"]]))
    print(f"wrote {path.relative_to(benchlib.ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
