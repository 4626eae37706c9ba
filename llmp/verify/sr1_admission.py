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

SR1_CONTROL = f"{labels.PREFIX}/control"
PROBE_SERVICE_ACCOUNT = "llmp-probe-unbound"
"""A ServiceAccount no component runs as: a pod wearing a trusted label with it must be refused."""
KIND_RESOURCE = {k.kind: (k.group, k.resource) for k in identity.TEMPLATE_KINDS}


@dataclass(frozen=True)
class Rule:
    name: str
    resources: frozenset[tuple[str, str]]
    admits: Callable[[dict[str, Any]], bool]


@lru_cache(maxsize=64)
def _compile(text: str) -> Callable[[dict[str, Any]], bool]:
    from cel_expr_python import cel

    env = cel.NewEnv(variables={"object": cel.Type.DYN})
    program = env.compile(text)

    def admits(obj: dict[str, Any]) -> bool:
        value = program.eval(env.Activation({"object": obj}))
        if value.type() != cel.Type.BOOL:
            return False  # an evaluation error: failurePolicy Fail denies
        return bool(value.value())

    return admits


def enforced_sr1_rules(objects: Iterable[Mapping[str, Any]]) -> list[Rule]:
    """The rendered SR1 ValidatingAdmissionPolicies bound with `Deny`, compiled."""
    objects = list(objects)
    deny = {o["spec"].get("policyName") for o in objects if o.get("kind") == "ValidatingAdmissionPolicyBinding"
            and "Deny" in (o.get("spec") or {}).get("validationActions", [])}
    rules = []
    for vap in objects:
        meta = vap.get("metadata") or {}
        if vap.get("kind") != "ValidatingAdmissionPolicy" or (meta.get("labels") or {}).get(SR1_CONTROL) != "sr1":
            continue
        if meta.get("name") not in deny:
            continue
        spec = vap["spec"]
        resources = frozenset((g, r) for rule in spec.get("matchConstraints", {}).get("resourceRules", [])
                              if "CREATE" in rule.get("operations", []) or "*" in rule.get("operations", [])
                              for g in rule.get("apiGroups", []) for r in rule.get("resources", []))
        variables = [(v["name"], v["expression"]) for v in spec.get("variables", [])]
        checks = [_compile(inline_variables(variables, v["expression"])) for v in spec.get("validations", [])]
        rules.append(Rule(meta["name"], resources, lambda obj, checks=checks: all(c(obj) for c in checks)))
    return rules


def refused_by(rules: Iterable[Rule], obj: dict[str, Any]) -> list[str]:
    """Names of the rules that refuse creating `obj` (empty: admitted)."""
    resource = KIND_RESOURCE.get(obj.get("kind", ""))
    return [r.name for r in rules if resource in r.resources and not r.admits(obj)]


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


def host_isolation_check(rules: list[Rule], namespaces: Iterable[str]) -> Check:
    admitted = []
    for ns in sorted(set(namespaces)):
        for shape, spec in HOST_SHAPES.items():
            kinds = ["Pod"] + ([k.kind for k in identity.TEMPLATE_KINDS[1:]] if shape == "hostNetwork: true" else [])
            # A named account, so the probe breaks host isolation only (not no-default-service-account).
            probe = {**spec, "serviceAccountName": PROBE_SERVICE_ACCOUNT}
            admitted += [f"{shape} {kind} in namespace {ns}" for kind in kinds
                         if not refused_by(rules, workload(kind, ns, probe))]
    detail = ("admitted (NetworkPolicy does not select host traffic; it comes from the node address): "
              + "; ".join(admitted)) if admitted else f"every host shape refused in {len(set(namespaces))} namespaces"
    return Check("host-network-sources-refused", "no pod outside the system namespaces can use the node's "
                 "network, PID or IPC namespace, a hostPort or privilege (SR1 admission, every namespace incl. "
                 "ones created later)", not admitted, detail)


def identity_check(rules: list[Rule], policies: list[Mapping[str, Any]]) -> Check:
    peers, problems = identity.trusted_peers(policies)
    unbound = list(problems)
    for peer in peers:
        pod_labels = dict(peer.pod_labels)
        for kind in ("Pod", "Deployment"):
            spec = {"serviceAccountName": PROBE_SERVICE_ACCOUNT, "containers": [_container()]}
            if not refused_by(rules, workload(kind, peer.namespace, spec, pod_labels)):
                unbound.append(f"trusted label {','.join(f'{k}={v}' for k, v in peer.pod_labels)} in namespace "
                               f"{peer.namespace}: a {kind} of ServiceAccount {PROBE_SERVICE_ACCOUNT} wearing it is "
                               "admitted (no identity binding)")
    detail = "; ".join(unbound) if unbound else (f"{len(peers)} trusted peer label sets, each bound to its "
                                                 "ServiceAccount(s)")
    return Check("trusted-labels-bound-to-identity", "every pod label a NetworkPolicy trusts as a peer can only be "
                 "worn by its ServiceAccount in its namespace", not unbound, detail)


def _templates(objects: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [dict(o) for o in objects if o.get("kind") in KIND_RESOURCE]


def platform_pods_check(rules: list[Rule], objects: Iterable[Mapping[str, Any]]) -> Check:
    refused = []
    workloads = _templates(objects)
    for obj in workloads:
        meta = obj.get("metadata") or {}
        obj = {**obj, "metadata": {**meta, "namespace": meta.get("namespace", "default")}}
        names = refused_by(rules, obj)
        if names:
            refused.append(f"{obj['kind']} {obj['metadata']['namespace']}/{meta.get('name')} refused by "
                           f"{', '.join(names)}")
    detail = "; ".join(refused) if refused else f"{len(workloads)} rendered workloads (ours and the charts') admitted"
    return Check("platform-pods-admitted", "every rendered workload (ours and the charts') passes the SR1 admission "
                 "rules (right ServiceAccounts, no host access outside the system namespaces)", not refused, detail)
