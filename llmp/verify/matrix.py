"""Connectivity matrix for the report: who can open a connection to which platform service.

Rows are traffic sources (one representative pod per namespace and platform role, a fresh tenant
namespace, and addresses outside the cluster); columns are the platform's services by role, and Prometheus (whose API KEDA reads). Cells
come from network-config-analyzer's connectivity map over the rendered policies, not from our reading
of them. Each platform service gets two probe pods, because the analyzer reports no connection from a
pod to itself: a role's path to its own kind (Postgres replication, say) is read from one twin to the
other. A service the plan does not deploy (Redis on dev) is its own cell kind, not "denied".
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from llmplatform import labels
from llmp.verify.sr1 import FRESH_TENANT_NS, KUBE_DNS, PROMETHEUS_LABELS, _namespace_docs

PROMETHEUS = "prometheus"


def _column(pod_labels: dict[str, str]) -> str | None:
    """The destination column a pod belongs to: its role, or PROMETHEUS for the Prometheus server."""
    if all(pod_labels.get(k) == v for k, v in PROMETHEUS_LABELS.items()):
        return PROMETHEUS
    return pod_labels.get(labels.ROLE)


DESTINATIONS = (
    (labels.ROLE_MODEL_SERVER, "model servers"),
    (labels.ROLE_EPP, "endpoint picker"),
    (labels.ROLE_GATEWAY, "inference gateway"),
    (labels.ROLE_TENANT_GATEWAY, "LiteLLM"),
    (labels.ROLE_BUDGET_DB, "Postgres"),
    (labels.ROLE_BUDGET_CACHE, "Redis"),
    (PROMETHEUS, "Prometheus"),
)
"""Column key -> title; keys are platform roles, and PROMETHEUS for the chart's server pods (no role label)."""
EXTERNAL = "outside the cluster"
_LINE = re.compile(r"^(?P<src>\S+) => (?P<dst>\S+) : (?P<conn>.+)$")


@dataclass(frozen=True)
class Matrix:
    sources: list[str]
    destinations: list[str]
    cells: dict[tuple[str, str], str]
    """(source, destination) -> allowed connection text; absent = denied (or not deployed)."""
    not_deployed: frozenset[str] = frozenset()
    """Destinations with no pod in the plan: their column says nothing about the policies."""


def _representatives(objects: list[dict[str, Any]], namespaces: list[str]) -> list[dict[str, Any]]:
    reps: dict[tuple[str, str], dict[str, str]] = {}
    for obj in objects:
        if obj.get("kind") not in ("Deployment", "StatefulSet", "Job", "DaemonSet"):
            continue
        ns = obj["metadata"].get("namespace", "default")
        pod_labels = ((obj.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {}
        reps.setdefault((ns, pod_labels.get(labels.ROLE, obj["metadata"]["name"])), dict(pod_labels))
    # Platform pods that operators or Gateway API create (not in manifests), by the label contract.
    for ns, role in (("llm-gateway", labels.ROLE_GATEWAY), ("llm-tenant-gateway", labels.ROLE_BUDGET_DB)):
        reps.setdefault((ns, role), {labels.ROLE: role})
    reps[("monitoring", "prometheus")] = dict(PROMETHEUS_LABELS)
    reps[("kube-system", "kube-dns")] = dict(KUBE_DNS)
    reps[(FRESH_TENANT_NS, "tenant client")] = {}
    pods = []
    for i, ((ns, name), lbls) in enumerate(sorted(reps.items())):
        if ns not in namespaces:
            continue
        twins = ("a", "b") if _column(lbls) in dict(DESTINATIONS) else ("a",)
        for twin in twins:
            n = len(pods)
            pods.append({"apiVersion": "v1", "kind": "Pod",
                         "metadata": {"name": re.sub(r"[^a-z0-9-]", "-", f"{name}")[:50] + f"-{i}{twin}",
                                      "namespace": ns, "labels": lbls},
                         "spec": {"containers": [{"name": "c", "image": "probe"}]},
                         "status": {"podIP": f"10.200.{n // 256}.{n % 256}", "phase": "Running"}})
    return pods


def connectivity_matrix(objects: list[dict[str, Any]]) -> Matrix:
    policies = [o for o in objects if o.get("kind") == "NetworkPolicy"]
    rendered_ns = {o["metadata"]["name"]: o for o in objects if o.get("kind") == "Namespace"}
    ns_names = sorted(set(rendered_ns) | {"kube-system", FRESH_TENANT_NS})
    pods = _representatives(objects, ns_names)
    role_of = {f"{p['metadata']['namespace']}/{p['metadata']['name']}": _column(p["metadata"]["labels"])
               for p in pods}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "ns.yaml").write_text(yaml.safe_dump(
            {"apiVersion": "v1", "kind": "NamespaceList", "items": _namespace_docs(ns_names, rendered_ns)}))
        (tmp / "pods.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "PodList", "items": pods}))
        (tmp / "np.yaml").write_text(yaml.safe_dump_all(policies) if policies else "")
        args = ["--connectivity", "np.yaml"] if policies else ["--connectivity"]
        proc = subprocess.run([sys.executable, "-m", "nca", *args, "--ns_list", "ns.yaml", "--pod_list", "pods.yaml",
                               "-o", "txt_no_fw_rules"], cwd=tmp, capture_output=True, text=True, timeout=300)
    sources = sorted({f"{p['metadata']['namespace']}/{p['metadata']['name'].rsplit('-', 1)[0]}" for p in pods}) \
        + [EXTERNAL]
    cells: dict[tuple[str, str], str] = {}
    for line in proc.stdout.splitlines():
        match = _LINE.match(line.strip())
        if not match:
            continue
        dst = match["dst"].removesuffix("[Pod]")
        role = role_of.get(dst)
        if role not in dict(DESTINATIONS):
            continue
        src = match["src"].removesuffix("[Pod]")
        src = EXTERNAL if src[0].isdigit() else src.rsplit("-", 1)[0]
        cells[(src, dict(DESTINATIONS)[role])] = _short(match["conn"])
    deployed = set(role_of.values())
    return Matrix(sources=sources, destinations=[d for _, d in DESTINATIONS], cells=cells,
                  not_deployed=frozenset(label for role, label in DESTINATIONS if role not in deployed))


def _short(conn: str) -> str:
    if conn.strip() == "All connections":
        return "all"
    ports = re.findall(r"dst_ports:([0-9,\-]+)", conn)
    return ",".join(ports) if ports else conn.strip()[:12]


ALLOWED, ALL_PORTS, DENIED, NOT_DEPLOYED = "#4caf50", "#e53935", "#e0e0e0", "white"


def matrix_figure(matrix: Matrix, title: str):
    """The matrix as a matplotlib Figure, with a legend: green cells (with ports) are allowed
    connections, red ones allow every port, grey ones are denied, hatched columns are not deployed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch, Rectangle

    rows, cols = matrix.sources, matrix.destinations
    fig, ax = plt.subplots(figsize=(1.6 * len(cols) + 5.5, 0.42 * len(rows) + 1.6), dpi=110)
    for i, src in enumerate(rows):
        for j, dst in enumerate(cols):
            allowed = matrix.cells.get((src, dst))
            if dst in matrix.not_deployed:
                ax.add_patch(Rectangle((j, i), 1, 1, facecolor=NOT_DEPLOYED, edgecolor="#bdbdbd", hatch="//"))
                continue
            color = ALLOWED if allowed else DENIED
            if allowed == "all":
                color = ALL_PORTS  # unrestricted access to a platform service is worth a red flag
            ax.add_patch(Rectangle((j, i), 1, 1, facecolor=color, edgecolor="white"))
            if allowed:
                ax.text(j + 0.5, i + 0.5, allowed, ha="center", va="center", fontsize=7)
    ax.set_xlim(0, len(cols))
    ax.set_ylim(len(rows), 0)
    ax.set_xticks([j + 0.5 for j in range(len(cols))],
                  [c + ("\n(not deployed)" if c in matrix.not_deployed else "") for c in cols],
                  rotation=30, ha="right", fontsize=8)
    ax.set_yticks([i + 0.5 for i in range(len(rows))], rows, fontsize=7)
    ax.set_title(title, fontsize=10)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.legend(handles=[Patch(facecolor=ALLOWED, label="allowed (ports)"),
                       Patch(facecolor=ALL_PORTS, label="allowed, every port"),
                       Patch(facecolor=DENIED, label="denied"),
                       Patch(facecolor=NOT_DEPLOYED, edgecolor="#bdbdbd", hatch="//", label="not deployed")],
              loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def render_png(matrix: Matrix, path: Path, title: str) -> Path:
    """Write `matrix_figure` as a PNG at `path`."""
    import matplotlib.pyplot as plt

    fig = matrix_figure(matrix, title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
