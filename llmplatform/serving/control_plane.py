"""Ports the Kubernetes control plane calls on the nodes: admission webhooks, APIServices, CRD conversion.

Read from `control_plane_ports.json`, which `python -m llmp.charts.ports --write` derives from the
pinned charts as rendered by Helm (never written by hand; a test regenerates it and compares). On GKE
with private nodes, GKE itself opens only 443 and 10250 from the control plane to the nodes; GkeCluster
opens these with one firewall rule.
"""

from __future__ import annotations

import json
from pathlib import Path

PORTS_FILE = Path(__file__).with_name("control_plane_ports.json")
GKE_OPEN_PORTS = frozenset({443, 10250})
"""Opened by GKE's own firewall rules for private nodes (the kubelet and a webhook on 443)."""


def ports_by_release() -> dict[str, tuple[int, ...]]:
    data = json.loads(PORTS_FILE.read_text())
    return {release: tuple(ports) for release, ports in data["releases"].items()}


def control_plane_ports() -> tuple[int, ...]:
    """Every port any pinned release serves to the control plane, sorted (the union over releases: a port of
    a release a stack leaves out is one more open port to the nodes' own pods, never a broken install)."""
    return tuple(sorted({p for ports in ports_by_release().values() for p in ports}))
