"""Workload selectors against their pod templates: what the API server checks on create.

apps/v1 validation (`ValidateDeploymentSpec`, `ValidateStatefulSetSpec`, `ValidateDaemonSetSpec`,
`ValidateReplicaSetSpec` in k8s.io/kubernetes pkg/apis/apps/validation) refuses a workload whose
`spec.selector` does not select its own `spec.template.metadata.labels` ("selector does not match
template labels"). batch/v1 Jobs with `manualSelector: true` are held to the same rule. A chart whose
values repeat a selector key in the pod labels renders exactly this (the last value wins), and the
install then fails; the schemas cannot see it, so it is checked here for every workload.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from llmplatform.k8s.selectors import mismatches
from llmp.verify.manifests import Checker, Finding, object_id

WORKLOAD_KINDS = {("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "DaemonSet"), ("apps", "ReplicaSet"),
                  ("batch", "Job")}


def selector_findings(objects: Iterable[tuple[str, Mapping[str, Any]]]) -> list[Finding]:
    """One finding per workload whose selector does not select its template; `objects` are (source, object)."""
    out: list[Finding] = []
    for source, obj in objects:
        group = str(obj.get("apiVersion") or "").rpartition("/")[0]
        if (group, obj.get("kind")) not in WORKLOAD_KINDS:
            continue
        spec = obj.get("spec") or {}
        if obj.get("kind") == "Job" and not spec.get("manualSelector"):
            continue  # the Job controller generates the selector from the template itself
        selector = spec.get("selector")
        template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if not isinstance(selector, Mapping) or not (selector.get("matchLabels") or selector.get("matchExpressions")):
            out.append(Finding(source=source, object_id=object_id(obj), path="$.spec.selector", rule="selector",
                               message="has no selector; apps/v1 requires a non-empty one", checker=Checker.MANIFEST))
            continue
        for reason in mismatches(selector, template_labels):
            out.append(Finding(source=source, object_id=object_id(obj), path="$.spec.selector", rule="selector",
                               message=f"selector does not match the pod template ({reason}); the API server "
                                       "refuses it", checker=Checker.MANIFEST))
    return out
