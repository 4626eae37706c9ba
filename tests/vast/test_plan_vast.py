"""`llmp plan vast` (a subprocess, as a user runs it) renders the Vast stack offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llmp.plan.mocks import mock_secret_value
from llmp.plan.render import load_manifests

PROVIDER = "urn:pulumi:vast::llm-platform::llmplatform:vast_cluster:VastCluster$pulumi:providers:kubernetes::vast-k8s"


def plan(planned: Any) -> dict[str, Any]:
    return json.loads((Path(planned("vast")) / "plan.json").read_text())


def test_llmp_plan_vast_renders_the_vast_cluster_and_the_same_serving_layer(planned):
    doc = plan(planned)
    types = {r["type"] for r in doc["resources"]}
    assert {"llmplatform:vast_cluster:VastCluster", "pulumi-python:dynamic/llmplatform/vast:VastHost",
            "command:remote:Command", "llmplatform:serving_stack:ServingStack",
            "llmplatform:tenant_gateway:TenantGateway"} <= types
    assert not any(t.startswith("gcp:") for t in types)
    assert doc["outputs"]["kubeconfig"] == "[secret]" and doc["outputs"]["trustTier"] == "multi-team"


def test_every_kubernetes_object_goes_through_the_vast_clusters_provider(planned):
    objects = [r for r in plan(planned)["resources"] if r["custom"] and r["type"].startswith("kubernetes:")]
    assert objects
    assert {r["provider"] for r in objects} == {PROVIDER}


def test_the_admin_kubeconfig_never_reaches_the_plan_output(planned):
    needle = mock_secret_value("kubeconfig", "vast-kubeconfig")[:24]
    for path in Path(planned("vast")).rglob("*"):
        if path.is_file():
            assert needle not in path.read_text(errors="ignore"), f"kubeconfig key leaked into {path}"


def test_model_servers_share_gpus_on_the_nvidia_runtime_with_the_lowered_memory_fraction(planned):
    objs = load_manifests(Path(planned("vast")) / "manifests")
    (deploy,) = [o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == "vllm-qwen-1-5b"]
    pod = deploy["spec"]["template"]["spec"]
    assert pod["runtimeClassName"] == "nvidia" and "tolerations" not in pod
    args = pod["containers"][0]["args"]
    assert args[args.index("--gpu-memory-utilization") + 1] == "0.45"
    term = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
    assert term["matchExpressions"][0] == {"key": "nvidia.com/gpu.product", "operator": "In",
                                           "values": ["NVIDIA-GeForce-RTX-4090-SHARED"]}
    assert deploy["spec"]["replicas"] == 3
    assert deploy["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
