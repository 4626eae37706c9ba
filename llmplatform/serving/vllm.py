"""One model's vLLM servers as plain specs: Deployment, headless Service, PodDisruptionBudget.

Everything substrate-specific comes from `SubstrateCapabilities` (GPU resource name, product label,
taint, RuntimeClass, memory fraction); nothing here branches on which substrate it is.

Security: the pod runs as UID 10001 with a read-only root filesystem; vLLM, Torch, Triton and the
Hugging Face client write only to emptyDirs. vLLM 0.14.0 checks `VLLM_API_KEY` (a Secret only the tenant
gateway also holds) on `/v1*` paths only: `/invocations`, `/inference/v1/generate`, `/pause`,
`/scale_elastic_ep` and the other routes of `vllm_routes.json` answer anyone who reaches its port. So
that port (`ports.VLLM_HTTP`) is for the inference gateway alone (which forwards `/v1/` only), and the
scrapers read `/metrics` from a sidecar on `ports.VLLM_METRICS` that forwards GET /metrics and nothing
else (`vllm_metrics_proxy`); vLLM has no option of its own to serve metrics on another port.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmplatform import labels, ports
from llmplatform.config import ModelCapability, ModelSpec
from llmplatform.k8s import checkov_skips
from llmplatform.serving import images, names, vllm_metrics_proxy
from substrates.capabilities import SubstrateCapabilities

UID = 10001
"""vLLM's image runs as root by default; a numeric non-root UID satisfies `runAsNonRoot`. Above 10000 so
it cannot coincide with a host account (first users and system daemons sit below)."""
WEIGHTS_DIR = "/models"
CACHE_DIR = "/cache"
HOME_DIR = "/home/vllm"
HEALTH_PATH = "/health"
METRICS_PATH = "/metrics"
COMPONENT = "model-server"
METRICS_CONTAINER = "metrics"

# Large model files the HF format does not need (Mistral's consolidated checkpoint, Meta's originals).
WEIGHTS_EXCLUDE = ("original/*", "consolidated*.safetensors", "*.pth")

POD_SECURITY = {"runAsNonRoot": True, "runAsUser": UID, "runAsGroup": UID, "fsGroup": UID,
                "seccompProfile": {"type": "RuntimeDefault"}}
CONTAINER_SECURITY = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                      "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}


def selector_labels(model: ModelSpec) -> dict[str, str]:
    """What the Deployment, Service and InferencePool select on: role and model, nothing mutable."""
    return {labels.ROLE: labels.ROLE_MODEL_SERVER, labels.MODEL: model.name}


def pod_labels(model: ModelSpec, queue: str) -> dict[str, str]:
    return {**labels.standard("vllm", COMPONENT, instance=model.name), **selector_labels(model),
            labels.QUEUE_NAME: queue}


def model_dir(model: ModelSpec) -> str:
    return f"{WEIGHTS_DIR}/{model.name}"


def capability_args(model: ModelSpec) -> list[str]:
    """The flags a model's capabilities need. `tools`: vLLM 0.14.0 answers `tool_choice: auto` with 400
    unless `--enable-auto-tool-choice` is on, which in turn requires `--tool-call-parser`
    (`validate_parsed_serve_args`). `chat` and `completions` need none: vLLM serves both routes for every
    generative model (a model without a chat template fails chat requests, not the server)."""
    if not model.serves(ModelCapability.TOOLS):
        return []
    return ["--enable-auto-tool-choice", "--tool-call-parser", str(model.tool_call_parser)]


def vllm_args(model: ModelSpec, caps: SubstrateCapabilities, *, prefix_caching: bool) -> list[str]:
    """`vllm serve` arguments. The weights are local (prestaged), so the Hub is never contacted."""
    return [
        model_dir(model),
        "--served-model-name", model.served_name,
        "--host", "0.0.0.0",
        "--port", str(ports.VLLM_HTTP),
        "--max-model-len", str(model.max_model_len),
        "--max-num-seqs", str(model.max_num_seqs),
        "--tensor-parallel-size", str(model.gpus_per_replica),
        "--gpu-memory-utilization", str(caps.gpu_memory_utilization),
        "--enable-prefix-caching" if prefix_caching else "--no-enable-prefix-caching",
        "--disable-uvicorn-access-log",
        *capability_args(model),
    ]


def _cache_env() -> list[dict[str, Any]]:
    writable = {
        "HOME": HOME_DIR,
        "USER": "vllm",  # getpass.getuser() (Torch Inductor) fails for a UID without a passwd entry
        "HF_HOME": f"{CACHE_DIR}/huggingface",
        "XDG_CACHE_HOME": CACHE_DIR,
        "VLLM_CACHE_ROOT": f"{CACHE_DIR}/vllm",
        "VLLM_CONFIG_ROOT": f"{CACHE_DIR}/vllm-config",
        "TRITON_CACHE_DIR": f"{CACHE_DIR}/triton",
        "TORCHINDUCTOR_CACHE_DIR": f"{CACHE_DIR}/inductor",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1",
    }
    return [{"name": k, "value": v} for k, v in writable.items()]


def weights_init_container(model: ModelSpec) -> dict[str, Any]:
    """Download the pinned revision into the weights volume before vLLM starts.

    HF_TOKEN comes from a Secret key marked optional: ungated models download without one.
    """
    # huggingface_hub < 1.0 (what vLLM v0.14 ships): `--exclude` takes several patterns at once.
    command = ["hf", "download", model.hf_id, "--revision", model.revision, "--local-dir", model_dir(model),
               "--exclude", *WEIGHTS_EXCLUDE]
    return {
        "name": "weights",
        "image": images.WEIGHTS_IMAGE,
        "command": command,
        "env": [*_cache_env(), {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {
            "name": names.HF_TOKEN_SECRET, "key": names.HF_TOKEN_SECRET_KEY, "optional": True}}}],
        "resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "4Gi"}},
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": _mounts(),
    }


def _mounts() -> list[dict[str, Any]]:
    return [
        {"name": "weights", "mountPath": WEIGHTS_DIR},
        {"name": "cache", "mountPath": CACHE_DIR},
        {"name": "home", "mountPath": HOME_DIR},
        {"name": "tmp", "mountPath": "/tmp"},
    ]


def _probe(period: int, failures: int, timeout: int = 5) -> dict[str, Any]:
    return {"httpGet": {"path": HEALTH_PATH, "port": "http"}, "periodSeconds": period,
            "failureThreshold": failures, "timeoutSeconds": timeout}


STARTUP_PROBE = {"period": 10, "failures": 180}
"""Weights are local when the server starts, so a start is load + compile + CUDA graphs: 30 minutes."""
PROVISIONING_ALLOWANCE_S = 1200
"""Before the startup probe runs: a GPU node scaled up (~5 min), the vLLM image pulled (~5 min) and the
weights downloaded by the init container (~10 min for a 7B model): 20 minutes on top of the probe."""


def startup_budget_seconds() -> int:
    """How long one pod may take from creation to Ready: provisioning, the startup probe's full allowance and
    one readiness period."""
    return PROVISIONING_ALLOWANCE_S + STARTUP_PROBE["period"] * STARTUP_PROBE["failures"] + 5


def rollout_timeouts(model: ModelSpec) -> dict[str, str]:
    """Pulumi `customTimeouts` for the model's Deployment (its default wait is 10 minutes, shorter than one
    pod's start). Create: one start (pods start in parallel). Update: a rolling update with maxSurge 1
    replaces pods one at a time, up to `max_replicas` (KEDA owns the live replica count)."""
    per_pod = -(-startup_budget_seconds() // 60)
    update = per_pod * (model.max_replicas if model.max_replicas > 1 else 1)
    return {"create": f"{per_pod}m", "update": f"{update}m"}


def server_container(model: ModelSpec, caps: SubstrateCapabilities, *, prefix_caching: bool,
                     cpu_per_gpu: int, memory_gib_per_gpu: int) -> dict[str, Any]:
    gpus = model.gpus_per_replica
    memory = f"{memory_gib_per_gpu * gpus}Gi"
    return {
        "name": "vllm",
        "image": images.VLLM_IMAGE,
        "command": ["vllm", "serve"],
        "args": vllm_args(model, caps, prefix_caching=prefix_caching),
        "ports": [{"name": "http", "containerPort": ports.VLLM_HTTP, "protocol": "TCP"}],
        "env": [
            *_cache_env(),
            {"name": "HF_HUB_OFFLINE", "value": "1"},
            {"name": "VLLM_API_KEY", "valueFrom": {"secretKeyRef": {
                "name": names.API_KEY_SECRET, "key": names.API_KEY_SECRET_KEY}}},
        ],
        "resources": {
            "requests": {"cpu": str(cpu_per_gpu * gpus), "memory": memory, caps.gpu_resource_name: str(gpus)},
            "limits": {"memory": memory, caps.gpu_resource_name: str(gpus)},
        },
        "startupProbe": _probe(period=STARTUP_PROBE["period"], failures=STARTUP_PROBE["failures"]),
        "readinessProbe": _probe(period=5, failures=3),
        "livenessProbe": _probe(period=10, failures=6),
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": [*_mounts(), {"name": "shm", "mountPath": "/dev/shm"}],
    }


def metrics_proxy_args() -> list[str]:
    """What the metrics sidecar forwards: GET METRICS_PATH from vLLM's port on loopback, nothing else."""
    return ["--listen", str(ports.VLLM_METRICS), "--upstream", str(ports.VLLM_HTTP), "--path", METRICS_PATH]


def metrics_container() -> dict[str, Any]:
    """The metrics-only sidecar (`vllm_metrics_proxy`, run from its source with the vLLM image's python3):
    the endpoint picker and Prometheus read vLLM's metrics here, so they never need vLLM's own port.
    TCP probes: the proxy is alive while it accepts connections, whether vLLM has started or not."""
    source = Path(vllm_metrics_proxy.__file__).read_text()
    tcp_probe = {"tcpSocket": {"port": "metrics"}, "periodSeconds": 10, "failureThreshold": 3, "timeoutSeconds": 2}
    return {
        "name": METRICS_CONTAINER,
        "image": images.VLLM_IMAGE,
        "command": ["python3", "-c", source],
        "args": metrics_proxy_args(),
        "ports": [{"name": "metrics", "containerPort": ports.VLLM_METRICS, "protocol": "TCP"}],
        "env": [{"name": "PYTHONDONTWRITEBYTECODE", "value": "1"}, {"name": "HOME", "value": HOME_DIR}],
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
        "livenessProbe": tcp_probe,
        "readinessProbe": tcp_probe,
        "securityContext": CONTAINER_SECURITY,
    }


def gpu_scheduling(caps: SubstrateCapabilities) -> dict[str, Any]:
    """Node affinity on the product label, the GPU taint's toleration and the RuntimeClass, all from
    the capability object (GKE: `cloud.google.com/gke-accelerator`; k3s: the NVIDIA product label)."""
    out: dict[str, Any] = {}
    if caps.gpu_product_label_values:
        out["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": caps.gpu_product_label_key, "operator": "In",
                                   "values": list(caps.gpu_product_label_values)}]}]}}}
    if caps.gpu_taint is not None:
        out["tolerations"] = [{"key": caps.gpu_taint.key, "operator": "Equal", "value": caps.gpu_taint.value,
                               "effect": caps.gpu_taint.effect}]
    if caps.runtime_class_name:
        out["runtimeClassName"] = caps.runtime_class_name
    return out


def deployment(model: ModelSpec, caps: SubstrateCapabilities, namespace: Any, *, queue: str,
               prefix_caching: bool = True, cpu_per_gpu: int = 4, memory_gib_per_gpu: int = 24,
               weights_volume_gib: int = 100) -> dict[str, Any]:
    """metadata + spec of the model's Deployment (camelCase), carrying the Kueue queue label on the
    workload and on its pod template (SR2 denies GPU templates without both)."""
    pod_lbls = pod_labels(model, queue)
    if model.max_replicas > 1:
        # Zero-downtime: a new pod must be Ready before an old one goes.
        strategy: dict[str, Any] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    else:
        # One replica on (possibly) one GPU: a surge pod could never schedule, so replace in place.
        strategy = {"type": "Recreate"}
    pod_spec = {
        "serviceAccountName": names.VLLM_SERVICE_ACCOUNT,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 120,
        "securityContext": POD_SECURITY,
        "initContainers": [weights_init_container(model)],
        "containers": [server_container(model, caps, prefix_caching=prefix_caching, cpu_per_gpu=cpu_per_gpu,
                                        memory_gib_per_gpu=memory_gib_per_gpu), metrics_container()],
        "volumes": [
            {"name": "weights", "emptyDir": {"sizeLimit": f"{weights_volume_gib}Gi"}},
            {"name": "cache", "emptyDir": {"sizeLimit": "20Gi"}},
            {"name": "home", "emptyDir": {"sizeLimit": "1Gi"}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "4Gi"}},
            {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "2Gi"}},
        ],
        **gpu_scheduling(caps),
    }
    return {
        "metadata": {"name": names.vllm(model.name), "namespace": namespace, "labels": pod_lbls,
                     # Accepted checkov findings; the reasons live in llmplatform/k8s/checkov_skips.py.
                     "annotations": checkov_skips.annotations("CKV_K8S_11", "CKV_K8S_35")},
        "spec": {
            "replicas": model.min_replicas,
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": selector_labels(model)},
            "strategy": strategy,
            "template": {"metadata": {"labels": pod_lbls}, "spec": pod_spec},
        },
    }


def service(model: ModelSpec, namespace: Any) -> dict[str, Any]:
    """Headless: DNS names for the pods (and a stable object for policies), no virtual IP to call.
    Traffic reaches model servers only through the gateway, which the endpoint picker steers."""
    return {
        "metadata": {"name": names.vllm(model.name), "namespace": namespace,
                     "labels": {**labels.standard("vllm", COMPONENT, instance=model.name), **selector_labels(model)}},
        "spec": {
            "clusterIP": "None",
            "selector": selector_labels(model),
            "ports": [{"name": "http", "port": ports.VLLM_HTTP, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def disruption_budget(model: ModelSpec, namespace: Any) -> dict[str, Any] | None:
    """Where at least two replicas are always wanted, a drain takes one at a time."""
    if model.min_replicas <= 1:
        return None
    return {
        "metadata": {"name": names.vllm(model.name), "namespace": namespace,
                     "labels": labels.standard("vllm", COMPONENT, instance=model.name)},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector_labels(model)}},
    }
