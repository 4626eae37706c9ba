"""Pinned Helm charts of the serving layer and the values they are installed with (pure functions).

Every chart is a `helm.v3.Release` with an exact version (never `helm.v3.Chart`, whose expansion the
offline plan cannot see). Versions match the CRD schemas in shared/crd-schemas (Kueue v0.19.2,
KEDA v2.20.2) so that what the plan validates is what the cluster serves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from llmplatform import labels, naming, ports
from llmplatform.serving import names


@dataclass(frozen=True)
class ChartPin:
    """One chart at one version. `repo` is None for OCI charts, whose `chart` is the full reference."""

    release: str
    chart: str
    version: str
    repo: str | None


KUEUE = ChartPin("kueue", "oci://registry.k8s.io/kueue/charts/kueue", "0.19.2", None)
"""Kueue v0.19.2 (chart README: `helm install kueue oci://registry.k8s.io/kueue/charts/kueue --version=0.19.2`)."""
KEDA = ChartPin("keda", "keda", "2.20.2", "https://kedacore.github.io/charts")
"""KEDA v2.20.2 (kedacore/charts tag v2.20.2)."""
PROMETHEUS = ChartPin("prometheus", "prometheus", "28.10.0", "https://prometheus-community.github.io/helm-charts")
"""prometheus-community `prometheus` chart 28.10.0 (Prometheus v3.10.0)."""
ISTIO_VERSION = "1.29.2"
ISTIO_REPO = "https://istio-release.storage.googleapis.com/charts"
ISTIO_BASE = ChartPin("istio-base", "base", ISTIO_VERSION, ISTIO_REPO)
ISTIOD = ChartPin("istiod", "istiod", ISTIO_VERSION, ISTIO_REPO)
"""Istio 1.29: Gateway API Inference Extension (InferencePool v1) support behind a pilot flag."""

ALL_CHARTS = (KUEUE, KEDA, PROMETHEUS, ISTIO_BASE, ISTIOD)
for _pin in ALL_CHARTS:
    naming.helm_release(_pin.release)

KUEUE_FRAMEWORKS = ("batch/job", "pod", "deployment", "statefulset")
"""`pod` is required by `deployment`: Kueue admits each serving pod as its own Workload."""
FAIR_SHARING_STRATEGIES = ("LessThanOrEqualToFinalShare", "LessThanInitialShare")
UNQUOTED_RESOURCE_PREFIXES = ("cpu", "memory", "ephemeral-storage")
"""Only GPUs are quota'd: CPU and memory are left to the scheduler and the node autoscaler."""


def kueue_manager_config(managed_namespaces: Sequence[str]) -> dict[str, Any]:
    """Kueue's Configuration (config.kueue.x-k8s.io/v1beta2).

    Pod-based integrations act only in `managed_namespaces` (by the API-server-owned namespace name
    label), so system and operator pods are never gated. Fair sharing is on across the cohort.
    """
    return {
        "apiVersion": "config.kueue.x-k8s.io/v1beta2",
        "kind": "Configuration",
        "health": {"healthProbeBindAddress": ":8081"},
        "metrics": {"bindAddress": ":8443"},
        "webhook": {"port": 9443},
        "leaderElection": {"leaderElect": True, "resourceName": "c1f6bfd2.kueue.x-k8s.io"},
        "manageJobsWithoutQueueName": False,
        "managedJobsNamespaceSelector": {"matchExpressions": [
            {"key": labels.K8S_NS_NAME, "operator": "In", "values": sorted(managed_namespaces)},
        ]},
        "integrations": {"frameworks": list(KUEUE_FRAMEWORKS)},
        "fairSharing": {"preemptionStrategies": list(FAIR_SHARING_STRATEGIES)},
        "resources": {"excludeResourcePrefixes": list(UNQUOTED_RESOURCE_PREFIXES)},
    }


def kueue_values(managed_namespaces: Sequence[str], *, ha: bool) -> dict[str, Any]:
    """Kueue's controller manager, with what the release packaging puts in the chart made explicit.

    The chart's git values name a staging image (`k8s-staging-images/kueue/kueue:release-0.19`);
    kueue's hack/helm-chart-package.sh rewrites them to `registry.k8s.io/kueue/kueue:v<version>`
    with `IfNotPresent` when it packages a release. Setting the image here makes what is installed
    and what an offline render of the chart source shows the same; `Always` re-resolves the tag at
    every pod start. The pod runs as the image's own user (distroless `nonroot`, UID/GID 65532,
    the `USER` of kueue's Dockerfile at v0.19.2), now stated so that it is checkable.
    """
    nonroot = 65532
    return {
        "enablePrometheus": False,
        "controllerManager": {
            "replicas": 2 if ha else 1,
            "podDisruptionBudget": {"enabled": ha, "minAvailable": 1},
            "manager": {
                "image": {"repository": "registry.k8s.io/kueue/kueue", "tag": f"v{KUEUE.version}",
                          "pullPolicy": "Always"},
                "podSecurityContext": {"runAsNonRoot": True, "runAsUser": nonroot, "runAsGroup": nonroot,
                                       "seccompProfile": {"type": "RuntimeDefault"}},
            },
        },
        "managerConfig": {
            "controllerManagerConfigYaml": yaml.safe_dump(kueue_manager_config(managed_namespaces), sort_keys=False),
        },
    }


def keda_values(watch_namespace: str, *, ha: bool) -> dict[str, Any]:
    """KEDA watches only the serving namespace; HA runs a standby operator and metrics server.

    Each pod runs as the UID/GID its image already runs as (KEDA v2.20.2's Dockerfiles: distroless
    `nonroot`, `USER 65532:65532`), now stated in the pod security context next to the chart's own
    `runAsNonRoot`; the chart's container contexts already drop ALL, forbid escalation, keep the root
    filesystem read-only and use RuntimeDefault seccomp.
    """
    replicas = 2 if ha else 1
    nonroot = 65532
    pod_security = {"runAsNonRoot": True, "runAsUser": nonroot, "runAsGroup": nonroot}
    values: dict[str, Any] = {
        "crds": {"install": True},
        "watchNamespace": watch_namespace,
        "operator": {"replicaCount": replicas},
        "metricsServer": {"replicaCount": replicas},
        "webhooks": {"replicaCount": replicas},
        "podSecurityContext": {c: dict(pod_security) for c in ("operator", "metricServer", "webhooks")},
    }
    if ha:
        values["podDisruptionBudget"] = {c: {"minAvailable": 1} for c in ("operator", "metricServer", "webhooks")}
    return values


def _pod_job(job: str, namespace: str, role: str, port: int, path: str = "/metrics") -> dict[str, Any]:
    """Scrape pods of one platform role in one namespace; label series with the pod's model."""
    meta = "__meta_kubernetes_pod_"
    return {
        "job_name": job,
        "metrics_path": path,
        "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": [namespace]}}],
        "relabel_configs": [
            {"source_labels": [f"{meta}label_llmplatform_io_role"], "regex": role, "action": "keep"},
            {"source_labels": [f"{meta}container_port_number"], "regex": str(port), "action": "keep"},
            {"source_labels": [f"{meta}phase"], "regex": "Pending|Succeeded|Failed", "action": "drop"},
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": [f"{meta}name"], "target_label": "pod"},
            {"source_labels": [f"{meta}label_llmplatform_io_model"], "target_label": "model"},
        ],
    }


SCRAPE_JOBS = {"model-servers": labels.ROLE_MODEL_SERVER, "endpoint-pickers": labels.ROLE_EPP,
               "inference-gateway": labels.ROLE_GATEWAY, "budget-db": labels.ROLE_BUDGET_DB}
"""Prometheus job name -> the `llmplatform.io/role` it scrapes."""
GATEWAY_METRICS_PORT = 15020
"""Istio proxy's merged Prometheus endpoint (`/stats/prometheus`)."""


def prometheus_scrape_configs(serving_ns: str, gateway_ns: str,
                              tenant_gateway_ns: str = naming.NS_TENANT_GATEWAY) -> list[dict[str, Any]]:
    """The serving layer: vLLM (its metrics sidecar, :8001/metrics), endpoint pickers (:9090/metrics),
    gateway proxies; and the budget database's CloudNativePG instances (:9187/metrics), whose readiness and
    primary the BudgetDatabase* alerts read (llmplatform/observability/rules.py)."""
    return [
        _pod_job("model-servers", serving_ns, labels.ROLE_MODEL_SERVER, ports.VLLM_METRICS),
        _pod_job("endpoint-pickers", serving_ns, labels.ROLE_EPP, ports.EPP_METRICS),
        _pod_job("inference-gateway", gateway_ns, labels.ROLE_GATEWAY, GATEWAY_METRICS_PORT, "/stats/prometheus"),
        _pod_job("budget-db", tenant_gateway_ns, labels.ROLE_BUDGET_DB, ports.CNPG_METRICS),
    ]


def scraped_jobs(serving_ns: str, gateway_ns: str) -> frozenset[str]:
    """The job names `prometheus_scrape_configs` renders: the alert rules read only these."""
    return frozenset(job["job_name"] for job in prometheus_scrape_configs(serving_ns, gateway_ns))


PROMETHEUS_DEFAULT_JOBS = (
    "prometheus", "kubernetes-api-servers", "kubernetes-nodes", "kubernetes-nodes-cadvisor",
    "kubernetes-service-endpoints", "kubernetes-service-endpoints-slow", "prometheus-pushgateway",
    "kubernetes-services", "kubernetes-pods", "kubernetes-pods-slow",
)
"""The cluster-wide scrape jobs the pinned chart renders from its own `scrapeConfigs` map, ahead of
`serverFiles."prometheus.yml".scrape_configs`, unless each is given `enabled: false`
(prometheus-community/helm-charts tag prometheus-28.10.0, charts/prometheus/values.yaml and templates/cm.yaml)."""


@dataclass(frozen=True)
class PrometheusHistory:
    """History kept on a PersistentVolume (`observability.retention_days`, `observability.storage_gib`)."""

    retention_days: int
    storage_gib: int


PROMETHEUS_CONFIG_RELOAD_SECONDS = 30
PROMETHEUS_EXTRA_FLAGS = ("enable-feature=auto-reload-config",
                          f"config.auto-reload-interval={PROMETHEUS_CONFIG_RELOAD_SECONDS}s")
"""`server.extraFlags` (each rendered as `--<flag>`): replaces the chart's `[web.enable-lifecycle]`."""
PROMETHEUS_FORBIDDEN_FLAGS = ("--web.enable-lifecycle", "--web.enable-admin-api")
"""Server flags that open HTTP endpoints which stop Prometheus or delete its data (SR1: never rendered)."""


def prometheus_values(serving_ns: str, gateway_ns: str, *, scrape_seconds: int = 15,
                      alerting_rules: dict[str, Any] | None = None, recording_rules: dict[str, Any] | None = None,
                      history: PrometheusHistory | None = None) -> dict[str, Any]:
    """An in-cluster Prometheus for autoscaling signals only: no alertmanager or exporters, no
    cluster-wide default jobs (only `prometheus_scrape_configs`), short retention on an emptyDir
    (signals are minutes old; losing history on restart costs nothing).

    No `server.podLabels`: the chart writes its own `app.kubernetes.io/name: prometheus` (what SR1's
    NetworkPolicies select the scraper by) and `app.kubernetes.io/component: server` into the pod
    template, and those are also keys of the Deployment's selector (`prometheus.server.matchLabels`,
    prometheus-28.10.0 templates/_helpers.tpl and deploy.yaml). A podLabels map repeating one of them
    renders the key twice; the last value wins, the template no longer matches the selector and the API
    server refuses the Deployment (the install proof's selector check catches it).

    Lifecycle and admin APIs off (SR1): the pinned chart's `server.extraFlags` default is
    `[web.enable-lifecycle]` (prometheus-28.10.0 values.yaml), which opens `POST /-/quit` and
    `/-/reload` to every pod that reaches 9090; a stopped Prometheus leaves KEDA on its fallback. We
    replace the list, so the rendered args carry neither `--web.enable-lifecycle` nor
    `--web.enable-admin-api` (`llmp verify` checks the rendered Deployment). The chart's
    configmap-reload sidecar only POSTs `/-/reload`, so it is turned off; Prometheus v3 re-reads its
    config file itself (`--enable-feature=auto-reload-config`, checksum every
    PROMETHEUS_CONFIG_RELOAD_SECONDS), and the mounted ConfigMap is updated in place by the kubelet.

    The server requests what two days of the series of a handful of model servers, endpoint pickers
    and gateway proxies need, with a memory limit and no CPU limit (KEDA queries it for scaling
    signals; throttling would delay scale-up). It runs as the chart's `nobody` (65534) with
    RuntimeDefault seccomp, no privilege escalation, no capabilities and a read-only root filesystem,
    writing only to its `/data` emptyDir. Images are pulled `Always` (pinned by tag: the tag is
    re-resolved at every pod start).

    Rules (llmplatform/observability/rules.py) go in the chart's own `serverFiles."alerting_rules.yml"` and
    `"recording_rules.yml"`, which its default `prometheus.yml` lists in `rule_files`. `history`: None keeps
    two days on the emptyDir (dev: cheap, lost on restart); a PrometheusHistory keeps `retention_days` on a
    PersistentVolume of `storage_gib` (prod: the 30-day SLO windows survive a restart)."""
    nobody = 65534
    container_security = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                          "capabilities": {"drop": ["ALL"]}}
    return {
        "scrapeConfigs": {job: {"enabled": False} for job in PROMETHEUS_DEFAULT_JOBS},
        "alertmanager": {"enabled": False},
        "kube-state-metrics": {"enabled": False},
        "prometheus-node-exporter": {"enabled": False},
        "prometheus-pushgateway": {"enabled": False},
        "configmapReload": {"prometheus": {"enabled": False}},
        "server": {
            "fullnameOverride": names.PROMETHEUS_SERVER,
            "extraFlags": list(PROMETHEUS_EXTRA_FLAGS),
            "image": {"pullPolicy": "Always"},
            "global": {"scrape_interval": f"{scrape_seconds}s", "evaluation_interval": f"{scrape_seconds}s"},
            "retention": f"{history.retention_days}d" if history else "2d",
            "persistentVolume": ({"enabled": True, "size": f"{history.storage_gib}Gi",
                                  "accessModes": ["ReadWriteOnce"]} if history else {"enabled": False}),
            "service": {"servicePort": ports.PROMETHEUS_HTTP},
            "resources": {"requests": {"cpu": "200m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
            "securityContext": {"runAsUser": nobody, "runAsGroup": nobody, "fsGroup": nobody,
                                "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containerSecurityContext": dict(container_security),
        },
        "serverFiles": {
            "prometheus.yml": {"scrape_configs": prometheus_scrape_configs(serving_ns, gateway_ns)},
            **({"alerting_rules.yml": alerting_rules} if alerting_rules is not None else {}),
            **({"recording_rules.yml": recording_rules} if recording_rules is not None else {}),
        },
    }


def istio_base_values() -> dict[str, Any]:
    return {"defaultRevision": "default"}


def istiod_values() -> dict[str, Any]:
    """istiod with the inference extension on; gateway pods it deploys meet Pod Security `restricted`.

    The istiod chart (1.29.2) reads the discovery container's extra environment from the top-level
    `env` map; a `pilot.env` map (the layout of the old operator values) is accepted and silently
    ignored, which would leave ENABLE_GATEWAY_API_INFERENCE_EXTENSION at its default, false.

    `global.hub` and `global.tag` are what Istio's release packaging writes into the published chart
    (the chart source carries a development hub and `latest`), stated so that an install and a render
    of the source agree. The discovery container gets RuntimeDefault seccomp (`seccompProfile`) and the
    chart's default requests with a memory limit; no CPU limit, since istiod pushes endpoint updates
    to the gateway proxies of the request path and its autoscaler scales on CPU against the request.
    """
    return {
        "global": {"hub": "docker.io/istio", "tag": ISTIO_VERSION},
        "env": {
            "PILOT_ENABLE_GATEWAY_API": "true",
            "ENABLE_GATEWAY_API_INFERENCE_EXTENSION": "true",
        },
        "seccompProfile": {"type": "RuntimeDefault"},
        "resources": {"requests": {"cpu": "500m", "memory": "2048Mi"}, "limits": {"memory": "4096Mi"}},
        "gateways": {"seccompProfile": {"type": "RuntimeDefault"}},
    }
