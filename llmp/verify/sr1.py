"""SR1 proof: network-config-analyzer (NCA) checks the rendered NetworkPolicies, with probe pods.

NCA reasons only about the pods it is given, so a pass over the platform's own workloads says
nothing about a pod that does not exist yet (a label spoofed in a new namespace, a gateway pod
without its label). The proof therefore adds probe pods: every role value of the label contract
(and no role) in every namespace, a fresh tenant namespace, and one pod per label combination the
rendered policies select on. Namespaces are passed separately (NCA drops a namespace's labels if a
pod is read before it). Queries are written from the label contract in `llmplatform/labels.py`,
never from the rendered policies, so a weakened policy cannot weaken its own check.

Forbidden flows are checked against the rendered policies with their egress rules removed: each
destination's ingress rules must enforce SR1 on their own. Without this, a source namespace's egress
default-deny can mask an ingress rule that is wrong (the OR-split selector), which would then open
the moment someone relaxes that egress. Removing egress only adds connections, so a pass here also
holds for the full rules. Required flows are checked against the full rules (they must really work).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from llmplatform import labels, naming, ports
from llmplatform.k8s.networkpolicy import (
    ANY_IPV4,
    allow_from,
    allow_to,
    ip_peer,
    match_labels,
    namespace_is,
    namespace_not_in,
    namespace_peer,
    network_policy,
    not_in,
    pod_peer,
    tcp,
    tcp_ranges,
)

FRESH_TENANT_NS = "tenant-probe-fresh"
"""A namespace no rendered object mentions: stands for every tenant namespace created later."""
KUBE_DNS = {"k8s-app": "kube-dns"}
PROMETHEUS_LABELS = {labels.NAME: "prometheus"}
"""Labels of the in-cluster Prometheus pods (the only allowed scraper)."""

ROLE_VALUES = (
    labels.ROLE_MODEL_SERVER,
    labels.ROLE_EPP,
    labels.ROLE_GATEWAY,
    labels.ROLE_TENANT_GATEWAY,
    labels.ROLE_BUDGET_DB,
    labels.ROLE_BUDGET_CACHE,
    labels.ROLE_TENANT_RECONCILER,
)

_WARNINGS_AS_ERRORS = (
    re.compile(r"missing from (the )?peer container", re.I),
    re.compile(r"selects no pods", re.I),
)


@dataclass(frozen=True)
class Flow:
    """One query: `kind` forbidden or required, from a source set to a destination on ports."""

    name: str
    kind: str  # "forbidden" | "required"
    description: str
    policies: tuple[dict[str, Any], ...]
    """The query as NetworkPolicies (NCA's spec format): what must be blocked / allowed."""


@dataclass
class QueryResult:
    name: str
    kind: str
    description: str
    passed: bool
    detail: str


@dataclass
class Sr1Result:
    applicable: bool
    reason: str = ""
    queries: list[QueryResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    probe_pods: int = 0
    namespaces: int = 0
    nca_version: str = ""
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.applicable or (all(q.passed for q in self.queries) and not self.warnings)


# ---------------------------------------------------------------- selectors


def _role(role: str) -> dict[str, Any]:
    return match_labels({labels.ROLE: role})


def _role_not(*roles: str) -> dict[str, Any]:
    return not_in(labels.ROLE, roles)


def _not_labelled(pod_labels: dict[str, str]) -> dict[str, Any]:
    """Pods that carry none of the `pod_labels` pairs (for one pair: every pod the pair does not select)."""
    return {"matchExpressions": [{"key": k, "operator": "NotIn", "values": [v]} for k, v in pod_labels.items()]}


def _all_tcp_except(port: int) -> list[dict[str, Any]]:
    return tcp_ranges((1, port - 1), (port + 1, 65535))


def _everyone_but_many(allowed: list[tuple[str, str | None]]) -> list[dict[str, Any]]:
    """Peers: every pod that is none of the (namespace, role) pairs, plus outside addresses.

    A role of None allows the whole namespace (an operator's namespace, whose pods are not ours to label).
    """
    by_ns: dict[str, list[str | None]] = {}
    for ns, role in allowed:
        by_ns.setdefault(ns, []).append(role)
    peers: list[dict[str, Any]] = [namespace_peer(namespace_not_in(by_ns)), ip_peer(ANY_IPV4)]
    for ns, roles in sorted(by_ns.items()):
        if None not in roles:
            peers.append(pod_peer(ns, _role_not(*roles)))
    return peers


def _no_role() -> dict[str, Any]:
    return {"matchExpressions": [{"key": labels.ROLE, "operator": "DoesNotExist"}]}


def _anything() -> list[dict[str, Any]]:
    return [namespace_peer({}), ip_peer(ANY_IPV4)]


def _anything_but_dns() -> list[dict[str, Any]]:
    return [
        namespace_peer(namespace_not_in(["kube-system"])),
        pod_peer("kube-system", _not_labelled(KUBE_DNS)),
        ip_peer(ANY_IPV4),
    ]


def _kube_dns() -> dict[str, Any]:
    return pod_peer("kube-system", match_labels(KUBE_DNS))


MANAGED_NAMESPACES = (naming.NS_SERVING, naming.NS_GATEWAY, naming.NS_TENANT_GATEWAY, naming.NS_MONITORING)
"""Namespaces SR1 puts under default-deny (tenant namespaces join them on the untrusted tier)."""
KEDA_READERS = ({labels.NAME: "keda-operator"}, {labels.NAME: "keda-operator-metrics-apiserver"})
"""KEDA's pods (keda-2.20.2 chart labels): the only readers of Prometheus's API."""


def _unexplained(ns: str) -> dict[str, Any]:
    """Pods of `ns` that no allow-rule is about: no platform role (and, in monitoring, not Prometheus)."""
    sel = _no_role()
    if ns == naming.NS_MONITORING:
        sel = {"matchExpressions": sel["matchExpressions"] + _not_labelled(PROMETHEUS_LABELS)["matchExpressions"]}
    return sel


_JOB_ROLE = re.compile(r"^[a-z0-9-]+$")


def scrape_targets(objects: list[dict[str, Any]]) -> tuple[list[tuple[str, str, str, int]], list[str]]:
    """((job, namespace, role, port) per pod scrape job, problems) from the rendered Prometheus config
    (`prometheus.yml` of a ConfigMap in monitoring): what Prometheus really scrapes, so the proof
    requires those paths to be open whatever the port contract says."""
    targets: list[tuple[str, str, str, int]] = []
    problems: list[str] = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        text = (obj.get("data") or {}).get("prometheus.yml") if obj.get("kind") == "ConfigMap" else None
        if meta.get("namespace") != naming.NS_MONITORING or not text:
            continue
        config = yaml.safe_load(text) or {}
        for job in config.get("scrape_configs") or []:
            name = job.get("job_name", "?")
            keep = {tuple(r.get("source_labels") or []): str(r.get("regex", "")) for r in
                    job.get("relabel_configs") or [] if r.get("action") == "keep"}
            role = keep.get(("__meta_kubernetes_pod_label_llmplatform_io_role",))
            port = keep.get(("__meta_kubernetes_pod_container_port_number",))
            sds = [sd for sd in job.get("kubernetes_sd_configs") or [] if sd.get("role") == "pod"]
            names = [n for sd in sds for n in (sd.get("namespaces") or {}).get("names") or []]
            if not (role and port and port.isdigit() and names and _JOB_ROLE.match(role)):
                problems.append(f"scrape job {name}: not a pod job pinned to a namespace, a role and a port; the "
                                "proof cannot say which path it needs")
                continue
            targets += [(name, ns, role, int(port)) for ns in names]
    return targets, problems


def ingress_only(policies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The policies with every egress rule removed (see the module docstring for why)."""
    out = []
    for pol in policies:
        types = [t for t in pol["spec"].get("policyTypes", ["Ingress"]) if t != "Egress"]
        if not types:
            continue
        spec = {k: v for k, v in pol["spec"].items() if k != "egress"}
        spec["policyTypes"] = types
        out.append({**pol, "spec": spec})
    return out


# ---------------------------------------------------------------- queries


def monitoring_flows(objects: list[dict[str, Any]] | None = None) -> list[Flow]:
    """Prometheus (monitoring): only KEDA reaches its API; it reaches every target it is configured to
    scrape (read from the rendered config; nothing when no Prometheus config is rendered)."""
    monitoring, keda = naming.NS_MONITORING, naming.NS_KEDA
    prometheus_sel = match_labels(PROMETHEUS_LABELS)
    readers = [pod_peer(keda, match_labels(r)) for r in KEDA_READERS]
    not_reader = [namespace_peer(namespace_not_in([keda])),
                  pod_peer(keda, {"matchExpressions": [e for r in KEDA_READERS
                                                       for e in _not_labelled(r)["matchExpressions"]]}),
                  ip_peer(ANY_IPV4)]
    prometheus = pod_peer(monitoring, prometheus_sel)
    out = [
        Flow("prometheus-only-from-keda", "forbidden",
             f"no pod but KEDA's operator and metrics API server reaches Prometheus, and they only on "
             f"{ports.PROMETHEUS_HTTP}",
             (network_policy("q-prometheus", monitoring, prometheus_sel, ingress=[
                 allow_from(not_reader),
                 allow_from(readers, _all_tcp_except(ports.PROMETHEUS_HTTP))]),)),
        Flow("keda-reaches-prometheus", "required",
             "KEDA's operator (which runs the ScaledObjects' queries) reaches Prometheus's API",
             (network_policy("q-keda-prometheus", monitoring, prometheus_sel, ingress=[
                 allow_from([readers[0]], tcp(ports.PROMETHEUS_HTTP))]),)),
    ]
    targets, _ = scrape_targets(objects or [])
    if targets:
        out.append(Flow(
            "prometheus-reaches-scrape-targets", "required",
            "Prometheus reaches every target its rendered config scrapes: "
            + ", ".join(f"{job} ({ns} {role}:{port})" for job, ns, role, port in targets),
            tuple(network_policy(f"q-scrape-{i}", ns, _role(role), ingress=[allow_from([prometheus], tcp(port))])
                  for i, (_, ns, role, port) in enumerate(targets))))
    return out


def flows(objects: list[dict[str, Any]] | None = None) -> list[Flow]:
    """The SR1 queries, from the label contract and the port contract (and, for Prometheus's scrape
    paths, from its rendered config: `monitoring_flows`)."""
    serving, gateway, tgw = naming.NS_SERVING, naming.NS_GATEWAY, naming.NS_TENANT_GATEWAY
    monitoring = naming.NS_MONITORING
    prometheus_peer = pod_peer(monitoring, match_labels(PROMETHEUS_LABELS))
    gateway_peer = pod_peer(gateway, _role(labels.ROLE_GATEWAY))
    litellm_peer = pod_peer(tgw, _role(labels.ROLE_TENANT_GATEWAY))
    not_prometheus = pod_peer(monitoring, _not_labelled(PROMETHEUS_LABELS))
    not_scraper = [
        namespace_peer(namespace_not_in([gateway, monitoring])),
        pod_peer(gateway, _role_not(labels.ROLE_GATEWAY)),
        not_prometheus,
        ip_peer(ANY_IPV4),
    ]
    epp_peer = pod_peer(serving, _role(labels.ROLE_EPP))
    # The endpoint picker reads each model server's /metrics from its metrics sidecar: like Prometheus it
    # may connect there and nowhere else (vLLM's own port serves routes its key does not guard).
    not_scraper_or_epp = [
        namespace_peer(namespace_not_in([gateway, monitoring, serving])),
        pod_peer(serving, _role_not(labels.ROLE_EPP)),
        *not_scraper[1:],
    ]
    out = [
        Flow("model-servers-only-from-gateway", "forbidden",
             "no pod but the inference gateway reaches a model server (Prometheus and the endpoint picker: the "
             "metrics sidecar's port only)",
             (network_policy("q-model-servers", serving, _role(labels.ROLE_MODEL_SERVER), ingress=[
                 allow_from(not_scraper_or_epp),
                 allow_from([prometheus_peer, epp_peer], _all_tcp_except(ports.VLLM_METRICS)),
             ]),)),
        Flow("epp-only-from-gateway", "forbidden",
             "no pod but the inference gateway reaches the endpoint picker (Prometheus: metrics port only)",
             (network_policy("q-epp", serving, _role(labels.ROLE_EPP), ingress=[
                 allow_from(not_scraper),
                 allow_from([prometheus_peer], _all_tcp_except(ports.EPP_METRICS)),
             ]),)),
        Flow("gateway-only-from-litellm", "forbidden",
             "no pod but LiteLLM (its namespace AND its label) reaches the inference gateway",
             (network_policy("q-gateway", gateway, _role(labels.ROLE_GATEWAY), ingress=[
                 allow_from([namespace_peer(namespace_not_in([tgw, monitoring])),
                             pod_peer(tgw, _role_not(labels.ROLE_TENANT_GATEWAY)),
                             not_prometheus, ip_peer(ANY_IPV4)]),
                 # Prometheus scrapes the gateway proxy's own metrics port and nothing else.
                 allow_from([prometheus_peer], _all_tcp_except(ports.GATEWAY_PROXY_METRICS)),
             ]),)),
        Flow("budget-store-only-from-litellm", "forbidden",
             "tenants (and every other pod) cannot reach Postgres or Redis; only LiteLLM, the reconciler and "
             "the database's own instances/operator (Prometheus: the database's metrics port only)",
             tuple(
                 network_policy(f"q-{role}", tgw, _role(role), ingress=[allow_from(_everyone_but_many(
                     [(tgw, labels.ROLE_TENANT_GATEWAY), (tgw, labels.ROLE_TENANT_RECONCILER), (tgw, role),
                      (naming.NS_CNPG, None), *([(monitoring, None)] if role == labels.ROLE_BUDGET_DB else [])])),
                     *([allow_from([not_prometheus]),
                        allow_from([prometheus_peer], _all_tcp_except(ports.CNPG_METRICS))]
                       if role == labels.ROLE_BUDGET_DB else [])])
                 for role in (labels.ROLE_BUDGET_DB, labels.ROLE_BUDGET_CACHE)
             )),
        *[Flow(f"default-deny-{ns}", "forbidden",
               f"pods in {ns} without a platform role accept no connection and open none (but DNS)",
               (network_policy(f"q-deny-in-{ns}", ns, _unexplained(ns), ingress=[allow_from(_anything())]),
                network_policy(f"q-deny-out-{ns}", ns, _unexplained(ns), egress=[
                    allow_to(_anything_but_dns()),
                    allow_to([_kube_dns()], _all_tcp_except(ports.DNS))])))
          for ns in MANAGED_NAMESPACES],
        Flow("tenant-reaches-litellm", "required",
             "a pod in a fresh tenant namespace reaches LiteLLM on its API port",
             (network_policy("q-tenant-litellm", tgw, _role(labels.ROLE_TENANT_GATEWAY), ingress=[
                 allow_from([namespace_peer(namespace_is(FRESH_TENANT_NS))], tcp(ports.LITELLM_HTTP))]),)),
        Flow("litellm-reaches-gateway", "required",
             "LiteLLM reaches the inference gateway",
             (network_policy("q-litellm-gateway", gateway, _role(labels.ROLE_GATEWAY), ingress=[
                 allow_from([litellm_peer], tcp(ports.GATEWAY_HTTP))]),)),
        Flow("gateway-reaches-model-servers-and-epp", "required",
             "the gateway reaches the model servers and the endpoint picker",
             (network_policy("q-gateway-models", serving, _role(labels.ROLE_MODEL_SERVER), ingress=[
                 allow_from([gateway_peer], tcp(ports.VLLM_HTTP))]),
              network_policy("q-gateway-epp", serving, _role(labels.ROLE_EPP), ingress=[
                  allow_from([gateway_peer], tcp(ports.EPP_GRPC))]))),
        Flow("litellm-reaches-budget-store", "required",
             "LiteLLM reaches Postgres and Redis",
             (network_policy("q-litellm-db", tgw, _role(labels.ROLE_BUDGET_DB), ingress=[
                 allow_from([litellm_peer], tcp(ports.POSTGRES))]),)),
        Flow("dns-from-platform-pods", "required",
             "LiteLLM, the gateway and the model servers resolve names through kube-dns",
             tuple(
                 network_policy(f"q-dns-{role}", ns, _role(role), egress=[
                     allow_to([_kube_dns()], [{"protocol": "UDP", "port": ports.DNS}])])
                 for ns, role in ((tgw, labels.ROLE_TENANT_GATEWAY), (gateway, labels.ROLE_GATEWAY),
                                  (serving, labels.ROLE_MODEL_SERVER))
             )),
    ]
    return out + monitoring_flows(objects)


# ---------------------------------------------------------------- probe pods


def _selector_label_sets(policies: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Every matchLabels combination any rendered policy selects pods on (and each label alone)."""
    found: list[dict[str, str]] = []

    def visit(node: Any, key: str = "") -> None:
        if isinstance(node, dict):
            if key == "podSelector" and node.get("matchLabels"):
                found.append(dict(node["matchLabels"]))
                found.extend({k: v} for k, v in node["matchLabels"].items())
            for k, v in node.items():
                visit(v, k)
        elif isinstance(node, list):
            for item in node:
                visit(item, key)

    visit(policies)
    unique = {tuple(sorted(d.items())): d for d in found}
    return [unique[k] for k in sorted(unique)]


def _workload_pod_labels(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, str]]]:
    out = []
    for obj in objects:
        if obj.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            template = (obj.get("spec") or {}).get("template") or {}
            pod_labels = (template.get("metadata") or {}).get("labels") or {}
            out.append((obj["metadata"].get("namespace", "default"), dict(pod_labels)))
        elif obj.get("kind") == "Pod":
            out.append((obj["metadata"].get("namespace", "default"), dict(obj["metadata"].get("labels") or {})))
    return out


def probe_pods(namespaces: list[str], policies: list[dict[str, Any]], objects: list[dict[str, Any]]) -> list[dict]:
    """Pods for NCA: per namespace every role (and none), every selector label set, plus real workloads."""
    label_sets: list[dict[str, str]] = [{}] + [{labels.ROLE: r} for r in ROLE_VALUES] + [PROMETHEUS_LABELS, KUBE_DNS]
    label_sets += [dict(r) for r in KEDA_READERS]
    label_sets += _selector_label_sets(policies)
    pods: dict[tuple, dict] = {}
    for ns in namespaces:
        for lbls in label_sets:
            pods[(ns, tuple(sorted(lbls.items())))] = lbls
    for ns, lbls in _workload_pod_labels(objects):
        pods[(ns, tuple(sorted(lbls.items())))] = lbls
    out = []
    for i, ((ns, _), lbls) in enumerate(sorted(pods.items(), key=lambda kv: (kv[0][0], kv[0][1]))):
        out.append({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"probe-{i}", "namespace": ns, "labels": lbls},
            "spec": {"containers": [{"name": "probe", "image": "probe"}]},
            "status": {"podIP": f"10.{100 + i // 65536 % 100}.{i // 256 % 256}.{i % 256}", "phase": "Running"},
        })
    return out


# ---------------------------------------------------------------- running NCA


def _namespace_docs(names: list[str], rendered: dict[str, dict]) -> list[dict]:
    docs = []
    for name in names:
        meta = rendered.get(name, {}).get("metadata", {})
        lbls = {**(meta.get("labels") or {}), labels.K8S_NS_NAME: name}
        docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": lbls}})
    return docs


def _parse_output(text: str, names: list[str]) -> dict[str, str]:
    """query name -> its section of NCA's output."""
    sections: dict[str, str] = {}
    for name in names:
        match = re.search(rf"Running query {re.escape(name)}\n(.*?)Query {re.escape(name)} finished", text, re.S)
        sections[name] = match.group(1).strip() if match else ""
    return sections


def nca_version() -> str:
    from importlib.metadata import version

    return version("network-config-analyzer")


@dataclass
class NcaRun:
    """One network-config-analyzer run: a result per flow, the analyzer's warnings, what it modelled."""

    results: list[QueryResult]
    warnings: list[str]
    probe_pods: int
    namespaces: list[str]
    policies: list[dict[str, Any]]


def run_flows(objects: list[dict[str, Any]], all_flows: list[Flow], *, workdir: Path | None = None) -> NcaRun:
    """Run `all_flows` over the rendered NetworkPolicies with the probe pods and namespaces (module docstring)."""
    policies = [o for o in objects if o.get("kind") == "NetworkPolicy"]
    rendered_ns = {o["metadata"]["name"]: o for o in objects if o.get("kind") == "Namespace"}
    ns_names = sorted(set(rendered_ns) | {"kube-system", "default", FRESH_TENANT_NS, naming.NS_SERVING,
                                          naming.NS_GATEWAY, naming.NS_TENANT_GATEWAY, naming.NS_MONITORING,
                                          naming.NS_KEDA})
    pods = probe_pods(ns_names, policies, objects)

    with tempfile.TemporaryDirectory(dir=workdir) as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "namespaces.yaml").write_text(yaml.safe_dump(
            {"apiVersion": "v1", "kind": "NamespaceList", "items": _namespace_docs(ns_names, rendered_ns)}))
        (tmp / "pods.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "PodList", "items": pods}))
        (tmp / "platform.yaml").write_text(yaml.safe_dump_all(policies) if policies else "")
        ingress = ingress_only(policies)
        (tmp / "platform-ingress.yaml").write_text(yaml.safe_dump_all(ingress) if ingress else "")
        queries = []
        configs = [{"name": "platform", "networkPolicyList": ["platform.yaml"]},
                   {"name": "platform-ingress", "networkPolicyList": ["platform-ingress.yaml"]}]
        for flow in all_flows:
            spec = f"spec-{flow.name}.yaml"
            (tmp / spec).write_text(yaml.safe_dump_all(list(flow.policies)))
            configs.append({"name": f"spec-{flow.name}", "networkPolicyList": [spec]})
            if flow.kind == "forbidden":
                # Ingress-only flows are checked against ingress-only rules; egress flows against all rules.
                has_egress = any("Egress" in p["spec"]["policyTypes"] for p in flow.policies)
                base = "platform" if has_egress else "platform-ingress"
                queries.append({"name": flow.name, "forbids": [base, f"spec-{flow.name}"], "expected": 0})
            else:
                queries.append({"name": flow.name, "permits": ["platform", f"spec-{flow.name}"], "expected": 0})
        scheme = {"namespaceList": "namespaces.yaml", "podList": "pods.yaml",
                  "networkConfigList": configs, "queries": queries}
        (tmp / "scheme.yaml").write_text(yaml.safe_dump(scheme, sort_keys=False))
        proc = subprocess.run([sys.executable, "-m", "nca", "--scheme", "scheme.yaml"], cwd=tmp,
                              capture_output=True, text=True, timeout=600)
    output = proc.stdout + "\n" + proc.stderr
    sections = _parse_output(proc.stdout, [f.name for f in all_flows])
    results = []
    for flow in all_flows:
        section = sections[flow.name]
        failed = f"Unexpected result for query {flow.name}" in output or not section
        results.append(QueryResult(flow.name, flow.kind, flow.description, not failed, section))
    warnings = [line.strip() for line in output.splitlines()
                if any(p.search(line) for p in _WARNINGS_AS_ERRORS)]
    if proc.returncode != 0 and all(r.passed for r in results) and not warnings:
        warnings.append(f"network-config-analyzer exited {proc.returncode}: {output[-800:]}")
    return NcaRun(results=results, warnings=warnings, probe_pods=len(pods), namespaces=ns_names, policies=policies)


def prove_sr1(objects: list[dict[str, Any]], *, workdir: Path | None = None) -> Sr1Result:
    """Run every SR1 query over the rendered objects; any failure or analyzer warning fails the proof."""
    import time

    start = time.perf_counter()
    run = run_flows(objects, flows(objects), workdir=workdir)
    results = run.results + config_checks(objects) + admission_checks(objects, run.policies, run.namespaces)
    return Sr1Result(applicable=True, queries=results, warnings=run.warnings, probe_pods=run.probe_pods,
                     namespaces=len(run.namespaces), nca_version=nca_version(), seconds=time.perf_counter() - start)


# ---------------------------------------------------------------- checks beside NCA


PROMETHEUS_FORBIDDEN_FLAGS = ("--web.enable-lifecycle", "--web.enable-admin-api")
"""Prometheus server flags that open `/-/quit`, `/-/reload` and the TSDB admin API on its one port."""


def prometheus_flag_check(objects: list[dict[str, Any]]) -> QueryResult:
    """The rendered Prometheus server containers carry no lifecycle/admin flag (its port is KEDA's, and
    `POST /-/quit` would leave autoscaling on KEDA's fallback)."""
    found, servers = [], 0
    for obj in objects:
        if obj.get("kind") not in ("Deployment", "StatefulSet") or \
                (obj.get("metadata") or {}).get("namespace") != naming.NS_MONITORING:
            continue
        template = (obj.get("spec") or {}).get("template") or {}
        pod_labels = (template.get("metadata") or {}).get("labels") or {}
        if any(pod_labels.get(k) != v for k, v in PROMETHEUS_LABELS.items()):
            continue
        servers += 1
        for c in (template.get("spec") or {}).get("containers") or []:
            for arg in [*(c.get("command") or []), *(c.get("args") or [])]:
                if str(arg).split("=", 1)[0] in PROMETHEUS_FORBIDDEN_FLAGS:
                    found.append(f"{obj['kind']} {naming.NS_MONITORING}/{obj['metadata']['name']} container "
                                 f"{c.get('name')}: {arg}")
    detail = ("; ".join(found) if found else f"{servers} Prometheus server workload(s) without "
              f"{' or '.join(PROMETHEUS_FORBIDDEN_FLAGS)}" if servers else
              "no Prometheus server rendered (its chart was not rendered): not checked")
    return QueryResult("prometheus-lifecycle-admin-off", "config",
                       "the Prometheus server runs without --web.enable-lifecycle and --web.enable-admin-api",
                       not found, detail)


def config_checks(objects: list[dict[str, Any]]) -> list[QueryResult]:
    _, problems = scrape_targets(objects)
    out = [prometheus_flag_check(objects)]
    if problems:
        out.append(QueryResult("prometheus-scrape-jobs-readable", "config",
                               "every rendered Prometheus scrape job names the pods it scrapes", False,
                               "; ".join(problems)))
    return out


def admission_checks(objects: list[dict[str, Any]], policies: list[dict[str, Any]],
                     namespaces: list[str]) -> list[QueryResult]:
    """Host-network sources and trusted-label identities, from the rendered SR1 admission rules
    (`llmp.verify.sr1_admission`). `namespaces`: the ones the proof models; the Kubernetes
    system namespaces are not probed (node agents run there, by design)."""
    from llmplatform.controls.sr1_identity.render import UNBOUND_NAMESPACES
    from llmp.verify import sr1_admission as adm

    rules = adm.enforced_sr1_rules(objects)
    ns_labels = adm.namespace_labels(objects)
    probed = [ns for ns in namespaces if ns not in UNBOUND_NAMESPACES]
    checks = [adm.host_isolation_check(rules, probed, ns_labels), adm.identity_check(rules, policies, ns_labels),
              adm.platform_pods_check(rules, objects, ns_labels), adm.scope_check(rules)]
    return [QueryResult(c.name, "admission", c.description, c.passed, c.detail) for c in checks]
