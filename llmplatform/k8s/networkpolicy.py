"""Builders for `networking.k8s.io/v1` NetworkPolicy dicts: the object's shape, and nothing else.

Shared by the SR1 rendering (`llmplatform.controls.sr1_network.render`), the SR1 proof's queries
(`llmp.verify.sr1`) and test fixtures. This module knows no platform contract: no roles, no
namespaces of ours, no allowed flows. Each caller states who may reach whom on its own (the proof
from `llmplatform.labels`, never from the rendered policies), so sharing the builder shares only
how a dict is spelled, not what it allows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from llmplatform.labels import K8S_NS_NAME

API_VERSION = "networking.k8s.io/v1"
KIND = "NetworkPolicy"
ANY_IPV4 = "0.0.0.0/0"

Selector = dict[str, Any]
Peer = dict[str, Any]
Rule = dict[str, Any]


def match_labels(pairs: Mapping[str, str]) -> Selector:
    """A label selector requiring every pair of `pairs` (a copy; `{}` selects everything)."""
    return {"matchLabels": dict(pairs)}


def one_of(key: str, values: Iterable[str]) -> Selector:
    """A label selector matching objects whose `key` is one of `values` (in the order given)."""
    return {"matchExpressions": [{"key": key, "operator": "In", "values": list(values)}]}


def not_in(key: str, values: Iterable[str]) -> Selector:
    """A label selector matching objects whose `key` is absent or not one of `values` (sorted, unique)."""
    return {"matchExpressions": [{"key": key, "operator": "NotIn", "values": sorted(set(values))}]}


def namespace_is(name: str) -> Selector:
    """The namespace named `name`, by the label the API server sets on every namespace."""
    return match_labels({K8S_NS_NAME: name})


def namespace_not_in(names: Iterable[str]) -> Selector:
    """Every namespace except `names`, by the API server's name label."""
    return not_in(K8S_NS_NAME, names)


def pod_peer(namespace: str, pod_selector: Selector) -> Peer:
    """Pods matching `pod_selector` in the namespace `namespace`: both selectors in one peer (an AND)."""
    return {"namespaceSelector": namespace_is(namespace), "podSelector": pod_selector}


def namespace_peer(namespace_selector: Selector) -> Peer:
    """Every pod of the namespaces `namespace_selector` matches (`{}`: every namespace)."""
    return {"namespaceSelector": namespace_selector}


def ip_peer(cidr: str, exclude: Sequence[str] = ()) -> Peer:
    """Addresses in `cidr` except `exclude` (an `except` list only when there is something to exclude)."""
    block: dict[str, Any] = {"cidr": cidr}
    if exclude:
        block["except"] = list(exclude)
    return {"ipBlock": block}


def tcp(*numbers: int) -> list[dict[str, Any]]:
    """One TCP port entry per number."""
    return [{"protocol": "TCP", "port": n} for n in numbers]


def tcp_ranges(*ranges: tuple[int, int]) -> list[dict[str, Any]]:
    """One TCP entry per inclusive (low, high) range; `endPort` only where high differs from low."""
    out = []
    for low, high in ranges:
        entry: dict[str, Any] = {"protocol": "TCP", "port": low}
        if high != low:
            entry["endPort"] = high
        out.append(entry)
    return out


def allow_from(peers: list[Peer], port_list: list[dict[str, Any]] | None = None) -> Rule:
    """An ingress rule; no `ports` key when `port_list` is empty or None (every port)."""
    return _rule("from", peers, port_list)


def allow_to(peers: list[Peer], port_list: list[dict[str, Any]] | None = None) -> Rule:
    """An egress rule; no `ports` key when `port_list` is empty or None (every port)."""
    return _rule("to", peers, port_list)


def _rule(direction: str, peers: list[Peer], port_list: list[dict[str, Any]] | None) -> Rule:
    out: Rule = {direction: peers}
    if port_list:
        out["ports"] = port_list
    return out


def network_policy(name: str, namespace: str, pod_selector: Selector, *,
                   ingress: list[Rule] | None = None, egress: list[Rule] | None = None,
                   labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A NetworkPolicy for the pods `pod_selector` matches in `namespace`.

    `ingress`/`egress`: None leaves the direction out of `policyTypes` (not governed); `[]` governs
    it and allows nothing (deny for the selected pods). `labels`: the object's metadata labels;
    None or empty renders no `labels` key.
    """
    spec: dict[str, Any] = {"podSelector": pod_selector, "policyTypes": []}
    if ingress is not None:
        spec["policyTypes"].append("Ingress")
        spec["ingress"] = ingress
    if egress is not None:
        spec["policyTypes"].append("Egress")
        spec["egress"] = egress
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        metadata["labels"] = dict(labels)
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": spec}
