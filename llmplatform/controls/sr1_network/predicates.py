"""SR1 on rendered NetworkPolicies: default-deny present, and nothing but the contract reaches a protected pod.

Static reading of `networking.k8s.io/v1` NetworkPolicy objects (plain dicts), from the label and
port contracts (`llmplatform.labels`, `llmplatform.ports`, `llmplatform.naming`), never from the
policies' own names. `llmp verify` proves SR1 with network-config-analyzer over probe pods; these
predicates are the cheap structural half that CrossGuard and the components can run on every preview.

A peer is accepted only when one `from` entry pins *both* the source namespace (by the
API-server-owned `kubernetes.io/metadata.name`, or by the namespace-tier label where the contract
allows it) *and* the source pod's label. That rejects the classic mistakes: the OR-split (namespace
and pod selectors in separate `from` entries: each admits far more than the pair), a pod label
matched in any namespace (`namespaceSelector: {}`), a whole namespace, an `ipBlock`, and a rule
with no `from` at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmplatform import labels, naming, ports

INGRESS, EGRESS = "Ingress", "Egress"
MANAGED_TIERS = (labels.NS_TIER_SERVING, labels.NS_TIER_GATEWAY, labels.NS_TIER_TENANT_GATEWAY, labels.NS_TIER_TENANT)
"""Namespace tiers SR1 puts under default-deny (tenant namespaces exist on the untrusted tier only)."""
MANAGED_NAMES = (naming.NS_SERVING, naming.NS_GATEWAY, naming.NS_TENANT_GATEWAY, naming.NS_MONITORING)
"""The platform's own namespaces (and monitoring, whose Prometheus drives autoscaling): managed even if
their Namespace object is not rendered here."""
PROMETHEUS_POD = {labels.NAME: "prometheus"}


@dataclass(frozen=True)
class Source:
    """One allowed source of traffic to a protected pod."""

    namespace: str
    """The source namespace's name (pinned with `kubernetes.io/metadata.name`)."""
    tier: str | None
    """A namespace-tier value that also pins it, or None where a tier is shared by several namespaces."""
    pod_labels: Mapping[str, str]
    """Labels the peer's podSelector must require (all of them)."""
    ports: frozenset[int] | None = None
    """None: any port; else every port of the rule must be one of these."""
    what: str = ""


@dataclass(frozen=True)
class Protected:
    """A pod role in a namespace tier that only `sources` may reach."""

    tier: str
    namespace: str
    role: str
    sources: tuple[Source, ...] = field(default_factory=tuple)


GATEWAY_METRICS = ports.GATEWAY_PROXY_METRICS
"""Istio's merged Prometheus port on the gateway proxies (the port contract's GATEWAY_PROXY_METRICS)."""

_LITELLM = Source(naming.NS_TENANT_GATEWAY, labels.NS_TIER_TENANT_GATEWAY, {labels.ROLE: labels.ROLE_TENANT_GATEWAY},
                  what="LiteLLM")
_GATEWAY = Source(naming.NS_GATEWAY, labels.NS_TIER_GATEWAY, {labels.ROLE: labels.ROLE_GATEWAY},
                  what="the inference gateway")
_EPP_SCRAPE = Source(naming.NS_SERVING, labels.NS_TIER_SERVING, {labels.ROLE: labels.ROLE_EPP},
                     frozenset({ports.VLLM_METRICS}), what=f"the endpoint picker on port {ports.VLLM_METRICS} (metrics)")


def _prometheus(port: int) -> Source:
    return Source(naming.NS_MONITORING, None, PROMETHEUS_POD, frozenset({port}), what=f"Prometheus on port {port}")


SR1_CONTRACT: tuple[Protected, ...] = (
    Protected(labels.NS_TIER_GATEWAY, naming.NS_GATEWAY, labels.ROLE_GATEWAY,
              (_LITELLM, _prometheus(GATEWAY_METRICS))),
    Protected(labels.NS_TIER_SERVING, naming.NS_SERVING, labels.ROLE_MODEL_SERVER,
              (_GATEWAY, _EPP_SCRAPE, _prometheus(ports.VLLM_METRICS))),
    Protected(labels.NS_TIER_SERVING, naming.NS_SERVING, labels.ROLE_EPP, (_GATEWAY, _prometheus(ports.EPP_METRICS))),
)
"""Who may open a connection to what: LiteLLM -> inference gateway -> model servers and endpoint picker.
Metrics scrapers are the only other callers, each on its metrics port only: Prometheus on every hop,
and the endpoint picker reading vLLM's /metrics from the model server's metrics sidecar (vLLM's own port
serves routes its API key does not guard, see llmplatform.ports.VLLM_HTTP)."""


# ---------------------------------------------------------------- selectors


Requirement = tuple[str, str, frozenset[str]]


def requirements(selector: Mapping[str, Any] | None) -> list[Requirement]:
    """A LabelSelector as (key, operator, values); matchLabels become `In` with one value."""
    if not selector:
        return []
    out: list[Requirement] = [(str(k), "In", frozenset({str(v)}))
                              for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or ():
        values = frozenset(str(v) for v in expr.get("values") or ())
        out.append((str(expr.get("key")), str(expr.get("operator")), values))
    return out


def is_empty_selector(selector: Mapping[str, Any] | None) -> bool:
    """`{}` (or absent where a selector is required) selects everything."""
    return not requirements(selector)


def may_match(selector: Mapping[str, Any] | None, known: Mapping[str, str]) -> bool:
    """Could the selector match some object that carries `known` labels (and any others it likes)?

    Requirements on other keys can always be met by choosing the object's other labels, so only
    requirements on `known` keys can rule a match out.
    """
    for key, op, values in requirements(selector):
        if key not in known:
            continue
        value = known[key]
        if (op == "In" and value not in values) or (op == "NotIn" and value in values) or op == "DoesNotExist":
            return False
    return True


def requires(selector: Mapping[str, Any] | None, key: str, allowed: Iterable[str]) -> bool:
    """Does every object the selector matches carry `key` with a value in `allowed`?"""
    allowed = frozenset(allowed)
    return any(k == key and op == "In" and values and values <= allowed for k, op, values in requirements(selector))


# ---------------------------------------------------------------- policies


def policy_types(policy: Mapping[str, Any]) -> tuple[str, ...]:
    """The directions a policy governs; Kubernetes' default when `policyTypes` is absent."""
    spec = policy.get("spec") or {}
    if spec.get("policyTypes"):
        return tuple(spec["policyTypes"])
    return (INGRESS, EGRESS) if spec.get("egress") else (INGRESS,)


def denies_all(policy: Mapping[str, Any], direction: str) -> bool:
    """True for a default-deny in `direction`: selects every pod, governs the direction, allows nothing."""
    spec = policy.get("spec") or {}
    rules_key = "ingress" if direction == INGRESS else "egress"
    return (is_empty_selector(spec.get("podSelector")) and direction in policy_types(policy)
            and not spec.get(rules_key))


def namespace_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "default")


def managed_namespaces(namespace_objects: Iterable[Mapping[str, Any]]) -> list[str]:
    """Namespaces that must have default-deny: the platform's own plus every one labelled with a managed tier."""
    names = set(MANAGED_NAMES)
    for ns in namespace_objects:
        meta = ns.get("metadata") or {}
        if (meta.get("labels") or {}).get(labels.NAMESPACE_TIER) in MANAGED_TIERS and meta.get("name"):
            names.add(str(meta["name"]))
    return sorted(names)


def default_deny_gaps(namespaces: Iterable[str], policies: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """namespace -> directions (Ingress, Egress) that no default-deny policy covers there; only gaps listed."""
    by_ns: dict[str, list[Mapping[str, Any]]] = {}
    for p in policies:
        by_ns.setdefault(namespace_of(p), []).append(p)
    gaps: dict[str, list[str]] = {}
    for ns in namespaces:
        mine = by_ns.get(ns, [])
        missing = [d for d in (INGRESS, EGRESS) if not any(denies_all(p, d) for p in mine)]
        if missing:
            gaps[ns] = missing
    return gaps


def _pins_namespace(peer: Mapping[str, Any], policy_ns: str, source: Source) -> bool:
    if "namespaceSelector" not in peer:
        return policy_ns == source.namespace
    selector = peer.get("namespaceSelector")
    return requires(selector, labels.K8S_NS_NAME, {source.namespace}) or (
        source.tier is not None and requires(selector, labels.NAMESPACE_TIER, {source.tier}))


def _rule_ports(rule: Mapping[str, Any]) -> list[Mapping[str, Any]] | None:
    return list(rule.get("ports") or ()) or None


def _ports_within(rule_ports: list[Mapping[str, Any]] | None, allowed: frozenset[int] | None) -> bool:
    if allowed is None:
        return True
    if rule_ports is None:
        return False
    for p in rule_ports:
        port, end = p.get("port"), p.get("endPort")
        if not isinstance(port, int | float) or isinstance(port, bool) or port not in allowed:
            return False  # a named port or a port outside the allowance
        if end is not None and end != port:
            return False
    return True


def _describe(peer: Mapping[str, Any], policy_ns: str) -> str:
    if "ipBlock" in peer:
        return f"ipBlock {peer['ipBlock'].get('cidr', '?')} admits addresses, not pods"
    has_ns, has_pod = "namespaceSelector" in peer, "podSelector" in peer
    if has_ns and is_empty_selector(peer.get("namespaceSelector")):
        return ("namespaceSelector {} admits pods of every namespace" if not has_pod else
                "namespaceSelector {} with a podSelector matches that pod label in any namespace")
    if has_ns and not has_pod:
        return ("a namespaceSelector without a podSelector admits every pod of the selected namespaces "
                "(namespace and pod selectors split into separate peers are ORed, not ANDed)")
    if has_pod and not has_ns:
        return (f"a podSelector without a namespaceSelector admits pods of {policy_ns} itself "
                "(namespace and pod selectors split into separate peers are ORed, not ANDed)")
    return "the peer does not pin both the source namespace and the source pod label of an allowed caller"


def peer_problem(peer: Mapping[str, Any], rule_ports: list[Mapping[str, Any]] | None, policy_ns: str,
                 sources: Sequence[Source]) -> str | None:
    """Why a `from` peer admits something outside `sources` (None when it matches one of them exactly)."""
    if "ipBlock" not in peer:
        for src in sources:
            pod_ok = "podSelector" in peer and all(requires(peer.get("podSelector"), k, {v})
                                                  for k, v in src.pod_labels.items())
            if pod_ok and _pins_namespace(peer, policy_ns, src):
                if _ports_within(rule_ports, src.ports):
                    return None
                return (f"admits {src.what or 'an allowed caller'} on ports other than "
                        f"{sorted(int(p) for p in src.ports or ())}")
    return _describe(peer, policy_ns)


def protected_in(namespace: str, namespace_tiers: Mapping[str, str],
                 contract: Sequence[Protected] = SR1_CONTRACT) -> list[Protected]:
    """The contract entries that live in `namespace` (by its tier label, or by the platform's fixed name)."""
    tier = namespace_tiers.get(namespace)
    return [p for p in contract if (tier == p.tier) or (tier is None and namespace == p.namespace)]


def ingress_violations(policy: Mapping[str, Any], namespace_tiers: Mapping[str, str],
                       contract: Sequence[Protected] = SR1_CONTRACT) -> list[str]:
    """Every allow rule of `policy` that lets anything but the contract's sources reach a protected pod.

    `namespace_tiers`: namespace name -> its namespace-tier label, for the namespaces rendered.
    """
    if INGRESS not in policy_types(policy):
        return []
    ns = namespace_of(policy)
    spec = policy.get("spec") or {}
    selector = spec.get("podSelector")
    targets = [p for p in protected_in(ns, namespace_tiers, contract) if may_match(selector, {labels.ROLE: p.role})]
    out: list[str] = []
    for i, rule in enumerate(spec.get("ingress") or ()):
        rule = rule or {}
        peers = list(rule.get("from") or ())
        rule_ports = _rule_ports(rule)
        for target in targets:
            who = f"{target.role} pods in {ns}"
            if not peers:
                out.append(f"ingress[{i}] has no `from`: it admits every source to {who}")
                continue
            for j, peer in enumerate(peers):
                problem = peer_problem(peer or {}, rule_ports, ns, target.sources)
                if problem:
                    allowed = ", ".join(s.what for s in target.sources)
                    out.append(f"ingress[{i}].from[{j}] reaches {who} (only {allowed} may): {problem}")
    return out
