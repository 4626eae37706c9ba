"""checkov cannot pass an object by not reading it.

checkov 3.3.x skips, silently, a whole file whose text contains `{{ .Values.` or `{{ .Release.`: rendered
charts carry such text in ConfigMap data (istiod's sidecar-injector templates), which hid the istiod
Deployment written to the same file. `scan()` defangs that text on a copy, and a workload checkov still
returns no result for is a `not-checked` finding.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path

from llmp.verify.manifests.checkov_scan import NOT_CHECKED_RULE, checked_objects, defang_helm_text, scan
from llmp.verify.manifests.manifests import load_manifests
from tests.verify.manifests.manifest_files import write_manifests
from tests.verify.manifests.test_checkov import BAD_DEPLOYMENT, checkov  # noqa: F401 (module fixture)

# checkov 3.3.30, kubernetes/parser/k8_yaml.py `load`: the file is skipped when either matches.
CHECKOV_HELM_PATTERNS = (r"\{\{-?\s*\.Release\.", r"\{\{-?\s*\.Values\.")

INJECTOR = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: injector
  namespace: serving
data:
  config: |
    image: "{{ .Values.global.hub }}/proxyv2:{{- .Values.global.tag }}"
    release: {{ .Release.Name }}
"""


def test_defanged_text_keeps_every_line_and_length_and_no_longer_looks_like_a_helm_template():
    text = INJECTOR + "  other: '{{ .ProxyImage }} {{- .Values.x }}'\n"
    out = defang_helm_text(text)
    assert len(out) == len(text) and out.count("\n") == text.count("\n")
    assert not any(re.search(pattern, out) for pattern in CHECKOV_HELM_PATTERNS)
    assert "{{ .ProxyImage }}" in out, "only the text checkov's heuristic matches is altered"


def test_a_workload_sharing_a_file_with_helm_template_text_is_still_checked(checkov, tmp_path):  # noqa: F811
    write_manifests(tmp_path, "serving.yaml", INJECTOR, BAD_DEPLOYMENT)
    report = scan(tmp_path, executable=checkov)
    failed = {(f.object_id, f.rule) for f in report.findings}
    assert ("Deployment/serving/rogue", "CKV_K8S_16") in failed, "the privileged container must be found"
    assert not [f for f in report.findings if f.rule == NOT_CHECKED_RULE]
    assert "Va1ues" not in (tmp_path / "serving.yaml").read_text(), "the scanned folder itself is never changed"


def test_a_workload_checkov_returns_nothing_for_is_a_finding(tmp_path):
    write_manifests(tmp_path / "m", "serving.yaml", BAD_DEPLOYMENT)
    fake = tmp_path / "checkov"  # reads one resource, reports no result for it
    fake.write_text('#!/bin/sh\necho \'{"summary": {"passed": 0, "failed": 0, "resource_count": 1}, '
                    '"results": {}}\'\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    report = scan(tmp_path / "m", executable=fake)
    assert [(f.object_id, f.rule) for f in report.findings if f.rule == NOT_CHECKED_RULE] == [
        ("Deployment/serving/rogue", NOT_CHECKED_RULE)]


def test_checked_objects_counts_passed_failed_and_skipped_results(tmp_path):
    write_manifests(tmp_path, "serving.yaml", INJECTOR, BAD_DEPLOYMENT)
    objects, _ = load_manifests(tmp_path)
    deployment = next(o for o in objects if o.obj["kind"] == "Deployment")
    record = {"file_path": "/serving.yaml", "file_line_range": [deployment.line, deployment.line + 5]}
    for key in ("passed_checks", "failed_checks", "skipped_checks"):
        assert checked_objects({"results": {key: [record]}}, objects) == {deployment.source}
    assert checked_objects({"results": {}}, objects) == set()


def test_with_the_verify_cache_the_same_bytes_are_scanned_once_and_a_changed_byte_again(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMP_VERIFY_CACHE", str(tmp_path / "cache"))
    write_manifests(tmp_path / "m", "serving.yaml", BAD_DEPLOYMENT)
    runs = tmp_path / "runs"
    fake = tmp_path / "checkov"  # counts its runs; reads one resource, reports no result for it
    fake.write_text(f'#!/bin/sh\necho run >> {runs}\necho \'{{"summary": {{"passed": 0, "failed": 0, '
                    '"resource_count": 1}, "results": {}}\'\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    first, second = scan(tmp_path / "m", executable=fake), scan(tmp_path / "m", executable=fake)
    assert runs.read_text().count("run") == 1
    assert first.findings == second.findings and first.findings
    (tmp_path / "m" / "serving.yaml").write_text((tmp_path / "m" / "serving.yaml").read_text() + "\n")
    scan(tmp_path / "m", executable=fake)
    assert runs.read_text().count("run") == 2
