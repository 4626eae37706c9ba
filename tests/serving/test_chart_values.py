"""Every Helm value the platform sets is one the pinned chart actually reads.

Helm accepts any key: a value at the wrong path is silently ignored and the chart's default wins
(istiod's inference extension stayed off behind a `pilot.env` map the chart never reads). Each
contract below states, for one chart at its pinned version, the value paths its templates read among
those we set, with the files that read them; a path that is a prefix of a longer one means the chart
takes that whole subtree. Bumping a chart's version fails `test_each_contract_is_for_the_pinned_version`
until its contract has been re-read at the new tag.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from llmplatform.controls.sr2_gpu_admission.kyverno import KYVERNO_CHART_VERSION, kyverno_values
from llmplatform.gateway import images as gateway_images
from llmplatform.gateway.workloads import cnpg_operator_values
from llmplatform.serving import charts

Path = tuple[str, ...]


@dataclass(frozen=True)
class ChartContract:
    chart: str
    version: str
    reads: frozenset[Path]
    """Value paths the chart's templates read (a path also covers everything under it)."""
    ignored: frozenset[Path] = frozenset()
    """Paths that look plausible but that no template reads at this version."""


def p(dotted: str) -> Path:
    return tuple(dotted.split("."))


# istio/istio tag 1.29.2, manifests/charts/istio-control/istio-discovery/:
# - templates/deployment.yaml turns each entry of the top-level `env` map into an env var of the
#   discovery container (values.yaml defaults it under `_internal_defaults_do_not_set.env`, which
#   templates/zzz_profile.yaml merges under the user's values);
# - templates/istiod-injector-configmap.yaml builds the injector's own `pilot` from the top-level `env`
#   and `cni`, and passes `gateways.seccompProfile` to files/kube-gateway.yaml. No template reads a
#   user-supplied `pilot` key;
# - templates/deployment.yaml builds the discovery image from `global.hub` and `global.tag` (the
#   injector's templates read them too), and reads `seccompProfile` and `resources` for its container.
ISTIOD = ChartContract("istiod", "1.29.2", frozenset({
    p("env"), p("gateways.seccompProfile"), p("global.hub"), p("global.tag"), p("seccompProfile"), p("resources")}),
                       ignored=frozenset({p("pilot")}))
# istio/istio tag 1.29.2, manifests/charts/base/templates/defaultrevision-validatingwebhookconfiguration.yaml
ISTIO_BASE = ChartContract("base", "1.29.2", frozenset({p("defaultRevision")}))
# kubernetes-sigs/kueue tag v0.19.2, charts/kueue/templates/: prometheus/*.yaml, manager/manager.yaml,
# manager/manager-pdb.yaml, manager/manager-config.yaml and webhook/manifests.yaml (the config YAML).
KUEUE = ChartContract("oci://registry.k8s.io/kueue/charts/kueue", "0.19.2", frozenset({
    p("enablePrometheus"), p("controllerManager.replicas"), p("controllerManager.podDisruptionBudget.enabled"),
    p("controllerManager.podDisruptionBudget.minAvailable"), p("managerConfig.controllerManagerConfigYaml"),
    p("controllerManager.manager.image.repository"), p("controllerManager.manager.image.tag"),
    p("controllerManager.manager.image.pullPolicy"), p("controllerManager.manager.podSecurityContext")}))
# kedacore/charts tag v2.20.2, keda/templates/: crds/*.yaml, manager/, metrics-server/ and webhooks/
# (deployment.yaml and poddisruptionbudget.yaml of each; each deployment.yaml takes its pod's
# `podSecurityContext.<component>` whole), manager/clusterrolebindings.yaml.
KEDA = ChartContract("keda", "2.20.2", frozenset({
    p("crds.install"), p("watchNamespace"), p("operator.replicaCount"), p("metricsServer.replicaCount"),
    p("webhooks.replicaCount"), p("podDisruptionBudget.operator"), p("podDisruptionBudget.metricServer"),
    p("podDisruptionBudget.webhooks"), p("podSecurityContext.operator"), p("podSecurityContext.metricServer"),
    p("podSecurityContext.webhooks")}))
# prometheus-community/helm-charts tag prometheus-28.10.0, charts/prometheus/: Chart.yaml (dependency
# conditions), templates/_helpers.tpl, deploy.yaml (both containers' image pull policy, resources and
# security contexts, the pod's security context), pvc.yaml, service.yaml and cm.yaml (server.global,
# serverFiles, scrapeConfigs).
PROMETHEUS_DEFAULT_JOBS = frozenset({
    "prometheus", "kubernetes-api-servers", "kubernetes-nodes", "kubernetes-nodes-cadvisor",
    "kubernetes-service-endpoints", "kubernetes-service-endpoints-slow", "prometheus-pushgateway",
    "kubernetes-services", "kubernetes-pods", "kubernetes-pods-slow"})
"""The keys of values.yaml's `scrapeConfigs` map: cm.yaml renders each whose `enabled` is not false."""
PROMETHEUS = ChartContract("prometheus", "28.10.0", frozenset({
    p("alertmanager.enabled"), p("kube-state-metrics.enabled"), p("prometheus-node-exporter.enabled"),
    p("prometheus-pushgateway.enabled"), p("server.fullnameOverride"), p("server.global"), p("server.retention"),
    p("server.persistentVolume.enabled"), p("server.podLabels"), p("server.service.servicePort"),
    p("server.image.pullPolicy"), p("server.resources"), p("server.securityContext"),
    p("server.containerSecurityContext"), p("configmapReload.prometheus.enabled"), p("server.extraFlags"),
    ("serverFiles", "prometheus.yml"),
    *(("scrapeConfigs", job, "enabled") for job in PROMETHEUS_DEFAULT_JOBS)}))
# kyverno/kyverno tag kyverno-chart-3.9.0, charts/kyverno/templates/: crds/, the four controllers'
# deployment.yaml (replicas, podSecurityContext, image pull policy, resources; the admission controller's
# init container takes the container's pull policy when its own is unset), _helpers.tpl (feature flags),
# config/configmap.yaml and config/_helpers.tpl.
KYVERNO = ChartContract("kyverno", "3.9.0", frozenset({
    p("crds.install"), p("admissionController.replicas"), p("backgroundController.replicas"),
    p("cleanupController.replicas"), p("reportsController.replicas"), p("features.policyExceptions.enabled"),
    p("features.generateValidatingAdmissionPolicy.enabled"), p("features.forceFailurePolicyIgnore.enabled"),
    p("config.webhooks"), p("admissionController.podSecurityContext"),
    p("admissionController.container.image.pullPolicy"),
    *(p(f"{c}.{key}") for c in ("backgroundController", "cleanupController", "reportsController")
      for key in ("image.pullPolicy", "podSecurityContext", "resources"))}))
# cloudnative-pg/charts tag cloudnative-pg-v0.29.0, charts/cloudnative-pg/: templates/_helpers.tpl,
# deployment.yaml, crds/crds.yaml, podmonitor.yaml; Chart.yaml (grafana dashboard dependency condition).
CNPG = ChartContract("cloudnative-pg", "0.29.0", frozenset({
    p("fullnameOverride"), p("replicaCount"), p("image.tag"), p("crds.create"), p("monitoring.podMonitorEnabled"),
    p("monitoring.grafanaDashboard.create"), p("resources")}))

PINNED_VERSIONS = {
    ISTIOD: charts.ISTIOD.version, ISTIO_BASE: charts.ISTIO_BASE.version, KUEUE: charts.KUEUE.version,
    KEDA: charts.KEDA.version, PROMETHEUS: charts.PROMETHEUS.version, KYVERNO: KYVERNO_CHART_VERSION,
    CNPG: gateway_images.CNPG_CHART_VERSION,
}

VALUES: list[tuple[ChartContract, str, dict[str, Any]]] = [
    (ISTIOD, "default", charts.istiod_values()),
    (ISTIO_BASE, "default", charts.istio_base_values()),
    *((KUEUE, f"ha={ha}", charts.kueue_values(["llm-serving", "tenant-a"], ha=ha)) for ha in (False, True)),
    *((KEDA, f"ha={ha}", charts.keda_values("llm-serving", ha=ha)) for ha in (False, True)),
    (PROMETHEUS, "default", charts.prometheus_values("llm-serving", "llm-gateway")),
    *((KYVERNO, f"ha={ha}", kyverno_values(high_availability=ha, exempt_namespaces=("kube-system",)))
      for ha in (False, True)),
    *((CNPG, f"replicas={n}", cnpg_operator_values(replicas=n)) for n in (1, 2)),
]


def leaf_paths(values: Mapping[str, Any], prefix: Path = ()) -> Iterator[Path]:
    for key, value in values.items():
        path = (*prefix, key)
        if isinstance(value, Mapping) and value:
            yield from leaf_paths(value, path)
        else:
            yield path


def read_by(contract: ChartContract, path: Path) -> bool:
    return any(path[:len(known)] == known for known in contract.reads)


def test_leaf_paths_walk_nested_maps_and_stop_at_values():
    assert sorted(leaf_paths({"a": {"b": 1, "c": {"d": [1]}}, "e": {}})) == [("a", "b"), ("a", "c", "d"), ("e",)]


@pytest.mark.parametrize("contract", PINNED_VERSIONS, ids=lambda c: c.chart.rsplit("/", 1)[-1])
def test_each_contract_is_for_the_pinned_version(contract):
    assert PINNED_VERSIONS[contract] == contract.version, (
        f"{contract.chart} is pinned at {PINNED_VERSIONS[contract]} but its contract was read at "
        f"{contract.version}: re-read the chart's templates at the new tag and update the contract")


@pytest.mark.parametrize(("contract", "variant", "values"), VALUES,
                         ids=[f"{c.chart.rsplit('/', 1)[-1]}-{v}" for c, v, _ in VALUES])
def test_every_value_we_set_is_read_by_the_pinned_chart(contract, variant, values):
    unread = [".".join(path) for path in leaf_paths(values) if not read_by(contract, path)]
    assert not unread, f"{contract.chart} {contract.version} ignores {unread} ({variant})"
    ignored = [".".join(path) for path in leaf_paths(values) if any(path[:len(i)] == i for i in contract.ignored)]
    assert not ignored


def test_istiod_gets_the_inference_extension_flag_where_its_deployment_reads_env():
    values = charts.istiod_values()
    assert values["env"]["ENABLE_GATEWAY_API_INFERENCE_EXTENSION"] == "true"
    assert values["env"]["PILOT_ENABLE_GATEWAY_API"] == "true"
    assert "pilot" not in values


def test_the_old_pilot_env_layout_would_be_caught():
    stale = {"pilot": {"env": {"ENABLE_GATEWAY_API_INFERENCE_EXTENSION": "true"}}}
    assert [path for path in leaf_paths(stale) if not read_by(ISTIOD, path)] == [
        ("pilot", "env", "ENABLE_GATEWAY_API_INFERENCE_EXTENSION")]


def test_prometheus_scrapes_only_the_serving_layer_jobs():
    values = charts.prometheus_values("llm-serving", "llm-gateway")
    disabled = {job for job, cfg in values["scrapeConfigs"].items() if cfg == {"enabled": False}}
    assert disabled == PROMETHEUS_DEFAULT_JOBS, "every default cluster-wide job must be switched off"
    ours = {j["job_name"] for j in values["serverFiles"]["prometheus.yml"]["scrape_configs"]}
    assert ours == set(charts.SCRAPE_JOBS) and not ours & PROMETHEUS_DEFAULT_JOBS


def test_prometheus_containers_are_sized_and_locked_down_without_touching_the_selector_labels():
    values = charts.prometheus_values("llm-serving", "llm-gateway")
    server = values["server"]
    assert values["configmapReload"]["prometheus"] == {"enabled": False}, "its /-/reload needs the lifecycle API"
    assert not any(f.startswith(("web.enable-lifecycle", "web.enable-admin-api")) for f in server["extraFlags"])
    assert "podLabels" not in server, "server.podLabels breaks the Deployment's selector (see prometheus_values)"
    for container in (server,):
        resources = container["resources"]
        assert set(resources["requests"]) == {"cpu", "memory"} and "memory" in resources["limits"]
        assert container["containerSecurityContext"] == {
            "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}
    pod = server["securityContext"]
    assert pod["runAsNonRoot"] and pod["runAsUser"] >= 10000 and pod["seccompProfile"] == {"type": "RuntimeDefault"}


def test_kueue_and_keda_pods_state_the_uid_their_images_run_as():
    kueue = charts.kueue_values(["llm-serving"], ha=False)["controllerManager"]["manager"]
    assert kueue["podSecurityContext"]["runAsUser"] == 65532 and kueue["image"]["tag"] == f"v{charts.KUEUE.version}"
    keda = charts.keda_values("llm-serving", ha=False)["podSecurityContext"]
    assert {c: ctx["runAsUser"] for c, ctx in keda.items()} == {"operator": 65532, "metricServer": 65532,
                                                                "webhooks": 65532}


def test_istiod_renders_the_released_image_not_the_chart_sources_development_one():
    values = charts.istiod_values()
    assert values["global"] == {"hub": "docker.io/istio", "tag": charts.ISTIO_VERSION}
    assert "imagePullPolicy" not in values["global"], "it would also apply to every gateway proxy istiod provisions"


@pytest.mark.parametrize("ha", [False, True])
def test_only_the_kyverno_admission_controller_runs_without_a_cpu_limit(ha):
    values = kyverno_values(high_availability=ha, exempt_namespaces=("kube-system",))
    for controller in ("backgroundController", "cleanupController", "reportsController"):
        assert "cpu" in values[controller]["resources"]["limits"]
        assert values[controller]["podSecurityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "resources" not in values["admissionController"].get("container", {})
