"""KEDA ScaledObjects on leading saturation signals, one per model (pure specs).

Signals (all per replica, HPA `AverageValue`: desired = ceil(sum over pods / threshold)):
- running ratio: sum(vllm:num_requests_running) / max_num_seqs vs `autoscaling.running_ratio`;
- KV-cache use: sum(vllm:kv_cache_usage_perc) vs `autoscaling.kv_cache_usage`;
- waiting requests: sum(vllm:num_requests_waiting) vs `autoscaling.waiting_requests`.
They lead latency: a replica saturates (batch full, KV cache full, queue forming) before TTFT grows.

`ignoreNullValues` (decision): a query that returns no series is normal only when no model pod
exists. So models with min_replicas >= 1 set it to "false" (no series = a broken scrape, surfaced as
a scaler error; KEDA's fallback then holds at least the current replica count), and models that
scale to zero set it to "true" (no pods, no series, value 0). A Prometheus that cannot be reached
is an error in both cases.

Scale from zero (decision): with no pods there are no vLLM series, so a zero-replica model gets one
more trigger that exists without pods: the endpoint picker's request counters
(`inference_objective_request_total` + `inference_objective_request_error_total` for the model, as
a rate). The first request is refused by the empty pool (the EPP counts it as an error), which
activates the ScaledObject (activationThreshold 0). Its scaling target is deliberately out of reach
(max_num_seqs requests/s per replica) so the saturation signals alone size the Deployment. What the
caller experiences is in docs/serving.md.
"""

from __future__ import annotations

from typing import Any

from llmplatform import labels, ports
from llmplatform.config import ModelSpec
from llmplatform.serving import images, names

API = "keda.sh/v1alpha1"
FALLBACK_FAILURES = 3
REQUEST_RATE_WINDOW = "2m"


def _selector(model: ModelSpec, namespace: str, job: str) -> str:
    return f'{{job="{job}",namespace="{namespace}",model="{model.name}"}}'


def _vllm(metric: str, model: ModelSpec, namespace: str) -> str:
    return f"sum({images.METRICS[metric]}{_selector(model, namespace, 'model-servers')})"


def queries(model: ModelSpec, namespace: str) -> dict[str, str]:
    """PromQL per signal; `requests` is the gateway-side activation signal (present with zero pods)."""
    epp = _selector(model, namespace, "endpoint-pickers")
    window = REQUEST_RATE_WINDOW
    return {
        "running-ratio": f"{_vllm('running', model, namespace)} / {model.max_num_seqs}",
        "kv-cache": _vllm("kv_cache", model, namespace),
        "waiting": _vllm("waiting", model, namespace),
        "requests": (f"(sum(rate(inference_objective_request_total{epp}[{window}])) or vector(0))"
                     f" + (sum(rate(inference_objective_request_error_total{epp}[{window}])) or vector(0))"),
    }


def _threshold(value: float) -> str:
    return format(value, "g")


def triggers(model: ModelSpec, namespace: str, prometheus_url: str) -> list[dict[str, Any]]:
    a = model.autoscaling
    q = queries(model, namespace)
    ignore_null = "true" if model.min_replicas == 0 else "false"

    def prom(name: str, threshold: float, *, ignore: str = ignore_null, activation: str | None = None) -> dict:
        meta = {"serverAddress": prometheus_url, "query": q[name], "threshold": _threshold(threshold),
                "ignoreNullValues": ignore}
        if activation is not None:
            meta["activationThreshold"] = activation
        return {"type": "prometheus", "name": name, "metricType": "AverageValue", "metadata": meta}

    out = [
        prom("running-ratio", a.running_ratio),
        prom("kv-cache", a.kv_cache_usage),
        prom("waiting", a.waiting_requests),
    ]
    if model.min_replicas == 0:
        # Always has a value (`or vector(0)`), so null handling is moot; any request activates.
        out.append(prom("requests", model.max_num_seqs, ignore="true", activation="0"))
    return out


def prometheus_url(monitoring_namespace: str) -> str:
    return names.service_url(names.PROMETHEUS_SERVER, monitoring_namespace, ports.PROMETHEUS_HTTP)


def scaled_object(model: ModelSpec, namespace: Any, namespace_name: str, monitoring_namespace: str) -> dict[str, Any]:
    a = model.autoscaling
    spec: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": names.vllm(model.name)},
        "minReplicaCount": model.min_replicas,
        "maxReplicaCount": model.max_replicas,
        "pollingInterval": a.polling_seconds,
        "cooldownPeriod": a.cooldown_seconds,
        "advanced": {"horizontalPodAutoscalerConfig": {"behavior": {
            # Scale in as patiently as to zero; scale out one replica at a time (each needs a GPU).
            "scaleDown": {"stabilizationWindowSeconds": a.cooldown_seconds,
                          "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]},
            "scaleUp": {"stabilizationWindowSeconds": 0,
                        "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]},
        }}},
        "triggers": triggers(model, namespace_name, prometheus_url(monitoring_namespace)),
    }
    if model.min_replicas >= 1:
        # Metrics broken: never shrink below what runs now, never below the floor.
        spec["fallback"] = {"failureThreshold": FALLBACK_FAILURES, "replicas": model.min_replicas,
                            "behavior": "currentReplicasIfHigher"}
    return {
        "apiVersion": API,
        "kind": "ScaledObject",
        "metadata": {"name": names.vllm(model.name), "namespace": namespace,
                     "labels": {**labels.standard("keda", "autoscaling", instance=model.name),
                                labels.MODEL: model.name}},
        "spec": spec,
    }
