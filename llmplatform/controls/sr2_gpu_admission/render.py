"""SR2 (GPU admission): a GPU may only be requested by work that Kueue queues.

The rule, as rendered here
--------------------------
A request is denied (Enforce / Deny) or reported (Audit) when 1 and 2 hold and either 3 holds with 4 or 5,
or 3 does not hold and 6 does:

1. **Kind**: it CREATEs or UPDATEs a Pod (also through the `pods/ephemeralcontainers` subresource),
   a Deployment, StatefulSet, Job, CronJob or LeaderWorkerSet (`leaderworkerset.x-k8s.io/v1`).
   Workload templates are rejected at admission, not later when their controller creates pods.
2. **Namespace**: the object's namespace is managed. Every namespace is managed except
   `SYSTEM_NAMESPACES` and the caller's `exempt_namespaces` (e.g. the Kueue, Kyverno and KEDA
   controller namespaces). Exemption is by *name* only, in three places that agree: the VAP's
   `namespaceSelector` (`kubernetes.io/metadata.name NotIn [...]`; the API server always sets that
   label to the namespace's own name), the Kyverno rule's `exclude` (namespace names) and the CEL
   itself. No label a namespace owner can add exempts it.
3. **GPU**: some pod spec in the object (the Pod's `spec`; the pod template of a Deployment,
   StatefulSet or Job; `spec.jobTemplate.spec.template` of a CronJob; the leader template, when
   present, and the worker template of a LeaderWorkerSet) has a container in `containers`,
   `initContainers` or `ephemeralContainers` whose `resources.requests` or `resources.limits` has a
   key that is exactly `nvidia.com/gpu` or starts with `nvidia.com/mig-`. The key's *presence*
   counts, whatever its quantity: no engine here has Kubernetes' `quantity()`, and a `"0"` GPU
   request is treated as a request (labelling such a pod costs nothing; parsing quantities in CEL
   would be a second, weaker rule). Other vendors' devices and look-alikes (`nvidia.com/gpushare`,
   `nvidia.com/mig` without the dash) are not GPUs under this rule.
4. **Not queued**: some metadata on the path from the object to its pod templates lacks the label
   `kueue.x-k8s.io/queue-name` with a non-empty value. Checked metadata: the object's own
   `metadata` (Kueue reads the queue name from the workload object), every pod template's
   `metadata` (so the pods the controller creates carry it too), and for a CronJob also
   `spec.jobTemplate.metadata` (its labels become the labels of the Job that Kueue queues).
   Both are required, not either: a label only on the pod template leaves the workload object
   unqueued (Kueue never suspends it), a label only on the workload relies on Kueue to propagate
   it and lets the template's pods reach the pod-level rule unlabelled. Annotations, empty values
   and look-alike keys never count.
5. **Outside Kueue's scope** (when the caller passes a `KueueScope`): a GPU request is admitted only
   where Kueue acts on it: the object's kind is one whose Kueue integration is on (`KueueScope.kinds`)
   and its namespace is one of Kueue's managed namespaces (`KueueScope.namespaces`, the same list
   Kueue's `managedJobsNamespaceSelector` and its webhooks' namespace selectors are rendered from).
   A queue label that Kueue never reads is no quota: such a request is denied like an unqueued one.
6. **GPU access without a GPU request** (when the caller passes a `GpuAccess`): a pod spec that
   requests no GPU may not tolerate the GPU nodes' taint (a toleration naming its key, or naming no
   key: `operator: Exists` tolerates every taint), may not use the NVIDIA runtime class, and no
   container (any list) may set `NVIDIA_VISIBLE_DEVICES` or `NVIDIA_DRIVER_CAPABILITIES` in `env`.
   Those are the ways to reach a GPU, or a paid GPU node, without Kueue seeing a request.

Out of scope (documented, not silently covered): GPUs obtained through DRA `resourceClaims`,
pod-level `spec.resources` (the API server only accepts cpu, memory and hugepages there), other
pod-creating kinds (ReplicaSet, DaemonSet, ...; their pods are still checked at pod admission),
time-slicing with `renameByDefault` (`nvidia.com/gpu.shared`), which this platform does not use, and
NVIDIA variables set through `envFrom` or baked into an image (`ENV` in CUDA base images): the
admission request does not show them; the runtime class rule and, on Vast, the toolkit's refusal of
the variable for unprivileged containers close that path.

Trust tiers (decided by the caller): enforce on multi-team and untrusted, audit on trusted.

Both renderings share one CEL text, built once by `sr2_cel`: a Kyverno `kyverno.io/v1` ClusterPolicy
(`validate.cel`, per-rule `validate.failureAction`) and a native `admissionregistration.k8s.io/v1`
ValidatingAdmissionPolicy with its binding. The CEL is portable (`has`, `in`, `exists`, `all`,
`startsWith`; no optional types, no Kubernetes extensions) and total: absent `resources`,
`requests`, `limits`, container lists, templates, labels or metadata never raise an evaluation
error. It reads only `object`: the namespace comes from `object.metadata.namespace`, which the API
server fills from the request path before admission and which existing objects always carry, so
Kyverno background scans (no `request`) evaluate it too; a missing namespace counts as managed.
`namespaceObject` is not used: guarding it needs `namespaceObject != null`, which cel-python
evaluates to an error on a map (heterogeneous equality), so the two engines would disagree.
`llmp.verify.sr2` proves all of this with two CEL engines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from llmplatform import labels, naming
from llmplatform.controls.rendering import ControlInputs, Item, Release, Rendered

QUEUE_NAME_LABEL = labels.QUEUE_NAME
"""The Kueue label that names the LocalQueue a workload is admitted through."""
NAMESPACE_NAME_LABEL = labels.K8S_NS_NAME
"""Set by the API server on every Namespace to its own name; namespace owners cannot change it."""

GPU_RESOURCE_NAMES: tuple[str, ...] = ("nvidia.com/gpu",)
"""Extended resource names that are GPUs when matched exactly."""
GPU_RESOURCE_PREFIXES: tuple[str, ...] = ("nvidia.com/mig-",)
"""Extended resource name prefixes that are GPUs (MIG slices: `nvidia.com/mig-1g.10gb`, ...)."""

SYSTEM_NAMESPACES: tuple[str, ...] = ("kube-system", "kube-public", "kube-node-lease")
"""Always exempt. Everything else is managed unless the caller names it in `exempt_namespaces`."""

CONTAINER_LISTS: tuple[str, ...] = ("containers", "initContainers", "ephemeralContainers")
"""PodSpec fields holding containers; each is checked, any may be absent."""
RESOURCE_FIELDS: tuple[str, ...] = ("requests", "limits")
"""Container `resources` maps that are checked; a GPU key in either counts."""
OPERATIONS: tuple[str, ...] = ("CREATE", "UPDATE")
"""Admission operations the control applies to."""
NVIDIA_DEVICE_ENV: tuple[str, ...] = ("NVIDIA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES")
"""Environment variables the NVIDIA container runtime reads to inject devices and driver libraries."""

KYVERNO_RULE_NAME = "gpu-requires-kueue-queue"
ACCESS_MESSAGE = (
    "SR2: a Pod or workload that requests no GPU may not tolerate the GPU nodes' taint, use the NVIDIA runtime "
    f"class or set {' or '.join(NVIDIA_DEVICE_ENV)} (any container) in a managed namespace: request "
    "the GPU through a Kueue queue instead"
)
"""Shown when a pod reaches for a GPU or a GPU node without requesting one."""
MESSAGE = (
    f"SR2: a Pod or workload requesting {' or '.join(GPU_RESOURCE_NAMES)} or "
    f"{' or '.join(p + '*' for p in GPU_RESOURCE_PREFIXES)} (in any container, init or ephemeral container, "
    f"requests or limits) in a managed namespace must carry the label {QUEUE_NAME_LABEL} with a non-empty "
    "value on the object and on every pod template, and be of a kind Kueue manages in a namespace Kueue "
    "manages, so that Kueue queues it"
)
"""Shown to the user on denial; one line (Kyverno and the API server reject multi-line messages)."""

Path = tuple[str, ...]


@dataclass(frozen=True)
class PodTemplateSite:
    """Where an object keeps pods: an object with `metadata` and a PodSpec under `spec`."""

    path: Path
    """Field path from the object root; `()` is the object itself (a Pod)."""
    optional: bool = False
    """True when the template may be absent (LWS `leaderTemplate`: absent means the workers lead)."""


@dataclass(frozen=True)
class WorkloadKind:
    """A kind SR2 admits or denies, with where its pod specs and queue labels live."""

    group: str
    """API group; `""` for the core group."""
    version: str
    kind: str
    resource: str
    """Plural resource name, as admission rules and VAP `resourceRules` spell it."""
    templates: tuple[PodTemplateSite, ...]
    intermediate_metadata: tuple[Path, ...] = ()
    """Paths to objects between the root and the pod templates whose `metadata.labels` must also
    carry the queue label (CronJob: `spec.jobTemplate`, whose labels the created Job inherits)."""
    subresources: tuple[str, ...] = ()
    """Subresources whose requests carry the full object and are matched too."""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def pod_spec_paths(self) -> tuple[Path, ...]:
        """Paths from the object root to each PodSpec."""
        return tuple(t.path + ("spec",) for t in self.templates)

    @property
    def kyverno_kinds(self) -> tuple[str, ...]:
        """Kyverno kind selectors (`group/version/Kind[/subresource]`; `v1/Pod` for the core group)."""
        base = f"{self.api_version}/{self.kind}"
        return (base,) + tuple(f"{base}/{sub}" for sub in self.subresources)

    @property
    def vap_resources(self) -> tuple[str, ...]:
        return (self.resource,) + tuple(f"{self.resource}/{sub}" for sub in self.subresources)


POD = WorkloadKind("", "v1", "Pod", "pods", (PodTemplateSite(()),), subresources=("ephemeralcontainers",))
DEPLOYMENT = WorkloadKind("apps", "v1", "Deployment", "deployments", (PodTemplateSite(("spec", "template")),))
STATEFULSET = WorkloadKind("apps", "v1", "StatefulSet", "statefulsets", (PodTemplateSite(("spec", "template")),))
JOB = WorkloadKind("batch", "v1", "Job", "jobs", (PodTemplateSite(("spec", "template")),))
CRONJOB = WorkloadKind(
    "batch", "v1", "CronJob", "cronjobs",
    (PodTemplateSite(("spec", "jobTemplate", "spec", "template")),),
    intermediate_metadata=(("spec", "jobTemplate"),),
)
LEADERWORKERSET = WorkloadKind(
    "leaderworkerset.x-k8s.io", "v1", "LeaderWorkerSet", "leaderworkersets",
    (
        PodTemplateSite(("spec", "leaderWorkerTemplate", "leaderTemplate"), optional=True),
        PodTemplateSite(("spec", "leaderWorkerTemplate", "workerTemplate")),
    ),
)
WORKLOAD_KINDS: tuple[WorkloadKind, ...] = (POD, DEPLOYMENT, STATEFULSET, JOB, CRONJOB, LEADERWORKERSET)
"""Every kind SR2 matches, in rendering order."""

POD_SPEC_PATHS: dict[str, tuple[Path, ...]] = {k.kind: k.pod_spec_paths for k in WORKLOAD_KINDS}
"""Kind -> field paths of its PodSpecs (LWS: leader first; it may be absent)."""


@dataclass(frozen=True)
class KueueScope:
    """Where Kueue acts on a queue label: the namespaces and kinds its configuration manages."""

    namespaces: tuple[str, ...]
    """Kueue's managed namespaces (`managedJobsNamespaceSelector` `In` these names)."""
    kinds: tuple[str, ...]
    """SR2 kinds whose Kueue integration is enabled (see `kinds_for_frameworks`)."""


KUEUE_FRAMEWORK_OF: dict[str, str] = {
    "Pod": "pod", "Deployment": "deployment", "StatefulSet": "statefulset", "Job": "batch/job",
    "CronJob": "batch/job", "LeaderWorkerSet": "leaderworkerset.x-k8s.io/leaderworkerset",
}
"""SR2 kind -> the Kueue integration (`integrations.frameworks` name) that queues it; a CronJob's
Jobs are queued by the Job integration."""


def kinds_for_frameworks(frameworks: Iterable[str]) -> tuple[str, ...]:
    """The SR2 kinds Kueue queues when `frameworks` are enabled, in WORKLOAD_KINDS order."""
    on = set(frameworks)
    return tuple(k.kind for k in WORKLOAD_KINDS if KUEUE_FRAMEWORK_OF[k.kind] in on)


@dataclass(frozen=True)
class GpuAccess:
    """What gives a pod a GPU or a GPU node besides a GPU request, on this substrate."""

    taint_keys: tuple[str, ...] = ()
    """Keys of the GPU nodes' taints (GKE: `nvidia.com/gpu`); empty where GPU nodes are untainted."""
    runtime_classes: tuple[str, ...] = ()
    """RuntimeClasses that run the NVIDIA container runtime (k3s: `nvidia`)."""
    env_names: tuple[str, ...] = NVIDIA_DEVICE_ENV


@dataclass(frozen=True)
class Sr2Cel:
    """The one CEL text both renderings carry: named variables (in order) and one validation."""

    variables: tuple[tuple[str, str], ...]
    """(name, expression) pairs; later ones read earlier ones as `variables.<name>`."""
    expression: str
    """True admits, false denies (or reports, in Audit)."""
    message: str
    exempt_namespaces: tuple[str, ...]
    """Sorted: SYSTEM_NAMESPACES plus the caller's exemptions."""
    access_expression: str | None = None
    """With a `GpuAccess`: the second validation (no GPU access without a GPU request)."""
    access_message: str = ACCESS_MESSAGE

    @property
    def validations(self) -> tuple[tuple[str, str], ...]:
        """(expression, message) pairs, in order."""
        out = ((self.expression, self.message),)
        if self.access_expression is not None:
            out += ((self.access_expression, self.access_message),)
        return out




_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def exempt_namespace_list(exempt_namespaces: Iterable[str]) -> tuple[str, ...]:
    """SYSTEM_NAMESPACES plus `exempt_namespaces`, de-duplicated and sorted (a stable rendering)."""
    return tuple(sorted(set(SYSTEM_NAMESPACES) | set(exempt_namespaces)))


def _check_inputs(name: str | None, exempt_namespaces: Sequence[str], *, suffix_len: int = 0) -> None:
    """Collect every input problem and raise one ValueError (what, got, allowed)."""
    problems: list[str] = []
    if name is not None and not (len(name) + suffix_len <= 253 and _DNS_SUBDOMAIN.match(name)):
        problems.append(f"name {name!r}: must be a DNS subdomain (lowercase letters, digits, '-', '.') of at most "
                        f"{253 - suffix_len} characters")
    if isinstance(exempt_namespaces, str):
        problems.append(f"exempt_namespaces {exempt_namespaces!r}: must be a tuple of namespace names, not one string")
    else:
        for ns in exempt_namespaces:
            if not (isinstance(ns, str) and len(ns) <= 63 and _DNS_LABEL.match(ns)):
                problems.append(f"exempt namespace {ns!r}: must be a DNS label (lowercase letters, digits, '-'; "
                                "at most 63 characters)")
    if problems:
        raise ValueError("SR2 rendering inputs are invalid: " + "; ".join(problems))


# ---- CEL text ---------------------------------------------------------------------------------------


def _lit(value: str) -> str:
    """A CEL single-quoted string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _list_lit(values: Iterable[str]) -> str:
    return "[" + ", ".join(_lit(v) for v in values) + "]"


def _field(path: Path) -> str:
    return ".".join(("object",) + path)


def _present(path: Path) -> str:
    """`has(object.a) && has(object.a.b) && ...`: every field on `path` exists (so reading it cannot fail)."""
    return " && ".join(f"has({_field(path[: i + 1])})" for i in range(len(path)))


def _or_empty(path: Path, fallback: str) -> str:
    """`object.<path>` when every field on it exists, else `fallback`."""
    return f"({_present(path)} ? {_field(path)} : {fallback})"


def _pod_specs_for(kind: WorkloadKind) -> str:
    parts = []
    for site in kind.templates:
        spec = site.path + ("spec",)
        parts.append(f"({_present(spec)} ? [{_field(spec)}] : [])")
    return " + ".join(parts)


def _queue_metadata_for(kind: WorkloadKind) -> str:
    """The metadata objects that must carry the queue label; `{}` stands for absent metadata."""
    required = [("metadata",)] + [p + ("metadata",) for p in kind.intermediate_metadata]
    required += [t.path + ("metadata",) for t in kind.templates if not t.optional and t.path]
    parts = ["[" + ", ".join(_or_empty(p, "{}") for p in required) + "]"]
    for t in kind.templates:
        if t.optional:
            parts.append(f"({_present(t.path)} ? [{_or_empty(t.path + ('metadata',), '{}')}] : [])")
    return " + ".join(parts)


def _dispatch(render) -> str:
    """`object.kind == 'A' ? render(A) : object.kind in ['B', 'C'] ? render(B) : ... : []`.

    Kinds whose rendering is identical share one branch. Unmatched kinds yield `[]`: the policies'
    match blocks never send them here.
    """
    branches: list[tuple[list[str], str]] = []
    for kind in WORKLOAD_KINDS:
        text = render(kind)
        for names, existing in branches:
            if existing == text:
                names.append(kind.kind)
                break
        else:
            branches.append(([kind.kind], text))
    out = "[]"
    for names, text in reversed(branches):
        test = f"object.kind == {_lit(names[0])}" if len(names) == 1 else f"object.kind in {_list_lit(names)}"
        out = f"{test} ? {text} :\n{out}"
    return out


def _is_gpu_key(var: str) -> str:
    exact = (f"{var} == {_lit(GPU_RESOURCE_NAMES[0])}" if len(GPU_RESOURCE_NAMES) == 1
             else f"{var} in {_list_lit(GPU_RESOURCE_NAMES)}")
    prefixes = [f"{var}.startsWith({_lit(p)})" for p in GPU_RESOURCE_PREFIXES]
    return " || ".join([exact, *prefixes])


def _container_requests_gpu(c: str) -> str:
    maps = [f"(has({c}.resources.{f}) && {c}.resources.{f}.exists(r, {_is_gpu_key('r')}))" for f in RESOURCE_FIELDS]
    return f"has({c}.resources) && (" + " || ".join(maps) + ")"


def _tolerates(t: str, keys: Sequence[str]) -> str:
    """A toleration that names one of `keys`, or names no key (`operator: Exists` tolerates every taint).

    Value and effect are not compared: any toleration of the GPU key counts (stricter than the
    scheduler, and no pod without a GPU has a reason to carry one)."""
    key_test = f"{t}.key == {_lit(keys[0])}" if len(keys) == 1 else f"{t}.key in {_list_lit(keys)}"
    return f"(!has({t}.key) || {t}.key == '' || {key_test})"


def _gpu_access(access: GpuAccess, all_containers: str) -> str:
    parts = []
    if access.runtime_classes:
        parts.append(f"(has(spec.runtimeClassName) && spec.runtimeClassName in {_list_lit(access.runtime_classes)})")
    if access.taint_keys:
        parts.append(f"(has(spec.tolerations) && spec.tolerations.exists(t, {_tolerates('t', access.taint_keys)}))")
    if access.env_names:
        parts.append(f"({all_containers})\n  .exists(c, has(c.env) && c.env.exists(e, has(e.name) && "
                     f"e.name in {_list_lit(access.env_names)}))")
    body = " ||\n  ".join(parts) if parts else "false"
    return f"variables.podSpecs.exists(spec,\n  {body})"


def sr2_cel(exempt_namespaces: Sequence[str], *, kueue: KueueScope | None = None,
            gpu_access: GpuAccess | None = None) -> Sr2Cel:
    """Build the SR2 CEL text from this module's constants (the only place it is written).

    `exempt_namespaces`: namespaces exempt in addition to SYSTEM_NAMESPACES; names only.
    `kueue`: where Kueue acts; None leaves rule 5 out (the queue label alone admits).
    `gpu_access`: the substrate's GPU taint keys and NVIDIA runtime classes; None leaves rule 6 out.
    """
    _check_inputs(None, exempt_namespaces)
    exempt = exempt_namespace_list(exempt_namespaces)
    q = _lit(QUEUE_NAME_LABEL)
    all_containers = " +\n   ".join(f"(has(spec.{lst}) ? spec.{lst} : [])" for lst in CONTAINER_LISTS)
    variables: list[tuple[str, str]] = [
        ("podSpecs", _dispatch(_pod_specs_for)),
        ("requestsGpu",
         f"variables.podSpecs.exists(spec,\n  ({all_containers})\n  .exists(c, {_container_requests_gpu('c')}))"),
        ("queueMetadata", _dispatch(_queue_metadata_for)),
        ("queueLabelled", f"variables.queueMetadata.all(m, has(m.labels) && {q} in m.labels && m.labels[{q}] != '')"),
        ("namespaceName", "has(object.metadata) && has(object.metadata.namespace) ? object.metadata.namespace : ''"),
        ("managedNamespace", f"!(variables.namespaceName in {_list_lit(exempt)})"),
    ]
    admitted = "variables.queueLabelled"
    if kueue is not None:
        variables.append(("inKueueScope", f"object.kind in {_list_lit(kueue.kinds)} && "
                                          f"variables.namespaceName in {_list_lit(sorted(kueue.namespaces))}"))
        admitted = "(variables.queueLabelled && variables.inKueueScope)"
    expression = f"!variables.managedNamespace || !variables.requestsGpu || {admitted}"
    access_expression = None
    if gpu_access is not None:
        variables.append(("gpuAccess", _gpu_access(gpu_access, all_containers)))
        access_expression = "!variables.managedNamespace || variables.requestsGpu || !variables.gpuAccess"
    return Sr2Cel(variables=tuple(variables), expression=expression, message=MESSAGE, exempt_namespaces=exempt,
                  access_expression=access_expression)


# ---- renderings -------------------------------------------------------------------------------------


def _common_labels() -> dict[str, str]:
    return {labels.PART_OF: "llm-platform", labels.MANAGED_BY: "pulumi", f"{labels.PREFIX}/control": "sr2"}


def kyverno_cluster_policy(name: str, *, enforce: bool, exempt_namespaces: tuple[str, ...],
                           kueue: KueueScope | None = None, gpu_access: GpuAccess | None = None) -> dict:
    """The SR2 Kyverno `kyverno.io/v1` ClusterPolicy (validated against the Kyverno v1.19 CRD schema).

    `enforce`: True blocks violating requests (`validate.failureAction: Enforce`); False admits them
    and records a PolicyReport entry (`Audit`). The deprecated `spec.validationFailureAction` and
    `spec.failurePolicy` are not used. `allowExistingViolations: false`, so an UPDATE of a workload
    that already violated (e.g. created while the tier audited) is blocked too. `background: true`
    reports objects that predate the policy. Autogen is off: the rule already matches the
    workload kinds and reads their templates itself. Exempt namespaces are excluded by name in the
    rule's `exclude` block and again inside the CEL. `kueue` and `gpu_access`: see `sr2_cel`.
    """
    _check_inputs(name, exempt_namespaces)
    cel = sr2_cel(exempt_namespaces, kueue=kueue, gpu_access=gpu_access)
    kinds = [k for kind in WORKLOAD_KINDS for k in kind.kyverno_kinds]
    return {
        "apiVersion": "kyverno.io/v1",
        "kind": "ClusterPolicy",
        "metadata": {
            "name": name,
            "labels": _common_labels(),
            "annotations": {
                "pod-policies.kyverno.io/autogen-controllers": "none",
                "policies.kyverno.io/title": "SR2: GPU requests must be queued by Kueue",
                "policies.kyverno.io/category": "llm-platform",
                "policies.kyverno.io/severity": "high",
                "policies.kyverno.io/subject": ", ".join(k.kind for k in WORKLOAD_KINDS),
                "policies.kyverno.io/description": MESSAGE,
            },
        },
        "spec": {
            "admission": True,
            "background": True,
            "webhookConfiguration": {"failurePolicy": "Fail", "timeoutSeconds": 10},
            "rules": [
                {
                    "name": KYVERNO_RULE_NAME,
                    "match": {"any": [{"resources": {"kinds": kinds, "operations": list(OPERATIONS)}}]},
                    "exclude": {"any": [{"resources": {"namespaces": list(cel.exempt_namespaces)}}]},
                    "validate": {
                        "failureAction": "Enforce" if enforce else "Audit",
                        "allowExistingViolations": False,
                        "cel": {
                            "variables": [{"name": n, "expression": e} for n, e in cel.variables],
                            "expressions": [
                                {"expression": e, "message": m, "reason": "Forbidden"} for e, m in cel.validations
                            ],
                        },
                    },
                }
            ],
        },
    }


def binding_name(name: str) -> str:
    """The ValidatingAdmissionPolicyBinding's name for policy `name`."""
    return f"{name}-binding"


def validating_admission_policy(
    name: str, *, enforce: bool, exempt_namespaces: tuple[str, ...], kueue: KueueScope | None = None,
    gpu_access: GpuAccess | None = None,
) -> tuple[dict, dict]:
    """The SR2 native ValidatingAdmissionPolicy and its binding, `(policy, binding)`.

    `enforce`: True binds with `validationActions: [Deny]`; False with `[Audit]` (audit-log
    annotations, nothing blocked). `failurePolicy: Fail`: an expression error denies. Exempt
    namespaces are excluded by `kubernetes.io/metadata.name NotIn [...]` in `matchConstraints`
    (so the policy never runs there) and again inside the CEL. `matchPolicy: Equivalent` also
    catches requests made through another served version of a matched resource. `kueue` and
    `gpu_access`: see `sr2_cel`.
    """
    _check_inputs(name, exempt_namespaces, suffix_len=len(binding_name("")))
    cel = sr2_cel(exempt_namespaces, kueue=kueue, gpu_access=gpu_access)
    rules: dict[tuple[str, str], list[str]] = {}
    for kind in WORKLOAD_KINDS:
        rules.setdefault((kind.group, kind.version), []).extend(kind.vap_resources)
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name, "labels": _common_labels()},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "matchPolicy": "Equivalent",
                "namespaceSelector": {
                    "matchExpressions": [
                        {"key": NAMESPACE_NAME_LABEL, "operator": "NotIn", "values": list(cel.exempt_namespaces)}
                    ]
                },
                "resourceRules": [
                    {
                        "apiGroups": [group],
                        "apiVersions": [version],
                        "operations": list(OPERATIONS),
                        "resources": resources,
                        "scope": "Namespaced",
                    }
                    for (group, version), resources in rules.items()
                ],
            },
            "variables": [{"name": n, "expression": e} for n, e in cel.variables],
            "validations": [{"expression": e, "message": m, "reason": "Forbidden"} for e, m in cel.validations],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": binding_name(name), "labels": _common_labels()},
        "spec": {"policyName": name, "validationActions": ["Deny"] if enforce else ["Audit"]},
    }
    return policy, binding


# ---- what GovernancePack creates ------------------------------------------------------------------

POLICY_NAME = "llmplatform-sr2-gpu-queue"
NAMESPACE_GUARD_NAME = "llmplatform-sr2-exempt-names"


def scope(inputs: ControlInputs) -> tuple[KueueScope, GpuAccess]:
    """Where Kueue acts (the list its chart values are rendered from) and what reaches a GPU on this substrate."""
    from llmplatform.serving import charts, kueue

    tenants = [naming.tenant_namespace(t.name) for t in inputs.tenants]
    caps = inputs.capabilities
    return (KueueScope(namespaces=kueue.managed_namespaces(tenants), kinds=kinds_for_frameworks(charts.KUEUE_FRAMEWORKS)),
            GpuAccess(taint_keys=(caps.gpu_taint.key,) if caps.gpu_taint else (),
                      runtime_classes=(caps.runtime_class_name,) if caps.runtime_class_name else ()))


def objects(inputs: ControlInputs) -> list[Item]:
    """What GovernancePack creates for SR2: the native policy and binding, the exempt-name guard and, with
    `governance.kyverno`, the pinned Kyverno release and the same rule as a ClusterPolicy. Deny where the
    plan enforces SR2, Audit otherwise."""
    from llmplatform.controls.exemptions import unowned_exempt_names
    from llmplatform.controls.sr2_gpu_admission import kyverno, namespace_guard

    plan, exempt = inputs.plan, inputs.exempt_namespaces
    kueue_scope, gpu_access = scope(inputs)
    vap, binding = validating_admission_policy(POLICY_NAME, enforce=plan.sr2_enforce, exempt_namespaces=exempt,
                                               kueue=kueue_scope, gpu_access=gpu_access)
    guard, guard_binding = namespace_guard.validating_admission_policy(
        NAMESPACE_GUARD_NAME, enforce=plan.sr2_enforce, names=unowned_exempt_names(exempt))
    out: list[Item] = [
        Rendered(role="sr2-policy", obj=vap),
        Rendered(role="sr2-binding", obj=binding, after=("sr2-policy",)),
        Rendered(role="sr2-namespace-guard", obj=guard),
        Rendered(role="sr2-namespace-guard-binding", obj=guard_binding, after=("sr2-namespace-guard",)),
    ]
    if plan.kyverno:
        out.append(Release(role="kyverno", release=naming.helm_release(kyverno.KYVERNO_RELEASE),
                           chart=kyverno.KYVERNO_CHART, version=kyverno.KYVERNO_CHART_VERSION,
                           repo=kyverno.KYVERNO_CHART_REPO, namespace=naming.NS_KYVERNO,
                           values=kyverno.kyverno_values(high_availability=inputs.high_availability,
                                                         exempt_namespaces=exempt)))
        policy = kyverno_cluster_policy(POLICY_NAME, enforce=plan.sr2_enforce, exempt_namespaces=exempt,
                                        kueue=kueue_scope, gpu_access=gpu_access)
        out.append(Rendered(role="sr2-kyverno-policy", obj=policy, after=("kyverno",)))
    return out
