"""Built-in objects are checked strictly against the Kubernetes schemas bundled by kubernetes-validate."""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest

from llmp.verify.manifests import Checker
from llmp.verify.manifests.core import KUBERNETES_VERSION, bundled_versions, schema_version, validate_core

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "vllm", "namespace": "serving", "labels": {"app.kubernetes.io/name": "vllm"}},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "vllm"}},
        "template": {
            "metadata": {"labels": {"app": "vllm"}},
            "spec": {
                "containers": [{
                    "name": "server",
                    "image": "vllm/vllm-openai:v0.11.0",
                    "ports": [{"name": "http", "containerPort": 8000}],
                    "resources": {"requests": {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": 1},
                                  "limits": {"memory": "16Gi", "nvidia.com/gpu": 1}},
                    "readinessProbe": {"httpGet": {"path": "/health", "port": "http"}},
                    "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True},
                }],
            },
        },
    },
}

SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "vllm", "namespace": "serving"},
    "spec": {"selector": {"app": "vllm"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
}

NETWORK_POLICY = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "gateway-only", "namespace": "serving"},
    "spec": {
        "podSelector": {"matchLabels": {"app": "vllm"}},
        "policyTypes": ["Ingress"],
        "ingress": [{
            "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gateway"}},
                      "podSelector": {"matchLabels": {"app": "gateway"}}}],
            "ports": [{"protocol": "TCP", "port": 8000}],
        }],
    },
}

ADMISSION_POLICY = {
    "apiVersion": "admissionregistration.k8s.io/v1",
    "kind": "ValidatingAdmissionPolicy",
    "metadata": {"name": "gpu-requests-need-limits"},
    "spec": {
        "failurePolicy": "Fail",
        "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                "operations": ["CREATE", "UPDATE"], "resources": ["pods"]}]},
        "validations": [{"expression": "object.spec.containers.all(c, has(c.resources.limits))",
                         "message": "every container sets limits"}],
    },
}

ADMISSION_BINDING = {
    "apiVersion": "admissionregistration.k8s.io/v1",
    "kind": "ValidatingAdmissionPolicyBinding",
    "metadata": {"name": "gpu-requests-need-limits"},
    "spec": {"policyName": "gpu-requests-need-limits", "validationActions": ["Deny"]},
}

GOOD = [DEPLOYMENT, SERVICE, NETWORK_POLICY, ADMISSION_POLICY, ADMISSION_BINDING]


def _with(obj: dict, path: str, value) -> dict:
    out = copy.deepcopy(obj)
    *parents, last = path.split(".")
    node = out
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[last] = value
    return out


@pytest.mark.parametrize("obj", GOOD, ids=lambda o: o["kind"])
def test_well_formed_built_in_objects_pass_strict_validation(obj):
    assert validate_core(obj) == []


def test_a_misspelt_deployment_field_fails_in_strict_mode_only():
    doc = _with(DEPLOYMENT, "spec.replica", 3)
    findings = validate_core(doc, source="20-serving.yaml#1")
    assert [(f.path, f.rule, f.checker) for f in findings] == [
        ("$.spec.replica", "additionalProperties", Checker.CORE_SCHEMA)
    ]
    assert "did you mean 'replicas'" in findings[0].message
    assert findings[0].object_id == "Deployment/serving/vllm"
    assert str(findings[0]).startswith("20-serving.yaml#1: Deployment/serving/vllm $.spec.replica")
    assert validate_core(doc, strict=False) == []


def test_a_value_of_the_wrong_type_fails():
    findings = validate_core(_with(DEPLOYMENT, "spec.replicas", "two"))
    assert [(f.path, f.rule) for f in findings] == [("$.spec.replicas", "type")]


def test_every_problem_in_an_object_is_reported_not_just_the_first():
    doc = _with(DEPLOYMENT, "spec.replicas", "two")
    doc["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "8000"
    doc["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy2"] = "Always"
    assert [f.path for f in validate_core(doc)] == [
        "$.spec.replicas",
        "$.spec.template.spec.containers[0].imagePullPolicy2",
        "$.spec.template.spec.containers[0].ports[0].containerPort",
    ]


def test_a_misspelt_metadata_field_fails():
    doc = _with(SERVICE, "metadata.lables", {"a": "b"})
    assert [f.path for f in validate_core(doc)] == ["$.metadata.lables"]


def test_a_label_value_longer_than_63_characters_fails():
    doc = _with(SERVICE, "metadata.labels", {"llmplatform.io/model": "m" * 64})
    findings = validate_core(doc)
    assert [(f.path, f.rule) for f in findings] == [("$.metadata.labels['llmplatform.io/model']", "label")]


def test_an_object_without_a_name_fails():
    doc = copy.deepcopy(SERVICE)
    del doc["metadata"]["name"]
    assert [(f.path, f.rule) for f in validate_core(doc)] == [("$.metadata", "required")]


def test_an_api_version_not_served_by_the_target_kubernetes_is_a_finding():
    doc = _with(DEPLOYMENT, "apiVersion", "apps/v1beta1")
    assert [f.rule for f in validate_core(doc)] == ["no-schema"]
    device_class = {"apiVersion": "resource.k8s.io/v1", "kind": "DeviceClass", "metadata": {"name": "gpu"},
                    "spec": {"selectors": [{"cel": {"expression": "device.driver == 'gpu.nvidia.com'"}}]}}
    assert [f.rule for f in validate_core(device_class, kubernetes_version="1.33")] == ["no-schema"]
    assert validate_core(device_class, kubernetes_version="1.34") == []


def test_custom_resources_are_left_to_the_crd_check():
    doc = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "x"}, "spec": {"bogus": 1}}
    assert validate_core(doc) == []


def test_the_target_kubernetes_version_is_bundled():
    assert schema_version(KUBERNETES_VERSION) == "1.33.0"
    assert "1.33.0" in bundled_versions()
    with pytest.raises(ValueError, match="kubernetes-validate"):
        schema_version("1.99")


@pytest.mark.parametrize(
    "obj",
    [*GOOD, _with(DEPLOYMENT, "spec.replica", 3), _with(DEPLOYMENT, "spec.replicas", "two"),
     _with(SERVICE, "spec.ports.0.port", "80"), _with(NETWORK_POLICY, "spec.podSelector", [])],
    ids=lambda o: o["kind"],
)
def test_verdicts_agree_with_kubernetes_validate_itself(obj):
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        upstream_valid = True
    except kubernetes_validate.ValidationError:
        upstream_valid = False
    # The label and name rules are ours, not in the schemas; the objects here don't trip them anyway.
    schema_only = [f for f in validate_core(obj) if f.rule != "label" and f.message != "metadata.name is required"]
    assert (schema_only == []) == upstream_valid
