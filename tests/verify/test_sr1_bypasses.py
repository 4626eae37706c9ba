"""Issue 15 defects 3, 6 and 7 planted into the rendered prod plan: the SR1 proof passes the plan as
rendered and fails each plant, naming the pod shape, label or flag.

Each plant puts back one bypass the red team found (or a weaker fix of it) in the objects `llmp plan
prod` renders (ours and the charts'), and runs `prove_sr1` (what `llmp verify` runs for SR1).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from llmplatform import labels as L
from llmplatform import naming
from llmp.plan.render import load_manifests
from llmp.verify.sr1 import prove_sr1

Objects = list[dict[str, Any]]


@pytest.fixture(scope="module")
def rendered(planned) -> Objects:
    objects = load_manifests(Path(planned("prod")) / "manifests")
    assert any(o.get("kind") == "Deployment" and o["metadata"].get("namespace") == naming.NS_MONITORING
               for o in objects), "the Prometheus chart must be rendered for these plants"
    return objects


def failures(objects: Objects) -> dict[str, str]:
    result = prove_sr1(objects)
    return {q.name: q.detail for q in result.queries if not q.passed} | {w: "" for w in result.warnings}


def one(objects: Objects, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    (obj,) = [o for o in objects if o.get("kind") == kind and o["metadata"]["name"] == name
              and o["metadata"].get("namespace") == namespace]
    return obj


def prometheus_server(objects: Objects) -> dict[str, Any]:
    return one(objects, "Deployment", "prometheus-server", naming.NS_MONITORING)


def drop(objects: Objects, kind: str, name: str, namespace: str | None = None) -> Objects:
    target = one(objects, kind, name, namespace)
    return [o for o in objects if o is not target]


def host_rule_exempts_default(objects: Objects) -> Objects:
    vap = one(objects, "ValidatingAdmissionPolicy", "llmplatform-sr1-host-isolation")
    var = next(v for v in vap["spec"]["variables"] if v["name"] == "exempt")
    assert "'kube-system'" in var["expression"]
    var["expression"] = var["expression"].replace("'kube-system'", "'kube-system', 'default'")
    return objects


def host_rule_audits(objects: Objects) -> Objects:
    one(objects, "ValidatingAdmissionPolicyBinding", "llmplatform-sr1-host-isolation-binding")["spec"][
        "validationActions"] = ["Audit"]
    return objects


def host_rule_ignores_host_ports(objects: Objects) -> Objects:
    vap = one(objects, "ValidatingAdmissionPolicy", "llmplatform-sr1-host-isolation")
    vap["spec"]["validations"][0]["expression"] = vap["spec"]["validations"][0]["expression"].replace(
        " || variables.hostPorts", "")
    return objects


def identity_drops_prometheus(objects: Objects) -> Objects:
    vap = one(objects, "ValidatingAdmissionPolicy", "llmplatform-sr1-identity")
    clauses = vap["spec"]["validations"][0]["expression"].split(" &&\n")
    kept = [c for c in clauses if f"!= '{naming.NS_MONITORING}'" not in c]
    assert len(kept) == len(clauses) - 1
    vap["spec"]["validations"][0]["expression"] = " &&\n".join(kept)
    return objects


def identity_only_litellm(objects: Objects) -> Objects:
    """The rule as it was before the fix: only LiteLLM's label bound."""
    vap = one(objects, "ValidatingAdmissionPolicy", "llmplatform-sr1-identity")
    clauses = vap["spec"]["validations"][0]["expression"].split(" &&\n")
    vap["spec"]["validations"][0]["expression"] = next(c for c in clauses if f"'{L.ROLE_TENANT_GATEWAY}'" in c)
    return objects


def new_trusted_peer(objects: Objects) -> Objects:
    policy = one(objects, "NetworkPolicy", "sr1-prometheus", naming.NS_MONITORING)
    policy["spec"]["ingress"].append({"from": [{
        "namespaceSelector": {"matchLabels": {L.K8S_NS_NAME: naming.NS_MONITORING}},
        "podSelector": {"matchLabels": {L.NAME: "grafana"}}}], "ports": [{"protocol": "TCP", "port": 9090}]})
    return objects


def prometheus_lifecycle_flag(objects: Objects) -> Objects:
    container = prometheus_server(objects)["spec"]["template"]["spec"]["containers"][0]
    container["args"] = [*container.get("args", []), "--web.enable-lifecycle"]
    return objects


def prometheus_admin_flag(objects: Objects) -> Objects:
    container = prometheus_server(objects)["spec"]["template"]["spec"]["containers"][0]
    container["args"] = [*container.get("args", []), "--web.enable-admin-api"]
    return objects


def prometheus_open_to_default(objects: Objects) -> Objects:
    policy = one(objects, "NetworkPolicy", "sr1-prometheus", naming.NS_MONITORING)
    policy["spec"]["ingress"].append({"from": [{"namespaceSelector": {"matchLabels": {L.K8S_NS_NAME: "default"}}}],
                                      "ports": [{"protocol": "TCP", "port": 9090}]})
    return objects


def prometheus_without_scrape_egress(objects: Objects) -> Objects:
    policy = one(objects, "NetworkPolicy", "sr1-prometheus", naming.NS_MONITORING)
    policy["spec"]["egress"] = policy["spec"]["egress"][-1:]  # the kube API only
    return objects


def chart_pod_with_host_network(objects: Objects) -> Objects:
    prometheus_server(objects)["spec"]["template"]["spec"]["hostNetwork"] = True
    return objects


def chart_pod_with_another_service_account(objects: Objects) -> Objects:
    prometheus_server(objects)["spec"]["template"]["spec"]["serviceAccountName"] = "default"
    return objects


PLANTS: dict[str, tuple[Callable[[Objects], Objects], str, str]] = {
    # defect 3: host networking
    "host rule removed": (lambda o: drop(o, "ValidatingAdmissionPolicy", "llmplatform-sr1-host-isolation"),
                          "host-network-sources-refused", "hostNetwork: true Pod in namespace default"),
    "host rule exempts default": (host_rule_exempts_default, "host-network-sources-refused",
                                  "hostNetwork: true Deployment in namespace default"),
    "host rule only audits": (host_rule_audits, "host-network-sources-refused",
                              f"hostPID: true Pod in namespace {naming.NS_MONITORING}"),
    "host rule misses hostPorts": (host_rule_ignores_host_ports, "host-network-sources-refused",
                                   "a hostPort Pod in namespace tenant-probe-fresh"),
    "chart pod needs hostNetwork": (chart_pod_with_host_network, "platform-pods-admitted",
                                    "Deployment monitoring/prometheus-server refused by llmplatform-sr1-host-isolation"),
    # defect 6: monitoring
    "monitoring default-deny removed": (lambda o: drop(o, "NetworkPolicy", "sr1-default-deny", naming.NS_MONITORING),
                                        "default-deny-monitoring", ""),
    "prometheus open to default": (prometheus_open_to_default, "prometheus-only-from-keda", "default/"),
    "prometheus cannot scrape": (prometheus_without_scrape_egress, "prometheus-reaches-scrape-targets", ""),
    "prometheus lifecycle API on": (prometheus_lifecycle_flag, "prometheus-lifecycle-admin-off",
                                    "monitoring/prometheus-server container prometheus-server: --web.enable-lifecycle"),
    "prometheus admin API on": (prometheus_admin_flag, "prometheus-lifecycle-admin-off", "--web.enable-admin-api"),
    # defect 7: labels without identity
    "identity rule before the fix": (identity_only_litellm, "trusted-labels-bound-to-identity",
                                     "trusted label app.kubernetes.io/name=prometheus in namespace monitoring"),
    "prometheus binding dropped": (identity_drops_prometheus, "trusted-labels-bound-to-identity",
                                   "app.kubernetes.io/name=prometheus in namespace monitoring"),
    "new trusted peer unbound": (new_trusted_peer, "trusted-labels-bound-to-identity",
                                 "trusted label app.kubernetes.io/name=grafana in namespace monitoring"),
    "chart pod under another ServiceAccount": (chart_pod_with_another_service_account, "platform-pods-admitted",
                                               "Deployment monitoring/prometheus-server refused by "
                                               "llmplatform-sr1-identity"),
}


def test_the_rendered_prod_plan_passes_every_sr1_check(rendered):
    assert failures(copy.deepcopy(rendered)) == {}


@pytest.mark.parametrize("case", sorted(PLANTS))
def test_each_bypass_planted_into_the_rendered_plan_fails_sr1_by_name(case, rendered):
    plant, query, named = PLANTS[case]
    failed = failures(plant(copy.deepcopy(rendered)))
    assert query in failed, f"{case}: {query} did not fail; failures: {sorted(failed)}"
    assert named in failed[query], f"{case}: {named!r} not named in: {failed[query][:2000]}"
