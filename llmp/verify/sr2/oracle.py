"""SR2 stated independently, in plain Python, from the rule text (never from the rendered CEL)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
_GPU_EXACT = "nvidia.com/gpu"
_GPU_MIG_PREFIX = "nvidia.com/mig-"
ALWAYS_EXEMPT = frozenset({"kube-system", "kube-public", "kube-node-lease"})
NS_NAME_LABEL = "kubernetes.io/metadata.name"
NVIDIA_ENV = frozenset({"NVIDIA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES"})
"""What the NVIDIA container runtime reads to pick devices and driver capabilities (its documented variables)."""


@dataclass(frozen=True)
class GpuReach:
    """What reaches a GPU node or a GPU on the substrate, from its capabilities (not from the rendering)."""

    taint_key: str | None
    """The GPU nodes' taint key; None where GPU nodes are untainted."""
    runtime_class: str | None
    """The RuntimeClass of the NVIDIA runtime; None where pods need none."""


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


def _tolerates_gpu(toleration: Any, key: str) -> bool:
    """A toleration with no key tolerates every taint (`operator: Exists`); one naming the GPU key is a GPU
    toleration whatever its value or effect (the rule is stricter than the scheduler there)."""
    if not isinstance(toleration, Mapping):
        return False
    return not toleration.get("key") or toleration.get("key") == key


def _template_reaches_gpu(template: Mapping, reach: GpuReach) -> bool:
    spec = template.get("spec") or {}
    if reach.runtime_class and spec.get("runtimeClassName") == reach.runtime_class:
        return True
    if reach.taint_key and any(_tolerates_gpu(t, reach.taint_key) for t in spec.get("tolerations") or ()):
        return True
    for list_name in ("containers", "initContainers", "ephemeralContainers"):
        for container in spec.get(list_name) or ():
            if any(isinstance(e, Mapping) and e.get("name") in NVIDIA_ENV for e in container.get("env") or ()):
                return True
    return False


def oracle_reason(obj: Mapping, namespace: str, exempt_namespaces: frozenset[str] | set[str], *,
                  kueue_manages: bool | None = None, reach: GpuReach | None = None) -> str | None:
    """SR2 from its text: why `obj`, admitted into `namespace`, must be denied; None when it is allowed.

    - `unqueued`: the namespace is managed (not kube-system/kube-public/kube-node-lease and not in
      `exempt_namespaces`), some pod the object describes asks for `nvidia.com/gpu` or an
      `nvidia.com/mig-*` resource in any container list (requests or limits, any quantity), and the
      queue label (non-empty) is missing from the object's labels, from a CronJob's job template
      labels, or from any of its pod templates' labels.
    - `outside-kueue-scope`: the same GPU request, queued, but Kueue (`kueue_manages`, from Kueue's
      rendered configuration) does not act on this kind in this namespace: the label is no quota.
    - `gpu-access-without-request`: no GPU is requested, yet some pod spec uses the NVIDIA runtime
      class, tolerates the GPU taint, or sets an NVIDIA device variable in any container (`reach`).
    """
    if namespace in ALWAYS_EXEMPT or namespace in exempt_namespaces:
        return None
    templates = _pod_templates(obj)
    if not any(_template_wants_gpu(t) for t in templates):
        if reach is not None and any(_template_reaches_gpu(t, reach) for t in templates):
            return "gpu-access-without-request"
        return None
    holders = [obj.get("metadata")]
    if obj.get("kind") == "CronJob":
        holders.append(get_path(obj, "spec", "jobTemplate", "metadata"))
    holders += [t.get("metadata") for t in templates if t is not obj]
    if not all(_queued(m) for m in holders):
        return "unqueued"
    if kueue_manages is False:
        return "outside-kueue-scope"
    return None


def oracle_violation(obj: Mapping, namespace: str, exempt_namespaces: frozenset[str] | set[str], *,
                     kueue_manages: bool | None = None, reach: GpuReach | None = None) -> bool:
    """True when `obj`, admitted into `namespace`, must be denied (see `oracle_reason`)."""
    return oracle_reason(obj, namespace, exempt_namespaces, kueue_manages=kueue_manages, reach=reach) is not None
