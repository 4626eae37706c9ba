"""The generated admission requests (shapes) and the probe namespaces they are admitted into."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llmp.verify.sr2.admission import KINDS, Admission, ProbeNamespace
from llmp.verify.sr2.oracle import ALWAYS_EXEMPT, NS_NAME_LABEL, QUEUE_LABEL, GpuReach

_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
_PLACEMENTS = ("requests", "limits", "both", "empty-resources", "no-resources")
RESOURCE_NAMES = (
    "nvidia.com/gpu", "nvidia.com/mig-1g.10gb", "nvidia.com/mig-3g.40gb",
    "cpu", "memory", "amd.com/gpu", "nvidia.com/gpushare", "nvidia.com/mig",
)
"""GPU names and decoys: other vendors, look-alikes that share a prefix but are not SR2 GPUs."""
_QUANTITIES = ("1", 1, "0", "2")
_LABEL_FORMS_MISSING = ("absent", "no-labels", "empty", "annotation", "lookalike")
_CARRIERS: dict[str, tuple[str, ...]] = {
    # carrier -> label sites below the object's own metadata
    "Pod": (),
    "Deployment": ("template",),
    "StatefulSet": ("template",),
    "Job": ("template",),
    "CronJob": ("jobTemplate", "template"),
    "LeaderWorkerSet+leader": ("leader", "worker"),
    "LeaderWorkerSet": ("worker",),
}
_GPU_SITES = {"LeaderWorkerSet+leader": ("leader", "worker", "leader+worker")}
ACCESS_FORMS = (
    "none", "runtime-gpu", "runtime-other", "toleration-gpu-key", "toleration-gpu-key-other-value",
    "toleration-wildcard", "toleration-empty-key", "toleration-other-key", "env-visible-containers",
    "env-visible-init", "env-visible-ephemeral", "env-capabilities", "env-valuefrom", "env-decoy",
)
"""Ways a pod spec can reach a GPU or a GPU node without requesting one, and decoys that do not."""
DEFAULT_REACH = GpuReach(taint_key="nvidia.com/gpu", runtime_class="nvidia")


@dataclass(frozen=True)
class ShapeSpec:
    """The dimensions of one generated shape (cheap to hold; `build` makes the request)."""

    carrier: str
    gpu_site: str
    lists: tuple[str, ...]
    crowded: bool
    placement: str
    resource: str
    quantity: Any
    labels: tuple[str, ...]
    """Label form per site: the object itself first, then `_CARRIERS[carrier]` in order."""
    namespace: ProbeNamespace
    operation: str
    subresource: str = ""
    access: str = "none"
    """One of ACCESS_FORMS, applied to the pod spec(s) at the GPU site."""
    reach: GpuReach = DEFAULT_REACH
    """The taint key and runtime class the access forms use."""

    def describe(self) -> str:
        sites = ("object",) + _CARRIERS[self.carrier]
        label_text = ",".join(f"{s}={f}" for s, f in zip(sites, self.labels))
        op = self.operation + (f"/{self.subresource}" if self.subresource else "")
        return (f"{self.carrier}[gpu site {self.gpu_site}] lists={'+'.join(self.lists)}"
                f"{' crowded' if self.crowded else ''} {self.placement} {self.resource}={self.quantity!r} "
                f"labels[{label_text}] ns={self.namespace.name}({self.namespace.category}) op={op}"
                + (f" access={self.access}" if self.access != "none" else ""))

    def build(self) -> Admission:
        return Admission(_build_object(self), self.namespace, self.operation, self.subresource, self.describe())


def _meta(form: str, base: dict[str, Any] | None) -> dict[str, Any] | None:
    meta: dict[str, Any] = dict(base or {})
    if form == "ok":
        meta["labels"] = {"app": "probe", QUEUE_LABEL: "tenant-queue"}
    elif form == "absent":
        meta["labels"] = {"app": "probe"}
    elif form == "no-labels":
        if base is None:
            return None  # no metadata at all on a template
    elif form == "empty":
        meta["labels"] = {"app": "probe", QUEUE_LABEL: ""}
    elif form == "annotation":
        meta["labels"] = {"app": "probe"}
        meta["annotations"] = {QUEUE_LABEL: "tenant-queue"}
    elif form == "lookalike":
        meta["labels"] = {"app": "probe", "kueue.x-k8s.io/queue": "tenant-queue"}
    else:  # pragma: no cover - generator bug
        raise ValueError(form)
    return meta


def _container(name: str, placement: str, resource: str, quantity: Any) -> dict[str, Any]:
    c: dict[str, Any] = {"name": name, "image": "registry.example/probe:1"}
    amounts = {resource: quantity}
    if placement == "requests":
        c["resources"] = {"requests": amounts}
    elif placement == "limits":
        c["resources"] = {"limits": amounts}
    elif placement == "both":
        c["resources"] = {"requests": dict(amounts), "limits": dict(amounts)}
    elif placement == "empty-resources":
        c["resources"] = {}
    return c


def _filler(name: str) -> dict[str, Any]:
    return {"name": name, "image": "registry.example/filler:1",
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "128Mi"}}}


def _env(name: str, value: str = "all") -> dict[str, Any]:
    return {"name": name, "value": value}


def _apply_access(out: dict[str, Any], access: str, reach: GpuReach) -> None:
    taint = reach.taint_key or "nvidia.com/gpu"
    runtime = reach.runtime_class or "nvidia"
    env_list = {"env-visible-containers": "containers", "env-visible-init": "initContainers",
                "env-visible-ephemeral": "ephemeralContainers", "env-capabilities": "containers",
                "env-valuefrom": "containers", "env-decoy": "containers"}
    if access == "runtime-gpu":
        out["runtimeClassName"] = runtime
    elif access == "runtime-other":
        out["runtimeClassName"] = "gvisor"
    elif access == "toleration-gpu-key":
        out["tolerations"] = [{"key": taint, "operator": "Exists", "effect": "NoSchedule"}]
    elif access == "toleration-gpu-key-other-value":
        out["tolerations"] = [{"key": "dedicated", "operator": "Equal", "value": "batch"},
                              {"key": taint, "operator": "Equal", "value": "other", "effect": "NoExecute"}]
    elif access == "toleration-wildcard":
        out["tolerations"] = [{"operator": "Exists"}]
    elif access == "toleration-empty-key":
        out["tolerations"] = [{"key": "", "operator": "Exists", "effect": "NoSchedule"}]
    elif access == "toleration-other-key":
        out["tolerations"] = [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]
    elif access in env_list:
        lst = env_list[access]
        if access == "env-capabilities":
            env = [_env("HOME", "/tmp"), _env("NVIDIA_DRIVER_CAPABILITIES", "compute,utility")]
        elif access == "env-valuefrom":
            env = [{"name": "NVIDIA_VISIBLE_DEVICES", "valueFrom": {"configMapKeyRef": {"name": "x", "key": "y"}}}]
        elif access == "env-decoy":
            env = [_env("NVIDIA_VISIBLE_DEVICE"), _env("CUDA_VISIBLE_DEVICES", "0"), {"name": "EMPTY"}]
        else:
            env = [_env("NVIDIA_VISIBLE_DEVICES")]
        items = out.setdefault(lst, [])
        items.append({"name": f"{lst}-env", "image": "registry.example/env:1", "env": env})
    elif access != "none":  # pragma: no cover - generator bug
        raise ValueError(access)


def _pod_spec(spec: ShapeSpec, probe: bool) -> dict[str, Any]:
    if not probe:
        return {"containers": [_filler("main")]}
    out = _probe_pod_spec(spec)
    _apply_access(out, spec.access, spec.reach)
    return out


def _probe_pod_spec(spec: ShapeSpec) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for lst in _CONTAINER_LISTS:
        chosen = lst in spec.lists
        items = [_filler(f"{lst}-filler")] if spec.crowded else []
        if chosen:
            items.append(_container(f"{lst}-probe", spec.placement, spec.resource, spec.quantity))
        if lst == "containers" and not items:
            items = [_filler("main")]  # a PodSpec always has at least one container
        if items:
            out[lst] = items
    return out


def _template(spec: ShapeSpec, form: str, probe: bool) -> dict[str, Any]:
    t: dict[str, Any] = {"spec": _pod_spec(spec, probe)}
    meta = _meta(form, None)
    if meta is not None:
        t["metadata"] = meta
    return t


def _build_object(spec: ShapeSpec) -> dict[str, Any]:
    kind = spec.carrier.split("+")[0]
    info = KINDS[kind]
    root_meta = _meta(spec.labels[0], {"name": "probe", "namespace": spec.namespace.name})
    obj: dict[str, Any] = {"apiVersion": f"{info.group}/{info.version}" if info.group else info.version,
                           "kind": kind, "metadata": root_meta}
    forms = dict(zip(_CARRIERS[spec.carrier], spec.labels[1:]))
    if kind == "Pod":
        obj["spec"] = _pod_spec(spec, True)
    elif kind in ("Deployment", "StatefulSet", "Job"):
        obj["spec"] = {"template": _template(spec, forms["template"], True)}
        if kind != "Job":
            obj["spec"]["selector"] = {"matchLabels": {"app": "probe"}}
            obj["spec"]["replicas"] = 1
        if kind == "StatefulSet":
            obj["spec"]["serviceName"] = "probe"
    elif kind == "CronJob":
        job_template: dict[str, Any] = {"spec": {"template": _template(spec, forms["template"], True)}}
        jt_meta = _meta(forms["jobTemplate"], None)
        if jt_meta is not None:
            job_template["metadata"] = jt_meta
        obj["spec"] = {"schedule": "*/5 * * * *", "jobTemplate": job_template}
    else:
        lwt: dict[str, Any] = {"size": 2}
        if "leader" in forms:
            lwt["leaderTemplate"] = _template(spec, forms["leader"], "leader" in spec.gpu_site)
        lwt["workerTemplate"] = _template(spec, forms["worker"], "worker" in spec.gpu_site)
        obj["spec"] = {"replicas": 1, "leaderWorkerTemplate": lwt}
    return obj


def _label_patterns(n_sites: int, *, full: bool) -> list[tuple[str, ...]]:
    """Label forms per site: all ok; for each missing form, every non-empty set of sites missing it
    (`full`) or only all-missing and each single site missing (not `full`)."""
    out = [("ok",) * n_sites]
    for form in _LABEL_FORMS_MISSING:
        if full:
            for mask in itertools.product((False, True), repeat=n_sites):
                if any(mask):
                    out.append(tuple(form if m else "ok" for m in mask))
        else:
            out.append((form,) * n_sites)
            if n_sites > 1:
                out += [tuple(form if j == i else "ok" for j in range(n_sites)) for i in range(n_sites)]
    return list(dict.fromkeys(out))


def probe_namespaces(exempt_namespaces: Sequence[str], *, extra_managed: Sequence[str] = (),
                     spoof_labels: Sequence[tuple[str, str]] = ()) -> tuple[ProbeNamespace, ...]:
    """Namespaces the shapes are admitted into.

    Managed: `default`, `team-a`, a namespace carrying every `spoof_labels` pair plus generic
    "exempt me" labels, and `extra_managed` (names the renderings mention but SR2 does not exempt).
    System: kube-system, kube-public, kube-node-lease. Exempt: each of `exempt_namespaces`.
    """
    exempt = set(exempt_namespaces)
    spoof = dict(spoof_labels)
    spoof.update({"llmplatform.io/gpu-exempt": "true", "kyverno.io/exclude": "true", "admission": "disabled"})
    spoof.pop(NS_NAME_LABEL, None)
    out = [ProbeNamespace("default", "managed"), ProbeNamespace("team-a", "managed"),
           ProbeNamespace("tenant-spoof", "managed", tuple(sorted(spoof.items())))]
    out += [ProbeNamespace(n, "managed") for n in sorted(set(extra_managed))
            if n not in exempt and n not in ALWAYS_EXEMPT and n not in {"default", "team-a", "tenant-spoof"}]
    out += [ProbeNamespace(n, "system") for n in sorted(ALWAYS_EXEMPT)]
    out += [ProbeNamespace(n, "exempt") for n in sorted(exempt - ALWAYS_EXEMPT)]
    return tuple(out)


def generate_shapes(namespaces: Sequence[ProbeNamespace], reach: GpuReach = DEFAULT_REACH) -> list[ShapeSpec]:
    """Every shape the proof evaluates, in a fixed order.

    Grid A (pod content): every carrier and GPU site x every non-empty subset of container lists x
    bare/crowded x 5 placements x 8 resource names, each under: labels all missing (form cycling
    through absent / no labels / empty value / annotation only / look-alike key) or all present x
    {the first managed namespace, the next namespace in rotation} x CREATE/UPDATE.
    Grid B (labels): every carrier and GPU site x every label pattern (each missing form on every
    non-empty set of sites) x 6 pod contents x each namespace x CREATE/UPDATE; Pods with an
    ephemeral container are also sent through the `ephemeralcontainers` subresource.
    Grid C (GPU access): every carrier and GPU site x every ACCESS_FORMS entry (runtime class,
    tolerations, NVIDIA variables in each container list, and decoys) x {no GPU, a GPU request} x
    labels all present / all absent x each namespace, on CREATE (and Pods through
    `ephemeralcontainers` on UPDATE when the variable sits in an ephemeral container).
    """
    subsets = [tuple(c) for r in (1, 2, 3) for c in itertools.combinations(_CONTAINER_LISTS, r)]
    carriers = [(c, s) for c in _CARRIERS for s in _GPU_SITES.get(c, ("pod",))]
    ops = ("CREATE", "UPDATE")
    managed = next(ns for ns in namespaces if ns.category == "managed")
    shapes: list[ShapeSpec] = []
    n = 0
    for carrier, site in carriers:
        n_sites = 1 + len(_CARRIERS[carrier])
        for lists, crowded, placement, resource in itertools.product(subsets, (False, True), _PLACEMENTS,
                                                                     RESOURCE_NAMES):
            for labelled, second_ns, op in itertools.product((False, True), (False, True), ops):
                form = "ok" if labelled else _LABEL_FORMS_MISSING[n % len(_LABEL_FORMS_MISSING)]
                ns = namespaces[n % len(namespaces)] if second_ns else managed
                shapes.append(ShapeSpec(carrier, site, lists, crowded, placement, resource,
                                        _QUANTITIES[n % len(_QUANTITIES)], (form,) * n_sites, ns, op))
                n += 1
    contents = [
        (("containers",), False, "requests", "nvidia.com/gpu"),
        (("initContainers",), True, "limits", "nvidia.com/mig-1g.10gb"),
        (("ephemeralContainers",), False, "both", "nvidia.com/mig-3g.40gb"),
        (("containers", "initContainers"), True, "limits", "nvidia.com/gpu"),
        (("containers",), True, "requests", "nvidia.com/gpushare"),
        (("containers",), False, "no-resources", "cpu"),
    ]
    for carrier, site in carriers:
        n_sites = 1 + len(_CARRIERS[carrier])
        for pattern, (lists, crowded, placement, resource), ns, op in itertools.product(
                _label_patterns(n_sites, full=True), contents, namespaces, ops):
            subs = [""]
            if carrier == "Pod" and op == "UPDATE" and "ephemeralContainers" in lists:
                subs.append("ephemeralcontainers")
            for sub in subs:
                shapes.append(ShapeSpec(carrier, site, lists, crowded, placement, resource,
                                        _QUANTITIES[n % len(_QUANTITIES)], pattern, ns, op, sub))
                n += 1
    for carrier, site in carriers:
        n_sites = 1 + len(_CARRIERS[carrier])
        for access, gpu, labelled, ns in itertools.product(ACCESS_FORMS, (False, True), (True, False), namespaces):
            placement, resource = ("requests", "nvidia.com/gpu") if gpu else ("no-resources", "cpu")
            form = "ok" if labelled else "absent"
            runs = [("CREATE", "")]
            if carrier == "Pod" and access == "env-visible-ephemeral":
                runs.append(("UPDATE", "ephemeralcontainers"))
            for op, sub in runs:
                shapes.append(ShapeSpec(carrier, site, ("containers",), False, placement, resource, "1",
                                        (form,) * n_sites, ns, op, sub, access, reach))
    return shapes
