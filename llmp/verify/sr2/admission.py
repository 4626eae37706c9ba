"""One admission request (object, namespace, operation, subresource) and the CEL activation it makes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llmp.verify.sr2.oracle import NS_NAME_LABEL, get_path


@dataclass(frozen=True)
class ProbeNamespace:
    """A namespace a shape is admitted into; `labels` always include the API server's name label."""

    name: str
    category: str
    """"managed", "system" or "exempt" (what SR2 says it is, from the expected exemptions)."""
    labels: tuple[tuple[str, str], ...] = ()

    def label_map(self) -> dict[str, str]:
        out = dict(self.labels)
        out[NS_NAME_LABEL] = self.name  # the API server overwrites any attempt to change it
        return out


@dataclass(frozen=True)
class KindInfo:
    group: str
    version: str
    kind: str
    resource: str


KINDS = {
    "Pod": KindInfo("", "v1", "Pod", "pods"),
    "Deployment": KindInfo("apps", "v1", "Deployment", "deployments"),
    "StatefulSet": KindInfo("apps", "v1", "StatefulSet", "statefulsets"),
    "Job": KindInfo("batch", "v1", "Job", "jobs"),
    "CronJob": KindInfo("batch", "v1", "CronJob", "cronjobs"),
    "LeaderWorkerSet": KindInfo("leaderworkerset.x-k8s.io", "v1", "LeaderWorkerSet", "leaderworkersets"),
}


@dataclass(frozen=True)
class Admission:
    """One admission request: the object, its namespace, the operation and the subresource."""

    obj: Mapping[str, Any]
    namespace: ProbeNamespace
    operation: str
    subresource: str = ""
    description: str = ""

    @property
    def kind(self) -> KindInfo:
        k = self.obj.get("kind", "")
        if k in KINDS:
            return KINDS[k]
        group, _, version = str(self.obj.get("apiVersion", "")).rpartition("/")
        return KindInfo(group, version, k, k.lower() + "s")

    def activation_data(self) -> dict[str, Any]:
        k = self.kind
        ns = {"apiVersion": "v1", "kind": "Namespace",
              "metadata": {"name": self.namespace.name, "labels": self.namespace.label_map()}}
        request = {
            "operation": self.operation,
            "namespace": self.namespace.name,
            "name": get_path(self.obj, "metadata", "name") or "",
            "kind": {"group": k.group, "version": k.version, "kind": k.kind},
            "resource": {"group": k.group, "version": k.version, "resource": k.resource},
            "subResource": self.subresource,
            "userInfo": {"username": "tenant-user", "groups": ["system:authenticated"]},
        }
        return {
            "object": self.obj,
            # An UPDATE here re-submits the existing object unchanged (e.g. a scale or label-only edit).
            "oldObject": self.obj if self.operation == "UPDATE" else None,
            "namespaceObject": ns,
            "request": request,
            "params": None,
        }
