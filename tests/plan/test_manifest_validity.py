"""Every object the dev and prod plans would apply is valid: core objects strictly for Kubernetes 1.33
(kubernetes-validate's schemas), custom resources strictly against the upstream CRD schemas."""

from __future__ import annotations

import pytest

import re

import yaml

from llmplatform.testing.gates import require_crd_schemas
from llmplatform.validate.manifests import validate_all
from llmplatform.verify.run import SCHEMA_GAPS, unchecked_by_schema


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_rendered_manifests_validate_strictly(planned, stack):
    schemas = require_crd_schemas()
    report = validate_all(planned(stack) / "manifests", crd_schema_dir=schemas, strict=True)
    assert report.builtin_count > 10 and report.custom_count > 3
    assert report.kubernetes_version.startswith("1.33")
    findings, gaps = unchecked_by_schema(report.findings)
    assert not findings, "\n".join(map(str, findings))
    assert {(g.api_version, g.kind) for g in gaps} <= set(SCHEMA_GAPS)


def test_the_scheduled_backup_without_a_stored_schema_is_checked_by_hand(planned):
    docs = [d for p in (planned("prod") / "manifests").glob("*.yaml") for d in yaml.safe_load_all(p.read_text()) if d]
    backups = [d for d in docs if d["kind"] == "ScheduledBackup"]
    clusters = {d["metadata"]["name"] for d in docs if d["kind"] == "Cluster"}
    assert len(backups) == 1
    spec = backups[0]["spec"]
    assert set(spec) <= {"schedule", "cluster", "method", "backupOwnerReference", "immediate", "suspend", "target",
                         "pluginConfiguration", "online", "onlineConfiguration"}
    assert len(spec["schedule"].split()) == 6, "CNPG schedules have a seconds field"
    assert spec["cluster"]["name"] in clusters
    assert re.fullmatch(r"barmanObjectStore|volumeSnapshot|plugin", spec.get("method", "barmanObjectStore"))


def test_a_typo_in_a_rendered_custom_resource_is_caught(planned, tmp_path):
    import shutil

    import yaml

    schemas = require_crd_schemas()
    shutil.copytree(planned("prod") / "manifests", tmp_path / "manifests")
    path = tmp_path / "manifests" / "llm-serving.yaml"
    docs = list(yaml.safe_load_all(path.read_text()))
    scaled = next(d for d in docs if d and d["kind"] == "ScaledObject")
    scaled["spec"]["minReplicas"] = scaled["spec"].pop("minReplicaCount", 1)  # the classic typo
    path.write_text(yaml.safe_dump_all(docs))
    report = validate_all(tmp_path / "manifests", crd_schema_dir=schemas, strict=True)
    assert any("minReplicas" in str(f) for f in report.findings), report.format()
