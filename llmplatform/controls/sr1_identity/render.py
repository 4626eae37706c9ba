"""SR1 identity binding: a pod label that a NetworkPolicy trusts as a peer belongs to one ServiceAccount.

NetworkPolicy selects a peer as (namespace AND pod labels) in one `from`/`to` entry; it cannot select
a ServiceAccount, and anyone who may create pods in that namespace can write the labels. So every
such peer is bound by admission: in the peer's namespace, a Pod, or the pod template of a Deployment,
ReplicaSet, StatefulSet, DaemonSet, Job or CronJob, that carries **all** the peer's labels must run
as one of the peer's ServiceAccounts. CREATE and UPDATE, and the `pods/status` subresource, whose
updates can change a pod's labels.

The bindings are generated from the NetworkPolicies themselves (`trusted_peers`), then matched with
the ServiceAccounts the platform knows for each peer (`platform_identities`); a trusted peer with no
known identity is an error (`UnboundPeerError`), so a new trusted peer cannot be added without its
binding. Peers in the Kubernetes system namespaces (kube-dns) are not bound: only cluster admins
create pods there. A peer that trusts labels without pinning one namespace by name cannot be bound
(and breaks the selector discipline of `controls.sr1`): also an error.

Rendered as a native `admissionregistration.k8s.io/v1` ValidatingAdmissionPolicy + binding (in
the API server: no webhook to be down). Not rendered for Kyverno: SR2 is the platform's only
Kyverno policy (`llmp verify` expects exactly one ClusterPolicy), and the native rule covers every
case the Kyverno one would.

The CEL is portable (`has`, `in`, `all`, `map`, `?:`; no optional types, no Kubernetes
extensions), total (absent metadata, labels, spec, templates or ServiceAccount never raise) and
reads only `object`, so cel-expr-python and cel-python evaluate it as the API server does.

- The namespace comes from `object.metadata.namespace`, which the API server fills from the request
  path before admission.
- A Pod's `serviceAccountName` is set by the ServiceAccount admission plugin (mutating, so before
  this rule); a template without one runs as `default`, and is judged as `default`.
- Other pod-creating kinds (LeaderWorkerSet, operators' CRDs) are not matched here; the pods they
  create are (CNPG's instances, Istio's gateway Deployment), so a spoofing pod is refused either way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llmplatform import labels, naming
from llmplatform.controls.rendering import ControlInputs, Rendered
from llmplatform.controls.sr1_network.render import SR1_LABELS
from llmplatform.k8s import admission

OPERATIONS = ("CREATE", "UPDATE")
POLICY_NAME = "llmplatform-sr1-identity"


@dataclass(frozen=True, order=True)
class TrustedPeer:
    """Pods carrying every one of `pod_labels` in `namespace`: what a NetworkPolicy peer trusts."""

    namespace: str
    pod_labels: tuple[tuple[str, str], ...]

    def describe(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.pod_labels) + f" in namespace {self.namespace}"


@dataclass(frozen=True)
class IdentityBinding:
    """In `peer.namespace`, pods carrying `peer.pod_labels` must run as one of `service_accounts`
    (empty: no pod may carry them, e.g. endpoint pickers when no model is served)."""

    peer: TrustedPeer
    service_accounts: tuple[str, ...]


class UnboundPeerError(ValueError):
    """Trusted peers the policies name that have no identity (or cannot be bound); `peers` lists them."""

    def __init__(self, problems: Sequence[str]):
        self.problems = tuple(problems)
        super().__init__("SR1: every pod label a NetworkPolicy trusts needs an identity binding:\n"
                         + "\n".join(f"  - {p}" for p in self.problems))


@dataclass(frozen=True)
class TemplateKind:
    group: str
    version: str
    kind: str
    resource: str
    template_path: tuple[str, ...]
    """Path from the object to its pod template; `()` for a Pod (the object is the pod)."""


TEMPLATE_KINDS: tuple[TemplateKind, ...] = (
    TemplateKind("", "v1", "Pod", "pods", ()),
    TemplateKind("apps", "v1", "Deployment", "deployments", ("spec", "template")),
    TemplateKind("apps", "v1", "ReplicaSet", "replicasets", ("spec", "template")),
    TemplateKind("apps", "v1", "StatefulSet", "statefulsets", ("spec", "template")),
    TemplateKind("apps", "v1", "DaemonSet", "daemonsets", ("spec", "template")),
    TemplateKind("batch", "v1", "Job", "jobs", ("spec", "template")),
    TemplateKind("batch", "v1", "CronJob", "cronjobs", ("spec", "jobTemplate", "spec", "template")),
)
EXTRA_SUBRESOURCES = {"pods": ("pods/status",)}
"""Subresources whose updates carry the full object and can change labels."""


UNBOUND_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
"""Peers here are not bound: only cluster admins create pods in the Kubernetes system namespaces."""


def _pinned_namespaces(selector: Mapping[str, Any] | None) -> tuple[str, ...] | None:
    """The namespaces a namespaceSelector pins by name (matchLabels or `In`); None if it pins none."""
    if not selector:
        return None
    names: set[str] | None = None
    by_label = (selector.get("matchLabels") or {}).get(labels.K8S_NS_NAME)
    if by_label is not None:
        names = {by_label}
    for e in selector.get("matchExpressions") or []:
        if e.get("key") == labels.K8S_NS_NAME and e.get("operator") == "In":
            values = set(e.get("values") or [])
            names = values if names is None else names & values
    return None if names is None else tuple(sorted(names))


def _policy_peers(policy: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    spec = policy.get("spec") or {}
    out: list[Mapping[str, Any]] = []
    for rule in spec.get("ingress") or []:
        out += rule.get("from") or []
    for rule in spec.get("egress") or []:
        out += rule.get("to") or []
    return out


def _label_sets(selector: Mapping[str, Any]) -> tuple[list[tuple[tuple[str, str], ...]], list[str]]:
    """(label sets, problems): each set of labels a pod must carry to match `selector` (an `In`
    expression yields one set per value); other operators cannot be bound and are problems. No
    requirement at all (`{}`, the whole namespace) yields no set: no label is trusted."""
    sets: list[dict[str, str]] = [dict(selector.get("matchLabels") or {})]
    problems = []
    for e in selector.get("matchExpressions") or []:
        if e.get("operator") == "In" and e.get("values"):
            sets = [{**s, e["key"]: v} for s in sets for v in e["values"]]
        else:
            problems.append(f"a peer selects pods with {e}; only matchLabels and `In` can be bound to an identity")
    return [tuple(sorted(s.items())) for s in sets if s], problems


def trusted_peers(policies: Iterable[Mapping[str, Any]]) -> tuple[tuple[TrustedPeer, ...], tuple[str, ...]]:
    """(peers, problems): every (namespace, pod labels) a NetworkPolicy's `from`/`to` peer trusts,
    outside UNBOUND_NAMESPACES; `problems` names peers whose labels are trusted without one namespace
    pinned by name (a bare podSelector means the policy's own namespace and is read that way)."""
    found: set[TrustedPeer] = set()
    problems: list[str] = []
    for policy in policies:
        meta = policy.get("metadata") or {}
        where = f"NetworkPolicy {meta.get('namespace')}/{meta.get('name')}"
        for peer in _policy_peers(policy):
            pod_sel = peer.get("podSelector")
            if pod_sel is None:
                continue
            label_sets, trouble = _label_sets(pod_sel)
            problems += [f"{where}: {t}" for t in trouble]
            if not label_sets:
                continue
            if "namespaceSelector" in peer:
                namespaces = _pinned_namespaces(peer["namespaceSelector"])
                if namespaces is None:
                    problems.append(f"{where}: labels {[dict(s) for s in label_sets]} are trusted in namespaces not pinned by "
                                    f"{labels.K8S_NS_NAME}; they cannot be bound to a ServiceAccount")
                    continue
            else:
                namespaces = (str(meta.get("namespace") or "default"),)
            found |= {TrustedPeer(ns, pod_labels) for ns in namespaces if ns not in UNBOUND_NAMESPACES
                      for pod_labels in label_sets}
    return tuple(sorted(found)), tuple(problems)


def peer(namespace: str, pod_labels: Mapping[str, str]) -> TrustedPeer:
    return TrustedPeer(namespace, tuple(sorted(pod_labels.items())))


def bindings_for(policies: Iterable[Mapping[str, Any]],
                 identities: Mapping[TrustedPeer, Sequence[str]]) -> tuple[IdentityBinding, ...]:
    """One binding per trusted peer of `policies`, its ServiceAccounts from `identities`; raises
    `UnboundPeerError` naming every trusted peer `identities` does not know (and unbindable peers)."""
    peers, problems = trusted_peers(policies)
    missing = [f"{p.describe()}: no ServiceAccount known for it (add it to the identities, e.g. "
               "identity.platform_identities)" for p in peers if p not in identities]
    if problems or missing:
        raise UnboundPeerError([*problems, *missing])
    return tuple(IdentityBinding(p, tuple(sorted(set(identities[p])))) for p in peers)


def lit(value: str) -> str:
    """A CEL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _field(path: tuple[str, ...]) -> str:
    return ".".join(("object",) + path)


def _present(path: tuple[str, ...]) -> str:
    return " && ".join(f"has({_field(path[: i + 1])})" for i in range(len(path)))


def templates_expression() -> str:
    """CEL: the list of pod templates of `object` (the Pod itself, or its kind's template; `[]` else)."""
    branches: dict[tuple[str, ...], list[str]] = {}
    for k in TEMPLATE_KINDS:
        branches.setdefault(k.template_path, []).append(k.kind)
    out = "[]"
    for path, kinds in reversed(list(branches.items())):
        test = f"object.kind == {lit(kinds[0])}" if len(kinds) == 1 else \
            "object.kind in [" + ", ".join(lit(k) for k in sorted(kinds)) + "]"
        value = "[object]" if not path else f"({_present(path)} ? [{_field(path)}] : [])"
        out = f"{test} ? {value} :\n{out}"
    return out


def _labels_match(pod_labels: tuple[tuple[str, str], ...]) -> str:
    """CEL over a pod template `t`: it carries every one of `pod_labels`."""
    have = "has(t.metadata) && has(t.metadata.labels)"
    return " && ".join([have] + [f"{lit(k)} in t.metadata.labels && t.metadata.labels[{lit(k)}] == {lit(v)}"
                                 for k, v in pod_labels])


SERVICE_ACCOUNT = "(has(t.spec) && has(t.spec.serviceAccountName) ? t.spec.serviceAccountName : 'default')"
"""CEL over a pod template `t`: the ServiceAccount its pods run as (`default` when the template names none)."""


def identity_cel(bindings: Sequence[IdentityBinding]) -> tuple[tuple[tuple[str, str], ...], str, str]:
    """(variables, expression, message) of the rule; `variables` in evaluation order. No map literals:
    Kubernetes' CEL environment requires homogeneous aggregate literals."""
    variables = (
        ("podTemplates", templates_expression()),
        ("namespaceName", "has(object.metadata) && has(object.metadata.namespace) ? object.metadata.namespace : ''"),
    )
    clauses = []
    for b in bindings:
        accounts = "[" + ", ".join(lit(a) for a in b.service_accounts) + "]"
        clauses.append(f"(variables.namespaceName != {lit(b.peer.namespace)} || variables.podTemplates.all(t, "
                       f"!({_labels_match(b.peer.pod_labels)}) || {SERVICE_ACCOUNT} in {accounts}))")
    expression = " &&\n".join(clauses) if clauses else "true"
    message = "SR1: pods NetworkPolicies trust by label must run as the label's ServiceAccount: " + "; ".join(
        f"{b.peer.describe()}: {', '.join(b.service_accounts) or 'no pod'}" for b in bindings)
    return variables, expression, message[:1000]


def _check(bindings: Sequence[IdentityBinding]) -> None:
    problems = []
    if not bindings:
        problems.append("bindings: got none; NetworkPolicies trust LiteLLM's label at least")
    peers = [b.peer for b in bindings]
    for b in bindings:
        if peers.count(b.peer) > 1:
            problems.append(f"peer {b.peer.describe()}: bound more than once; one peer has one binding")
        for what, value in (("namespace", b.peer.namespace), *(("service_account", a) for a in b.service_accounts),
                            *(("label", f"{k}={v}") for k, v in b.peer.pod_labels)):
            if not value or len(value) > 317 or any(c in value for c in "' \\\n"):
                problems.append(f"{what} {value!r} of {b.peer.describe()}: must be a Kubernetes name")
    if problems:
        raise ValueError("SR1 identity rule inputs are invalid: " + "; ".join(sorted(set(problems))))


def validating_admission_policy(
    bindings: Sequence[IdentityBinding], *, name: str = POLICY_NAME, enforce: bool = True
) -> tuple[dict, dict]:
    """`(policy, binding)`: the native ValidatingAdmissionPolicy and its cluster-wide binding.

    `enforce`: True binds with `validationActions: [Deny]`, False with `[Audit]`. `failurePolicy:
    Fail`: an evaluation error denies (the CEL is total, so only a broken API server gets there).
    """
    _check(bindings)
    variables, expression, message = identity_cel(bindings)
    rules: dict[tuple[str, str], list[str]] = {}
    for k in TEMPLATE_KINDS:
        rules.setdefault((k.group, k.version), []).extend((k.resource, *EXTRA_SUBRESOURCES.get(k.resource, ())))
    return admission.validating_admission_policy(
        name, resource_rules=rules, operations=OPERATIONS, variables=variables, expression=expression,
        message=message, metadata_labels=SR1_LABELS, enforce=enforce)


# ---- the platform's identities: who each trusted peer is ------------------------------------------

CNPG_OPERATOR_SERVICE_ACCOUNT = naming.helm_release("cnpg")
"""The CloudNativePG operator's ServiceAccount: the cloudnative-pg-0.29.0 chart names it after the release's
full name, which is the release name `cnpg` (TenantGateway's operator release); the rendered chart shows it."""
ISTIOD_SERVICE_ACCOUNT = "istiod"
"""istiod-1.29.2 chart: `serviceAccountName: istiod` (revision `default`)."""
KEDA_OPERATOR_SERVICE_ACCOUNT = "keda-operator"
KEDA_METRICS_SERVICE_ACCOUNT = "keda-metrics-server"
"""keda-2.20.2 chart defaults (`serviceAccount.operator.name`, `serviceAccount.metricServer.name`)."""
BUDGET_CACHE_SERVICE_ACCOUNT = "budget-cache"
"""The budget cache (Redis) StatefulSet's own ServiceAccount (`gateway.workloads.BUDGET_CACHE`; never
`default`, see the no-default-service-account control)."""


def platform_identities(*, litellm_service_account: str, serving_models: Sequence[str] = (),
                        serving_namespace: str = naming.NS_SERVING,
                        gateway_namespace: str = naming.NS_GATEWAY,
                        tenant_gateway_namespace: str = naming.NS_TENANT_GATEWAY,
                        monitoring_namespace: str = naming.NS_MONITORING,
                        cnpg_namespace: str = naming.NS_CNPG, keda_namespace: str = naming.NS_KEDA,
                        istio_namespace: str = "istio-system") -> dict[TrustedPeer, tuple[str, ...]]:
    """Every peer the SR1 policies may trust -> the ServiceAccounts its pods run as.

    Names come from where the pods are made: our components (`serving.names`, `gateway.workloads`),
    the operators' conventions (CNPG runs a Cluster's instances as a ServiceAccount named after the
    Cluster; Istio's automated deployment runs a Gateway's proxies as `<Gateway>-<GatewayClass>`) and the
    pinned charts' values. `llmp verify` checks every rendered pod (ours and the charts') against the
    rendered rule, so a wrong name here fails the proof."""
    from llmplatform.controls.sr1_network import render as sr1
    from llmplatform.gateway import workloads
    from llmplatform.serving import names

    role = labels.ROLE
    return {
        peer(tenant_gateway_namespace, {role: labels.ROLE_TENANT_GATEWAY}): (litellm_service_account,),
        peer(tenant_gateway_namespace, {role: labels.ROLE_TENANT_RECONCILER}): (workloads.RECONCILER,),
        peer(tenant_gateway_namespace, {role: labels.ROLE_BUDGET_DB}): (workloads.BUDGET_DB,),
        peer(tenant_gateway_namespace, {role: labels.ROLE_BUDGET_CACHE}): (BUDGET_CACHE_SERVICE_ACCOUNT,),
        peer(gateway_namespace, {role: labels.ROLE_GATEWAY}): (names.GATEWAY_SERVICE,),
        peer(serving_namespace, {role: labels.ROLE_MODEL_SERVER}): (names.VLLM_SERVICE_ACCOUNT,),
        peer(serving_namespace, {role: labels.ROLE_EPP}): tuple(names.epp(m) for m in serving_models),
        peer(monitoring_namespace, sr1.PROMETHEUS_POD_LABELS): (names.PROMETHEUS_SERVER,),
        peer(cnpg_namespace, sr1.CNPG_OPERATOR_POD_LABELS): (CNPG_OPERATOR_SERVICE_ACCOUNT,),
        peer(istio_namespace, sr1.ISTIOD_POD_LABELS): (ISTIOD_SERVICE_ACCOUNT,),
        peer(keda_namespace, sr1.KEDA_OPERATOR_POD_LABELS): (KEDA_OPERATOR_SERVICE_ACCOUNT,),
        peer(keda_namespace, sr1.KEDA_METRICS_APISERVER_POD_LABELS): (KEDA_METRICS_SERVICE_ACCOUNT,),
    }


def bindings_for_inputs(inputs: ControlInputs) -> tuple[IdentityBinding, ...]:
    """One binding per pod label the rendered NetworkPolicies trust (raises `UnboundPeerError`)."""
    from llmplatform.controls.sr1_network import render as sr1

    known = platform_identities(litellm_service_account=inputs.litellm_service_account,
                                serving_models=inputs.serving_models)
    return bindings_for(sr1.all_policies(inputs.network), known)


def objects(inputs: ControlInputs) -> list[Rendered]:
    """What GovernancePack creates for SR1 identity: the policy and its binding (Deny)."""
    vap, binding = validating_admission_policy(bindings_for_inputs(inputs), enforce=True)
    return [Rendered(role="identity-policy", obj=vap),
            Rendered(role="identity-binding", obj=binding, after=("identity-policy",))]
