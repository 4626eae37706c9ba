"""SR1's admission half, proved on the rendered objects: who can *be* a trusted peer, and who can
step outside the pod network.

NetworkPolicy reasons about pod-network identities. Two things it cannot see are closed by the
rendered ValidatingAdmissionPolicies labelled `llmplatform.io/control: sr1`, and this module
evaluates those rules as the API server would (cel-expr-python, every `Deny`-bound rule whose
resource rules match the object; one denial refuses the request):

- **Host sources.** A `hostNetwork` pod is selected by no NetworkPolicy and its traffic leaves
  from the node's address, which CNIs admit to every pod on the node (the NCA queries model such
  traffic as `ipBlock` sources, and the policies never allow node addresses, but the CNI's
  node-local exception is outside NetworkPolicy). hostPID/hostIPC/privileged reach the node's
  processes; a hostPort listens on the node's address. So SR1 holds only if no such pod can exist
  outside the system namespaces. Every host shape (`HOST_SHAPES`, as a Pod and as each workload
  template) is tried in every rendered namespace, `default` and a fresh tenant namespace; any
  admitted shape fails the proof, named (`hostNetwork: true Pod in namespace default`).
- **Label identities.** Every (namespace, pod labels) a rendered NetworkPolicy trusts as a peer
  (`identity.trusted_peers`, read from the rendered policies) is tried with a ServiceAccount no
  component uses: it must be refused. A trusted label without a binding fails, named.
- **Scope.** A rule refuses only what it intercepts: the policy's `matchConstraints` and the binding's
  `matchResources` (resource rules and their excludes, namespaceSelector over the namespace's labels
  (`kubernetes.io/metadata.name` plus the labels of the rendered Namespace), objectSelector over the
  object's labels) must both match, and every `matchCondition` (CEL on `object`) be true, as in the
  API server (`llmp.verify.sr2.matching` holds the shared semantics). A probe the rule does not
  intercept is admitted by it. An objectSelector or a matchCondition reads what the pod's author
  writes (labels, annotations, any field), so no finite set of probes shows it lets no pod escape:
  any such scope on an SR1 rule fails `sr1-rules-intercept-every-pod`, named.
- **The platform's own pods.** Every rendered workload (ours and the charts') must pass the same
  rules, so a binding naming the wrong ServiceAccount, or a chart pod that needs host access outside
  the system namespaces, fails here rather than at install.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from llmplatform import labels
from llmplatform.controls.sr1_identity import render as identity
from llmp.verify.sr2 import inline_variables
from llmp.verify.sr2.admission import Admission, KindInfo, ProbeNamespace
from llmp.verify.sr2.matching import Unmodelled, vap_match_resources

SR1_CONTROL = f"{labels.PREFIX}/control"
PROBE_SERVICE_ACCOUNT = "llmp-probe-unbound"
"""A ServiceAccount no component runs as: a pod wearing a trusted label with it must be refused."""
KIND_RESOURCE = {k.kind: (k.group, k.resource) for k in identity.TEMPLATE_KINDS}
_KIND_INFO = {k.kind: KindInfo(k.group, k.version, k.kind, k.resource) for k in identity.TEMPLATE_KINDS}
NamespaceLabels = Mapping[str, Mapping[str, str]]
"""namespace name -> the labels its rendered Namespace carries (the name label is always added)."""


@dataclass(frozen=True)
class Rule:
    name: str
    match_constraints: Mapping[str, Any] | None
    """The policy's `spec.matchConstraints`."""
    match_resources: Mapping[str, Any] | None
    """The binding's `spec.matchResources` (None: no further narrowing)."""
    conditions: tuple[Callable[[dict[str, Any]], bool], ...]
    """The policy's `spec.matchConditions`, compiled: all true, or the rule does not intercept."""
    admits: Callable[[dict[str, Any]], bool]
    escapes: tuple[str, ...] = ()
    """Scope that reads what the pod's author writes (objectSelector, matchConditions), described."""


@dataclass(frozen=True)
class _Request(Admission):
    """A CREATE of one of identity.TEMPLATE_KINDS (the sr2 Admission knows only SR2's kinds)."""

    @property
    def kind(self) -> KindInfo:
        return _KIND_INFO[self.obj.get("kind", "")]


@lru_cache(maxsize=64)
def _compile(text: str, on_error: bool = False) -> Callable[[dict[str, Any]], bool]:
    """`text` as a predicate on `object`; an expression that does not compile or evaluate to a bool
    gives `on_error` (the rules are failurePolicy Fail: a validation that errors denies, a
    matchCondition that errors intercepts)."""
    from cel_expr_python import cel

    env = cel.NewEnv(variables={"object": cel.Type.DYN})
    try:
        program = env.compile(text)
    except Exception:  # noqa: BLE001 - a condition over `request` etc.: not modelled, fail closed
        if not on_error:
            raise
        return lambda obj: on_error

    def admits(obj: dict[str, Any]) -> bool:
        value = program.eval(env.Activation({"object": obj}))
        if value.type() != cel.Type.BOOL:
            return on_error
        return bool(value.value())

    return admits


def _selected(selector: Any) -> bool:
    """A label selector that narrows (not absent, not `{}`)."""
    return bool(selector) and any((selector or {}).get(k) for k in ("matchLabels", "matchExpressions"))


def _escapes(name: str, spec: Mapping[str, Any], binding_spec: Mapping[str, Any]) -> tuple[str, ...]:
    out = []
    for where, mr in (("matchConstraints", spec.get("matchConstraints")),
                      ("binding matchResources", binding_spec.get("matchResources"))):
        if _selected((mr or {}).get("objectSelector")):
            out.append(f"{name}: {where}.objectSelector {mr['objectSelector']} reads the object's labels, which its "
                       "author sets: a pod labelled to miss it escapes the rule")
    for cond in spec.get("matchConditions") or ():
        out.append(f"{name}: matchCondition {cond.get('name')!r} ({cond.get('expression')}) is CEL over what the "
                   "object's author writes: the proof cannot show that no pod escapes it")
    return tuple(out)


def namespace_labels(objects: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """The labels of each rendered Namespace."""
    return {o["metadata"]["name"]: dict(o["metadata"].get("labels") or {}) for o in objects
            if o.get("kind") == "Namespace"}


def enforced_sr1_rules(objects: Iterable[Mapping[str, Any]]) -> list[Rule]:
    """The rendered SR1 ValidatingAdmissionPolicies bound with `Deny`, compiled with their scope (one
    Rule per Deny binding: each binding intercepts on its own)."""
    objects = list(objects)
    deny: dict[str, list[Mapping[str, Any]]] = {}
    for o in objects:
        bspec = o.get("spec") or {}
        if o.get("kind") == "ValidatingAdmissionPolicyBinding" and "Deny" in bspec.get("validationActions", []):
            deny.setdefault(bspec.get("policyName"), []).append(bspec)
    rules = []
    for vap in objects:
        meta = vap.get("metadata") or {}
        if vap.get("kind") != "ValidatingAdmissionPolicy" or (meta.get("labels") or {}).get(SR1_CONTROL) != "sr1":
            continue
        if meta.get("name") not in deny:
            continue
        spec = vap["spec"]
        variables = [(v["name"], v["expression"]) for v in spec.get("variables", [])]
        checks = [_compile(inline_variables(variables, v["expression"])) for v in spec.get("validations", [])]
        conditions = tuple(_compile(c["expression"], on_error=True) for c in spec.get("matchConditions") or ())
        for bspec in deny[meta["name"]]:
            rules.append(Rule(meta["name"], spec.get("matchConstraints"), bspec.get("matchResources"), conditions,
                              lambda obj, checks=checks: all(c(obj) for c in checks),
                              _escapes(meta["name"], spec, bspec)))
    return rules


def intercepts(rule: Rule, obj: dict[str, Any], ns_labels: NamespaceLabels | None = None) -> bool:
    """Whether the API server sends a CREATE of `obj` to `rule` (its matchConstraints, its binding's
    matchResources and its matchConditions). A scope field not modelled raises `Unmodelled`."""
    if obj.get("kind") not in _KIND_INFO:
        return False
    ns = (obj.get("metadata") or {}).get("namespace") or "default"
    request = _Request(obj, ProbeNamespace(ns, "", tuple(sorted(((ns_labels or {}).get(ns) or {}).items()))),
                       "CREATE")
    if not vap_match_resources(rule.match_constraints, request, f"{rule.name} matchConstraints", required_rules=True):
        return False
    if not vap_match_resources(rule.match_resources, request, f"{rule.name} binding matchResources",
                               required_rules=False):
        return False
    return all(c(obj) for c in rule.conditions)


def refused_by(rules: Iterable[Rule], obj: dict[str, Any], ns_labels: NamespaceLabels | None = None) -> list[str]:
    """Names of the rules that intercept and refuse creating `obj` (empty: admitted)."""
    out = []
    for r in rules:
        try:
            hit = intercepts(r, obj, ns_labels)
        except Unmodelled:
            hit = False  # reported by scope_check; never counted as a refusal
        if hit and not r.admits(obj):
            out.append(r.name)
    return out


# ---- shapes ---------------------------------------------------------------------------------------

def _container(**extra: Any) -> dict[str, Any]:
    return {"name": "c", "image": "probe", **extra}


HOST_SHAPES: dict[str, dict[str, Any]] = {
    "hostNetwork: true": {"hostNetwork": True, "containers": [_container()]},
    "hostPID: true": {"hostPID": True, "containers": [_container()]},
    "hostIPC: true": {"hostIPC": True, "containers": [_container()]},
    "a privileged container": {"containers": [_container(securityContext={"privileged": True})]},
    "a privileged init container": {"initContainers": [_container(securityContext={"privileged": True})],
                                    "containers": [_container(name="d")]},
    "a privileged ephemeral container": {"containers": [_container()], "ephemeralContainers": [
        _container(name="debug", securityContext={"privileged": True})]},
    "a hostPort": {"containers": [_container(ports=[{"containerPort": 8080, "hostPort": 8080}])]},
}
"""Pod specs that leave the pod network (or reach the node's): each must be refused outside the exempt
namespaces."""


def workload(kind: str, namespace: str, pod_spec: dict[str, Any], pod_labels: Mapping[str, str] | None = None
             ) -> dict[str, Any]:
    """`kind` (Pod or a TEMPLATE_KINDS workload) in `namespace` whose pods have `pod_spec` and labels."""
    meta = {"name": "probe", "namespace": namespace}
    template = {"metadata": {"labels": dict(pod_labels or {})}, "spec": pod_spec}
    if kind == "Pod":
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {**meta, "labels": dict(pod_labels or {})},
                "spec": pod_spec}
    obj: dict[str, Any] = {"kind": kind, "metadata": meta}
    path = next(k.template_path for k in identity.TEMPLATE_KINDS if k.kind == kind)
    node = obj
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = template
    return obj


# ---- checks -------------------------------------------------------------------------------------

@dataclass
class Check:
    name: str
    description: str
    passed: bool
    detail: str


def host_isolation_check(rules: list[Rule], namespaces: Iterable[str], ns_labels: NamespaceLabels | None = None
                         ) -> Check:
    admitted = []
    for ns in sorted(set(namespaces)):
        for shape, spec in HOST_SHAPES.items():
            kinds = ["Pod"] + ([k.kind for k in identity.TEMPLATE_KINDS[1:]] if shape == "hostNetwork: true" else [])
            # A named account, so the probe breaks host isolation only (not no-default-service-account).
            probe = {**spec, "serviceAccountName": PROBE_SERVICE_ACCOUNT}
            admitted += [f"{shape} {kind} in namespace {ns}" for kind in kinds
                         if not refused_by(rules, workload(kind, ns, probe), ns_labels)]
    detail = ("admitted (NetworkPolicy does not select host traffic; it comes from the node address): "
              + "; ".join(admitted)) if admitted else f"every host shape refused in {len(set(namespaces))} namespaces"
    return Check("host-network-sources-refused", "no pod outside the system namespaces can use the node's "
                 "network, PID or IPC namespace, a hostPort or privilege (SR1 admission, every namespace incl. "
                 "ones created later)", not admitted, detail)


def identity_check(rules: list[Rule], policies: list[Mapping[str, Any]], ns_labels: NamespaceLabels | None = None
                   ) -> Check:
    peers, problems = identity.trusted_peers(policies)
    unbound = list(problems)
    for peer in peers:
        pod_labels = dict(peer.pod_labels)
        for kind in ("Pod", "Deployment"):
            spec = {"serviceAccountName": PROBE_SERVICE_ACCOUNT, "containers": [_container()]}
            if not refused_by(rules, workload(kind, peer.namespace, spec, pod_labels), ns_labels):
                unbound.append(f"trusted label {','.join(f'{k}={v}' for k, v in peer.pod_labels)} in namespace "
                               f"{peer.namespace}: a {kind} of ServiceAccount {PROBE_SERVICE_ACCOUNT} wearing it is "
                               "admitted (no identity binding)")
    detail = "; ".join(unbound) if unbound else (f"{len(peers)} trusted peer label sets, each bound to its "
                                                 "ServiceAccount(s)")
    return Check("trusted-labels-bound-to-identity", "every pod label a NetworkPolicy trusts as a peer can only be "
                 "worn by its ServiceAccount in its namespace", not unbound, detail)


def _templates(objects: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [dict(o) for o in objects if o.get("kind") in KIND_RESOURCE]


def platform_pods_check(rules: list[Rule], objects: Iterable[Mapping[str, Any]],
                        ns_labels: NamespaceLabels | None = None) -> Check:
    refused = []
    workloads = _templates(objects)
    for obj in workloads:
        meta = obj.get("metadata") or {}
        obj = {**obj, "metadata": {**meta, "namespace": meta.get("namespace", "default")}}
        names = refused_by(rules, obj, ns_labels)
        if names:
            refused.append(f"{obj['kind']} {obj['metadata']['namespace']}/{meta.get('name')} refused by "
                           f"{', '.join(names)}")
    detail = "; ".join(refused) if refused else f"{len(workloads)} rendered workloads (ours and the charts') admitted"
    return Check("platform-pods-admitted", "every rendered workload (ours and the charts') passes the SR1 admission "
                 "rules (right ServiceAccounts, no host access outside the system namespaces)", not refused, detail)


def scope_check(rules: list[Rule]) -> Check:
    """Every SR1 rule's scope is one the proof can model and no pod's author can step out of."""
    problems = [e for r in rules for e in r.escapes]
    probe = workload("Pod", "default", {"containers": [_container()]})
    for r in rules:
        try:
            intercepts(r, probe)
        except Unmodelled as exc:
            problems.append(f"{r.name}: {exc} (the proof cannot say what the rule intercepts)")
    detail = "; ".join(problems) if problems else (
        f"{len(rules)} Deny-bound SR1 rule(s): no objectSelector or matchConditions; resource rules and namespace "
        "selectors modelled as the API server applies them")
    return Check("sr1-rules-intercept-every-pod", "no SR1 admission rule is scoped by what a pod's author writes "
                 "(objectSelector, matchConditions), and every scope field is modelled", not problems, detail)
