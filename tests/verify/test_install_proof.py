"""The install proof (llmp/verify/install): the platform's plans install, and each defect it exists
to catch, planted into a copy of the rendered prod plan, fails it by name.

The plants are the defects a first `pulumi up` met before the proof existed (issue 13): a chart value that
breaks its own selector (re-rendered with the real Helm engine), a webhook port the control plane cannot
reach on private nodes, a public endpoint only private ranges may reach, a Workload Identity member created
before its pool, a CRD both the substrate and the plan install, a custom resource created before its CRD,
a rollout Pulumi gives up on while its probes still allow it to start, an object a Fail webhook intercepts
created before the webhook serves, and a GKE add-on namespace SR2's admission does not exempt.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from llmp.charts.write import read_index, write_charts
from llmplatform.serving.images import GIE_CRDS_URL
from tests.support.gates import require_rendered_charts
from llmp.verify import memo
from llmp.verify.install import prove_install
from llmp.verify.install.checks import duration_s, pod_start_budget_s
from llmp.verify.run import FAIL, PASS, verify_stack

ROOT = Path(__file__).resolve().parents[2]
CEL_PYTHON_SAMPLE = 150
"""As tests/verify/test_verify_planted.py: a plant that leaves SR2's inputs alone reuses its SR2 proof of the
prod plan (the run's LLMP_VERIFY_CACHE, keyed by those inputs) instead of proving them again."""
Plan = dict[str, Any]


def copy_plan(plan_dir: Path, dest: Path) -> Path:
    require_rendered_charts(plan_dir)
    shutil.copytree(plan_dir, dest, ignore=shutil.ignore_patterns("verify.json", "report.md", "*.png"))
    return dest


def edit_plan(build_dir: Path, change: Callable[[Plan], None]) -> Plan:
    path = build_dir / "plan.json"
    plan = json.loads(path.read_text())
    change(plan)
    path.write_text(json.dumps(plan, indent=2))
    return plan


def resource(plan: Plan, type_token: str, name: str) -> dict[str, Any]:
    (hit,) = [r for r in plan["resources"] if r["type"] == type_token and r["name"] == name]
    return hit


def urn_of(plan: Plan, type_token: str, name: str) -> str:
    return resource(plan, type_token, name)["urn"]


RELEASE = "kubernetes:helm.sh/v3:Release"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CLUSTER = "gcp:container/cluster:Cluster"


# ---- the plants ------------------------------------------------------------------------------------


def plant_prometheus_pod_labels(build_dir: Path) -> None:
    """The values that broke Prometheus: a pod label on a key of the chart's own selector; the chart is
    re-rendered from the edited plan with Helm's engine, so the defect is what Helm really renders."""
    def change(plan: Plan) -> None:
        values = resource(plan, RELEASE, "serving-prometheus")["inputs"]["values"]
        values.setdefault("server", {})["podLabels"] = {"app.kubernetes.io/component": "autoscaling-metrics"}

    plan = edit_plan(build_dir, change)
    write_charts(plan, build_dir)


def plant_firewall_without_9443(build_dir: Path) -> None:
    def change(plan: Plan) -> None:
        rule = resource(plan, "gcp:compute/firewall:Firewall", "gke-control-plane-firewall")["inputs"]
        rule["allows"][0]["ports"] = [p for p in rule["allows"][0]["ports"] if p != "9443"]

    edit_plan(build_dir, change)


def plant_public_endpoint_private_ranges(build_dir: Path) -> None:
    """The old prod: public endpoint, kubeconfig on its public address, only 10/8 authorized."""
    def change(plan: Plan) -> None:
        cluster = next(r for r in plan["resources"] if r["type"] == CLUSTER)
        cluster["inputs"]["privateClusterConfig"]["enablePrivateEndpoint"] = False
        cluster["inputs"]["masterAuthorizedNetworksConfig"]["cidrBlocks"] = [{"cidrBlock": "10.0.0.0/8"}]
        plan["outputs"]["kubeApiEndpoint"] = "34.118.10.20"

    edit_plan(build_dir, change)


def _drop_dependency(plan: Plan, type_token: str, name: str, removed: str) -> None:
    """Remove `removed` from the resource's depends_on, and from every resource it waits for in turn, so
    the engine could create it before `removed`."""
    by_urn = {r["urn"]: r for r in plan["resources"]}
    todo, seen = [urn_of(plan, type_token, name)], set()
    while todo:
        urn = todo.pop()
        if urn in seen:
            continue
        seen.add(urn)
        options = by_urn[urn].setdefault("options", {})
        deps = [d for d in options.get("dependsOn") or [] if d != removed]
        options["dependsOn"] = deps
        todo += deps
    assert removed not in seen


def plant_wi_member_before_its_pool(build_dir: Path) -> None:
    def change(plan: Plan) -> None:
        cluster = next(r for r in plan["resources"] if r["type"] == CLUSTER)
        _drop_dependency(plan, "gcp:serviceaccount/iAMMember:IAMMember", "tenant-gateway-backup-wi", cluster["urn"])

    edit_plan(build_dir, change)


def plant_gie_bundle_on_gke(build_dir: Path) -> None:
    """The GIE CRD bundle applied on GKE, which installs InferencePool itself."""
    def change(plan: Plan) -> None:
        template = resource(plan, DEPLOYMENT, "serving-qwen-7b-epp")
        parent = template["urn"].rsplit("$", 1)[0]
        urn = f"{parent}$kubernetes:yaml/v2:ConfigFile::serving-inference-crds"
        plan["resources"].append({"urn": urn, "type": "kubernetes:yaml/v2:ConfigFile",
                                  "name": "serving-inference-crds", "custom": False,
                                  "inputs": {"file": GIE_CRDS_URL}, "options": {}})
        pools = [r for r in plan["resources"] if r["type"].endswith(":InferencePool")]
        assert pools
        for pool in pools:  # as the program had them: each pool waits for the bundle
            pool.setdefault("options", {}).setdefault("dependsOn", []).append(urn)

    edit_plan(build_dir, change)


def plant_inference_pool_crd_unowned(build_dir: Path) -> None:
    """The substrate says nothing about InferencePool and nothing else installs it."""
    def change(plan: Plan) -> None:
        caps = plan["outputs"]["substrateCapabilities"]
        caps["managedCrds"] = [c for c in caps["managedCrds"] if not c.startswith("InferencePool.")]

    edit_plan(build_dir, change)


def plant_vllm_default_timeouts(build_dir: Path) -> None:
    edit_plan(build_dir, lambda plan: resource(plan, DEPLOYMENT, "serving-qwen-7b-vllm")["options"]
              .pop("customTimeouts"))


def plant_epp_before_kueue(build_dir: Path) -> None:
    def change(plan: Plan) -> None:
        _drop_dependency(plan, DEPLOYMENT, "serving-qwen-7b-epp", urn_of(plan, RELEASE, "serving-kueue"))

    edit_plan(build_dir, change)


def plant_gmp_system_not_exempt(build_dir: Path) -> None:
    def change(plan: Plan) -> None:
        hits = 0
        for r in plan["resources"]:
            if r["type"].startswith("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy"):
                for name in ("matchConstraints", "matchResources"):
                    selector = (r["inputs"].get("spec") or {}).get(name, {}).get("namespaceSelector") or {}
                    for expr in selector.get("matchExpressions") or []:
                        if "gmp-system" in expr.get("values", []):
                            expr["values"].remove("gmp-system")
                            hits += 1
        assert hits, "gmp-system is not among the rendered exemptions: the plant is stale"

    edit_plan(build_dir, change)


@dataclass(frozen=True)
class Plant:
    plant: Callable[[Path], None]
    check: str
    named: tuple[str, ...]
    """Text one problem of `check` must contain."""


PLANTS = {
    "prometheus-pod-label-on-selector-key": Plant(
        plant_prometheus_pod_labels, "api-server-accepts", ("Deployment", "prometheus-server", "selector")),
    "firewall-misses-a-webhook-port": Plant(plant_firewall_without_9443, "control-plane-reach", ("pod port 9443",)),
    "public-endpoint-private-ranges": Plant(plant_public_endpoint_private_ranges, "endpoint-reach",
                                            ("34.118.10.20", "10.0.0.0/8")),
    "wi-member-before-its-pool": Plant(plant_wi_member_before_its_pool, "iam-order",
                                       ("tenant-gateway-backup-wi", "svc.id.goog")),
    "gie-bundle-on-gke": Plant(plant_gie_bundle_on_gke, "crd-ownership",
                               ("InferencePool.inference.networking.k8s.io",)),
    "inference-pool-crd-unowned": Plant(plant_inference_pool_crd_unowned, "crd-order",
                                        ("InferencePool", "nothing in the plan creates")),
    "vllm-default-timeouts": Plant(plant_vllm_default_timeouts, "rollout-wait", ("qwen-7b", "customTimeouts.create")),
    "epp-before-kueue-webhook": Plant(plant_epp_before_kueue, "webhook-order", ("qwen-7b-epp", "kueue")),
    "gmp-system-not-exempt": Plant(plant_gmp_system_not_exempt, "addon-exemptions", ("gmp-system",)),
}


# ---- tests -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod", "vast", "public"])
def test_every_stack_installs(stack, planned) -> None:
    require_rendered_charts(planned(stack))
    result = prove_install(planned(stack))
    assert result.passed, "\n".join(map(str, result.problems))
    assert not result.missing_charts
    assert result.counts["chartObjects"] > 100 and result.counts["plannedObjects"] > 20, result.counts


def installs(build_dir: Path) -> bool:
    """`prove_install(build_dir).passed`, proved once per run for the same bytes (every plant starts from a
    byte-identical copy of the prod plan; the run's LLMP_VERIFY_CACHE is keyed by every file in the folder,
    which is all the install proof reads)."""
    return memo.cached(memo.key_of("install-passes", memo.folder_digest(build_dir)),
                       lambda: prove_install(build_dir).passed)


@pytest.mark.parametrize("case", sorted(PLANTS))
def test_a_planted_install_defect_fails_the_check_that_names_it(case, planned, tmp_path) -> None:
    plant = PLANTS[case]
    build_dir = copy_plan(planned("prod"), tmp_path / "prod")
    assert installs(build_dir)
    plant.plant(build_dir)
    result = prove_install(build_dir)
    failing = {p.check for p in result.problems}
    assert failing == {plant.check}, "\n".join(map(str, result.problems))
    assert any(all(text in str(p) for text in plant.named) for p in result.problems), \
        "\n".join(map(str, result.problems))


def test_through_llmp_verify_only_the_install_proof_fails(planned, tmp_path) -> None:
    build_dir = copy_plan(planned("prod"), tmp_path / "prod")
    plant_firewall_without_9443(build_dir)
    report = verify_stack(ROOT, "prod", build_dir=build_dir, checkov=False, cel_python_sample=CEL_PYTHON_SAMPLE)
    statuses = {p.name: p.status for p in report.proofs}
    assert statuses == {"sr1": PASS, "tenant-edge": PASS, "sr2": PASS, "sr3": PASS, "validity": PASS,
                        "install": FAIL, "observability": PASS}, statuses
    install = next(p for p in report.proofs if p.name == "install")
    assert install.data["byCheck"]["control-plane-reach"] >= 1


def test_the_prometheus_selector_plant_also_fails_validity_free_install_is_the_one_that_names_it(
        planned, tmp_path) -> None:
    """The re-rendered chart is still schema-valid: only the API server's selector rule refuses it."""
    build_dir = copy_plan(planned("prod"), tmp_path / "prod")
    plant_prometheus_pod_labels(build_dir)
    report = verify_stack(ROOT, "prod", build_dir=build_dir, checkov=False, cel_python_sample=CEL_PYTHON_SAMPLE)
    statuses = {p.name: p.status for p in report.proofs}
    assert statuses["install"] == FAIL and statuses["validity"] == PASS, statuses


def test_the_charts_index_covers_every_release_the_plan_records(planned) -> None:
    for stack in ("dev", "prod", "vast"):
        build_dir = planned(stack)
        require_rendered_charts(build_dir)
        plan = json.loads((build_dir / "plan.json").read_text())
        releases = sorted(r["inputs"]["name"] for r in plan["resources"] if r["type"] == RELEASE)
        index = read_index(build_dir)
        assert index is not None
        assert sorted(r["release"] for r in index.releases) == releases
        assert not index.missing, index.missing


def test_without_rendered_charts_the_proof_says_what_it_did_not_model(planned, tmp_path, monkeypatch) -> None:
    build_dir = copy_plan(planned("prod"), tmp_path / "prod")
    (build_dir / "charts.json").unlink()
    shutil.rmtree(build_dir / "manifests" / "charts")
    result = prove_install(build_dir)
    assert sorted(result.missing_charts) == sorted(json.loads((planned("prod") / "charts.json").read_text())
                                                   and [r["release"] for r in read_index(planned("prod")).releases])
    from llmp.verify.run import prove_install_order

    monkeypatch.setenv("CI", "true")
    proof = prove_install_order(build_dir)
    assert proof.status == FAIL and any("not modelled" in p for p in proof.problems)
    monkeypatch.setenv("CI", "false")
    proof = prove_install_order(build_dir)
    assert "not modelled" in proof.summary


def test_durations_and_probe_budgets_read_as_pulumi_and_kubernetes_do() -> None:
    assert duration_s("1h30m", 0) == 5400 and duration_s("45m", 0) == 2700 and duration_s("600s", 0) == 600
    assert duration_s(None, 600) == 600
    # defaults: period 10 s, failureThreshold 3; the readiness probe's first period is added
    template = {"spec": {"containers": [{"startupProbe": {"httpGet": {"path": "/"}},
                                         "readinessProbe": {"periodSeconds": 5}},
                                        {"startupProbe": {"periodSeconds": 30, "failureThreshold": 100}}]}}
    assert pod_start_budget_s(template) == 3000
