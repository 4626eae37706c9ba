"""The one place that says which checkov checks the platform accepts failing, and why.

Product data: the workload builders render `annotations(...)` into the manifests, so this module imports
nothing but the standard library; applying the registrations to a checkov scan is the tool's job
(`llmp/verify/manifests/checkov_accept.py`).

Two kinds of accepted exception, both listed by `llmp verify` (verify.json, report.md) and in
docs/verify.md:

- **Object skips** (`ACCEPTED`): written on the object with checkov's own annotation
  `checkov.io/skip<N>: <CHECK_ID>=<reason>`; the workload builders call `annotations(...)` with check
  ids only, so the reason text lives here and nowhere else. `llmp verify` (`llmp.verify.manifests.checkov_accept`) reports an
  annotation whose reason is not the one registered here (a skip written by hand somewhere else).
- **Tier skips** (`TIER_ACCEPTED`): a check that fails on every workload of a trust tier by design,
  where the objects cannot carry the skip because the workload builders do not know the tier. The
  check still runs; `accept_for_tier()` (in `llmp.verify.manifests.checkov_accept`) moves its findings into the skipped list, object by object,
  with the tier's reason, so nothing disappears from the report.
- **Chart skips** (`CHART_ACCEPTED`): a check that fails on objects an upstream Helm chart renders
  (`charts/<release>/` in the manifests folder), at the pinned chart version, and that the chart's
  values cannot fix (an operator must call the API, a controller patches its own webhooks' CA bundle,
  images are pinned by tag). `accept_for_charts()` (the same tool module) moves such findings into the skipped list, object by
  object, with scope `chart:<release>`; a registration that accepted nothing on a stack where its
  release is rendered is reported, so a chart bump or a values fix cannot leave a stale exception.
  Findings on the program's own objects are never accepted by it. Everything the chart's values can
  fix is fixed there instead (`llmplatform/serving/charts.py`, `llmplatform/controls/sr2_gpu_admission/kyverno.py`,
  `llmplatform/gateway/workloads.py`).

A reason never contains `=` (checkov 3.3.x splits the annotation on every `=` and crashes on the whole
folder) nor `|` (it is shown in Markdown tables); `annotations()` refuses both.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath
from types import MappingProxyType

ACCEPTED: Mapping[str, str] = MappingProxyType({
    "CKV_K8S_11": (
        "no CPU limit on the request path by design: CFS quota throttling adds tail latency to every "
        "inference call; the CPU request reserves the share the pod needs"
    ),
    "CKV_K8S_22": (
        "only the schema-migration init container has a writable root filesystem: prisma migrate writes "
        "into folders the LiteLLM image owns; the proxy container itself is read-only"
    ),
    "CKV_K8S_35": (
        "the program reads this credential only from an environment variable (vLLM VLLM_API_KEY and "
        "HF_TOKEN, the LiteLLM proxy and its tenant reconciler their master key and database URL, valkey-cli "
        "REDISCLI_AUTH); the value stays in a Secret referenced by key and is never on a command line"
    ),
    "CKV_K8S_38": (
        "this pod calls the Kubernetes API under a least-privilege namespaced Role (the endpoint picker "
        "watches its InferencePool and pods; the tenant reconciler writes key Secrets by name)"
    ),
})
"""checkov check id -> why the platform accepts it failing on the objects that carry the skip."""

TIER_ACCEPTED: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "trusted": MappingProxyType({
        "CKV2_K8S_6": (
            "trusted tier: one team, so no NetworkPolicies are rendered by design and SR1 is dormant "
            "(docs/trust-tiers.md); multi-team and untrusted tiers select every pod"
        ),
    }),
})
"""trust tier -> {checkov check id -> reason}: checks accepted failing on every object of that tier."""

_DIGEST = ("the tag the chart version fixes; a digest cannot be resolved offline, so one written here would be "
           "an unverified value")

CHART_ACCEPTED: Mapping[str, Mapping[str, str]] = MappingProxyType({
    # cloudnative-pg chart 0.29.0 (operator 1.30.0, image pinned by digest by the chart)
    "cnpg": MappingProxyType({
        "CKV_K8S_11": (
            "the CNPG operator has a CPU request and a memory limit but no CPU limit: it drives failover of the "
            "budget database (promotes a standby when the primary is lost), and CFS throttling would lengthen "
            "the window in which SR3 refuses requests on prod"
        ),
        "CKV_K8S_38": (
            "the CNPG operator reconciles Cluster, Backup and ScheduledBackup resources and the pods, Services, "
            "Secrets and PodDisruptionBudgets it creates for them through the Kubernetes API, authenticating "
            "with its ServiceAccount token"
        ),
        "CKV_K8S_155": (
            "the CNPG operator issues its own webhook serving certificate and patches the CA bundle into "
            "cnpg-mutating-webhook-configuration and cnpg-validating-webhook-configuration (its ClusterRole "
            "grants get and patch on those kinds, no create or delete)"
        ),
    }),
    # istio/istio 1.29.2, manifests/charts/istio-control/istio-discovery
    "istiod": MappingProxyType({
        "CKV_K8S_8": (
            "the istiod chart renders a readiness probe (/ready on port 8080) for the discovery container and "
            "no liveness probe, and has no value to add one (templates/deployment.yaml)"
        ),
        "CKV_K8S_11": (
            "istiod has the chart's requests and a memory limit but no CPU limit: it pushes endpoint and route "
            "updates to the inference gateway's proxies on every model-server rollout, throttling would delay "
            "them, and its HorizontalPodAutoscaler scales on CPU use against the request"
        ),
        "CKV_K8S_15": (
            "the chart reads one pull policy (global.imagePullPolicy) for istiod and for every proxy it injects "
            "or provisions, the inference gateway's included; it stays unset (IfNotPresent for a tagged image) "
            "so that a gateway scale-up never waits on the image registry"
        ),
        "CKV_K8S_29": (
            "the istiod chart renders no pod-level securityContext and has no value for one "
            "(templates/deployment.yaml); the discovery container sets runAsNonRoot, drops ALL capabilities, "
            "forbids privilege escalation, keeps a read-only root filesystem and gets RuntimeDefault seccomp "
            "through values"
        ),
        "CKV_K8S_38": (
            "istiod watches Services, EndpointSlices, pods, Gateway API and Istio resources to build proxy "
            "configuration and reviews workload tokens before signing certificates, all through the Kubernetes "
            "API with its ServiceAccount token"
        ),
        "CKV_K8S_40": (
            "the pilot image runs as UID 1337 (USER 1337:1337 in Istio 1.29.2's Dockerfile.pilot) and the "
            "chart has no value for runAsUser; the container sets runAsNonRoot"
        ),
        "CKV_K8S_43": f"istiod's image is docker.io/istio/pilot:1.29.2, {_DIGEST}",
        "CKV_K8S_49": (
            "the istio-reader ClusterRole grants only get, list and watch, its wildcard limited to Istio's own "
            "API groups (config, security, networking, authentication, rbac, telemetry and extensions.istio.io); "
            "it is bound to istio-reader-service-account, which no pod here runs as (it serves multi-cluster "
            "remote secrets)"
        ),
        "CKV_K8S_155": (
            "istiod is the mesh CA and keeps the CA bundle of its own webhooks current (istio-sidecar-injector "
            "and the istio validators); its ClusterRole grants get, list, watch and update on webhook "
            "configurations, and patch on the mutating ones"
        ),
    }),
    # kedacore/charts v2.20.2
    "keda": MappingProxyType({
        "CKV_K8S_38": (
            "the KEDA operator turns ScaledObjects into HorizontalPodAutoscalers, the metrics apiserver serves "
            "the external metrics API with delegated authentication, and the admission webhooks look up the "
            "workloads a ScaledObject targets; all three call the Kubernetes API with their ServiceAccount token"
        ),
        "CKV_K8S_43": (
            "KEDA's images are ghcr.io/kedacore/keda, keda-metrics-apiserver and keda-admission-webhooks at "
            f"2.20.2, pulled Always; {_DIGEST}"
        ),
        "CKV_K8S_155": (
            "the KEDA operator generates its serving certificates (certificates.autoGenerated) and patches their "
            "CA bundle into the keda-admission ValidatingWebhookConfiguration and the external metrics "
            "APIService (its ClusterRole grants patch and update on those kinds, no create or delete)"
        ),
    }),
    # kubernetes-sigs/kueue v0.19.2, charts/kueue
    "kueue": MappingProxyType({
        "CKV2_K8S_5": (
            "the kueue chart always renders this namespaced Role: get, list, watch and update of Secrets in "
            "kueue-system only, where the controller's internal certificate manager keeps its webhook serving "
            "certificate (kueue-webhook-server-cert); the alternative, cert-manager, is not installed"
        ),
        "CKV_K8S_38": (
            "the kueue controller manager admits Workloads, watches Jobs and pods in the managed namespaces and "
            "writes their status through the Kubernetes API, authenticating with its ServiceAccount token"
        ),
        "CKV_K8S_43": (
            "kueue's image is registry.k8s.io/kueue/kueue:v0.19.2 (what the release packaging sets, stated in "
            f"values), pulled Always; {_DIGEST}"
        ),
        "CKV_K8S_155": (
            "kueue's internal certificate manager writes the CA bundle into kueue's own webhook configurations; "
            "its ClusterRole grants get and update only on kueue-mutating-webhook-configuration and "
            "kueue-validating-webhook-configuration by name, list and watch on the kinds"
        ),
    }),
    # kyverno/kyverno kyverno-chart-3.9.0 (Kyverno v1.19.0)
    "kyverno": MappingProxyType({
        "CKV_K8S_8": (
            "the kyverno chart renders no liveness probe for the background and reports controllers and has no "
            "value to add one (their templates/*/deployment.yaml); the admission and cleanup controllers have "
            "probes"
        ),
        "CKV_K8S_9": (
            "the kyverno chart renders no readiness probe for the background and reports controllers and has no "
            "value to add one (their templates/*/deployment.yaml); neither serves traffic, and the admission and "
            "cleanup controllers have probes"
        ),
        "CKV_K8S_11": (
            "only Kyverno's admission controller has no CPU limit (the background, cleanup and reports "
            "controllers get one through values): it answers API writes in the managed namespaces within a "
            "webhook timeout, and throttling a burst of pod creations would refuse admissions"
        ),
        "CKV_K8S_38": (
            "every Kyverno controller works through the Kubernetes API (the admission controller reads policies "
            "and registers webhooks, the background controller applies generate and mutate-existing rules, the "
            "reports controller writes policy reports, the cleanup controller deletes what cleanup policies "
            "select), authenticating with its ServiceAccount token"
        ),
        "CKV_K8S_43": f"Kyverno's images are reg.kyverno.io/kyverno/* at v1.19.0, pulled Always; {_DIGEST}",
        "CKV_K8S_155": (
            "Kyverno manages its own webhooks: the admission controller creates and updates the webhook "
            "configurations its policies need (SR2's Kyverno ClusterPolicy among them) with their CA bundle, "
            "and the cleanup controller its own validating webhook"
        ),
    }),
    # prometheus-community/helm-charts prometheus-28.10.0
    "prometheus": MappingProxyType({
        "CKV_K8S_11": (
            "the Prometheus server and its config reloader have CPU requests and memory limits but no CPU limit: "
            "KEDA queries the server for the serving pools' scaling signals, and throttling during a head "
            "compaction would delay scale-up"
        ),
        "CKV_K8S_38": (
            "the Prometheus server finds its scrape targets with kubernetes_sd_configs (pods of the serving and "
            "gateway namespaces), listing and watching pods through the Kubernetes API with its ServiceAccount "
            "token under the chart's read-only ClusterRole"
        ),
        "CKV_K8S_43": (
            "Prometheus's images are quay.io/prometheus/prometheus:v3.10.0 and "
            f"quay.io/prometheus-operator/prometheus-config-reloader:v0.89.0, pulled Always; {_DIGEST}"
        ),
    }),
})
"""Helm release name -> {checkov check id -> why it is accepted failing on that chart's objects}, true of
the chart at the version the program pins (re-read the chart when bumping it)."""

CHARTS_FOLDER = "charts"
"""Where the plan writes each release's rendered objects: `<manifests>/charts/<release>/*.yaml`."""

ANNOTATION_PREFIX = "checkov.io/skip"


def check_reason(check_id: str, reason: str) -> None:
    if "=" in reason or "|" in reason:
        raise ValueError(f"the reason for {check_id} contains '=' or '|': {reason!r}; reword it in checkov_skips")


def annotations(*check_ids: str) -> dict[str, str]:
    """`{"checkov.io/skip1": "<id>=<reason>", ...}` for the given ids, reasons from `ACCEPTED`.

    Raises KeyError naming the registered ids when an id is not in `ACCEPTED` (a new exception is
    added here first, with its reason), and ValueError on a repeated id.
    """
    if len(set(check_ids)) != len(check_ids):
        raise ValueError(f"repeated check id in {check_ids}")
    out = {}
    for i, check_id in enumerate(check_ids, start=1):
        if check_id not in ACCEPTED:
            raise KeyError(f"{check_id} is not an accepted checkov exception; registered: {sorted(ACCEPTED)}")
        check_reason(check_id, ACCEPTED[check_id])
        out[f"{ANNOTATION_PREFIX}{i}"] = f"{check_id}={ACCEPTED[check_id]}"
    return out


def tier_reasons(trust_tier: str) -> Mapping[str, str]:
    """The checks accepted on every object of `trust_tier` (empty for tiers without such rules)."""
    return TIER_ACCEPTED.get(trust_tier, MappingProxyType({}))


def is_registered(check_id: str, reason: str) -> bool:
    """True when `reason` is exactly the one `ACCEPTED` holds for `check_id` (not a skip written elsewhere)."""
    return ACCEPTED.get(check_id) == reason


def chart_release_of(source: str) -> str | None:
    """The release whose rendered folder holds `source` (`charts/<release>/<file>#<doc>`), else None."""
    parts = PurePosixPath(source.partition("#")[0]).parts
    return parts[1] if len(parts) >= 3 and parts[0] == CHARTS_FOLDER else None


__all__ = ["ACCEPTED", "ANNOTATION_PREFIX", "CHARTS_FOLDER", "CHART_ACCEPTED", "TIER_ACCEPTED", "annotations",
           "chart_release_of", "check_reason", "is_registered", "tier_reasons"]
