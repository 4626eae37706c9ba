"""Physical names of the serving layer's objects, checked once against the DNS-label limit.

Model names are at most 32 characters (config), so every derived name below fits in 63.
The inference gateway's Service name follows Istio's automated deployment: `<Gateway>-<GatewayClass>`.
"""

from __future__ import annotations

from llmplatform import naming

GATEWAY = naming.k8s("inference-gateway")
"""The Gateway API `Gateway` in llm-gateway."""
GATEWAY_CLASS = "istio"
GATEWAY_SERVICE = naming.k8s(f"{GATEWAY}-{GATEWAY_CLASS}")
"""Service (and Deployment) Istio deploys for the Gateway."""
ROUTE_GRANT = naming.k8s("inference-gateway-routes")
"""ReferenceGrant in llm-serving that lets HTTPRoutes in llm-gateway name InferencePools."""
VLLM_SERVICE_ACCOUNT = naming.k8s("vllm")
API_KEY_SECRET = naming.k8s("vllm-api-key")
API_KEY_SECRET_KEY = "api-key"
HF_TOKEN_SECRET = naming.k8s("hf-token")
HF_TOKEN_SECRET_KEY = "token"
LOCAL_QUEUE = naming.k8s("gpu")
"""The LocalQueue in every namespace that runs GPU work; `kueue.x-k8s.io/queue-name: gpu`."""
SERVING_CLUSTER_QUEUE = naming.k8s("serving")
COHORT = naming.k8s("llm-platform")
ISTIO_NAMESPACE = naming.k8s("istio-system")
PROMETHEUS_SERVER = naming.k8s("prometheus-server")
"""`server.fullnameOverride` of the Prometheus chart: its Service name."""


def vllm(model: str) -> str:
    """Deployment, headless Service, ScaledObject and PodDisruptionBudget of one model's servers."""
    return naming.k8s(f"vllm-{model}")


def epp(model: str) -> str:
    """Endpoint picker Deployment, Service, ServiceAccount, Role, RoleBinding and ConfigMap."""
    return naming.k8s(f"{model}-epp")


def pool(model: str) -> str:
    """InferencePool and the HTTPRoute that targets it."""
    return naming.k8s(model)


def tenant_cluster_queue(tenant: str) -> str:
    return naming.k8s(f"tenant-{tenant}")


def flavor(label_value: str) -> str:
    """ResourceFlavor for one GPU product label value (`nvidia-l4`, `NVIDIA-GeForce-RTX-4090-SHARED`)."""
    return naming.k8s(label_value.lower().replace("_", "-").replace(".", "-"))


def service_url(service: str, namespace: str, port: int) -> str:
    return f"http://{service}.{namespace}.svc.cluster.local:{port}"
