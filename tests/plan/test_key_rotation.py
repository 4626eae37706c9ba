"""`tenant_gateway.key_rotation` in the stack config reaches the reconciler Job the program renders.

Changing the epoch must change the Job (a new Job runs and rotates every key once) and carry the
epoch in the desired state the reconciler reads; leaving it alone must leave the Job as it was.
"""

from __future__ import annotations

import json

import yaml

from llmplatform.gateway import workloads
from llmp.plan.render import manifests
from llmp.plan.runner import run_program
from tests.support.gates import REPO_ROOT


def _reconciler(key_rotation: str | None) -> tuple[str, dict]:
    raw = yaml.safe_load((REPO_ROOT / "Pulumi.dev.yaml").read_text())["config"]
    gateway = dict(raw.get("llm-platform:tenant_gateway") or {})
    if key_rotation is not None:
        gateway["key_rotation"] = key_rotation
    docs = manifests(run_program(REPO_ROOT, "dev", config_override={"tenant_gateway": gateway}))
    job = next(d for d in docs if d["kind"] == "Job" and d["metadata"]["name"].startswith("tenant-reconcile-"))
    config = next(d for d in docs if d["kind"] == "ConfigMap" and workloads.DESIRED_FILE in d.get("data", {}))
    return job["metadata"]["name"], json.loads(config["data"][workloads.DESIRED_FILE])


def test_a_new_rotation_epoch_renders_a_new_reconciler_job_carrying_it():
    job_before, desired_before = _reconciler(None)
    job_after, desired_after = _reconciler("2026-11")
    assert desired_before["rotation"] == ""
    assert desired_after["rotation"] == "2026-11"
    assert job_after != job_before
    assert desired_after["tenants"] == desired_before["tenants"]
    assert _reconciler("")[0] == job_before  # the default epoch is the empty one
