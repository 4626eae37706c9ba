"""A manifests folder is loaded with provenance and every object in it is validated."""

from __future__ import annotations


import yaml

from tests.support import gates
from tests.verify.manifests.manifest_files import write_manifests
from llmp.verify.manifests import Checker
from llmp.verify.manifests.manifests import load_manifests, validate_all

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: vllm
  namespace: serving
  annotations:
    llmplatform.io/rolled: 2024-01-01
spec:
  replicas: 1
  selector:
    matchLabels: {app: vllm}
  template:
    metadata:
      labels: {app: vllm}
    spec:
      containers:
      - name: server
        image: vllm/vllm-openai:v0.11.0
"""

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: vllm
  namespace: serving
spec:
  selector: {app: vllm}
  ports:
  - port: 80
"""


def test_objects_keep_their_file_document_index_and_line(tmp_path):
    folder = write_manifests(tmp_path, "10-serving.yaml", DEPLOYMENT, SERVICE, "")
    objects, problems = load_manifests(folder)
    assert problems == []
    assert [(o.source, o.line, o.object_id) for o in objects] == [
        ("10-serving.yaml#0", 1, "Deployment/serving/vllm"),
        ("10-serving.yaml#1", DEPLOYMENT.count("\n") + 2, "Service/serving/vllm"),
    ]


def test_unquoted_dates_stay_strings(tmp_path):
    objects, _ = load_manifests(write_manifests(tmp_path, "a.yaml", DEPLOYMENT))
    assert objects[0].obj["metadata"]["annotations"]["llmplatform.io/rolled"] == "2024-01-01"


def test_a_clean_folder_gives_an_ok_report(tmp_path):
    report = validate_all(write_manifests(tmp_path, "a.yaml", DEPLOYMENT, SERVICE), crd_schema_dir=tmp_path / "none")
    assert report.ok, report.format()
    assert (len(report.objects), report.builtin_count, report.custom_count) == (2, 2, 0)
    assert "2 objects in 1 files" in report.summary()


def test_findings_from_every_file_carry_their_provenance(tmp_path):
    folder = write_manifests(tmp_path, "a.yaml", SERVICE, DEPLOYMENT.replace("replicas:", "replica:"))
    write_manifests(folder, "b.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: x}\n")
    report = validate_all(folder, crd_schema_dir=tmp_path / "none")
    assert [(f.source, f.checker, f.rule) for f in report.findings] == [
        ("a.yaml#1", Checker.CORE_SCHEMA, "additionalProperties"),
        ("b.yaml#0", Checker.CRD_SCHEMA, "no-schema"),
    ]


def test_documents_that_are_not_one_object_and_repeated_keys_and_objects_are_reported(tmp_path):
    folder = write_manifests(tmp_path, "a.yaml", SERVICE, "- just\n- a list\n", "apiVersion: v1\nkind: List\nitems: []\n",
                    SERVICE.replace("  name: vllm\n", "  name: vllm\n  name: other\n"), SERVICE)
    write_manifests(folder, "b.yaml", "kind: [unclosed\n")
    objects, problems = load_manifests(folder)
    assert [(p.source, p.rule) for p in problems] == [
        ("a.yaml#1", "not-an-object"),
        ("a.yaml#2", "not-an-object"),
        ("a.yaml#3", "duplicate-key"),
        ("b.yaml#0", "yaml"),
        ("a.yaml#4", "duplicate-object"),
    ]
    assert len(objects) == 3


def test_a_missing_folder_is_a_finding_not_an_exception(tmp_path):
    report = validate_all(tmp_path / "nope")
    assert [f.rule for f in report.findings] == ["missing"]


def test_custom_resources_in_a_folder_are_checked_against_the_shared_schemas(tmp_path):
    schema_dir = gates.require_crd_schemas()
    examples = sorted((schema_dir / "examples").glob("*/*.valid.yaml"))
    for i, path in enumerate(examples):
        # Some examples are the same object at two API versions: rename them apart.
        doc = yaml.safe_load(path.read_text())
        doc["metadata"]["name"] += f"-{i}"
        (tmp_path / f"{i:02d}-{path.name}").write_text(yaml.safe_dump(doc))
    write_manifests(tmp_path, "zz-core.yaml", DEPLOYMENT, SERVICE)
    report = validate_all(tmp_path)
    assert report.ok, report.format()
    assert report.custom_count == len(examples)
