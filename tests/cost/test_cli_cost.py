"""`llmp plan` prints the estimate and writes cost.json; the estimate's layout matches what the plan registers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from llmp.cost.assumptions import Assumptions
from llmp.cost.layout import ClusterLayout, gke_layout
from llmp.cost.render import estimate_json
from llmp.cost.stack import stack_estimate, stack_platform_config

ROOT = Path(__file__).resolve().parents[2]


def llmp_plan(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.run([sys.executable, "-m", "llmp.cli", "plan", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc


@pytest.fixture(scope="module")
def dev_busy_40(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path_factory.mktemp("cost-dev")
    return llmp_plan("dev", "--hours-busy", "40", "--out", str(out)), out


@pytest.fixture(scope="module")
def prod_quiet(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path_factory.mktemp("cost-prod")
    return llmp_plan("prod", "-q", "--out", str(out)), out


def test_plan_prints_the_estimate_table_after_the_plan_summary(dev_busy_40):
    proc, _ = dev_busy_40
    out = proc.stdout
    assert out.index("Plan summary: dev") < out.index("Estimated monthly cost: dev")
    assert "Busy $/mo (40 h)" in out and "GKE cluster management fee" in out and "Total" in out
    assert "unconfirmed price us-central1.disks.pd-balanced" in out
    assert "not counted:" in out and "cost.json" in out


def test_plan_writes_cost_json_with_the_busy_hours_given(dev_busy_40):
    _, out = dev_busy_40
    written = json.loads((out / "cost.json").read_text())
    expected = estimate_json(stack_estimate(ROOT, "dev", Assumptions(busy_hours=40)))
    assert written == expected
    assert written["assumptions"]["busy_hours_per_month"] == 40
    default = estimate_json(stack_estimate(ROOT, "dev"))
    assert written["totals"]["idle_usd"] == default["totals"]["idle_usd"]
    assert written["totals"]["busy_usd"] < default["totals"]["busy_usd"], "40 busy h cost less than the default 176"


def test_quiet_plan_prints_one_cost_line(prod_quiet):
    proc, out = prod_quiet
    cost_lines = [line for line in proc.stdout.splitlines() if "cost.json (idle $" in line]
    totals = json.loads((out / "cost.json").read_text())["totals"]
    assert len(cost_lines) == 1
    assert f"idle ${totals['idle_usd']:,.2f}/mo, busy ${totals['busy_usd']:,.2f}/mo" in cost_lines[0]
    assert "Estimated monthly cost" not in proc.stdout


def pool_node_limits(inputs: dict) -> tuple[int, int]:
    """(fewest, most) nodes of a NodePool across its zones, read as GKE reads the inputs: `nodeCount`
    and the autoscaling `min/maxNodeCount` are per zone, `totalMin/totalMaxNodeCount` are pool totals."""
    zones = len(inputs["nodeLocations"])
    scaling = inputs.get("autoscaling")
    if scaling is None:
        return inputs["nodeCount"] * zones, inputs["nodeCount"] * zones
    if "totalMinNodeCount" in scaling or "totalMaxNodeCount" in scaling:
        return scaling.get("totalMinNodeCount", 0), scaling["totalMaxNodeCount"]
    return scaling.get("minNodeCount", 0) * zones, scaling["maxNodeCount"] * zones


def billed_facts_from_plan(plan: dict) -> dict:
    """What the plan registers that GKE bills for, in the layout's terms."""
    res = plan["resources"]
    (cluster,) = [r["inputs"] for r in res if r["type"] == "gcp:container/cluster:Cluster"]
    pools = {}
    for r in res:
        if r["type"] != "gcp:container/nodePool:NodePool":
            continue
        i, nc = r["inputs"], r["inputs"]["nodeConfig"]
        lo, hi = pool_node_limits(i)
        pools[nc["labels"]["llmplatform.io/pool"]] = {
            "machine_type": nc["machineType"], "spot": bool(nc.get("spot")), "disk_type": nc["diskType"],
            "disk_size_gb": nc["diskSizeGb"], "min_nodes": lo, "max_nodes": hi,
            "gpus": [(g["type"], g["count"]) for g in nc.get("guestAccelerators", [])]}
    volumes_gb = 0
    for r in res:
        spec = r["inputs"].get("spec", {})
        if r["type"] == "kubernetes:postgresql.cnpg.io/v1:Cluster":
            volumes_gb += spec["instances"] * int(spec["storage"]["size"].removesuffix("Gi"))
        if r["type"] == "kubernetes:apps/v1:StatefulSet":
            volumes_gb += sum(int(t["spec"]["resources"]["requests"]["storage"].removesuffix("Gi"))
                              for t in spec.get("volumeClaimTemplates", [])) * spec.get("replicas", 1)
        if r["type"] == "kubernetes:helm.sh/v3:Release":
            pv = (r["inputs"].get("values", {}).get("server") or {}).get("persistentVolume") or {}
            if pv.get("enabled"):
                volumes_gb += int(pv["size"].removesuffix("Gi"))
    return {"location": cluster["location"], "pools": pools, "volumes_gb": volumes_gb}


def facts_from_layout(layout: ClusterLayout) -> dict:
    return {
        "location": layout.location,
        "pools": {p.role: {"machine_type": p.machine_type, "spot": p.spot, "disk_type": p.disk_type,
                           "disk_size_gb": p.disk_size_gb, "min_nodes": p.min_nodes, "max_nodes": p.max_nodes,
                           "gpus": [(p.gpu, p.gpus_per_node)] if p.gpu else []} for p in layout.pools},
        "volumes_gb": sum(v.count * v.size_gb for v in layout.volumes),
    }


@pytest.mark.parametrize("fixture", ["dev_busy_40", "prod_quiet"])
def test_the_priced_layout_is_what_the_plan_registers(fixture, request):
    _, out = request.getfixturevalue(fixture)
    plan = json.loads((out / "plan.json").read_text())
    layout = gke_layout(stack_platform_config(ROOT, plan["stack"]))
    assert facts_from_layout(layout) == billed_facts_from_plan(plan)
