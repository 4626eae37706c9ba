"""Custom resources are checked strictly against the upstream CRD schemas."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from tests.support import gates
from llmp.verify.manifests import Checker
from llmp.verify.manifests.crd import NOT_STORED_RULE, load_validator, to_jsonschema, validate_custom_resource

SCHEMAS = sorted(p for p in gates.crd_schema_dir().glob("*/*.json")) or [None]
EXAMPLES = sorted((gates.crd_schema_dir() / "examples").glob("*/*.yaml"))
VALID = [p for p in EXAMPLES if p.name.endswith(".valid.yaml")] or [None]
INVALID = [p for p in EXAMPLES if p.name.endswith(".invalid.yaml")] or [None]


def _example(path: Path | None) -> dict:
    gates.require_crd_schemas()
    if path is None:
        pytest.fail(f"{gates.crd_schema_dir()} has no examples/*/*.yaml to check", pytrace=False)
    return yaml.safe_load(path.read_text())


def _ids(path: Path | None) -> str:
    return "none" if path is None else f"{path.parent.name}/{path.name}"


@pytest.mark.parametrize("path", SCHEMAS, ids=_ids)
def test_every_stored_schema_is_valid_json_schema_once_converted_strictly(path):
    gates.require_crd_schemas()
    if path is None:
        pytest.fail(f"{gates.crd_schema_dir()} has no <group>/<kind>_<version>.json schemas", pytrace=False)
    validator = load_validator(path, strict=True)
    type(validator).check_schema(validator.schema)


@pytest.mark.parametrize("path", VALID, ids=_ids)
def test_every_valid_upstream_example_passes_strict_validation(path):
    assert validate_custom_resource(_example(path), strict=True) == []


@pytest.mark.parametrize("path", INVALID, ids=_ids)
def test_every_invalid_upstream_example_fails_even_without_strict_mode(path):
    doc = _example(path)
    lenient = validate_custom_resource(doc, strict=False)
    strict = validate_custom_resource(doc, strict=True)
    assert lenient, f"{path} should be invalid: {path.read_text().splitlines()[0]}"
    assert strict
    assert {f.checker for f in strict} == {Checker.CRD_SCHEMA}


def _scaled_object() -> dict:
    return _example(gates.require_crd_schemas() / "examples/keda.sh/scaledobject_v1alpha1.valid.yaml")


def test_a_misspelt_keda_field_is_caught_in_strict_mode_only():
    doc = _scaled_object()
    doc["spec"]["minReplicas"] = 1  # the field is minReplicaCount
    findings = validate_custom_resource(doc, source="keda.yaml#4")
    assert [(f.path, f.rule) for f in findings] == [("$.spec.minReplicas", "additionalProperties")]
    assert "minReplicaCount" in findings[0].message
    assert findings[0].object_id == "ScaledObject/serving/inference-server"
    assert findings[0].source == "keda.yaml#4"
    assert validate_custom_resource(doc, strict=False) == []


def test_a_misspelt_field_deep_inside_a_list_item_is_caught():
    doc = _scaled_object()
    doc["spec"]["triggers"][0]["authRef"] = {"name": "x"}
    assert [f.path for f in validate_custom_resource(doc)] == ["$.spec.triggers[0].authRef"]


def test_metadata_of_a_custom_resource_is_checked_against_object_meta():
    doc = _scaled_object()
    doc["metadata"]["lables"] = {"team": "a"}
    doc["metadata"]["annotations"] = {"owner": 7}
    paths = {f.path for f in validate_custom_resource(doc)}
    assert paths == {"$.metadata.lables", "$.metadata.annotations.owner"}


def test_a_custom_resource_without_a_name_is_reported():
    doc = _scaled_object()
    del doc["metadata"]["name"]
    assert [f.message for f in validate_custom_resource(doc)] == ["metadata.name is required"]


def test_a_cluster_scoped_custom_resource_with_a_namespace_is_reported():
    doc = _example(gates.require_crd_schemas() / "examples/kueue.x-k8s.io/clusterqueue_v1beta2.valid.yaml")
    doc["metadata"]["namespace"] = "serving"
    assert [f.rule for f in validate_custom_resource(doc)] == ["scope"]


def test_a_kind_spelt_in_the_wrong_case_is_reported():
    doc = _scaled_object()
    doc["kind"] = "Scaledobject"
    assert [(f.path, f.rule) for f in validate_custom_resource(doc)] == [("$.kind", "kind")]


def test_an_unquoted_yaml_date_is_validated_as_the_string_kubernetes_receives():
    doc = _scaled_object()
    doc["spec"]["triggers"][0]["metadata"]["activationThreshold"] = yaml.safe_load("d: 2024-01-01")["d"]
    assert validate_custom_resource(doc) == []


def test_a_custom_resource_with_no_schema_is_itself_a_finding(tmp_path):
    doc = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "a"}}
    findings = validate_custom_resource(doc, schema_dir=tmp_path)
    assert [(f.object_id, f.rule) for f in findings] == [("Widget/a/w", "no-schema")]
    assert "example.com/v1 Widget" in findings[0].message


def test_a_provider_installed_kind_without_a_stored_schema_is_not_validated_and_says_why(tmp_path):
    doc = {"apiVersion": "networking.gke.io/v1", "kind": "GCPBackendPolicy",
           "metadata": {"name": "p", "namespace": "a"}, "spec": {"anything": 1}}
    findings = validate_custom_resource(doc, schema_dir=tmp_path)
    assert [(f.object_id, f.rule) for f in findings] == [("GCPBackendPolicy/a/p", NOT_STORED_RULE)]
    assert "installed by GKE" in findings[0].message


def test_only_the_listed_provider_kinds_escape_the_no_schema_finding(tmp_path):
    # planted: another kind of the same GKE group (or a listed kind under another group) is still a finding
    for api_version, kind in [("networking.gke.io/v1", "GCPGatewayPolicy"), ("example.com/v1", "HealthCheckPolicy")]:
        doc = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "p", "namespace": "a"}}
        assert [f.rule for f in validate_custom_resource(doc, schema_dir=tmp_path)] == ["no-schema"]


def test_a_stored_schema_for_a_provider_installed_kind_is_used(tmp_path):
    (tmp_path / "networking.gke.io").mkdir()
    (tmp_path / "networking.gke.io" / "healthcheckpolicy_v1.json").write_text(json.dumps(
        {"type": "object", "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                                          "metadata": {"type": "object"},
                                          "spec": {"type": "object", "properties": {"default": {"type": "object"}}}}}))
    doc = {"apiVersion": "networking.gke.io/v1", "kind": "HealthCheckPolicy",
           "metadata": {"name": "p", "namespace": "a"}, "spec": {"defualt": {}}}
    assert [f.rule for f in validate_custom_resource(doc, schema_dir=tmp_path)] == ["additionalProperties"]


def test_built_in_objects_are_left_to_the_core_check(tmp_path):
    for api_version, kind in [("v1", "Service"), ("apps/v1", "Deployment"), ("networking.k8s.io/v1", "Ingress"),
                              ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy")]:
        doc = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}, "spec": {"bogus": 1}}
        assert validate_custom_resource(doc, schema_dir=tmp_path) == []


# The conversion itself, on small synthetic schemas (no shared folder needed).

def _crd_dir(tmp_path: Path, schema: dict) -> Path:
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              "x-crd-source": {"kind": "Widget", "scope": "Namespaced"}, **schema}
    (tmp_path / "example.com").mkdir()
    (tmp_path / "example.com" / "widget_v1.json").write_text(json.dumps(schema))
    return tmp_path


def _widget(spec: dict) -> dict:
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "a"},
            "spec": spec}


SPEC_SCHEMA = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "properties": {
                "port": {"x-kubernetes-int-or-string": True},
                "note": {"type": "string", "nullable": True},
                "free": {"type": "object", "properties": {"a": {"type": "string"}},
                         "x-kubernetes-preserve-unknown-fields": True},
                "template": {"type": "object", "properties": {"spec": {"type": "object"}},
                             "x-kubernetes-embedded-resource": True},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
    },
}


def test_int_or_string_accepts_both_and_nothing_else(tmp_path):
    schema_dir = _crd_dir(tmp_path, SPEC_SCHEMA)
    assert validate_custom_resource(_widget({"port": 8080}), schema_dir=schema_dir) == []
    assert validate_custom_resource(_widget({"port": "http"}), schema_dir=schema_dir) == []
    assert [f.path for f in validate_custom_resource(_widget({"port": [1]}), schema_dir=schema_dir)] == ["$.spec.port"]


def test_nullable_accepts_null(tmp_path):
    schema_dir = _crd_dir(tmp_path, SPEC_SCHEMA)
    assert validate_custom_resource(_widget({"note": None}), schema_dir=schema_dir) == []
    assert validate_custom_resource(_widget({"note": 3}), schema_dir=schema_dir) != []


def test_preserve_unknown_fields_and_maps_stay_open_in_strict_mode(tmp_path):
    schema_dir = _crd_dir(tmp_path, SPEC_SCHEMA)
    spec = {"free": {"a": "x", "anything": {"goes": 1}}, "labels": {"k": "v"}}
    assert validate_custom_resource(_widget(spec), schema_dir=schema_dir) == []


def test_an_embedded_resource_keeps_api_version_kind_and_metadata(tmp_path):
    schema_dir = _crd_dir(tmp_path, SPEC_SCHEMA)
    template = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}}
    assert validate_custom_resource(_widget({"template": template}), schema_dir=schema_dir) == []
    template["extra"] = 1
    findings = validate_custom_resource(_widget({"template": template}), schema_dir=schema_dir)
    assert [f.path for f in findings] == ["$.spec.template.extra"]


def test_conversion_leaves_data_keywords_alone():
    node = {"type": "object", "properties": {"enum": {"type": "string", "enum": ["properties", "x"]}},
            "required": ["enum"], "x-kubernetes-validations": [{"rule": "self.enum != ''"}]}
    out = to_jsonschema(copy.deepcopy(node))
    assert out["properties"]["enum"]["enum"] == ["properties", "x"]
    assert out["required"] == ["enum"]
    assert out["x-kubernetes-validations"] == node["x-kubernetes-validations"]
    assert out["additionalProperties"] is False
    assert "additionalProperties" not in to_jsonschema(node, strict=False)
