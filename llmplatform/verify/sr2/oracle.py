"""SR2 stated independently, in plain Python, from the rule text (never from the rendered CEL)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
_GPU_EXACT = "nvidia.com/gpu"
_GPU_MIG_PREFIX = "nvidia.com/mig-"
ALWAYS_EXEMPT = frozenset({"kube-system", "kube-public", "kube-node-lease"})
NS_NAME_LABEL = "kubernetes.io/metadata.name"


def get_path(obj: Any, *path: str) -> Any:
    """The value at `path` in nested mappings; None where a step is missing or not a mapping."""
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _pod_templates(obj: Mapping) -> list[Mapping]:
    """The pod templates ({metadata, spec}) an object of a kind SR2 covers would run; [] otherwise."""
    kind = obj.get("kind")
    if kind == "Pod":
        return [obj]
    if kind in ("Deployment", "StatefulSet", "Job"):
        tmpl = get_path(obj, "spec", "template")
        return [tmpl] if isinstance(tmpl, Mapping) else []
    if kind == "CronJob":
        tmpl = get_path(obj, "spec", "jobTemplate", "spec", "template")
        return [tmpl] if isinstance(tmpl, Mapping) else []
    if kind == "LeaderWorkerSet":
        lwt = get_path(obj, "spec", "leaderWorkerTemplate") or {}
        return [t for t in (lwt.get("leaderTemplate"), lwt.get("workerTemplate")) if isinstance(t, Mapping)]
    return []


def _is_gpu(resource_name: str) -> bool:
    return resource_name == _GPU_EXACT or resource_name.startswith(_GPU_MIG_PREFIX)


def _template_wants_gpu(template: Mapping) -> bool:
    spec = template.get("spec") or {}
    for list_name in ("containers", "initContainers", "ephemeralContainers"):
        for container in spec.get(list_name) or ():
            resources = container.get("resources") or {}
            for amounts in (resources.get("requests") or {}, resources.get("limits") or {}):
                if any(_is_gpu(name) for name in amounts):
                    return True
    return False


def _queued(meta: Any) -> bool:
    labels = get_path(meta, "labels") or {}
    return bool(labels.get(QUEUE_LABEL))


def oracle_violation(obj: Mapping, namespace: str, exempt_namespaces: frozenset[str] | set[str]) -> bool:
    """SR2 from its text: True when `obj`, admitted into `namespace`, must be denied.

    Denied when the namespace is managed (not kube-system/kube-public/kube-node-lease and not in
    `exempt_namespaces`), some pod the object describes asks for `nvidia.com/gpu` or an
    `nvidia.com/mig-*` resource in any container list (requests or limits, any quantity), and the
    queue label (non-empty) is missing from the object's labels, from a CronJob's job template
    labels, or from any of its pod templates' labels.
    """
    if namespace in ALWAYS_EXEMPT or namespace in exempt_namespaces:
        return False
    templates = _pod_templates(obj)
    if not any(_template_wants_gpu(t) for t in templates):
        return False
    holders = [obj.get("metadata")]
    if obj.get("kind") == "CronJob":
        holders.append(get_path(obj, "spec", "jobTemplate", "metadata"))
    holders += [t.get("metadata") for t in templates if t is not obj]
    return not all(_queued(m) for m in holders)
