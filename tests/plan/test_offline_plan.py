"""`llmp plan` end to end: files written, deterministic, secret-free; clear failures with exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from llmp.plan.leaks import mock_secrets_for, scan_for_leaks

ROOT = Path(__file__).resolve().parents[2]
LLMP = [sys.executable, "-m", "llmp.cli"]


def llmp(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "160"}
    return subprocess.run([*LLMP, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def planned(planned) -> dict[str, Path]:  # noqa: F811 - narrows the session fixture to a dict
    return {stack: planned(stack) for stack in ("dev", "prod", "public")}


@pytest.mark.parametrize("stack", ["dev", "prod", "public"])
def test_plan_writes_plan_json_and_manifests(planned, stack):
    plan = json.loads((planned[stack] / "plan.json").read_text())
    assert plan["stack"] == stack and plan["resourceCount"] == len(plan["resources"]) > 10
    for res in plan["resources"]:
        assert set(res) >= {"urn", "type", "name", "parent", "provider", "inputs"}
    docs = [d for p in (planned[stack] / "manifests").glob("*.yaml") for d in yaml.safe_load_all(p.read_text()) if d]
    assert docs and all({"apiVersion", "kind", "metadata"} <= set(d) for d in docs)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_cluster_uses_dataplane_v2(planned, stack):
    plan = json.loads((planned[stack] / "plan.json").read_text())
    clusters = [r for r in plan["resources"] if r["type"] == "gcp:container/cluster:Cluster"]
    assert [c["inputs"]["datapathProvider"] for c in clusters] == ["ADVANCED_DATAPATH"]


def test_prod_cluster_is_protected(planned):
    plan = json.loads((planned["prod"] / "plan.json").read_text())
    cluster = next(r for r in plan["resources"] if r["type"] == "gcp:container/cluster:Cluster")
    assert cluster["options"].get("protect") is True


@pytest.mark.parametrize("stack", ["dev", "prod", "public"])
def test_every_kubernetes_object_uses_the_substrates_provider(planned, stack):
    plan = json.loads((planned[stack] / "plan.json").read_text())
    providers = {r["urn"] for r in plan["resources"] if r["type"] == "pulumi:providers:kubernetes"}
    k8s = [r for r in plan["resources"] if r["type"].startswith("kubernetes:") and r["custom"]]
    assert k8s and {r["provider"] for r in k8s} <= providers, "a Kubernetes object uses a default provider"


@pytest.mark.parametrize("stack", ["dev", "prod", "public"])
def test_no_secret_value_appears_in_plan_or_manifests(planned, stack):
    secrets = mock_secrets_for(planned[stack] / "plan.json")
    assert secrets, "the scan must know at least the secret config values"
    assert scan_for_leaks(planned[stack], secrets) == []
    assert '"[secret]"' in (planned[stack] / "plan.json").read_text()


def test_the_leak_scan_finds_a_planted_secret(planned, tmp_path):
    shutil.copytree(planned["dev"], tmp_path / "dev")
    secrets = mock_secrets_for(tmp_path / "dev" / "plan.json")
    label, value = sorted(secrets.items())[0]
    (tmp_path / "dev" / "manifests" / "leak.yaml").write_text(f"data: {value}\n")
    assert scan_for_leaks(tmp_path / "dev", secrets) == [("manifests/leak.yaml", label)]


def test_two_runs_are_byte_identical(planned, tmp_path):
    proc = llmp("plan", "dev", "--out", str(tmp_path), "-q")
    assert proc.returncode == 0, proc.stderr
    first = {p.relative_to(planned["dev"]): p.read_bytes() for p in planned["dev"].rglob("*") if p.is_file()}
    second = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert first == second


def test_the_tree_and_summary_are_printed():
    proc = llmp("plan", "dev", "--out", "/dev/null/never" if False else str(ROOT / "build" / "test-tree"))
    assert proc.returncode == 0, proc.stderr
    assert "llmplatform:gke_cluster:GkeCluster" in proc.stdout and "children" in proc.stdout
    assert "Plan summary: dev" in proc.stdout and "total" in proc.stdout


def _project_copy(tmp_path: Path, stack_config: dict, main: str | None = None) -> Path:
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copy(ROOT / "__main__.py", tmp_path / "__main__.py")
    if main is not None:
        (tmp_path / "__main__.py").write_text(main)
    (tmp_path / "Pulumi.bad.yaml").write_text(yaml.safe_dump({"config": stack_config}))
    return tmp_path


def test_a_bad_config_exits_2_with_every_key_named_and_no_traceback(tmp_path):
    config = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    config["llm-platform:tenants"][1]["budget_usd"] = -5
    config["llm-platform:gpu_pool"]["sharing"] = "mig"
    project = _project_copy(tmp_path, config)
    proc = llmp("plan", "bad", "-C", str(project))
    assert proc.returncode == 2
    assert "tenants[1].budget_usd: -5 is not allowed; must be > 0" in proc.stderr
    assert "gpu_pool.sharing: 'mig' is not allowed" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_an_invoke_the_plan_cannot_answer_fails_loudly(tmp_path):
    config = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    main = "import pulumi_gcp as gcp\nimport pulumi\npulumi.export('x', gcp.organizations.get_client_config().project)\n"
    project = _project_copy(tmp_path, config, main)
    proc = llmp("plan", "bad", "-C", str(project))
    assert proc.returncode == 3
    assert "gcp:organizations/getClientConfig:getClientConfig" in proc.stderr
    assert "cannot answer" in proc.stderr


def test_helm_chart_expansion_is_refused_instead_of_yielding_zero_children(tmp_path):
    config = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    main = ("import pulumi_kubernetes as k8s\n"
            "k8s.helm.v3.Chart('x', k8s.helm.v3.ChartOpts(chart='nginx', version='1.0.0'))\n")
    project = _project_copy(tmp_path, config, main)
    proc = llmp("plan", "bad", "-C", str(project))
    assert proc.returncode == 3 and "kubernetes:helm:template" in proc.stderr
    assert "helm.v3.Release" in proc.stderr


def test_an_unknown_stack_lists_the_stacks():
    proc = llmp("plan", "nope")
    assert proc.returncode == 3 and "stacks here: dev, prod" in proc.stderr
