"""SR1 (network path) as native `networking.k8s.io/v1` NetworkPolicies, rendered as plain dicts.

The allowed flows (everything else is denied in the managed namespaces)
-----------------------------------------------------------------------
| from | to | port |
|---|---|---|
| any namespace but llm-serving / llm-gateway / llm-tenant-gateway; the reconciler; `client_cidrs` | LiteLLM | 4000 |
| the tenant reconciler | LiteLLM (admin API) | 4000 |
| LiteLLM | inference gateway pods | 80 |
| LiteLLM | Postgres 5432, Redis 6379 | |
| inference gateway pods | model servers 8000, endpoint pickers 9002, istiod 15012 | |
| endpoint pickers | model servers' metrics sidecar (the metrics the picker scores on) | 8001 |
| Prometheus (monitoring) | model servers 8001, endpoint pickers 9090, gateway pods 15020, budget database instances 9187 (metrics only) | |
| KEDA operator and metrics API server (keda) | Prometheus (monitoring) | 9090 |
| Prometheus | the kube API (pod discovery) | 443, 6443 |
| CNPG operator (cnpg-system) | Postgres instances 5432, 8000 | |
| Postgres instances | each other 5432, 8000; the kube API; GCS + metadata server (backups only) | |
| endpoint pickers, Postgres instances, the reconciler | the kube API (`kube_api_cidrs`) | 443, 6443 |
| model servers | public addresses (weights download), when `model_download_egress` | 443 |
| every pod in a managed namespace | kube-dns (kube-system, `k8s-app: kube-dns`) | 53 UDP+TCP |

Selector discipline (the two traps network-config-analyzer found, see NOTES):
- every peer that names pods carries `namespaceSelector` (by `kubernetes.io/metadata.name`, which
  the API server sets and nobody can change) **and** `podSelector` in the same peer: never two
  entries (an OR), never a bare `podSelector` (whose meaning silently depends on the policy's
  namespace), never `namespaceSelector: {}` (any namespace may then wear the label);
- namespace-only peers use `kubernetes.io/metadata.name` too (In / NotIn), never a label that a
  namespace owner could add.

NetworkPolicy cannot tell vLLM's routes apart on its port (8000), and vLLM 0.14.0 checks its API key
on `/v1*` only (`llmp/verify/vllm_routes.json`): only the inference gateway reaches that port;
Prometheus and the endpoint pickers read `/metrics` from the pod's metrics-only sidecar
(`ports.VLLM_METRICS`). Native NetworkPolicy cannot select a ServiceAccount either: the LiteLLM
peer is (namespace AND role label), and `llmplatform.controls.sr1_identity.render` makes sure only LiteLLM's
ServiceAccount in its namespace can carry that label.

Kubelet probes come from the node, which common CNIs (GKE Dataplane V2/Cilium, kube-router,
Calico) admit regardless of NetworkPolicy; nothing here allows node addresses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from llmplatform import labels, naming, ports
from llmplatform.controls.rendering import ControlInputs, Rendered
from llmplatform.k8s import networkpolicy as k8s_netpol
from llmplatform.k8s.networkpolicy import (
    ANY_IPV4,
    allow_from,
    allow_to,
    ip_peer,
    match_labels,
    namespace_not_in,
    namespace_peer,
    tcp,
)

KUBE_SYSTEM = "kube-system"
KUBE_DNS_POD_LABELS: Mapping[str, str] = {"k8s-app": "kube-dns"}
"""kube-dns/CoreDNS pods on GKE (kube-dns) and k3s (CoreDNS keeps the label)."""
PROMETHEUS_POD_LABELS: Mapping[str, str] = {labels.NAME: "prometheus"}
"""The in-cluster Prometheus server pods (the only allowed scraper)."""
ISTIOD_POD_LABELS: Mapping[str, str] = {"app": "istiod"}
"""Istio's control plane pods; gateway proxies fetch their config from it."""
CNPG_OPERATOR_POD_LABELS: Mapping[str, str] = {labels.NAME: "cloudnative-pg"}
"""The CloudNativePG operator pods (the `cloudnative-pg` chart's selector label)."""
KEDA_OPERATOR_POD_LABELS: Mapping[str, str] = {labels.NAME: "keda-operator"}
"""KEDA's operator pods (keda-2.20.2 chart): they run the ScaledObjects' Prometheus queries."""
KEDA_METRICS_APISERVER_POD_LABELS: Mapping[str, str] = {labels.NAME: "keda-operator-metrics-apiserver"}
"""KEDA's external-metrics API server pods (keda-2.20.2 chart), the HPA's source of KEDA's metrics."""
PROMETHEUS_READERS: tuple[Mapping[str, str], ...] = (KEDA_OPERATOR_POD_LABELS, KEDA_METRICS_APISERVER_POD_LABELS)
"""Pods in the KEDA namespace that may query Prometheus: the platform's only readers of its API."""
ISTIO_NAMESPACE = "istio-system"
ISTIOD_XDS = 15012
"""istiod's TLS xDS port, which gateway proxies connect to."""
GATEWAY_METRICS = ports.GATEWAY_PROXY_METRICS
"""Istio proxy's merged metrics endpoint (`/stats/prometheus`); serves no listener traffic."""
CNPG_INSTANCE_MANAGER = 8000
"""CNPG instance manager's status port (operator -> instance, instance -> instance)."""
KUBE_API_PORTS = (443, 6443)
"""The API server behind the `kubernetes` Service: 443 on GKE, 6443 on k3s."""
HTTPS = 443
GKE_METADATA = (("169.254.169.254/32", 80), ("169.254.169.252/32", 988))
"""GKE metadata server as pods see it (Workload Identity tokens): the link-local address, and the
address Dataplane V2 redirects it to."""
NON_PUBLIC_CIDRS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16")
"""Excluded from "public internet" egress: RFC 1918, carrier-grade NAT and link-local (metadata)."""

MANAGED_NAMESPACES = (naming.NS_SERVING, naming.NS_GATEWAY, naming.NS_TENANT_GATEWAY, naming.NS_MONITORING)
"""Namespaces SR1 puts under default-deny (tenant namespaces join them on the untrusted tier)."""
CONTROL_LABEL = f"{labels.PREFIX}/control"


@dataclass(frozen=True, kw_only=True)
class NetworkFacts:
    """Where things live and what the substrate needs; plain values only."""

    serving_namespace: str = naming.NS_SERVING
    gateway_namespace: str = naming.NS_GATEWAY
    tenant_gateway_namespace: str = naming.NS_TENANT_GATEWAY
    monitoring_namespace: str = naming.NS_MONITORING
    cnpg_namespace: str = naming.NS_CNPG
    keda_namespace: str = naming.NS_KEDA
    istio_namespace: str = ISTIO_NAMESPACE
    tenant_namespaces: tuple[str, ...] = ()
    """`tenant-<name>` namespaces (untrusted tier): default-deny, egress only to LiteLLM and DNS."""
    kube_api_cidrs: tuple[str, ...] = ()
    """Where the `kubernetes` Service's endpoints are (GKE private cluster: the control plane's
    `master_ipv4_cidr`). Empty: any address on 443/6443, because the endpoint is not known at plan
    time (k3s: the node's address; a public GKE endpoint: an address GKE assigns). Pods with kube
    API access (endpoint pickers, Postgres instances, the reconciler) then also reach any HTTPS host."""
    model_download_egress: bool = True
    """True: model-server pods may open TCP 443 to public addresses (NON_PUBLIC_CIDRS excluded),
    because the weights init container downloads from Hugging Face. NetworkPolicy cannot scope a rule
    to one container or to a host name, so the serving container gets the same path; it runs with
    `HF_HUB_OFFLINE=1` and holds no key worth exfiltrating, but it sees prompts. False: weights come
    from an in-cluster mirror and model servers open nothing but DNS."""
    budget_backups: bool = False
    """True: Postgres instances may reach public HTTPS (GCS) and the GKE metadata server (Workload
    Identity) to archive WAL and base backups."""
    client_cidrs: tuple[str, ...] = ()
    """Callers of LiteLLM from outside the pod network (e.g. VPC ranges behind an internal passthrough
    load balancer, which preserves client addresses). Empty: in-cluster callers only."""
    gateway_metrics_scrape: bool = True
    """True: Prometheus may scrape the gateway proxies' metrics port (GATEWAY_METRICS). The port
    serves metrics and health only; the listener (80) stays LiteLLM's."""


# ---- selectors and peers (the dict shapes come from llmplatform.k8s.networkpolicy) ------------------


def pods(pod_labels: Mapping[str, str]) -> dict[str, Any]:
    return match_labels(pod_labels)


def role_selector(role: str) -> dict[str, Any]:
    return pods({labels.ROLE: role})


def pod_peer(namespace: str, pod_labels: Mapping[str, str]) -> dict[str, Any]:
    """Pods with `pod_labels` in `namespace`: one peer, both selectors (an AND)."""
    return k8s_netpol.pod_peer(namespace, pods(pod_labels))


def role_peer(namespace: str, role: str) -> dict[str, Any]:
    return pod_peer(namespace, {labels.ROLE: role})


def namespaces_except(names: Iterable[str]) -> dict[str, Any]:
    """Every pod in every namespace except `names` (by the API server's name label)."""
    return namespace_peer(namespace_not_in(names))


def dns_ports() -> list[dict[str, Any]]:
    return [{"protocol": "UDP", "port": ports.DNS}, {"protocol": "TCP", "port": ports.DNS}]


def kube_dns_peer() -> dict[str, Any]:
    return pod_peer(KUBE_SYSTEM, KUBE_DNS_POD_LABELS)


def prometheus_peer(facts: NetworkFacts) -> dict[str, Any]:
    return pod_peer(facts.monitoring_namespace, PROMETHEUS_POD_LABELS)


def litellm_peer(facts: NetworkFacts) -> dict[str, Any]:
    return role_peer(facts.tenant_gateway_namespace, labels.ROLE_TENANT_GATEWAY)


def kube_api_egress(facts: NetworkFacts) -> dict[str, Any]:
    peers = [ip_peer(c) for c in facts.kube_api_cidrs] or [ip_peer(ANY_IPV4)]
    return allow_to(peers, tcp(*KUBE_API_PORTS))


def public_https_egress() -> dict[str, Any]:
    return allow_to([ip_peer(ANY_IPV4, NON_PUBLIC_CIDRS)], tcp(HTTPS))


# ---- policy objects -------------------------------------------------------------------------------


SR1_LABELS: Mapping[str, str] = {labels.PART_OF: "llm-platform", labels.MANAGED_BY: "pulumi", CONTROL_LABEL: "sr1"}
"""Metadata labels of every SR1 NetworkPolicy."""


def network_policy(name: str, namespace: str, pod_selector: dict[str, Any], *,
                   ingress: list[dict[str, Any]] | None = None,
                   egress: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An SR1 NetworkPolicy; `None` leaves a direction out of `policyTypes`, `[]` denies it for the selected pods."""
    return k8s_netpol.network_policy(naming.k8s(name), namespace, pod_selector, ingress=ingress, egress=egress,
                                     labels=SR1_LABELS)


def default_deny(namespace: str) -> dict[str, Any]:
    """Every pod in `namespace`: no ingress, no egress, unless another policy allows it."""
    return network_policy("sr1-default-deny", namespace, {}, ingress=[], egress=[])


def allow_dns(namespace: str) -> dict[str, Any]:
    """Every pod in `namespace` may resolve names through kube-dns (and nothing else by this policy)."""
    return network_policy("sr1-allow-dns", namespace, {}, egress=[allow_to([kube_dns_peer()], dns_ports())])


def model_server_policy(facts: NetworkFacts) -> dict[str, Any]:
    serving = facts.serving_namespace
    egress = [public_https_egress()] if facts.model_download_egress else []
    return network_policy(
        "sr1-model-server", serving, role_selector(labels.ROLE_MODEL_SERVER),
        ingress=[
            # vLLM's port serves routes its API key does not guard (/invocations, /pause, ...): the gateway only,
            # which forwards /v1/ (HTTPRoute) where the key is checked.
            allow_from([role_peer(facts.gateway_namespace, labels.ROLE_GATEWAY)], tcp(ports.VLLM_HTTP)),
            # The picker scores pods on their /metrics, Prometheus scrapes it: the metrics-only sidecar's port.
            allow_from([role_peer(serving, labels.ROLE_EPP)], tcp(ports.VLLM_METRICS)),
            allow_from([prometheus_peer(facts)], tcp(ports.VLLM_METRICS)),
        ],
        egress=egress,
    )


def endpoint_picker_policy(facts: NetworkFacts) -> dict[str, Any]:
    serving = facts.serving_namespace
    return network_policy(
        "sr1-endpoint-picker", serving, role_selector(labels.ROLE_EPP),
        ingress=[
            allow_from([role_peer(facts.gateway_namespace, labels.ROLE_GATEWAY)], tcp(ports.EPP_GRPC)),
            allow_from([prometheus_peer(facts)], tcp(ports.EPP_METRICS)),
        ],
        egress=[
            allow_to([role_peer(serving, labels.ROLE_MODEL_SERVER)], tcp(ports.VLLM_METRICS)),
            kube_api_egress(facts),  # watches its InferencePool and the pool's pods
        ],
    )


def gateway_policy(facts: NetworkFacts) -> dict[str, Any]:
    ingress = [allow_from([litellm_peer(facts)], tcp(ports.GATEWAY_HTTP))]
    if facts.gateway_metrics_scrape:
        ingress.append(allow_from([prometheus_peer(facts)], tcp(GATEWAY_METRICS)))
    return network_policy(
        "sr1-inference-gateway", facts.gateway_namespace, role_selector(labels.ROLE_GATEWAY),
        ingress=ingress,
        egress=[
            allow_to([role_peer(facts.serving_namespace, labels.ROLE_MODEL_SERVER)], tcp(ports.VLLM_HTTP)),
            allow_to([role_peer(facts.serving_namespace, labels.ROLE_EPP)], tcp(ports.EPP_GRPC)),
            allow_to([pod_peer(facts.istio_namespace, ISTIOD_POD_LABELS)], tcp(ISTIOD_XDS)),
        ],
    )


def litellm_policy(facts: NetworkFacts) -> dict[str, Any]:
    """LiteLLM's API is the tenants' front door: open to every namespace except the platform's own
    serving, gateway and tenant-gateway namespaces (whose pods never call it; a compromised model
    server gets no path back into a budgeted API), plus the reconciler and `client_cidrs`. Every
    call still needs a virtual key; the network is not LiteLLM's access control."""
    tgw = facts.tenant_gateway_namespace
    callers = [namespaces_except((facts.serving_namespace, facts.gateway_namespace, tgw))]
    callers += [ip_peer(c) for c in facts.client_cidrs]
    return network_policy(
        "sr1-tenant-gateway", tgw, role_selector(labels.ROLE_TENANT_GATEWAY),
        ingress=[
            allow_from(callers, tcp(ports.LITELLM_HTTP)),
            allow_from([role_peer(tgw, labels.ROLE_TENANT_RECONCILER)], tcp(ports.LITELLM_HTTP)),
        ],
        egress=[
            allow_to([role_peer(facts.gateway_namespace, labels.ROLE_GATEWAY)], tcp(ports.GATEWAY_HTTP)),
            allow_to([role_peer(tgw, labels.ROLE_BUDGET_DB)], tcp(ports.POSTGRES)),
            allow_to([role_peer(tgw, labels.ROLE_BUDGET_CACHE)], tcp(ports.REDIS)),
        ],
    )


def budget_db_policy(facts: NetworkFacts) -> dict[str, Any]:
    tgw = facts.tenant_gateway_namespace
    instances = role_peer(tgw, labels.ROLE_BUDGET_DB)
    egress = [allow_to([instances], tcp(ports.POSTGRES, CNPG_INSTANCE_MANAGER)), kube_api_egress(facts)]
    if facts.budget_backups:
        egress.append(public_https_egress())
        egress += [allow_to([ip_peer(cidr)], tcp(port)) for cidr, port in GKE_METADATA]
    return network_policy(
        "sr1-budget-db", tgw, role_selector(labels.ROLE_BUDGET_DB),
        ingress=[
            allow_from([litellm_peer(facts)], tcp(ports.POSTGRES)),
            allow_from([instances], tcp(ports.POSTGRES, CNPG_INSTANCE_MANAGER)),
            allow_from([pod_peer(facts.cnpg_namespace, CNPG_OPERATOR_POD_LABELS)],
                       tcp(ports.POSTGRES, CNPG_INSTANCE_MANAGER)),
            # The instance's exporter (the BudgetDatabase* alerts); metrics only, never Postgres.
            allow_from([prometheus_peer(facts)], tcp(ports.CNPG_METRICS)),
        ],
        egress=egress,
    )


def budget_cache_policy(facts: NetworkFacts) -> dict[str, Any]:
    return network_policy(
        "sr1-budget-cache", facts.tenant_gateway_namespace, role_selector(labels.ROLE_BUDGET_CACHE),
        ingress=[allow_from([litellm_peer(facts)], tcp(ports.REDIS))],
        egress=[],
    )


def reconciler_policy(facts: NetworkFacts) -> dict[str, Any]:
    """The reconciler talks to LiteLLM's admin API and writes key Secrets; it never needs the database."""
    return network_policy(
        "sr1-tenant-reconciler", facts.tenant_gateway_namespace, role_selector(labels.ROLE_TENANT_RECONCILER),
        ingress=[],
        egress=[allow_to([litellm_peer(facts)], tcp(ports.LITELLM_HTTP)), kube_api_egress(facts)],
    )


def prometheus_scrape_egress(facts: NetworkFacts, scraped: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Prometheus's egress, mirrored from the ingress rules of `scraped` that admit Prometheus: it may
    open exactly the (namespace, pods, ports) those rules let it in on, so a scrape port changed on the
    target side is changed here too, and Prometheus gets no path the targets do not already accept."""
    me = prometheus_peer(facts)
    out = []
    for policy in scraped:
        spec = policy.get("spec") or {}
        for rule in spec.get("ingress") or []:
            if me in (rule.get("from") or []):
                target = k8s_netpol.pod_peer(policy["metadata"]["namespace"], spec.get("podSelector") or {})
                out.append(allow_to([target], list(rule.get("ports") or [])))
    return out


def prometheus_policy(facts: NetworkFacts, scraped: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Prometheus (monitoring): only KEDA's operator and metrics API server reach its API (9090, which
    also serves the lifecycle and admin endpoints when their flags are on; `charts.prometheus_values`
    keeps both off). It opens the scrape paths of `scraped` and the kube API (pod discovery)."""
    readers = [pod_peer(facts.keda_namespace, r) for r in PROMETHEUS_READERS]
    return network_policy(
        "sr1-prometheus", facts.monitoring_namespace, pods(PROMETHEUS_POD_LABELS),
        ingress=[allow_from(readers, tcp(ports.PROMETHEUS_HTTP))],
        egress=[*prometheus_scrape_egress(facts, scraped), kube_api_egress(facts)],
    )


def monitoring_policies(facts: NetworkFacts, scraped: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The monitoring namespace: default-deny, DNS, and the Prometheus policy (`prometheus_policy`)."""
    ns = facts.monitoring_namespace
    return [default_deny(ns), allow_dns(ns), prometheus_policy(facts, scraped)]


def tenant_namespace_policies(namespace: str, facts: NetworkFacts) -> list[dict[str, Any]]:
    """A tenant namespace (untrusted tier): default-deny; egress only to LiteLLM :4000 and DNS."""
    return [
        default_deny(namespace),
        allow_dns(namespace),
        network_policy("sr1-tenant-egress", namespace, {},
                       egress=[allow_to([litellm_peer(facts)], tcp(ports.LITELLM_HTTP))]),
    ]


def platform_policies(facts: NetworkFacts) -> dict[str, list[dict[str, Any]]]:
    """Namespace -> its NetworkPolicies, for the three platform namespaces and monitoring (tenant
    namespaces: see `tenant_namespace_policies`)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for ns in (facts.serving_namespace, facts.gateway_namespace, facts.tenant_gateway_namespace):
        out[ns] = [default_deny(ns), allow_dns(ns)]
    out[facts.serving_namespace] += [model_server_policy(facts), endpoint_picker_policy(facts)]
    out[facts.gateway_namespace] += [gateway_policy(facts)]
    out[facts.tenant_gateway_namespace] += [litellm_policy(facts), budget_db_policy(facts),
                                            budget_cache_policy(facts), reconciler_policy(facts)]
    out[facts.monitoring_namespace] = monitoring_policies(facts, [p for ps in out.values() for p in ps])
    return out


def all_policies(facts: NetworkFacts) -> list[dict[str, Any]]:
    """Every SR1 NetworkPolicy: the platform namespaces', then each tenant namespace's."""
    out = [p for policies in platform_policies(facts).values() for p in policies]
    for ns in facts.tenant_namespaces:
        out += tenant_namespace_policies(ns, facts)
    return out


def peers(policy: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every `from`/`to` peer of a policy (for checks and tests)."""
    spec = policy.get("spec") or {}
    out = []
    for r in spec.get("ingress") or []:
        out += r.get("from") or []
    for r in spec.get("egress") or []:
        out += r.get("to") or []
    return out


def selector_problems(policy: Mapping[str, Any]) -> list[str]:
    """Peers that break the selector discipline (module docstring); empty when the policy is clean."""
    name = f"{policy['metadata']['namespace']}/{policy['metadata']['name']}"
    out = []
    for p in peers(policy):
        ns_sel = p.get("namespaceSelector")
        if "podSelector" in p and ns_sel is None:
            out.append(f"{name}: a podSelector without a namespaceSelector in the same peer: {p}")
        if ns_sel is not None:
            keys = {e.get("key") for e in ns_sel.get("matchExpressions", [])} | set(ns_sel.get("matchLabels", {}))
            if keys != {labels.K8S_NS_NAME}:
                out.append(f"{name}: a namespaceSelector that is not by {labels.K8S_NS_NAME}: {p}")
        if "ipBlock" in p and len(p) != 1:
            out.append(f"{name}: an ipBlock mixed with selectors: {p}")
    return out


def objects(inputs: ControlInputs) -> list[Rendered]:
    """What GovernancePack creates for SR1's network path: every platform namespace's NetworkPolicies
    (tenant namespaces' come with the tenant-namespaces control)."""
    return [Rendered(role=f"netpol-{p['metadata']['namespace']}-{p['metadata']['name']}", obj=p)
            for policies in platform_policies(inputs.network).values() for p in policies]
