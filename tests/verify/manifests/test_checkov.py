"""checkov finds hygiene problems in planted manifests and honours documented skip annotations.

checkov runs from `.venv-checkov`. When it is missing the module fixture installs it (about 290 MB, needs
the package index): on a user machine a failed install skips these tests with the reason, under
`CI=true` it fails them. `LLMP_NO_CHECKOV_INSTALL=1` skips instead of installing (still a failure in CI).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support import gates
from tests.verify.manifests.manifest_files import write_manifests
from llmp.verify.manifests import Checker
from llmp.verify.manifests.checkov_scan import (
    SKIP_CRASH_RULE,
    CheckovReport,
    CheckovUnavailable,
    checkov_installed,
    ensure_checkov,
    parse_report,
    scan,
    skip_annotation_problems,
)
from llmp.verify.manifests.manifests import load_manifests

BAD_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: rogue
  namespace: serving
  annotations:
    checkov.io/skip1: CKV_K8S_43=images are pinned by tag; digests are resolved at promotion
    checkov.io/skip2: CKV_K8S_999=a misspelt check id skips nothing
spec:
  replicas: 1
  selector:
    matchLabels: {app: rogue}
  template:
    metadata:
      labels: {app: rogue}
    spec:
      containers:
      - name: server
        image: vllm/vllm-openai:v0.11.0
        securityContext:
          privileged: true
"""

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: rogue
  namespace: serving
spec:
  selector: {app: rogue}
  ports:
  - port: 80
"""


@pytest.fixture(scope="module")
def checkov() -> Path:
    if not checkov_installed() and os.environ.get("LLMP_NO_CHECKOV_INSTALL") == "1":
        gates.require(False, "checkov is not installed in .venv-checkov and LLMP_NO_CHECKOV_INSTALL=1; "
                             "run `make checkov-deps`")
    try:
        return ensure_checkov()
    except CheckovUnavailable as exc:
        gates.require(False, f"checkov could not be installed into .venv-checkov (`make checkov-deps`): {exc}")
        raise  # unreachable: require() skips or fails


@pytest.fixture(scope="module")
def report(checkov, tmp_path_factory) -> CheckovReport:
    folder = write_manifests(tmp_path_factory.mktemp("manifests"), "10-serving.yaml", SERVICE, BAD_DEPLOYMENT)
    return scan(folder, executable=checkov)


def test_a_privileged_deployment_without_limits_fails_the_hygiene_checks(report):
    failed = report.failed_check_ids()
    assert {"CKV_K8S_16", "CKV_K8S_11", "CKV_K8S_13"} <= failed, report.format()  # privileged, cpu/mem limits
    privileged = next(f for f in report.findings if f.rule == "CKV_K8S_16")
    assert privileged.object_id == "Deployment/serving/rogue"
    assert privileged.source == "10-serving.yaml#1"
    assert privileged.path == "$.spec.template.spec.containers[0].securityContext.privileged"
    assert privileged.checker is Checker.CHECKOV
    assert not report.ok


def test_a_skip_annotation_suppresses_its_check_and_is_reported_with_its_reason(report):
    assert "CKV_K8S_43" not in report.failed_check_ids()
    assert [(s.object_id, s.check_id, s.reason) for s in report.skipped] == [
        ("Deployment/serving/rogue", "CKV_K8S_43", "images are pinned by tag; digests are resolved at promotion")
    ]
    assert "CKV_K8S_43 Image should use digest" in report.skips_markdown()
    assert report.summary["skipped"] == 1


def test_a_skip_that_skips_nothing_is_reported_as_unused(report):
    assert [(s.object_id, s.check_id) for s in report.unused_skips] == [("Deployment/serving/rogue", "CKV_K8S_999")]


def test_the_scan_ran_offline_on_every_resource(report):
    assert "--skip-download" in report.command
    assert report.summary["resource_count"] >= 2
    assert report.summary["checkov_version"]


# No checkov needed below.

def test_a_skip_reason_containing_equals_is_reported_before_it_can_crash_checkov(tmp_path):
    manifest = BAD_DEPLOYMENT.replace("skips nothing", "skips nothing, a=b")
    objects, _ = load_manifests(write_manifests(tmp_path, "a.yaml", manifest))
    problems = skip_annotation_problems(objects)
    assert [(p.path, p.rule) for p in problems] == [("$.metadata.annotations['checkov.io/skip2']", SKIP_CRASH_RULE)]
    report = scan(tmp_path, executable=tmp_path / "not-run")  # refused before starting checkov
    assert [f.rule for f in report.findings] == [SKIP_CRASH_RULE]


def test_a_skip_without_a_reason_is_a_finding(tmp_path):
    manifest = BAD_DEPLOYMENT.replace("CKV_K8S_999=a misspelt check id skips nothing", "CKV_K8S_15")
    objects, _ = load_manifests(write_manifests(tmp_path, "a.yaml", manifest))
    assert ["gives no reason" in p.message for p in skip_annotation_problems(objects)] == [True]


def test_checkov_json_is_parsed_in_all_its_shapes():
    record = {
        "check_id": "CKV_K8S_16", "check_name": "Container should not be privileged",
        "check_result": {"result": "FAILED", "evaluated_keys": ["spec/containers/[0]/securityContext/privileged"]},
        "file_path": "/x.yaml", "file_line_range": [1, 9], "resource": "Pod.serving.my.pod",
    }
    report = {"check_type": "kubernetes", "results": {"failed_checks": [record], "skipped_checks": []},
              "summary": {"passed": 0, "failed": 1, "skipped": 0, "resource_count": 1, "checkov_version": "x"}}
    for data in (report, [report]):
        findings, skipped, summary = parse_report(data)
        assert [(f.object_id, f.path, f.rule) for f in findings] == [
            ("Pod/serving/my.pod", "$.spec.containers[0].securityContext.privileged", "CKV_K8S_16")
        ]
        assert skipped == [] and summary["failed"] == 1
    findings, skipped, summary = parse_report({"passed": 0, "failed": 0, "resource_count": 0})
    assert findings == [] and summary["resource_count"] == 0
