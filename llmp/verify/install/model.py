"""What the install proof reasons over: plan.json as Pulumi's engine would order it, plus the objects the
program applies and the objects each Helm release installs.

Ordering (Pulumi's engine): a resource is created only after every resource in its recorded
`dependencies` (explicit `depends_on` and every resource whose output it reads; the SDK already expands a
component into its custom descendants) and after its provider. Nothing else orders two resources: a
child does not wait for its parent's `depends_on`, and two siblings with no dependency are created
concurrently. `waits_for(a, b)` is the transitive closure of exactly that.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from llmp.charts.render import CLUSTER_SCOPED_BUILTINS, RELEASE_TYPE
from llmp.charts.write import CHARTS_DIR, read_index
from llmplatform.k8s.selectors import selects
from llmplatform.k8s.yaml_docs import documents
from llmp.plan.render import is_manifest_type, manifest_from

K8S_NS_NAME = "kubernetes.io/metadata.name"
PREEXISTING_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
"""Namespaces every cluster has before the program runs (labelled only with their name)."""


@dataclass(frozen=True)
class PlannedObject:
    """A Kubernetes object the program applies itself, with the URN that creates it."""

    urn: str
    obj: dict[str, Any]

    @property
    def ref(self) -> str:
        meta = self.obj.get("metadata") or {}
        ns = f"{meta['namespace']}/" if meta.get("namespace") else ""
        return f"{self.obj.get('kind')} {ns}{meta.get('name')}"


@dataclass(frozen=True)
class ChartObject:
    """An object a Helm release installs."""

    release: str
    release_urn: str
    obj: dict[str, Any]

    @property
    def ref(self) -> str:
        meta = self.obj.get("metadata") or {}
        ns = f"{meta['namespace']}/" if meta.get("namespace") else ""
        return f"{self.obj.get('kind')} {ns}{meta.get('name')} (chart release {self.release})"


def group_of(obj: Mapping[str, Any]) -> str:
    return str(obj.get("apiVersion") or "").rpartition("/")[0]


def version_of(obj: Mapping[str, Any]) -> str:
    return str(obj.get("apiVersion") or "").rpartition("/")[2]


@dataclass
class InstallModel:
    plan: dict[str, Any]
    planned: list[PlannedObject]
    charts: list[ChartObject]
    releases: dict[str, str]
    """Helm release name -> URN of its `helm.v3.Release`."""
    missing_charts: list[str] = field(default_factory=list)
    duplicate_keys: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """(release, repeated key as charts.json records it) for every rendered release."""

    @classmethod
    def load(cls, build_dir: Path) -> InstallModel:
        plan = json.loads((build_dir / "plan.json").read_text())
        planned = [PlannedObject(r["urn"], manifest_from(r["type"], r["inputs"]))
                   for r in plan["resources"] if r["custom"] and is_manifest_type(r["type"])]
        index = read_index(build_dir)
        releases = {r["inputs"].get("name") or r["name"]: r["urn"]
                    for r in plan["resources"] if r["type"] == RELEASE_TYPE}
        charts: list[ChartObject] = []
        for entry in index.rendered if index else []:
            folder = build_dir / "manifests" / CHARTS_DIR / entry["release"]
            for path in sorted(folder.glob("*.yaml")):
                charts += [ChartObject(entry["release"], entry["urn"], d)
                           for d in (doc.data for doc in documents(path.read_text())) if d]
        missing = [r["release"] for r in index.missing] if index else sorted(releases)
        duplicates = [(r["release"], d) for r in (index.rendered if index else []) for d in r["duplicateKeys"]]
        return cls(plan=plan, planned=planned, charts=charts, releases=releases, missing_charts=missing,
                   duplicate_keys=duplicates)

    # ------------------------------------------------------------------ the plan as a graph

    @cached_property
    def resources(self) -> dict[str, dict[str, Any]]:
        return {r["urn"]: r for r in self.plan["resources"]}

    def direct_waits(self, urn: str) -> set[str]:
        res = self.resources.get(urn) or {}
        deps = set((res.get("options") or {}).get("dependsOn") or [])
        if res.get("provider"):
            deps.add(res["provider"])
        return deps

    @cached_property
    def _closures(self) -> dict[str, frozenset[str]]:
        return {}

    def waits_for(self, urn: str) -> frozenset[str]:
        """Every URN the engine must have created before `urn` (transitive; provider included)."""
        if urn in self._closures:
            return self._closures[urn]
        seen: set[str] = set()
        stack = list(self.direct_waits(urn))
        while stack:
            nxt = stack.pop()
            if nxt in seen:
                continue
            seen.add(nxt)
            stack.extend(self.direct_waits(nxt))
        self._closures[urn] = frozenset(seen)
        return self._closures[urn]

    def of_type(self, type_token: str) -> Iterator[dict[str, Any]]:
        return (r for r in self.plan["resources"] if r["type"] == type_token)

    @property
    def outputs(self) -> dict[str, Any]:
        return self.plan.get("outputs") or {}

    # ------------------------------------------------------------------ the cluster's objects

    @property
    def all_objects(self) -> list[dict[str, Any]]:
        return [p.obj for p in self.planned] + [c.obj for c in self.charts]

    @cached_property
    def crds(self) -> dict[tuple[str, str], dict[str, Any]]:
        """(group, kind) -> the CRD object for every CRD a chart installs."""
        out = {}
        for c in self.charts:
            if c.obj.get("kind") == "CustomResourceDefinition":
                spec = c.obj.get("spec") or {}
                out[(spec.get("group", ""), (spec.get("names") or {}).get("kind", ""))] = c.obj
        return out

    def namespaced(self, obj: Mapping[str, Any]) -> bool:
        key = (group_of(obj), str(obj.get("kind")))
        if key in CLUSTER_SCOPED_BUILTINS:
            return False
        crd = self.crds.get(key)
        return not crd or (crd.get("spec") or {}).get("scope", "Namespaced") == "Namespaced"

    @cached_property
    def namespace_labels(self) -> dict[str, dict[str, str]]:
        """Namespace -> its labels as the API server holds them (`kubernetes.io/metadata.name` added)."""
        out = {ns: {K8S_NS_NAME: ns} for ns in PREEXISTING_NAMESPACES}
        for obj in self.all_objects:
            if obj.get("kind") == "Namespace" and group_of(obj) == "":
                name = obj["metadata"]["name"]
                out[name] = {**(obj["metadata"].get("labels") or {}), K8S_NS_NAME: name}
        return out

    def labels_of_namespace(self, name: str) -> dict[str, str]:
        return self.namespace_labels.get(name, {K8S_NS_NAME: name})

    def pods_selected(self, namespace: str, selector: Mapping[str, str]) -> list[dict[str, Any]]:
        """Pod templates (of every workload in `namespace`) a Service selector selects."""
        out = []
        for obj in self.all_objects:
            meta = obj.get("metadata") or {}
            if meta.get("namespace") != namespace:
                continue
            template = pod_template(obj)
            if template is not None and selector and selects({"matchLabels": dict(selector)},
                                                            (template.get("metadata") or {}).get("labels") or {}):
                out.append(template)
        return out


def pod_template(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """The pod (template) a workload runs, or the Pod itself."""
    kind = obj.get("kind")
    if kind == "Pod":
        return dict(obj)
    spec = obj.get("spec") or {}
    if kind == "CronJob":
        return ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template")
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        return spec.get("template")
    return None
