"""`llmp verify` end to end: the platform's own plans pass, and each planted violation fails it by name.

Every case runs `verify_stack` (what `llmp verify` calls) on a copy of the prod plan rendered once per
session (the `planned` fixture), with one violation planted into the rendered manifests or the build
folder, then writes the report. The per-engine tests (test_sr1_proof.py, test_sr2_proof.py,
tests/verify/manifests/) plant flaws into hand-written inputs; these plant them into what the platform renders,
through the whole entry point, and check that exactly the expected proof fails and names the culprit.

checkov (~10-20 s a run) is left out of the planted cases except one that shows its own finding failing
verify; the clean plans run with it, so the documented skips are exercised on both stacks. SR2's slow
cross-check engine (cel-python) runs on a small sample here; every shape still runs on cel-expr-python.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from llmplatform import labels
from llmp.plan.leaks import mock_secrets_for
from llmp.verify.manifests import checkov_scan
from llmp.verify import run
from llmp.verify.report import write_report
from llmp.verify.run import DORMANT, FAIL, PASS, VerifyReport, verify_stack

ROOT = Path(__file__).resolve().parents[2]
CEL_PYTHON_SAMPLE = 150
"""Shapes cross-checked on cel-python per run (the CLI default is 2000; ~12 ms each)."""
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

Manifest = dict[str, Any]


# ---- editing a rendered plan ----------------------------------------------------------------------


def copy_plan(plan_dir: Path, dest: Path) -> Path:
    """A private copy of a rendered plan, without any earlier verify output."""
    shutil.copytree(plan_dir, dest, ignore=shutil.ignore_patterns("verify.json", "report.md", "*.png"))
    return dest


def edit(build_dir: Path, kind: str, name: str, change: Callable[[Manifest], Manifest | None],
         namespace: str | None = None) -> None:
    """Apply `change` to the one rendered object `kind/namespace/name` (returning None deletes it)."""
    hits = 0
    for path in sorted((build_dir / "manifests").glob("*.yaml")):
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        out = []
        for doc in docs:
            meta = doc.get("metadata") or {}
            if doc.get("kind") == kind and meta.get("name") == name and meta.get("namespace") == namespace:
                hits += 1
                doc = change(doc)
            if doc is not None:
                out.append(doc)
        if len(out) != len(docs) or hits:
            path.write_text(yaml.safe_dump_all(out, sort_keys=False))
    assert hits == 1, f"expected exactly one {kind}/{namespace}/{name} in the rendered plan, found {hits}"


def add(build_dir: Path, manifest: Manifest) -> None:
    path = build_dir / "manifests" / f"{manifest['metadata']['namespace']}.yaml"
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    path.write_text(yaml.safe_dump_all([*docs, manifest], sort_keys=False))


def replace_in_cel(doc: Manifest, variable: str, old: str, new: str) -> Manifest:
    """Rewrite one named CEL variable of a rendered VAP or Kyverno ClusterPolicy; `old` must occur."""
    if doc["kind"] == "ValidatingAdmissionPolicy":
        variables = doc["spec"]["variables"]
    else:
        variables = doc["spec"]["rules"][0]["validate"]["cel"]["variables"]
    target = next(v for v in variables if v["name"] == variable)
    assert old in target["expression"], f"{old!r} not in the rendered {variable}: the plant is stale"
    target["expression"] = target["expression"].replace(old, new)
    return doc


def gateway_ingress(doc: Manifest, peers: list[Manifest]) -> Manifest:
    """Replace the peers of the gateway policy's first ingress rule (the one admitting LiteLLM)."""
    rule = doc["spec"]["ingress"][0]
    assert rule["from"][0]["podSelector"]["matchLabels"] == {labels.ROLE: labels.ROLE_TENANT_GATEWAY}
    rule["from"] = peers
    return doc


LITELLM_POD = {"matchLabels": {labels.ROLE: labels.ROLE_TENANT_GATEWAY}}
LITELLM_NS = {"matchLabels": {"kubernetes.io/metadata.name": "llm-tenant-gateway"}}


def plant_or_split(build_dir: Path) -> None:
    # Two peers instead of one: the namespace OR the label admits, not the namespace AND the label.
    edit(build_dir, "NetworkPolicy", "sr1-inference-gateway",
         lambda d: gateway_ingress(d, [{"namespaceSelector": LITELLM_NS}, {"podSelector": LITELLM_POD}]),
         "llm-gateway")


def plant_any_namespace(build_dir: Path) -> None:
    edit(build_dir, "NetworkPolicy", "sr1-inference-gateway",
         lambda d: gateway_ingress(d, [{"namespaceSelector": {}, "podSelector": LITELLM_POD}]), "llm-gateway")


def plant_missing_default_deny(build_dir: Path) -> None:
    edit(build_dir, "NetworkPolicy", "sr1-default-deny", lambda d: None, "llm-serving")


def plant_gpu_init_container_workload(build_dir: Path) -> None:
    # A platform workload whose only GPU is in an init container and that carries no Kueue queue label.
    pod_labels = {"app.kubernetes.io/name": "gpu-warmup"}
    add(build_dir, {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "gpu-warmup", "namespace": "llm-serving", "labels": dict(pod_labels)},
        "spec": {"replicas": 1, "selector": {"matchLabels": dict(pod_labels)},
                 "template": {"metadata": {"labels": dict(pod_labels)}, "spec": {
                     "serviceAccountName": "vllm",  # breaks SR2 only, not the no-default-account rule
                     "initContainers": [{"name": "warm", "image": "busybox:1.36",
                                         "resources": {"limits": {"nvidia.com/gpu": "1"}}}],
                     "containers": [{"name": "main", "image": "busybox:1.36"}]}}},
    })


def plant_cel_ignoring_init_containers(build_dir: Path) -> None:
    edit(build_dir, "ValidatingAdmissionPolicy", "llmplatform-sr2-gpu-queue",
         lambda d: replace_in_cel(d, "requestsGpu", "(has(spec.initContainers) ? spec.initContainers : [])", "[]"))


def plant_cel_ignoring_mig(build_dir: Path) -> None:
    edit(build_dir, "ClusterPolicy", "llmplatform-sr2-gpu-queue",
         lambda d: replace_in_cel(d, "requestsGpu", "r.startsWith('nvidia.com/mig-')", "false"))


def plant_fail_open(build_dir: Path) -> None:
    def flip(doc: Manifest) -> Manifest:
        text = doc["data"]["config.yaml"]
        assert "allow_requests_on_db_unavailable: false" in text
        doc["data"]["config.yaml"] = text.replace("allow_requests_on_db_unavailable: false",
                                                  "allow_requests_on_db_unavailable: true")
        return doc

    edit(build_dir, "ConfigMap", "litellm-config", flip, "llm-tenant-gateway")


def plant_leaked_secret(build_dir: Path) -> None:
    label, value = sorted(mock_secrets_for(build_dir / "plan.json").items())[0]
    (build_dir / "debug").mkdir()
    (build_dir / "debug" / "env.txt").write_text(f"LITELLM_MASTER_KEY=sk-{value}\n")


def plant_privilege_escalation(build_dir: Path) -> None:
    # Not a host-access field (SR1's host-isolation admission would refuse `privileged`): checkov alone sees it.
    def escalates(doc: Manifest) -> Manifest:
        doc["spec"]["template"]["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
        return doc

    edit(build_dir, "Deployment", "litellm", escalates, "llm-tenant-gateway")


@dataclass(frozen=True)
class Plant:
    plant: Callable[[Path], None]
    proof: str
    """The one proof that must fail."""
    named: tuple[str, ...]
    """Text that one problem of that proof must contain: the query/flow or object it is about."""
    checkov: bool = False


PLANTS = {
    "or-split-selector": Plant(plant_or_split, "sr1", ("gateway-only-from-litellm", "llm-gateway")),
    "any-namespace-label-match": Plant(plant_any_namespace, "sr1", ("gateway-only-from-litellm", "llm-gateway")),
    "missing-default-deny": Plant(plant_missing_default_deny, "sr1", ("default-deny-llm-serving",)),
    "gpu-in-init-container-workload": Plant(plant_gpu_init_container_workload, "sr2",
                                            ("Deployment/llm-serving/gpu-warmup", "breaks SR2")),
    "cel-ignores-init-containers": Plant(plant_cel_ignoring_init_containers, "sr2",
                                         ("vap", "missed-violation", "initContainers")),
    "weakened-kyverno-cel": Plant(plant_cel_ignoring_mig, "sr2", ("kyverno", "missed-violation", "nvidia.com/mig-")),
    "fail-open-on-prod": Plant(plant_fail_open, "sr3", ("allow_requests_on_db_unavailable",)),
    "leaked-secret": Plant(plant_leaked_secret, "validity", ("secret", "debug/env.txt")),
    "privilege-escalation-checkov": Plant(plant_privilege_escalation, "validity",
                                          ("CKV_K8S_20", "Deployment/llm-tenant-gateway/litellm"), checkov=True),
}


# ---- running verify --------------------------------------------------------------------------------


def verify(build_dir: Path, stack: str, *, checkov: bool) -> VerifyReport:
    report = verify_stack(ROOT, stack, build_dir=build_dir, checkov=checkov, cel_python_sample=CEL_PYTHON_SAMPLE)
    write_report(report, build_dir)
    return report


def needs_checkov() -> None:
    from tests.support.gates import require

    require(checkov_scan.checkov_installed(), "checkov is not installed: run `make test-deps`")


@pytest.fixture(scope="module")
def clean_prod(planned, tmp_path_factory) -> tuple[Path, VerifyReport]:
    needs_checkov()
    build_dir = copy_plan(planned("prod"), tmp_path_factory.mktemp("verify") / "prod")
    return build_dir, verify(build_dir, "prod", checkov=True)


def assert_all_pass(report: VerifyReport, sr1: str, sr3: str = PASS) -> None:
    problems = [f"{p.name}: {x}" for p in report.proofs for x in p.problems]
    assert report.passed, "\n".join(problems)
    assert {p.name: p.status for p in report.proofs} == {"sr1": sr1, "tenant-edge": PASS, "sr2": PASS, "sr3": sr3,
                                                        "validity": PASS, "install": PASS, "observability": PASS}
    checkov = next(p for p in report.proofs if p.name == "validity").data["checkov"]
    assert checkov["failed"] == 0 and checkov["passed"] > 100, checkov


def test_the_prod_plan_passes_every_proof_including_checkov(clean_prod) -> None:
    assert_all_pass(clean_prod[1], sr1=PASS)


def test_the_dev_plan_passes_with_sr1_dormant_and_the_trusted_tier_exception(planned, tmp_path) -> None:
    needs_checkov()
    report = verify(copy_plan(planned("dev"), tmp_path / "dev"), "dev", checkov=True)
    assert_all_pass(report, sr1=DORMANT, sr3=DORMANT)
    skipped = next(p for p in report.proofs if p.name == "validity").data["checkov"]["skipped"]
    # No NetworkPolicy on the trusted tier: checkov's finding is kept, object by object, as accepted.
    assert {s["object"] for s in skipped if s["scope"] == "tier:trusted" and s["check"] == "CKV2_K8S_6"} >= {
        "Deployment/llm-tenant-gateway/litellm"}


def test_every_accepted_checkov_skip_is_listed_with_its_registered_reason(clean_prod) -> None:
    from llmplatform.k8s import checkov_skips

    build_dir, report = clean_prod
    skipped = next(p for p in report.proofs if p.name == "validity").data["checkov"]["skipped"]
    assert skipped, "prod carries documented checkov skips; none reached the report"
    markdown = (build_dir / "report.md").read_text()
    for skip in skipped:
        if skip["scope"].startswith("chart:"):  # an upstream chart's object: registered per release
            assert skip["reason"] == checkov_skips.CHART_ACCEPTED[skip["scope"].split(":", 1)[1]][skip["check"]]
        else:
            assert skip["scope"] == "annotation"
            assert skip["reason"] == checkov_skips.ACCEPTED[skip["check"]]
        assert f"`{skip['object']}`" in markdown
    for check in {s["check"] for s in skipped}:
        assert f"| {check} " in markdown


def test_the_report_embeds_a_real_connectivity_picture(clean_prod) -> None:
    build_dir, _ = clean_prod
    markdown = (build_dir / "report.md").read_text()
    assert "![connectivity matrix](connectivity.png)" in markdown
    png = (build_dir / "connectivity.png").read_bytes()
    assert png[:8] == PNG_MAGIC
    assert len(png) > 10_000, f"connectivity.png is only {len(png)} bytes"


@pytest.mark.parametrize("case", sorted(PLANTS))
def test_a_planted_violation_fails_verify_and_is_named(case, planned, tmp_path) -> None:
    plant = PLANTS[case]
    if plant.checkov:
        needs_checkov()
    build_dir = copy_plan(planned("prod"), tmp_path / "prod")
    plant.plant(build_dir)
    report = verify(build_dir, "prod", checkov=plant.checkov)

    assert not report.passed
    statuses = {p.name: p.status for p in report.proofs}
    assert [name for name, status in statuses.items() if status == FAIL] == [plant.proof], statuses
    problems = next(p for p in report.proofs if p.name == plant.proof).problems
    named = [p for p in problems if all(text in p for text in plant.named)]
    assert named, f"no {plant.proof} problem names {plant.named}:\n" + "\n".join(problems)
    markdown = (build_dir / "report.md").read_text()
    assert "Overall: **FAIL**" in markdown
    assert named[0].splitlines()[0] in markdown


def test_llmp_verify_exits_1_on_a_failed_proof_and_prints_it(planned, tmp_path, monkeypatch) -> None:
    from llmp.cli import app

    build_dir = copy_plan(planned("prod"), tmp_path / "prod")
    plant_fail_open(build_dir)
    quick = run.verify_stack

    def verify_quickly(*args: Any, **kwargs: Any) -> VerifyReport:
        return quick(*args, **{**kwargs, "cel_python_sample": CEL_PYTHON_SAMPLE})

    monkeypatch.setattr(run, "verify_stack", verify_quickly)
    result = CliRunner().invoke(app, ["verify", "prod", "-C", str(ROOT), "--build-dir", str(build_dir),
                                      "--no-checkov"], env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    assert "SR3 budgets fail closed" in result.output and "FAIL" in result.output
    assert "sr3: " in result.output and "allow_requests_on_db_unavailable" in result.output
    assert "verification failed" in result.output
    assert (build_dir / "verify.json").is_file() and (build_dir / "report.md").is_file()


def test_llmp_verify_exits_3_without_a_plan(tmp_path) -> None:
    from llmp.cli import app

    result = CliRunner().invoke(app, ["verify", "prod", "-C", str(ROOT), "--build-dir", str(tmp_path / "none")])
    assert result.exit_code == 3, result.output
    assert "llmp plan prod" in result.output
