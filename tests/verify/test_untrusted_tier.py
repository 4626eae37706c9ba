"""`llmp verify` on an untrusted-tier stack: prod with `trust_tier: untrusted` (no stack file ships with
that tier, so the plan replaces the one key), planned and its charts rendered as `llmp plan` does, then
every proof run. SR1 must hold over the tenant namespaces, SR2 must enforce with Kueue's scope covering
them, and the install must hold with the extra policies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.gates import require_rendered_charts
from llmp.verify.run import DORMANT, PASS, verify_stack

ROOT = Path(__file__).resolve().parents[2]
PLAN = """
import json, sys
from pathlib import Path
from llmp.charts.write import write_charts
from llmp.plan.render import write_plan
from llmp.plan.runner import run_program
out = Path(sys.argv[2])
paths = write_plan(run_program(Path(sys.argv[1]), "prod", config_override={"trust_tier": "untrusted"}), out)
write_charts(json.loads(paths["plan"].read_text()), out)
"""


@pytest.fixture(scope="module")
def untrusted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("untrusted")
    proc = subprocess.run([sys.executable, "-c", PLAN, str(ROOT), str(out)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_the_untrusted_tier_passes_every_proof(untrusted) -> None:
    require_rendered_charts(untrusted)
    plan = json.loads((untrusted / "plan.json").read_text())
    assert plan["outputs"]["trustTier"] == "untrusted"
    report = verify_stack(ROOT, "prod", build_dir=untrusted, checkov=False, cel_python_sample=100)
    problems = [f"{p.name}: {x}" for p in report.proofs for x in p.problems]
    assert report.passed, "\n".join(problems)
    statuses = {p.name: p.status for p in report.proofs}
    assert statuses == {"sr1": PASS, "tenant-edge": PASS, "sr2": PASS, "sr3": PASS, "validity": PASS,
                        "install": PASS, "observability": PASS}, statuses
    assert DORMANT not in statuses.values()
    sr2 = next(p for p in report.proofs if p.name == "sr2")
    assert sr2.data["mode"] == "enforce"
