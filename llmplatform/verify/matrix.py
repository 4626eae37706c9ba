"""Connectivity matrix for the report: who can open a connection to which platform service.

Rows are traffic sources (one representative pod per namespace and platform role, a fresh tenant
namespace, and addresses outside the cluster); columns are the platform's services by role. Cells
come from network-config-analyzer's connectivity map over the rendered policies, not from our reading
of them.
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
from llmplatform.verify.sr1 import FRESH_TENANT_NS, KUBE_DNS, PROMETHEUS_LABELS, _namespace_docs

DESTINATIONS = (
    (labels.ROLE_MODEL_SERVER, "model servers"),
    (labels.ROLE_EPP, "endpoint picker"),
    (labels.ROLE_GATEWAY, "inference gateway"),
    (labels.ROLE_TENANT_GATEWAY, "LiteLLM"),
    (labels.ROLE_BUDGET_DB, "Postgres"),
    (labels.ROLE_BUDGET_CACHE, "Redis"),
)
EXTERNAL = "outside the cluster"
_LINE = re.compile(r"^(?P<src>\S+) => (?P<dst>\S+) : (?P<conn>.+)$")


@dataclass(frozen=True)
class Matrix:
    sources: list[str]
    destinations: list[str]
    cells: dict[tuple[str, str], str]
    """(source, destination) -> allowed connection text; absent = denied."""


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
        pods.append({"apiVersion": "v1", "kind": "Pod",
                     "metadata": {"name": re.sub(r"[^a-z0-9-]", "-", f"{name}")[:50] + f"-{i}", "namespace": ns,
                                  "labels": lbls},
                     "spec": {"containers": [{"name": "c", "image": "probe"}]},
                     "status": {"podIP": f"10.200.{i // 256}.{i % 256}", "phase": "Running"}})
    return pods


def connectivity_matrix(objects: list[dict[str, Any]]) -> Matrix:
    policies = [o for o in objects if o.get("kind") == "NetworkPolicy"]
    rendered_ns = {o["metadata"]["name"]: o for o in objects if o.get("kind") == "Namespace"}
    ns_names = sorted(set(rendered_ns) | {"kube-system", FRESH_TENANT_NS})
    pods = _representatives(objects, ns_names)
    role_of = {f"{p['metadata']['namespace']}/{p['metadata']['name']}": p["metadata"]["labels"].get(labels.ROLE)
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
    return Matrix(sources=sources, destinations=[d for _, d in DESTINATIONS], cells=cells)


def _short(conn: str) -> str:
    if conn.strip() == "All connections":
        return "all"
    ports = re.findall(r"dst_ports:([0-9,\-]+)", conn)
    return ",".join(ports) if ports else conn.strip()[:12]


def render_png(matrix: Matrix, path: Path, title: str) -> Path:
    """A grid: green cells (with ports) are allowed connections, grey cells are denied."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, cols = matrix.sources, matrix.destinations
    fig, ax = plt.subplots(figsize=(1.6 * len(cols) + 3.5, 0.42 * len(rows) + 1.6), dpi=110)
    for i, src in enumerate(rows):
        for j, dst in enumerate(cols):
            allowed = matrix.cells.get((src, dst))
            color = "#4caf50" if allowed else "#e0e0e0"
            if allowed == "all":
                color = "#e53935"  # unrestricted access to a platform service is worth a red flag
            ax.add_patch(plt.Rectangle((j, i), 1, 1, facecolor=color, edgecolor="white"))
            if allowed:
                ax.text(j + 0.5, i + 0.5, allowed, ha="center", va="center", fontsize=7)
    ax.set_xlim(0, len(cols))
    ax.set_ylim(len(rows), 0)
    ax.set_xticks([j + 0.5 for j in range(len(cols))], cols, rotation=30, ha="right", fontsize=8)
    ax.set_yticks([i + 0.5 for i in range(len(rows))], rows, fontsize=7)
    ax.set_title(title, fontsize=10)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
