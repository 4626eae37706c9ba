"""Proof of SR2 (GPU admission) with two real CEL engines and an independent statement of the rule.

What is proved, for a rendered Kyverno ClusterPolicy and a rendered ValidatingAdmissionPolicy +
binding (dicts, as they would be applied; nothing is taken from `llmplatform.controls.sr2`):

1. The CEL is read out of the renderings (Kyverno `validate.cel.variables/expressions` and
   `celPreconditions`, `webhookConfiguration.matchConditions`; VAP `variables`, `validations`,
   `matchConditions`). Variables are inlined into each expression (`variables.x` becomes `(x's
   text)`), which keeps Kubernetes' lazy semantics: a variable is evaluated only where it is used.
2. Each expression is compiled once and evaluated on `cel-expr-python` (Google's C++ CEL) over every
   generated shape (`generate_shapes`, >= 30,000 admission requests: kinds x pod-spec sites x
   container lists x requests/limits x resource names x label placements x namespaces x
   operations), and on `cel-python` (`celpy`) over a deterministic sample. The two engines must
   return the same value (true, false or an error) on every sampled shape.
3. The admission decision of each rendering is modelled: Kyverno kind/operation/namespace
   match and exclude blocks, `failureAction`, `allowExistingViolations`, `admission`; VAP
   `matchConstraints` (resource rules, namespace and object selectors), the binding
   (`policyName`, `matchResources`, `validationActions`) and `failurePolicy`. A field that the
   model does not understand is reported as a structural problem rather than ignored.
4. Every decision, and the CEL verdict on its own (as if the match blocks selected everything),
   is compared with `oracle_violation`, a plain-Python statement of SR2 written from the rule text.
   Namespaces named anywhere in the renderings (selector values, Kyverno namespace patterns, CEL
   string literals) that are not expected to be exempt are added as managed probe namespaces, and
   every label key/value the selectors test is planted on a managed probe namespace, so an
   exemption a namespace could grant itself, or an extra exempted name, shows up as a mismatch.
5. Extra objects (the platform's own GPU workloads) are evaluated too; any that a rendering would
   deny or report is listed, and makes the proof fail.

Engine notes: neither engine has Kubernetes' `quantity()` or library extensions, so the rendered CEL
must stay portable; an expression that does not compile on an engine is a structural problem.
"""

from __future__ import annotations

import fnmatch
import itertools
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from typing import Any

# ---- the rule, stated independently (from the SR2 text, not from the rendered CEL) ----------------

_QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
_GPU_EXACT = "nvidia.com/gpu"
_GPU_MIG_PREFIX = "nvidia.com/mig-"
_ALWAYS_EXEMPT = frozenset({"kube-system", "kube-public", "kube-node-lease"})
_NS_NAME_LABEL = "kubernetes.io/metadata.name"


def _get(obj: Any, *path: str) -> Any:
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
        tmpl = _get(obj, "spec", "template")
        return [tmpl] if isinstance(tmpl, Mapping) else []
    if kind == "CronJob":
        tmpl = _get(obj, "spec", "jobTemplate", "spec", "template")
        return [tmpl] if isinstance(tmpl, Mapping) else []
    if kind == "LeaderWorkerSet":
        lwt = _get(obj, "spec", "leaderWorkerTemplate") or {}
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
    labels = _get(meta, "labels") or {}
    return bool(labels.get(_QUEUE_LABEL))


def oracle_violation(obj: Mapping, namespace: str, exempt_namespaces: frozenset[str] | set[str]) -> bool:
    """SR2 from its text: True when `obj`, admitted into `namespace`, must be denied.

    Denied when the namespace is managed (not kube-system/kube-public/kube-node-lease and not in
    `exempt_namespaces`), some pod the object describes asks for `nvidia.com/gpu` or an
    `nvidia.com/mig-*` resource in any container list (requests or limits, any quantity), and the
    queue label (non-empty) is missing from the object's labels, from a CronJob's job template
    labels, or from any of its pod templates' labels.
    """
    if namespace in _ALWAYS_EXEMPT or namespace in exempt_namespaces:
        return False
    templates = _pod_templates(obj)
    if not any(_template_wants_gpu(t) for t in templates):
        return False
    holders = [obj.get("metadata")]
    if obj.get("kind") == "CronJob":
        holders.append(_get(obj, "spec", "jobTemplate", "metadata"))
    holders += [t.get("metadata") for t in templates if t is not obj]
    return not all(_queued(m) for m in holders)


# ---- CEL text handling --------------------------------------------------------------------------

_IDENT_CHAR = re.compile(r"[A-Za-z0-9_]")
_VAR_REF = re.compile(r"variables\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)")


def _string_end(text: str, start: int) -> int:
    """Index just past the CEL string literal whose opening quote is at `start`."""
    raw = start > 0 and text[start - 1] in "rR" and (start < 2 or not _IDENT_CHAR.match(text[start - 2]))
    quote = text[start]
    triple = text.startswith(quote * 3, start)
    delim = quote * 3 if triple else quote
    i = start + len(delim)
    while i < len(text):
        if not raw and text[i] == "\\":
            i += 2
            continue
        if text.startswith(delim, i):
            return i + len(delim)
        if not triple and text[i] == "\n":
            break
        i += 1
    return len(text)


def _segments(text: str) -> Iterator[tuple[bool, str]]:
    """Split CEL source into (is_string_literal, chunk) pieces."""
    i = last = 0
    while i < len(text):
        if text[i] in "'\"":
            if i > last:
                yield False, text[last:i]
            end = _string_end(text, i)
            yield True, text[i:end]
            i = last = end
        else:
            i += 1
    if last < len(text):
        yield False, text[last:]


def string_literals(text: str) -> list[str]:
    """The contents of the simple string literals in a CEL expression (escapes left as written)."""
    out = []
    for is_str, chunk in _segments(text):
        if is_str:
            body = chunk.lstrip("rRbB")
            q = 3 if body[:3] in ("'''", '"""') else 1
            out.append(body[q:-q] if len(body) >= 2 * q else "")
    return out


def inline_variables(variables: Sequence[tuple[str, str]], expression: str) -> str:
    """`expression` with each `variables.<name>` replaced by that variable's (inlined) text.

    A variable may read only variables declared before it, as in Kubernetes; any other reference is
    left as written and then fails to compile (`variables` is not declared to the engines).
    """
    done: dict[str, str] = {}

    def substitute(text: str) -> str:
        out = []
        for is_str, chunk in _segments(text):
            if is_str:
                out.append(chunk)
                continue

            def repl(m: re.Match) -> str:
                before = chunk[m.start() - 1] if m.start() > 0 else ""
                if before and (_IDENT_CHAR.match(before) or before == "."):
                    return m.group(0)
                name = m.group(1)
                return f"({done[name]})" if name in done else m.group(0)

            out.append(_VAR_REF.sub(repl, chunk))
        return "".join(out)

    for name, text in variables:
        done[name] = substitute(text)
    return substitute(expression)


# ---- engines ------------------------------------------------------------------------------------

ERROR = "error"
Outcome = bool | str
"""True / False, or a string starting with "error" (runtime error or non-boolean result)."""

_DECLARED = ("object", "oldObject", "namespaceObject", "request", "params")


class _CppEngine:
    """cel-expr-python: compile once (type-checked, every variable `dyn`), evaluate many.

    Loaded with the optional-types and strings extensions, which Kubernetes' CEL environment also
    has, so an expression using them compiles here and is then caught by cel-python (portability).
    """

    name = "cel-expr-python"

    def __init__(self) -> None:
        from cel_expr_python import cel
        from cel_expr_python.ext import ext_optional, ext_strings

        self._cel = cel
        self._env = cel.NewEnv(variables={n: cel.Type.DYN for n in _DECLARED},
                               extensions=[ext_optional.ExtOptional(), ext_strings.ExtStrings()])

    def compile(self, text: str) -> Any:
        return self._env.compile(text)

    def activation(self, data: Mapping[str, Any]) -> Any:
        return self._env.Activation(dict(data))

    def run(self, program: Any, activation: Any) -> Outcome:
        value = program.eval(activation)
        if value.type() == self._cel.Type.BOOL:
            return bool(value.value())
        if value.type() == self._cel.Type.ERROR:
            return f"{ERROR}: {value.value()}"
        return f"{ERROR}: non-boolean result of type {value.type().name()}"


class _PyEngine:
    """cel-python (`celpy`): a pure-Python interpreter; slow, so it checks a sample."""

    name = "cel-python"

    def __init__(self) -> None:
        import celpy

        self._celpy = celpy
        self._env = celpy.Environment()

    def compile(self, text: str) -> Any:
        return self._env.program(self._env.compile(text))

    def activation(self, data: Mapping[str, Any]) -> Any:
        return {k: self._celpy.json_to_cel(v) for k, v in data.items()}

    def run(self, program: Any, activation: Any) -> Outcome:
        try:
            value = program.evaluate(activation)
        except Exception as exc:  # celpy raises CELEvalError (and occasionally plain Python errors)
            return f"{ERROR}: {type(exc).__name__}: {exc}"
        if isinstance(value, Exception):
            return f"{ERROR}: {type(value).__name__}: {value}"
        if isinstance(value, bool) or type(value).__name__ == "BoolType":
            return bool(value)
        return f"{ERROR}: non-boolean result {value!r}"


# ---- admission requests (shapes) ----------------------------------------------------------------


@dataclass(frozen=True)
class ProbeNamespace:
    """A namespace a shape is admitted into; `labels` always include the API server's name label."""

    name: str
    category: str
    """"managed", "system" or "exempt" (what SR2 says it is, from the expected exemptions)."""
    labels: tuple[tuple[str, str], ...] = ()

    def label_map(self) -> dict[str, str]:
        out = dict(self.labels)
        out[_NS_NAME_LABEL] = self.name  # the API server overwrites any attempt to change it
        return out


@dataclass(frozen=True)
class KindInfo:
    group: str
    version: str
    kind: str
    resource: str


_KINDS = {
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
        if k in _KINDS:
            return _KINDS[k]
        group, _, version = str(self.obj.get("apiVersion", "")).rpartition("/")
        return KindInfo(group, version, k, k.lower() + "s")

    def activation_data(self) -> dict[str, Any]:
        k = self.kind
        ns = {"apiVersion": "v1", "kind": "Namespace",
              "metadata": {"name": self.namespace.name, "labels": self.namespace.label_map()}}
        request = {
            "operation": self.operation,
            "namespace": self.namespace.name,
            "name": _get(self.obj, "metadata", "name") or "",
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

    def describe(self) -> str:
        sites = ("object",) + _CARRIERS[self.carrier]
        label_text = ",".join(f"{s}={f}" for s, f in zip(sites, self.labels))
        op = self.operation + (f"/{self.subresource}" if self.subresource else "")
        return (f"{self.carrier}[gpu site {self.gpu_site}] lists={'+'.join(self.lists)}"
                f"{' crowded' if self.crowded else ''} {self.placement} {self.resource}={self.quantity!r} "
                f"labels[{label_text}] ns={self.namespace.name}({self.namespace.category}) op={op}")

    def build(self) -> Admission:
        return Admission(_build_object(self), self.namespace, self.operation, self.subresource, self.describe())


def _meta(form: str, base: dict[str, Any] | None) -> dict[str, Any] | None:
    meta: dict[str, Any] = dict(base or {})
    if form == "ok":
        meta["labels"] = {"app": "probe", _QUEUE_LABEL: "tenant-queue"}
    elif form == "absent":
        meta["labels"] = {"app": "probe"}
    elif form == "no-labels":
        if base is None:
            return None  # no metadata at all on a template
    elif form == "empty":
        meta["labels"] = {"app": "probe", _QUEUE_LABEL: ""}
    elif form == "annotation":
        meta["labels"] = {"app": "probe"}
        meta["annotations"] = {_QUEUE_LABEL: "tenant-queue"}
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


def _pod_spec(spec: ShapeSpec, probe: bool) -> dict[str, Any]:
    if not probe:
        return {"containers": [_filler("main")]}
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
    info = _KINDS[kind]
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
    spoof.pop(_NS_NAME_LABEL, None)
    out = [ProbeNamespace("default", "managed"), ProbeNamespace("team-a", "managed"),
           ProbeNamespace("tenant-spoof", "managed", tuple(sorted(spoof.items())))]
    out += [ProbeNamespace(n, "managed") for n in sorted(set(extra_managed))
            if n not in exempt and n not in _ALWAYS_EXEMPT and n not in {"default", "team-a", "tenant-spoof"}]
    out += [ProbeNamespace(n, "system") for n in sorted(_ALWAYS_EXEMPT)]
    out += [ProbeNamespace(n, "exempt") for n in sorted(exempt - _ALWAYS_EXEMPT)]
    return tuple(out)


def generate_shapes(namespaces: Sequence[ProbeNamespace]) -> list[ShapeSpec]:
    """Every shape the proof evaluates, in a fixed order.

    Grid A (pod content): every carrier and GPU site x every non-empty subset of container lists x
    bare/crowded x 5 placements x 8 resource names, each under: labels all missing (form cycling
    through absent / no labels / empty value / annotation only / look-alike key) or all present x
    {the first managed namespace, the next namespace in rotation} x CREATE/UPDATE.
    Grid B (labels): every carrier and GPU site x every label pattern (each missing form on every
    non-empty set of sites) x 6 pod contents x each namespace x CREATE/UPDATE; Pods with an
    ephemeral container are also sent through the `ephemeralcontainers` subresource.
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
    return shapes


# ---- selectors and matching ---------------------------------------------------------------------


class Unmodelled(Exception):
    """A rendered field this proof cannot model; reported, never ignored."""


def _label_selector_matches(selector: Any, labels: Mapping[str, str], where: str) -> bool:
    if selector is None:
        return True
    if not isinstance(selector, Mapping):
        raise Unmodelled(f"{where}: not a label selector: {selector!r}")
    unknown = set(selector) - {"matchLabels", "matchExpressions"}
    if unknown:
        raise Unmodelled(f"{where}: unknown selector fields {sorted(unknown)}")
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or ():
        key, op, values = expr.get("key"), expr.get("operator"), list(expr.get("values") or ())
        if op == "In":
            ok = key in labels and labels[key] in values
        elif op == "NotIn":
            ok = key not in labels or labels[key] not in values
        elif op == "Exists":
            ok = key in labels
        elif op == "DoesNotExist":
            ok = key not in labels
        else:
            raise Unmodelled(f"{where}: selector operator {op!r}")
        if not ok:
            return False
    return True


def _selector_strings(selector: Any) -> tuple[list[str], list[tuple[str, str]]]:
    """Values a selector compares (possible namespace names) and (key, value) pairs it tests."""
    names: list[str] = []
    pairs: list[tuple[str, str]] = []
    if isinstance(selector, Mapping):
        for k, v in (selector.get("matchLabels") or {}).items():
            pairs.append((k, str(v)))
            names.append(str(v))
        for expr in selector.get("matchExpressions") or ():
            for v in expr.get("values") or ():
                pairs.append((str(expr.get("key")), str(v)))
                names.append(str(v))
            if expr.get("operator") in ("Exists", "DoesNotExist"):
                pairs.append((str(expr.get("key")), "true"))
    return names, pairs


_VERSION = re.compile(r"^(v\d+((alpha|beta)\d+)?|\*)$")


def _kyverno_kind_matches(selector: str, adm: Admission) -> bool:
    """Kyverno kind selectors: Kind, version/Kind, Kind/sub, group/version/Kind[/sub], wildcards."""
    parts = selector.split("/")
    group = version = "*"
    sub = ""
    if len(parts) == 1:
        kind = parts[0]
    elif len(parts) == 2:
        if parts == ["*", "*"]:
            return True
        if _VERSION.match(parts[0]):
            version, kind = parts
        else:
            kind, sub = parts
    elif len(parts) == 3:
        if _VERSION.match(parts[0]):
            version, kind, sub = parts
        else:
            group, version, kind = parts
    elif len(parts) == 4:
        group, version, kind, sub = parts
    else:
        return False
    k = adm.kind
    return (fnmatch.fnmatchcase(k.group, group) and fnmatch.fnmatchcase(k.version, version)
            and fnmatch.fnmatchcase(k.kind, kind) and fnmatch.fnmatchcase(adm.subresource, sub or ""))


_KYVERNO_RESOURCE_KEYS = {"kinds", "operations", "namespaces", "namespaceSelector", "names", "name", "selector",
                          "annotations"}


def _kyverno_filter_matches(flt: Mapping, adm: Admission, where: str) -> bool:
    unknown = set(flt) - {"resources"}
    if unknown:
        raise Unmodelled(f"{where}: match by {sorted(unknown)} (users/roles) is not modelled")
    res = flt.get("resources") or {}
    unknown = set(res) - _KYVERNO_RESOURCE_KEYS
    if unknown:
        raise Unmodelled(f"{where}.resources: unknown fields {sorted(unknown)}")
    if "kinds" in res and not any(_kyverno_kind_matches(k, adm) for k in res["kinds"]):
        return False
    if "operations" in res and adm.operation not in res["operations"]:
        return False
    if "namespaces" in res and not any(fnmatch.fnmatchcase(adm.namespace.name, p) for p in res["namespaces"]):
        return False
    if "namespaceSelector" in res and not _label_selector_matches(
            res["namespaceSelector"], adm.namespace.label_map(), f"{where}.namespaceSelector"):
        return False
    obj_name = _get(adm.obj, "metadata", "name") or ""
    names = list(res.get("names") or ()) + ([res["name"]] if "name" in res else [])
    if names and not any(fnmatch.fnmatchcase(obj_name, p) for p in names):
        return False
    if "selector" in res and not _label_selector_matches(
            res["selector"], _get(adm.obj, "metadata", "labels") or {}, f"{where}.selector"):
        return False
    if "annotations" in res:
        ann = _get(adm.obj, "metadata", "annotations") or {}
        if not all(any(fnmatch.fnmatchcase(k, pk) and fnmatch.fnmatchcase(str(v), pv) for k, v in ann.items())
                   for pk, pv in res["annotations"].items()):
            return False
    return True


def _kyverno_block_matches(block: Any, adm: Admission, where: str, *, empty: bool) -> bool:
    if not block:
        return empty
    unknown = set(block) - {"any", "all", "resources"}
    if unknown:
        raise Unmodelled(f"{where}: match by {sorted(unknown)} is not modelled")
    results = []
    if "resources" in block:
        results.append(_kyverno_filter_matches({"resources": block["resources"]}, adm, where))
    if "any" in block:
        results.append(any(_kyverno_filter_matches(f, adm, f"{where}.any[{i}]") for i, f in enumerate(block["any"])))
    if "all" in block:
        results.append(all(_kyverno_filter_matches(f, adm, f"{where}.all[{i}]") for i, f in enumerate(block["all"])))
    return all(results)


def _vap_resource_matches(entry: str, resource: str, sub: str) -> bool:
    res, slash, s = entry.partition("/")
    if res not in ("*", resource):
        return False
    if not slash:
        return sub == ""
    return s in ("*", sub)


def _vap_rules_match(rules: Any, adm: Admission, where: str) -> bool:
    k = adm.kind
    for i, rule in enumerate(rules or ()):
        unknown = set(rule) - {"apiGroups", "apiVersions", "resources", "operations", "scope", "resourceNames"}
        if unknown:
            raise Unmodelled(f"{where}[{i}]: unknown fields {sorted(unknown)}")
        if not any(g in ("*", k.group) for g in rule.get("apiGroups") or ()):
            continue
        if not any(v in ("*", k.version) for v in rule.get("apiVersions") or ()):
            continue
        if not any(o in ("*", adm.operation) for o in rule.get("operations") or ()):
            continue
        if not any(_vap_resource_matches(r, k.resource, adm.subresource) for r in rule.get("resources") or ()):
            continue
        if rule.get("scope", "*") not in ("*", "Namespaced"):
            continue
        names = rule.get("resourceNames") or ()
        if names and (_get(adm.obj, "metadata", "name") or "") not in names:
            continue
        return True
    return False


def _vap_match_resources(mr: Any, adm: Admission, where: str, *, required_rules: bool) -> bool:
    if mr is None:
        return not required_rules
    unknown = set(mr) - {"resourceRules", "excludeResourceRules", "namespaceSelector", "objectSelector",
                         "matchPolicy"}
    if unknown:
        raise Unmodelled(f"{where}: unknown fields {sorted(unknown)}")
    if mr.get("matchPolicy", "Equivalent") not in ("Equivalent", "Exact"):
        raise Unmodelled(f"{where}.matchPolicy {mr.get('matchPolicy')!r}")
    if ("resourceRules" in mr or required_rules) and not _vap_rules_match(mr.get("resourceRules"), adm,
                                                                          f"{where}.resourceRules"):
        return False
    if _vap_rules_match(mr.get("excludeResourceRules"), adm, f"{where}.excludeResourceRules"):
        return False
    if not _label_selector_matches(mr.get("namespaceSelector"), adm.namespace.label_map(),
                                   f"{where}.namespaceSelector"):
        return False
    return _label_selector_matches(mr.get("objectSelector"), _get(adm.obj, "metadata", "labels") or {},
                                   f"{where}.objectSelector")


# ---- renderings as decision models --------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """What a rendering does with one request."""

    flagged: bool
    """A violation is recorded (denied, audited or reported)."""
    blocked: bool
    """The request is rejected."""
    errors: tuple[str, ...] = ()


Runner = Callable[[str], Outcome]
"""Evaluates one (inlined) CEL text against the current request."""


class _Rendering:
    label = ""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.texts: list[str] = []
        """Every inlined CEL text this rendering evaluates."""
        self.validation_texts: list[str] = []
        """The texts that decide pass/fail (used for the CEL-alone verdict)."""

    def _add(self, text: str, *, validation: bool) -> str:
        if text not in self.texts:
            self.texts.append(text)
        if validation and text not in self.validation_texts:
            self.validation_texts.append(text)
        return text

    def decide(self, adm: Admission, run: Runner) -> Decision:
        raise NotImplementedError

    def namespace_hints(self) -> tuple[list[str], list[tuple[str, str]]]:
        raise NotImplementedError


def _check_keys(node: Any, allowed: set[str], where: str, problems: list[str]) -> Mapping:
    if not isinstance(node, Mapping):
        problems.append(f"{where}: expected an object, got {type(node).__name__}")
        return {}
    unknown = set(node) - allowed
    if unknown:
        problems.append(f"{where}: fields {sorted(unknown)} are not modelled by the SR2 proof")
    return node


def _cel_pass(texts: Sequence[str], run: Runner) -> tuple[bool | None, list[str]]:
    """(all true?, errors); None when an expression errored and none was false."""
    errors: list[str] = []
    verdict: bool | None = True
    for text in texts:
        out = run(text)
        if out is False:
            return False, errors
        if out is not True:
            errors.append(str(out))
            verdict = None
    return verdict, errors


class KyvernoRendering(_Rendering):
    """A Kyverno ClusterPolicy's validate.cel rules, as Kyverno would apply them at admission."""

    label = "kyverno"

    def __init__(self, policy: Mapping[str, Any]) -> None:
        super().__init__()
        p = self.problems
        if policy.get("apiVersion") != "kyverno.io/v1" or policy.get("kind") != "ClusterPolicy":
            p.append(f"kyverno: expected kyverno.io/v1 ClusterPolicy, got {policy.get('apiVersion')} "
                     f"{policy.get('kind')}")
        spec = _check_keys(policy.get("spec", {}), {"admission", "background", "rules", "webhookConfiguration",
                                                    "validationFailureAction", "failurePolicy", "applyRules",
                                                    "emitWarning", "webhookTimeoutSeconds"},
                           "kyverno spec", p)
        self.admission = spec.get("admission", True) is not False
        if not self.admission:
            p.append("kyverno spec.admission is false: the policy never runs at admission")
        if spec.get("background", True) is False:
            p.append("kyverno spec.background is false: workloads that predate the policy are never reported")
        wh = _check_keys(spec.get("webhookConfiguration", {}), {"failurePolicy", "timeoutSeconds", "matchConditions"},
                         "kyverno spec.webhookConfiguration", p)
        failure_policy = wh.get("failurePolicy", spec.get("failurePolicy", "Fail"))
        self.fail_closed = failure_policy == "Fail"
        if not self.fail_closed:
            p.append(f"kyverno failurePolicy is {failure_policy!r}: errors and timeouts admit the request")
        self.match_conditions = [self._add(inline_variables((), c.get("expression", "")), validation=False)
                                 for c in wh.get("matchConditions") or ()]
        self.apply_one = spec.get("applyRules", "All") == "One"
        self.default_action = spec.get("validationFailureAction", "Audit")
        self.rules: list[dict[str, Any]] = []
        for i, rule in enumerate(spec.get("rules") or ()):
            where = f"kyverno rules[{i}] ({rule.get('name')})"
            _check_keys(rule, {"name", "match", "exclude", "validate", "celPreconditions", "skipBackgroundRequests",
                               "reportProperties"}, where, p)
            validate = _check_keys(rule.get("validate", {}), {"failureAction", "allowExistingViolations", "cel",
                                                              "message"}, f"{where}.validate", p)
            cel = _check_keys(validate.get("cel", {}), {"expressions", "variables"}, f"{where}.validate.cel", p)
            if not cel.get("expressions"):
                p.append(f"{where}: no validate.cel.expressions")
            variables = [(v.get("name", ""), v.get("expression", "")) for v in cel.get("variables") or ()]
            exprs = [self._add(inline_variables(variables, e.get("expression", "")), validation=True)
                     for e in cel.get("expressions") or ()]
            pre = [self._add(inline_variables(variables, c.get("expression", "")), validation=False)
                   for c in rule.get("celPreconditions") or ()]
            self.rules.append({
                "where": where, "match": rule.get("match"), "exclude": rule.get("exclude"), "exprs": exprs,
                "pre": pre, "action": validate.get("failureAction", self.default_action),
                "allow_existing": validate.get("allowExistingViolations", True) is not False,
            })
        if not self.rules:
            p.append("kyverno: no rules")

    def namespace_hints(self) -> tuple[list[str], list[tuple[str, str]]]:
        names: list[str] = []
        pairs: list[tuple[str, str]] = []
        for rule in self.rules:
            for block in (rule["match"], rule["exclude"]):
                for flt in _filters(block):
                    res = flt.get("resources") or {}
                    for pattern in res.get("namespaces") or ():
                        names.append(pattern)
                        names.append(pattern.replace("*", "x").replace("?", "x"))
                    n, pr = _selector_strings(res.get("namespaceSelector"))
                    names += n
                    pairs += pr
        return names, pairs

    def decide(self, adm: Admission, run: Runner) -> Decision:
        if not self.admission:
            return Decision(False, False)
        errors: list[str] = []
        if self.match_conditions:
            ok, errs = _cel_pass(self.match_conditions, run)
            errors += errs
            if ok is False or (ok is None and not self.fail_closed):
                return Decision(False, False, tuple(errors))
            if ok is None:  # the API server rejects when a match condition errors under failurePolicy Fail
                return Decision(True, True, tuple(errors))
        flagged = blocked = False
        for rule in self.rules:
            try:
                matched = (_kyverno_block_matches(rule["match"], adm, rule["where"] + ".match", empty=False)
                           and not _kyverno_block_matches(rule["exclude"], adm, rule["where"] + ".exclude",
                                                          empty=False))
            except Unmodelled as exc:
                _note(self.problems, str(exc))
                matched = False
            if not matched:
                continue
            ok, errs = _cel_pass(rule["pre"], run)
            errors += errs
            if ok is False:
                continue
            verdict, errs = _cel_pass(rule["exprs"], run) if ok else (None, [])
            errors += errs
            if verdict is True:
                if self.apply_one:
                    break
                continue
            # verdict False, or an error (Kyverno reports rule errors; Enforce then blocks them)
            flagged = True
            existing = adm.operation == "UPDATE"  # the old object is the same shape, so it violated too
            if rule["action"] == "Enforce" and not (existing and rule["allow_existing"]):
                blocked = True
            if self.apply_one:
                break
        return Decision(flagged, blocked, tuple(errors))


def _filters(block: Any) -> list[Mapping]:
    if not isinstance(block, Mapping):
        return []
    out = list(block.get("any") or ()) + list(block.get("all") or ())
    if "resources" in block:
        out.append({"resources": block["resources"]})
    return out


def _note(problems: list[str], text: str) -> None:
    if text not in problems:
        problems.append(text)


class VapRendering(_Rendering):
    """A ValidatingAdmissionPolicy and its binding, as the API server would apply them."""

    label = "vap"

    def __init__(self, policy: Mapping[str, Any], binding: Mapping[str, Any]) -> None:
        super().__init__()
        p = self.problems
        for obj, kind in ((policy, "ValidatingAdmissionPolicy"), (binding, "ValidatingAdmissionPolicyBinding")):
            if obj.get("apiVersion") != "admissionregistration.k8s.io/v1" or obj.get("kind") != kind:
                p.append(f"vap: expected admissionregistration.k8s.io/v1 {kind}, got {obj.get('apiVersion')} "
                         f"{obj.get('kind')}")
        spec = _check_keys(policy.get("spec", {}), {"failurePolicy", "matchConstraints", "variables", "validations",
                                                    "matchConditions", "auditAnnotations"}, "vap spec", p)
        self.fail_closed = spec.get("failurePolicy", "Fail") == "Fail"
        if not self.fail_closed:
            p.append(f"vap failurePolicy is {spec.get('failurePolicy')!r}: expression errors admit the request")
        self.match = spec.get("matchConstraints")
        if not self.match:
            p.append("vap spec.matchConstraints is missing (the API server requires it)")
        variables = [(v.get("name", ""), v.get("expression", "")) for v in spec.get("variables") or ()]
        self.exprs = [self._add(inline_variables(variables, v.get("expression", "")), validation=True)
                      for v in spec.get("validations") or ()]
        if not self.exprs:
            p.append("vap: no spec.validations")
        self.conditions = [self._add(inline_variables(variables, c.get("expression", "")), validation=False)
                           for c in spec.get("matchConditions") or ()]
        bspec = _check_keys(binding.get("spec", {}), {"policyName", "validationActions", "matchResources"},
                            "vap binding spec", p)
        self.bound = bspec.get("policyName") == _get(policy, "metadata", "name")
        if not self.bound:
            p.append(f"vap binding policyName {bspec.get('policyName')!r} does not name the policy "
                     f"{_get(policy, 'metadata', 'name')!r}: the policy is never applied")
        self.actions = tuple(bspec.get("validationActions") or ())
        if not self.actions:
            p.append("vap binding has no validationActions")
        self.binding_match = bspec.get("matchResources")

    def namespace_hints(self) -> tuple[list[str], list[tuple[str, str]]]:
        names: list[str] = []
        pairs: list[tuple[str, str]] = []
        for mr in (self.match, self.binding_match):
            if isinstance(mr, Mapping):
                for key in ("namespaceSelector", "objectSelector"):
                    n, pr = _selector_strings(mr.get(key))
                    names += n
                    pairs += pr
        return names, pairs

    def decide(self, adm: Admission, run: Runner) -> Decision:
        if not self.bound:
            return Decision(False, False)
        try:
            if not _vap_match_resources(self.match, adm, "vap matchConstraints", required_rules=True):
                return Decision(False, False)
            if not _vap_match_resources(self.binding_match, adm, "vap binding matchResources", required_rules=False):
                return Decision(False, False)
        except Unmodelled as exc:
            _note(self.problems, str(exc))
            return Decision(False, False)
        errors: list[str] = []
        ok, errs = _cel_pass(self.conditions, run)
        errors += errs
        if ok is False or (ok is None and not self.fail_closed):
            return Decision(False, False, tuple(errors))
        verdict, errs = _cel_pass(self.exprs, run) if ok else (None, [])
        errors += errs
        if verdict is True or (verdict is None and not self.fail_closed):
            return Decision(False, False, tuple(errors))
        return Decision(True, "Deny" in self.actions, tuple(errors))


# ---- the proof ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mismatch:
    """One kind of disagreement, with how often it happened and the first example."""

    rendering: str
    """"kyverno", "vap", or "engines" (cel-expr-python vs cel-python)."""
    engine: str
    problem: str
    """missed-violation, false-denial, not-blocked, blocked-in-audit, cel-alone-missed,
    cel-alone-false-denial, cel-error, engine-disagreement."""
    count: int
    example: str
    """The first shape that showed it (`ShapeSpec.describe`)."""
    example_object: Mapping[str, Any]
    detail: str = ""


@dataclass(frozen=True)
class ExtraVerdict:
    """How the renderings treat one of the platform's own objects."""

    kind: str
    name: str
    namespace: str
    oracle_violation: bool
    flagged_by: tuple[str, ...]
    """Renderings that deny or report it."""
    blocked_by: tuple[str, ...]


@dataclass(frozen=True)
class Sr2Proof:
    """The result of `prove_sr2`. `ok` is the verdict; the rest explains it."""

    shapes: int
    """Admission requests evaluated on cel-expr-python (every generated shape)."""
    violating_shapes: int
    """Of those, how many SR2 (the independent statement) denies: the proof is not vacuous."""
    cel_python_shapes: int
    """Of those, how many were also evaluated on cel-python."""
    evaluations: int
    """CEL evaluations on cel-expr-python (each distinct inlined text, once per shape)."""
    cel_python_evaluations: int
    mismatches: tuple[Mismatch, ...]
    structural_problems: tuple[str, ...]
    extras: tuple[ExtraVerdict, ...]
    engine_versions: Mapping[str, str]
    namespaces: tuple[str, ...]
    """Probe namespaces, as name(category)."""
    enforce: bool
    seconds: float
    """Wall time of the whole proof, in seconds."""
    evals_per_second: float
    """cel-expr-python evaluations per second of time spent inside the engine (activation + eval)."""
    cel_python_evals_per_second: float
    texts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """The inlined CEL texts evaluated, per rendering."""

    @property
    def extras_flagged(self) -> tuple[ExtraVerdict, ...]:
        return tuple(e for e in self.extras if e.flagged_by)

    @property
    def ok(self) -> bool:
        """True when there are no mismatches, no structural problems and no platform object is denied."""
        return not self.mismatches and not self.structural_problems and not self.extras_flagged

    def summary(self) -> str:
        lines = [f"SR2 proof: {'PASS' if self.ok else 'FAIL'} ({'enforce' if self.enforce else 'audit'}); "
                 f"{self.shapes} shapes ({self.violating_shapes} violating), {self.evaluations} evaluations "
                 f"on cel-expr-python ({self.evals_per_second:,.0f}/s), {self.cel_python_shapes} shapes / "
                 f"{self.cel_python_evaluations} evaluations on cel-python "
                 f"({self.cel_python_evals_per_second:,.0f}/s), "
                 f"{self.seconds:.1f} s; engines {dict(self.engine_versions)}"]
        lines += [f"  structural: {p}" for p in self.structural_problems]
        lines += [f"  {m.rendering}/{m.engine}: {m.problem} x{m.count}, e.g. {m.example}"
                  + (f" ({m.detail})" if m.detail else "") for m in self.mismatches]
        lines += [f"  platform object {e.kind}/{e.namespace}/{e.name}: flagged by {', '.join(e.flagged_by)}"
                  + (f", blocked by {', '.join(e.blocked_by)}" if e.blocked_by else "") for e in self.extras_flagged]
        return "\n".join(lines)


class _Tally:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str, str], list[Any]] = {}

    def add(self, rendering: str, engine: str, problem: str, adm: Admission, detail: str = "") -> None:
        key = (rendering, engine, problem)
        if key in self.items:
            self.items[key][0] += 1
        else:
            self.items[key] = [1, adm.description, adm.obj, detail]

    def mismatches(self) -> tuple[Mismatch, ...]:
        return tuple(Mismatch(r, e, p, c, ex, obj, d) for (r, e, p), (c, ex, obj, d) in self.items.items())


def _engine_version(dist: str) -> str:
    try:
        return importlib_metadata.version(dist)
    except importlib_metadata.PackageNotFoundError:  # pragma: no cover - installed with the project
        return "not installed"


def prove_sr2(
    cluster_policy: Mapping[str, Any],
    vap_policy: Mapping[str, Any],
    vap_binding: Mapping[str, Any],
    *,
    enforce: bool,
    exempt_namespaces: Sequence[str],
    extra_objects: Sequence[Mapping[str, Any]] = (),
    cel_python_sample: int | None = 2000,
    stride: int = 1,
    seed: int = 2,
) -> Sr2Proof:
    """Prove SR2 for the given renderings.

    `enforce`: the expected mode (multi-team/untrusted True, trusted False); a rendering that blocks
    in audit mode or only reports in enforce mode fails. `exempt_namespaces`: what the caller meant
    to exempt besides the system namespaces. `extra_objects`: the platform's own rendered objects;
    each one SR2 covers is evaluated on CREATE in its `metadata.namespace` (default `default`).
    `cel_python_sample`: how many shapes (chosen with `seed`, deterministic) are also evaluated on
    cel-python; None means all (about 1-2 ms a shape). `stride`: evaluate every n-th shape only
    (1 = all; for quick checks).
    """
    t_start = time.perf_counter()
    exempt = frozenset(exempt_namespaces)
    renderings: list[_Rendering] = [KyvernoRendering(cluster_policy), VapRendering(vap_policy, vap_binding)]
    structural: list[str] = []

    # Probe namespaces from what the renderings mention.
    names: list[str] = []
    pairs: list[tuple[str, str]] = []
    for r in renderings:
        n, pr = r.namespace_hints()
        names += n
        pairs += pr
        for text in r.texts:
            names += string_literals(text)
    dns = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    extra_managed = [n for n in names if dns.match(n) and len(n) <= 63]
    namespaces = probe_namespaces(sorted(exempt), extra_managed=extra_managed, spoof_labels=pairs)

    cpp, py = _CppEngine(), _PyEngine()
    engines = {cpp.name: cpp, py.name: py}
    programs: dict[str, dict[str, Any]] = {cpp.name: {}, py.name: {}}
    for r in renderings:
        for text in r.texts:
            for eng in engines.values():
                if text in programs[eng.name]:
                    continue
                try:
                    programs[eng.name][text] = eng.compile(text)
                except Exception as exc:
                    programs[eng.name][text] = None
                    structural.append(f"{r.label}: CEL does not compile on {eng.name}: "
                                      f"{str(exc).splitlines()[0][:300]} -- in: {text[:200]!r}")

    shapes = generate_shapes(namespaces)[::max(1, stride)]
    if cel_python_sample is None or cel_python_sample >= len(shapes):
        sample = set(range(len(shapes)))
    else:
        sample = set(random.Random(seed).sample(range(len(shapes)), cel_python_sample))

    tally = _Tally()
    counters = {"cpp_evals": 0, "py_evals": 0, "cpp_time": 0.0, "py_time": 0.0}

    def make_runner(eng: Any, activation: Any, cache: dict[str, Outcome], key: str) -> Runner:
        def run(text: str) -> Outcome:
            if text not in cache:
                prog = programs[eng.name].get(text)
                if prog is None:
                    cache[text] = f"{ERROR}: does not compile"
                else:
                    t0 = time.perf_counter()
                    cache[text] = eng.run(prog, activation)
                    counters[key + "_time"] += time.perf_counter() - t0
                    counters[key + "_evals"] += 1
            return cache[text]
        return run

    def judge(adm: Admission, eng_name: str, run: Runner, expected: bool) -> None:
        for r in renderings:
            d = r.decide(adm, run)
            for err in d.errors:
                tally.add(r.label, eng_name, "cel-error", adm, err[:300])
            if expected and not d.flagged:
                tally.add(r.label, eng_name, "missed-violation", adm)
            elif d.flagged and not expected:
                tally.add(r.label, eng_name, "false-denial", adm)
            elif expected and enforce and not d.blocked:
                tally.add(r.label, eng_name, "not-blocked", adm,
                          "flagged but admitted although the tier enforces SR2")
            if d.blocked and not enforce:
                tally.add(r.label, eng_name, "blocked-in-audit", adm, "blocked although the tier only audits SR2")
            # The CEL alone, as if the match blocks selected everything: defence in depth.
            verdict, errs = _cel_pass(r.validation_texts, run)
            if verdict is not None and (not verdict) != expected:
                tally.add(r.label, eng_name, "cel-alone-missed" if expected else "cel-alone-false-denial", adm)

    violating = 0
    for index, spec in enumerate(shapes):
        adm = spec.build()
        expected = oracle_violation(adm.obj, adm.namespace.name, exempt)
        violating += expected
        data = adm.activation_data()
        t0 = time.perf_counter()
        act = cpp.activation(data)
        counters["cpp_time"] += time.perf_counter() - t0
        cpp_cache: dict[str, Outcome] = {}
        judge(adm, cpp.name, make_runner(cpp, act, cpp_cache, "cpp"), expected)
        if index in sample:
            t0 = time.perf_counter()
            pact = py.activation(data)
            counters["py_time"] += time.perf_counter() - t0
            py_cache: dict[str, Outcome] = {}
            py_run = make_runner(py, pact, py_cache, "py")
            judge(adm, py.name, py_run, expected)
            for text in {t for r in renderings for t in r.texts}:
                a, b = make_runner(cpp, act, cpp_cache, "cpp")(text), py_run(text)
                same = a == b or (isinstance(a, str) and isinstance(b, str))
                if not same:
                    tally.add("engines", f"{cpp.name} vs {py.name}", "engine-disagreement", adm,
                              f"{cpp.name}={a!r} {py.name}={b!r} on {text[:120]!r}")

    extras: list[ExtraVerdict] = []
    for obj in extra_objects:
        if obj.get("kind") not in _KINDS:
            continue
        ns_name = _get(obj, "metadata", "namespace") or "default"
        category = "system" if ns_name in _ALWAYS_EXEMPT else "exempt" if ns_name in exempt else "managed"
        adm = Admission(obj, ProbeNamespace(ns_name, category), "CREATE",
                        description=f"platform object {obj.get('kind')}/{ns_name}/{_get(obj, 'metadata', 'name')}")
        act = cpp.activation(adm.activation_data())
        run = make_runner(cpp, act, {}, "cpp")
        decisions = {r.label: r.decide(adm, run) for r in renderings}
        extras.append(ExtraVerdict(
            kind=str(obj.get("kind")), name=str(_get(obj, "metadata", "name")), namespace=ns_name,
            oracle_violation=oracle_violation(obj, ns_name, exempt),
            flagged_by=tuple(k for k, d in decisions.items() if d.flagged),
            blocked_by=tuple(k for k, d in decisions.items() if d.blocked)))

    for r in renderings:
        structural += [f"{r.label}: {p}" if not p.startswith(r.label) else p for p in r.problems]
    if enforce:
        k = renderings[0]
        assert isinstance(k, KyvernoRendering)
        if any(rule["action"] != "Enforce" for rule in k.rules):
            structural.append("kyverno: a rule's failureAction is not Enforce on an enforcing tier")
        v = renderings[1]
        assert isinstance(v, VapRendering)
        if "Deny" not in v.actions:
            structural.append("vap: the binding's validationActions lack Deny on an enforcing tier")

    return Sr2Proof(
        shapes=len(shapes),
        violating_shapes=violating,
        cel_python_shapes=len(sample),
        evaluations=counters["cpp_evals"],
        cel_python_evaluations=counters["py_evals"],
        mismatches=tally.mismatches(),
        structural_problems=tuple(dict.fromkeys(structural)),
        extras=tuple(extras),
        engine_versions={"cel-expr-python": _engine_version("cel-expr-python"),
                         "cel-python": _engine_version("cel-python")},
        namespaces=tuple(f"{n.name}({n.category})" for n in namespaces),
        enforce=enforce,
        seconds=time.perf_counter() - t_start,
        evals_per_second=counters["cpp_evals"] / counters["cpp_time"] if counters["cpp_time"] else 0.0,
        cel_python_evals_per_second=counters["py_evals"] / counters["py_time"] if counters["py_time"] else 0.0,
        texts={r.label: tuple(r.texts) for r in renderings},
    )
