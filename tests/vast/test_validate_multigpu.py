"""`llmp validate-multigpu` end to end against a fake API server and fake pods: one JSON report with
machine facts, pass/fail per criterion and cost; a slow pod on purpose makes the run fail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmp.cli import app
from tests.support.gates import REPO_ROOT
from llmp.multigpu.loadgen import LoadSpec
from llmp.multigpu.report import SCHEMA
from llmp.multigpu.rollout import RESTARTED_AT, RolloutTiming
from llmp.multigpu.run import ValidationOptions, run_validation
from tests.vast.fakes import fake_cluster, fake_kube

FAST = RolloutTiming(warmup_s=0.3, settle_s=0.3, timeout_s=20, poll_s=0.05)


def options(api, cluster, out: Path, **kw) -> ValidationOptions:
    return ValidationOptions(kubeconfig=api.kubeconfig(), project_dir=REPO_ROOT, stack="vast", base_url=cluster.base_url,
                             fanout_load=LoadSpec(requests=120, concurrency=6),
                             rollout_load=LoadSpec(requests=5000, concurrency=4), rollout_timing=FAST, out_dir=out, **kw)


def test_a_healthy_time_sliced_cluster_passes_all_three_criteria_in_one_report(tmp_path: Path) -> None:
    with fake_cluster(3, delay_s=0.01) as c, fake_kube(c) as api:
        report, path = run_validation(options(api, c, tmp_path))
        patches = api.patches
    assert json.loads(path.read_text()) == report and path.parent == tmp_path
    assert report["schema"] == SCHEMA and report["passed"] is True
    assert {k: v["status"] for k, v in report["criteria"].items()} == {
        "timeslicing": "pass", "fanout": "pass", "rollout": "pass"}
    node = report["machine"]["nodes"][0]
    assert node["gpu"]["product"] == "NVIDIA-GeForce-RTX-4090-SHARED" and node["gpuAllocatable"] == "4"
    assert node["kubeletVersion"].endswith("+k3s1")
    cost = report["cost"]
    assert cost["dphUsd"] == 1.0 and "max_dph_usd" in cost["source"]
    assert cost["usd"] == pytest.approx(cost["durationS"] / 3600, abs=1e-3)
    assert report["target"]["model"] == "qwen-1-5b" and report["target"]["servedName"] == "qwen2.5-1.5b-instruct"
    # The restart is what `kubectl rollout restart` sends.
    (patch,) = patches
    assert patch["contentType"] == "application/strategic-merge-patch+json"
    assert RESTARTED_AT in patch["body"]["spec"]["template"]["metadata"]["annotations"]


def test_without_a_pod_header_fan_out_is_attributed_by_vllm_metrics_through_the_api(tmp_path: Path) -> None:
    with fake_cluster(3, served_by_header=False) as c, fake_kube(c) as api:
        report, _ = run_validation(options(api, c, tmp_path, criteria=("fanout",)))
    fan = report["criteria"]["fanout"]
    assert fan["status"] == "pass", fan["failures"]
    assert fan["metrics"]["attribution"] == "vllm:request_success_total delta per pod"
    assert sum(fan["metrics"]["perPod"].values()) == 120
    assert report["criteria"]["rollout"]["status"] == "skipped" and report["passed"] is True


def test_an_explicit_price_replaces_the_config_upper_bound(tmp_path: Path) -> None:
    with fake_cluster(3) as c, fake_kube(c) as api:
        report, _ = run_validation(options(api, c, tmp_path, criteria=("timeslicing",), dph_usd=0.62))
    assert report["cost"]["dphUsd"] == 0.62 and report["cost"]["source"] == "--dph-usd"


def test_the_cli_writes_the_report_and_exits_zero_when_every_selected_criterion_passes(tmp_path: Path) -> None:
    with fake_cluster(3) as c, fake_kube(c) as api:
        kc = tmp_path / "kubeconfig"
        kc.write_text(api.kubeconfig())
        result = CliRunner().invoke(app, [
            "validate-multigpu", "--kubeconfig", str(kc), "--stack", "vast", "-C", str(REPO_ROOT),
            "--base-url", c.base_url, "--only", "timeslicing", "--only", "fanout", "--requests", "60",
            "--concurrency", "4", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "pass timeslicing" in " ".join(result.output.split()) and "skipped rollout" in result.output
    (report,) = (tmp_path / "out").glob("validate-multigpu-*.json")
    assert json.loads(report.read_text())["passed"] is True


def test_the_cli_exits_one_when_a_slow_pod_breaks_fan_out(tmp_path: Path) -> None:
    with fake_cluster(3) as c, fake_kube(c) as api:
        c.pods[sorted(c.pods)[0]].delay_s = 0.1
        kc = tmp_path / "kubeconfig"
        kc.write_text(api.kubeconfig())
        result = CliRunner().invoke(app, [
            "validate-multigpu", "--kubeconfig", str(kc), "-C", str(REPO_ROOT), "--base-url", c.base_url,
            "--only", "fanout", "--requests", "90", "--concurrency", "6", "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    assert "fail fanout" in " ".join(result.output.split()) and "Jain" in result.output
    (report,) = (tmp_path / "out").glob("validate-multigpu-*.json")
    doc = json.loads(report.read_text())
    assert doc["passed"] is False and doc["criteria"]["fanout"]["failures"]


def test_load_criteria_without_a_gateway_address_explain_the_port_forward(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["validate-multigpu", "--kubeconfig", str(tmp_path / "nope"), "-C",
                                      str(REPO_ROOT)])
    assert result.exit_code == 2
    assert "port-forward svc/inference-gateway-istio" in " ".join(result.output.split())


def test_an_unreachable_or_refusing_api_server_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    with fake_cluster(1) as c, fake_kube(c) as api:
        kc = tmp_path / "kubeconfig"
        kc.write_text(api.kubeconfig().replace("fake-kube-token", "wrong"))
        result = CliRunner().invoke(app, ["validate-multigpu", "--kubeconfig", str(kc), "-C", str(REPO_ROOT),
                                          "--only", "timeslicing", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "HTTP 401" in result.output


def test_encrypted_values_in_the_stack_file_are_not_needed_to_know_what_was_deployed(tmp_path: Path) -> None:
    from llmp.multigpu.run import capabilities_for, load_stack_config

    (tmp_path / "Pulumi.yaml").write_text((REPO_ROOT / "Pulumi.yaml").read_text())
    stack = (REPO_ROOT / "Pulumi.vast.yaml").read_text()
    stack += ("  llm-platform:vast_ssh_private_key:\n    secure: v1:AAAA\n"
              "  llm-platform:hf_token:\n    secure: v1:BBBB\n")
    (tmp_path / "Pulumi.vast.yaml").write_text(stack)
    caps = capabilities_for(load_stack_config(tmp_path, "vast"))
    assert caps.gpus_per_node == 2 and caps.gpu_time_slicing_replicas == 2
