"""Inference-aware routing: per model an InferencePool and its endpoint picker (EPP); one Gateway.

Path of a request: LiteLLM -> Service `inference-gateway-istio` (ClusterIP) -> Istio gateway pods
in llm-gateway -> HTTPRoute match on header `X-Gateway-Model-Name` -> InferencePool of that model ->
the pool's EPP (ext_proc, gRPC :9002) picks one pod by queue depth, KV-cache use and prefix-cache
affinity -> vLLM pod :8000.

Routing header (decision): LiteLLM sends `X-Gateway-Model-Name: <served_name>` on every call to a
model (its per-model `extra_headers`; `ServingStack.model_headers` hands them over). That is the
header GIE's body-based router (BBR) would derive from the OpenAI body, so BBR can be added later
without touching routes; not deploying it saves one ext_proc hop per request and one more component
that sees every prompt. A caller that sends a header naming another model than its body reaches a
pool whose vLLM rejects the unknown `model` (404): routing by header cannot widen access.

Gateway (decision): Istio's in-cluster gateway. Its proxy pods carry `llmplatform.io/role:
inference-gateway` (Gateway `spec.infrastructure.labels`) so NetworkPolicy can select them, and its
Service is ClusterIP (`networking.istio.io/service-type`), so no cloud load balancer and no
proxy-only-subnet path around SR1 exist. Routes attach only from the Gateway's own namespace.

EPP transport: plaintext gRPC (`--secure-serving=false`, Service `appProtocol: http2`), because
Istio opens the ext_proc cluster without TLS unless an Istio DestinationRule says otherwise, and
the platform renders no Istio-specific custom resources. The hop stays inside the pod network and
NetworkPolicy admits only the gateway pods to :9002.
"""

from __future__ import annotations

from typing import Any

import yaml

from llmplatform import labels, ports
from llmplatform.config import ModelSpec
from llmplatform.k8s import checkov_skips
from llmplatform.serving import images, names, vllm

ROUTING_HEADER = "X-Gateway-Model-Name"
INFERENCE_GROUP = "inference.networking.k8s.io"
GATEWAY_GROUP = "gateway.networking.k8s.io"
EPP_UID = 65532
EPP_CONFIG_FILE = "default-plugins.yaml"
EPP_COMPONENT = "endpoint-picker"
FAILURE_MODE = "FailOpen"
"""EPP unreachable: the gateway still sends to a pod of the same pool (its own load balancing), so
an EPP outage degrades routing quality, not availability, and never widens where traffic goes."""


def model_headers(model: ModelSpec) -> dict[str, str]:
    """Headers the tenant gateway must send on calls to this model."""
    return {ROUTING_HEADER: model.served_name}


def epp_labels(model: ModelSpec) -> dict[str, str]:
    return {**labels.standard("epp", EPP_COMPONENT, instance=model.name),
            labels.ROLE: labels.ROLE_EPP, labels.MODEL: model.name}


def epp_selector(model: ModelSpec) -> dict[str, str]:
    return {labels.ROLE: labels.ROLE_EPP, labels.MODEL: model.name}


def inference_pool(model: ModelSpec, namespace: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{INFERENCE_GROUP}/v1",
        "kind": "InferencePool",
        "metadata": {"name": names.pool(model.name), "namespace": namespace,
                     "labels": {**labels.standard("vllm", "inference-pool", instance=model.name),
                                labels.MODEL: model.name}},
        "spec": {
            "selector": {"matchLabels": vllm.selector_labels(model)},
            "targetPorts": [{"number": ports.VLLM_HTTP}],
            "appProtocol": "http",
            "endpointPickerRef": {"name": names.epp(model.name), "port": {"number": ports.EPP_GRPC},
                                  "failureMode": FAILURE_MODE},
        },
    }


def epp_plugins_config() -> str:
    """EndpointPickerConfig: score by queue depth, KV-cache use and prefix-cache hits (GIE v1.5 defaults)."""
    config = {
        "apiVersion": "inference.networking.x-k8s.io/v1alpha1",
        "kind": "EndpointPickerConfig",
        "plugins": [
            {"type": "queue-scorer"},
            {"type": "kv-cache-utilization-scorer"},
            {"type": "prefix-cache-scorer"},
            {"type": "metrics-data-source", "parameters": {"scheme": "http", "path": "/metrics"}},
            {"type": "core-metrics-extractor"},
        ],
        "schedulingProfiles": [{"name": "default", "plugins": [
            {"pluginRef": "queue-scorer", "weight": 2},
            {"pluginRef": "kv-cache-utilization-scorer", "weight": 2},
            {"pluginRef": "prefix-cache-scorer", "weight": 3},
        ]}],
    }
    return yaml.safe_dump(config, sort_keys=False)


def epp_config_map(model: ModelSpec, namespace: Any) -> dict[str, Any]:
    return {"metadata": {"name": names.epp(model.name), "namespace": namespace, "labels": epp_labels(model)},
            "data": {EPP_CONFIG_FILE: epp_plugins_config()}}


def epp_args(model: ModelSpec, namespace_name: str) -> list[str]:
    return [
        "--pool-name", names.pool(model.name),
        "--pool-namespace", namespace_name,
        "--pool-group", INFERENCE_GROUP,
        "--grpc-port", str(ports.EPP_GRPC),
        "--grpc-health-port", str(ports.EPP_HEALTH),
        # Scrape the pods' metrics-only sidecar, not the serving port (EPP v1.5.0 reads this flag, deprecated
        # but honoured for a pool with one target port: pkg/epp/datastore/datastore.go).
        "--model-server-metrics-port", str(ports.VLLM_METRICS),
        "--metrics-port", str(ports.EPP_METRICS),
        "--config-file", f"/config/{EPP_CONFIG_FILE}",
        "--secure-serving=false",
        "--metrics-endpoint-auth=false",
        "--tracing=false",
        "--enable-pprof=false",
        "--zap-encoder", "json",
    ]


def _grpc_probe(period: int) -> dict[str, Any]:
    return {"grpc": {"port": ports.EPP_HEALTH, "service": "inference-extension"}, "periodSeconds": period}


def epp_deployment(model: ModelSpec, namespace: Any, namespace_name: str) -> dict[str, Any]:
    """One active EPP per pool (upstream's recommendation: its prefix-cache index is in memory).
    Recreate so a new EPP never waits behind the old one; FailOpen covers the gap."""
    lbls = epp_labels(model)
    container = {
        "name": "epp",
        "image": images.EPP_IMAGE,
        "args": epp_args(model, namespace_name),
        "ports": [{"name": "grpc", "containerPort": ports.EPP_GRPC},
                  {"name": "grpc-health", "containerPort": ports.EPP_HEALTH},
                  {"name": "metrics", "containerPort": ports.EPP_METRICS}],
        "env": [{"name": "NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
        "livenessProbe": {**_grpc_probe(10), "initialDelaySeconds": 5},
        "readinessProbe": _grpc_probe(2),
        "securityContext": {**vllm.CONTAINER_SECURITY, "runAsUser": EPP_UID, "runAsGroup": EPP_UID},
        "volumeMounts": [{"name": "config", "mountPath": "/config", "readOnly": True}],
    }
    return {
        "metadata": {"name": names.epp(model.name), "namespace": namespace, "labels": lbls,
                     # Accepted checkov findings; the reasons live in llmplatform/k8s/checkov_skips.py.
                     "annotations": checkov_skips.annotations("CKV_K8S_11", "CKV_K8S_38")},
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": epp_selector(model)},
            "template": {"metadata": {"labels": lbls}, "spec": {
                "serviceAccountName": names.epp(model.name),
                "terminationGracePeriodSeconds": 130,
                "securityContext": {"runAsNonRoot": True, "runAsUser": EPP_UID, "runAsGroup": EPP_UID,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [container],
                "volumes": [{"name": "config", "configMap": {"name": names.epp(model.name)}}],
            }},
        },
    }


def epp_service(model: ModelSpec, namespace: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": names.epp(model.name), "namespace": namespace, "labels": epp_labels(model)},
        "spec": {"selector": epp_selector(model), "ports": [
            {"name": "grpc-ext-proc", "port": ports.EPP_GRPC, "targetPort": "grpc", "protocol": "TCP",
             "appProtocol": "http2"},
            {"name": "http-metrics", "port": ports.EPP_METRICS, "targetPort": "metrics", "protocol": "TCP"},
        ]},
    }


def epp_role(model: ModelSpec, namespace: Any) -> dict[str, Any]:
    """Read-only, namespaced: the pool, its pods, and the objectives the EPP watches."""
    return {
        "metadata": {"name": names.epp(model.name), "namespace": namespace, "labels": epp_labels(model)},
        "rules": [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": [INFERENCE_GROUP], "resources": ["inferencepools"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["inference.networking.x-k8s.io"],
             "resources": ["inferenceobjectives", "inferencemodelrewrites"], "verbs": ["get", "list", "watch"]},
        ],
    }


def epp_role_binding(model: ModelSpec, namespace: Any, namespace_name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": names.epp(model.name), "namespace": namespace, "labels": epp_labels(model)},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": names.epp(model.name)},
        "subjects": [{"kind": "ServiceAccount", "name": names.epp(model.name), "namespace": namespace_name}],
    }


def gateway(namespace: Any) -> dict[str, Any]:
    """The inference Gateway: one HTTP listener, routes only from its own namespace, no cloud LB."""
    no_lb = {"networking.istio.io/service-type": "ClusterIP"}
    return {
        "apiVersion": f"{GATEWAY_GROUP}/v1",
        "kind": "Gateway",
        "metadata": {"name": names.GATEWAY, "namespace": namespace, "annotations": no_lb,
                     "labels": labels.standard("inference-gateway", "gateway")},
        "spec": {
            "gatewayClassName": names.GATEWAY_CLASS,
            "infrastructure": {
                "labels": {labels.ROLE: labels.ROLE_GATEWAY, **labels.standard("inference-gateway", "gateway")},
                "annotations": no_lb,
            },
            "listeners": [{"name": "http", "protocol": "HTTP", "port": ports.GATEWAY_HTTP,
                           "allowedRoutes": {"namespaces": {"from": "Same"}, "kinds": [
                               {"group": GATEWAY_GROUP, "kind": "HTTPRoute"}]}}],
        },
    }


def http_route(model: ModelSpec, namespace: Any, serving_namespace: str, *, timeout_seconds: int) -> dict[str, Any]:
    """Requests naming this model (header) on the OpenAI paths go to its InferencePool, nowhere else."""
    return {
        "apiVersion": f"{GATEWAY_GROUP}/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": names.pool(model.name), "namespace": namespace,
                     "labels": {**labels.standard("inference-gateway", "route", instance=model.name),
                                labels.MODEL: model.name}},
        "spec": {
            "parentRefs": [{"group": GATEWAY_GROUP, "kind": "Gateway", "name": names.GATEWAY,
                            "sectionName": "http"}],
            "rules": [{
                "matches": [{"path": {"type": "PathPrefix", "value": "/v1/"},
                             "headers": [{"type": "Exact", "name": ROUTING_HEADER, "value": model.served_name}]}],
                "backendRefs": [{"group": INFERENCE_GROUP, "kind": "InferencePool", "name": names.pool(model.name),
                                 "namespace": serving_namespace}],
                "timeouts": {"request": f"{timeout_seconds}s"},
            }],
        },
    }


def reference_grant(serving_ns: Any, gateway_namespace: str) -> dict[str, Any]:
    """Lets HTTPRoutes in the gateway namespace (only) reference InferencePools in llm-serving."""
    return {
        "apiVersion": f"{GATEWAY_GROUP}/v1beta1",
        "kind": "ReferenceGrant",
        "metadata": {"name": names.ROUTE_GRANT, "namespace": serving_ns,
                     "labels": labels.standard("inference-gateway", "route")},
        "spec": {
            "from": [{"group": GATEWAY_GROUP, "kind": "HTTPRoute", "namespace": gateway_namespace}],
            "to": [{"group": INFERENCE_GROUP, "kind": "InferencePool"}],
        },
    }
