"""SR2 on rendered objects: which pod specs request a GPU, and is such a workload queued by Kueue?

The same rule the admission policies enforce (see `llmplatform.controls.sr2_gpu_admission.render` for the rule as rendered
in CEL), read here in Python over plain Kubernetes objects so that `policy/` and the components can
check what is *rendered*, before any admission controller sees it. The GPU names, container lists
and per-kind template paths come from `llmplatform.controls.sr2_gpu_admission.render`, so there is one definition.

A GPU is requested when a container in `containers`, `initContainers` or `ephemeralContainers` has a
key in `resources.requests` or `resources.limits` that is exactly `nvidia.com/gpu` or starts with
`nvidia.com/mig-`, whatever the quantity. A workload that requests one must carry a non-empty
`kueue.x-k8s.io/queue-name` label on its own metadata, on every intermediate template (CronJob's
`jobTemplate`) and on every pod template (the LeaderWorkerSet leader template only when present).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from llmplatform.predicates.admission import cel_text
from llmplatform.controls.sr2_gpu_admission.render import (
    CONTAINER_LISTS,
    GPU_RESOURCE_NAMES,
    GPU_RESOURCE_PREFIXES,
    NVIDIA_DEVICE_ENV,
    QUEUE_NAME_LABEL,
    RESOURCE_FIELDS,
    WORKLOAD_KINDS,
    WorkloadKind,
)

_EXTRA_POD_TEMPLATE_KINDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("apps", "DaemonSet"): ("spec", "template"),
    ("apps", "ReplicaSet"): ("spec", "template"),
    ("", "ReplicationController"): ("spec", "template"),
}
"""Pod-bearing kinds SR2 does not match at admission (their pods are checked when created) but whose
pod specs hygiene rules (images, env) still read."""


@dataclass(frozen=True)
class GpuRequest:
    """One GPU key found in a container: where it is, for a message a reader can act on."""

    template: str
    """Dotted path of the pod spec inside the object (`spec.template.spec`; `spec` for a Pod)."""
    container_list: str
    container: str
    field: str
    """`requests` or `limits`."""
    resource: str


def is_gpu_resource(name: str) -> bool:
    """True for `nvidia.com/gpu` and every `nvidia.com/mig-<profile>` name; look-alikes are not GPUs."""
    return name in GPU_RESOURCE_NAMES or any(name.startswith(p) for p in GPU_RESOURCE_PREFIXES)


def api_group(api_version: str) -> str:
    """`apps/v1` -> `apps`; `v1` (the core group) -> ``."""
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def workload_kind(obj: Mapping[str, Any]) -> WorkloadKind | None:
    """The SR2 kind `obj` is (matched on API group and kind, any version), or None."""
    group, kind = api_group(str(obj.get("apiVersion") or "")), obj.get("kind")
    return next((k for k in WORKLOAD_KINDS if k.group == group and k.kind == kind), None)


def _at(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def pod_specs(obj: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(dotted path, PodSpec) for every pod spec `obj` carries; empty for kinds that carry none."""
    kind = workload_kind(obj)
    if kind is not None:
        paths = kind.pod_spec_paths
    else:
        extra = _EXTRA_POD_TEMPLATE_KINDS.get((api_group(str(obj.get("apiVersion") or "")), str(obj.get("kind"))))
        paths = (extra + ("spec",),) if extra else ()
    out = []
    for path in paths:
        spec = _at(obj, path)
        if isinstance(spec, Mapping):
            out.append((".".join(path) or "spec", spec))
    return out


def containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(list name, container) for every container, init container and ephemeral container of a PodSpec."""
    for list_name in CONTAINER_LISTS:
        for container in spec.get(list_name) or ():
            if isinstance(container, Mapping):
                yield list_name, container


def gpu_requests(obj: Mapping[str, Any]) -> list[GpuRequest]:
    """Every GPU key in any container's requests or limits, across all of `obj`'s pod specs."""
    out = []
    for path, spec in pod_specs(obj):
        for list_name, container in containers(spec):
            resources = container.get("resources") or {}
            for field in RESOURCE_FIELDS:
                for name in (resources.get(field) or {}) if isinstance(resources, Mapping) else ():
                    if is_gpu_resource(str(name)):
                        out.append(GpuRequest(path, list_name, str(container.get("name", "?")), field, str(name)))
    return out


def _queue_label(metadata: Any) -> str:
    labels = metadata.get("labels") if isinstance(metadata, Mapping) else None
    value = labels.get(QUEUE_NAME_LABEL) if isinstance(labels, Mapping) else None
    return value if isinstance(value, str) else ""


def unqueued_metadata(obj: Mapping[str, Any]) -> list[str]:
    """Dotted paths of the metadata blocks of an SR2 kind that lack a non-empty queue label."""
    kind = workload_kind(obj)
    if kind is None:
        return []
    required: list[tuple[str, ...]] = [("metadata",)]
    required += [p + ("metadata",) for p in kind.intermediate_metadata]
    for site in kind.templates:
        if not site.path:
            continue
        if site.optional and _at(obj, site.path) is None:
            continue
        required.append(site.path + ("metadata",))
    return [".".join(p) for p in required if not _queue_label(_at(obj, p))]


def gpu_workload_violations(obj: Mapping[str, Any]) -> list[str]:
    """Why a rendered object breaks SR2 (empty when it requests no GPU or is queued everywhere it must be)."""
    requests = gpu_requests(obj)
    if not requests:
        return []
    missing = unqueued_metadata(obj)
    if not missing:
        return []
    where = ", ".join(sorted({f"{r.template}.{r.container_list}[{r.container}].resources.{r.field}"
                              f"[{r.resource}]" for r in requests}))
    return [f"{obj.get('kind')} requests a GPU ({where}) but {', '.join(missing)} lack(s) a non-empty "
            f"{QUEUE_NAME_LABEL} label: Kueue never admits it and the admission policy denies it"]


DEFAULT_GPU_TAINT_KEYS = ("nvidia.com/gpu",)
"""The taint key of GPU nodes (GKE); a toleration of it, or of every key, reaches GPU nodes."""
DEFAULT_GPU_RUNTIME_CLASSES = ("nvidia",)
"""The RuntimeClass of the NVIDIA container runtime (k3s)."""


def gpu_access_without_request(obj: Mapping[str, Any], *, taint_keys: tuple[str, ...] = DEFAULT_GPU_TAINT_KEYS,
                               runtime_classes: tuple[str, ...] = DEFAULT_GPU_RUNTIME_CLASSES) -> list[str]:
    """Why a rendered object that requests no GPU still reaches one (SR2 rule 6), or [] when it does not.

    A pod spec reaches a GPU or a GPU node through a toleration that names a GPU taint key or no key
    (`operator: Exists` tolerates everything), an NVIDIA runtime class, or `NVIDIA_VISIBLE_DEVICES` /
    `NVIDIA_DRIVER_CAPABILITIES` in any container's `env`. Objects that request a GPU are SR2's
    queue rule's business, not this one's.
    """
    if gpu_requests(obj):
        return []
    out: list[str] = []
    for path, spec in pod_specs(obj):
        if spec.get("runtimeClassName") in runtime_classes:
            out.append(f"{path}.runtimeClassName is {spec.get('runtimeClassName')!r} (the NVIDIA runtime)")
        for t in spec.get("tolerations") or ():
            if isinstance(t, Mapping) and (not t.get("key") or t.get("key") in taint_keys):
                out.append(f"{path}.tolerations tolerates {t.get('key') or 'every taint'} (GPU nodes)")
        for list_name, container in containers(spec):
            for env in container.get("env") or ():
                if isinstance(env, Mapping) and env.get("name") in NVIDIA_DEVICE_ENV:
                    out.append(f"{path}.{list_name}[{container.get('name', '?')}] sets {env.get('name')}")
    if not out:
        return []
    return [f"{obj.get('kind')} requests no GPU but reaches one: {'; '.join(out)}; request the GPU through a "
            f"Kueue queue instead (the admission policy denies it)"]


def is_sr2_rule(obj: Mapping[str, Any], gpu_names: Iterable[str], queue_label: str) -> bool:
    """An admission rule that reads a GPU resource name and the Kueue queue label."""
    text = cel_text(obj)
    return queue_label in text and any(name in text for name in gpu_names)
