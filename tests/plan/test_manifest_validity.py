"""Every object the dev and prod plans would apply is valid: core objects strictly for Kubernetes 1.33
(kubernetes-validate's schemas), custom resources strictly against the CRDs the plan itself installs (the
rendered charts') or, for kinds no rendered CRD declares, the stored upstream schemas."""

from __future__ import annotations

import shutil

import pytest
import yaml

from tests.support.gates import require, require_crd_schemas
from llmp.verify.manifests.crd import CrdCatalog
from llmp.verify.manifests.manifests import load_manifests, validate_all


def _require_charts(folder):
    rendered = sorted(p.name for p in (folder / "manifests" / "charts").iterdir()) \
        if (folder / "manifests" / "charts").is_dir() else []
    require(len(rendered) >= 5, "the pinned Helm charts were not rendered by `llmp plan` (provide their sources "
                                "with `llmp charts pull` or LLMP_CHARTS)")


@pytest.mark.parametrize("stack", ["dev", "prod", "public"])
def test_rendered_manifests_validate_strictly(planned, stack):
    schemas = require_crd_schemas()
    _require_charts(planned(stack))
    report = validate_all(planned(stack) / "manifests", crd_schema_dir=schemas, strict=True)
    assert report.builtin_count > 200 and report.custom_count > 3
    assert any(item.file.parts[0] == "charts" for item in report.objects)
    assert report.kubernetes_version.startswith("1.33")
    assert not report.findings, report.format()
    # What is not validated is only the public edge's GKE-installed policies with no stored schema, by name.
    unvalidated = {f.object_id.split("/")[0] for f in report.not_validated}
    assert unvalidated == ({"GCPBackendPolicy", "HealthCheckPolicy"} if stack == "public" else set())


def test_the_scheduled_backup_is_checked_against_the_crd_the_cnpg_chart_installs(planned):
    _require_charts(planned("prod"))
    objects, _ = load_manifests(planned("prod") / "manifests")
    catalog = CrdCatalog.from_objects(o.obj for o in objects)
    backup = next(o.obj for o in objects if o.obj["kind"] == "ScheduledBackup")
    entry = catalog.lookup(backup)
    assert entry is not None and entry.source == "CustomResourceDefinition//scheduledbackups.postgresql.cnpg.io"


def test_a_typo_in_a_rendered_custom_resource_is_caught(planned, tmp_path):
    schemas = require_crd_schemas()
    shutil.copytree(planned("prod") / "manifests", tmp_path / "manifests")
    path = tmp_path / "manifests" / "llm-serving.yaml"
    docs = list(yaml.safe_load_all(path.read_text()))
    scaled = next(d for d in docs if d and d["kind"] == "ScaledObject")
    scaled["spec"]["minReplicas"] = scaled["spec"].pop("minReplicaCount", 1)  # the classic typo
    path.write_text(yaml.safe_dump_all(docs))
    report = validate_all(tmp_path / "manifests", crd_schema_dir=schemas, strict=True)
    assert any("minReplicas" in str(f) for f in report.findings), report.format()


def test_a_typo_is_caught_by_the_chart_crd_even_without_stored_schemas(planned, tmp_path):
    _require_charts(planned("prod"))
    shutil.copytree(planned("prod") / "manifests", tmp_path / "manifests")
    path = tmp_path / "manifests" / "_cluster.yaml"
    docs = list(yaml.safe_load_all(path.read_text()))
    queue = next(d for d in docs if d and d["kind"] == "ClusterQueue")
    queue["spec"]["namespaceSelecter"] = queue["spec"].pop("namespaceSelector", {})
    path.write_text(yaml.safe_dump_all(docs))
    report = validate_all(tmp_path / "manifests", crd_schema_dir=tmp_path / "no-stored-schemas", strict=True)
    typo = [f for f in report.findings if "namespaceSelecter" in str(f)]
    assert typo and typo[0].rule == "additionalProperties", report.format()
