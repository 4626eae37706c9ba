"""SR1 host isolation: no pod outside the exempt system namespaces shares the node's network,
process or IPC namespace, binds a host port or runs privileged.

Why SR1 needs it: NetworkPolicy selects pods by their pod-network identity. A `hostNetwork: true`
pod is not selected by any NetworkPolicy (it has no pod IP of its own) and its traffic leaves from
the node's address, which the common CNIs (GKE Dataplane V2/Cilium, Calico, kube-router) let reach
every pod on that node regardless of policy (kubelet probes depend on it). `hostPID`/`hostIPC` and
`privileged` reach the node's processes, whose network is the node's; a `hostPort` receives traffic
on the node's address, outside the target namespace's default-deny. One such pod in `default`, a
tenant namespace or `monitoring` walks around every SR1 rule.

Two layers, both rendered with SR1 (multi-team and untrusted):
- Pod Security Admission labels on every namespace the platform creates
  (`pod-security.kubernetes.io/enforce`: `restricted` for serving, gateways, monitoring and tenants;
  `baseline` for operator namespaces), see `components.platform_namespaces`;
- this ValidatingAdmissionPolicy, cluster-wide, so a namespace created later (by anyone, with or
  without labels, or whose label its owner lowers to `privileged`) is covered the moment it exists.
  It checks Pods (CREATE/UPDATE, and `pods/ephemeralcontainers`, where a debug container could ask for
  privilege) and the pod templates of Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs and
  CronJobs (as `identity.TEMPLATE_KINDS`), so a workload is refused at apply time, not when its pods fail.

The exempt namespaces are Kubernetes' and the substrate's own system namespaces
(`host_exempt_namespaces`): the CNI, kube-proxy, node agents, GKE's add-ons and the k3s NVIDIA device
plugin run there with host access, and only cluster admins can create pods there. The platform's controller namespaces (monitoring, keda, kueue-system, cnpg-system,
kyverno, istio-system) are *not* exempt: none of their rendered pods needs host access (`llmp verify`
evaluates every rendered pod, ours and the charts', against this rule).

The CEL is portable and total like the identity rule's: it reads only `object`, so cel-expr-python
and cel-python evaluate it as the API server does (the SR1 proof does exactly that).
"""

from __future__ import annotations

from collections.abc import Iterable

from llmplatform.controls.exemptions import KUBERNETES_SYSTEM
from llmplatform.controls.rendering import ControlInputs, Rendered
from llmplatform.k8s import admission
from llmplatform.controls.sr1_identity.render import EXTRA_SUBRESOURCES, OPERATIONS, SR1_LABELS, TEMPLATE_KINDS, lit, templates_expression

POLICY_NAME = "llmplatform-sr1-host-isolation"
PSS_ENFORCE = "pod-security.kubernetes.io/enforce"
"""Pod Security Admission's enforce label (Kubernetes >= 1.25, built in)."""
PSS_RESTRICTED, PSS_BASELINE, PSS_PRIVILEGED = "restricted", "baseline", "privileged"
PSS_ALLOWED = (PSS_BASELINE, PSS_RESTRICTED)
"""Levels that keep pods off the host: `baseline` forbids hostNetwork/PID/IPC, hostPorts and privileged."""

HOST_FIELDS = ("hostNetwork", "hostPID", "hostIPC")
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
POD_SUBRESOURCES = ("pods/ephemeralcontainers",)


def host_exempt_namespaces(system_namespaces: Iterable[str] = ()) -> tuple[str, ...]:
    """Kubernetes' system namespaces plus the substrate's own (`SubstrateCapabilities.system_namespaces`):
    where node agents legitimately run with host access (CNI, kube-proxy, GKE add-ons, the NVIDIA
    device plugin on k3s). Never the platform's controller namespaces, never the SR2 extras."""
    return tuple(sorted(set(KUBERNETES_SYSTEM) | set(system_namespaces)))


def host_cel(exempt: Iterable[str]) -> tuple[tuple[tuple[str, str], ...], str, str]:
    """(variables, expression, message): True admits. Denies, outside `exempt`, any pod template
    with hostNetwork, hostPID or hostIPC true, a container (init and ephemeral too) that is
    privileged or declares a non-zero hostPort."""
    exempt_list = "[" + ", ".join(lit(n) for n in sorted(set(exempt))) + "]"
    host_flags = " || ".join(f"(has(t.spec.{f}) && t.spec.{f} == true)" for f in HOST_FIELDS)
    containers = " + ".join(f"(has(t.spec.{c}) ? t.spec.{c} : [])" for c in CONTAINER_LISTS)
    variables = (
        ("podTemplates", templates_expression()),
        ("namespaceName", "has(object.metadata) && has(object.metadata.namespace) ? object.metadata.namespace : ''"),
        ("exempt", f"variables.namespaceName in {exempt_list}"),
        ("specs", "variables.podTemplates.filter(t, has(t.spec))"),
        ("hostNamespaces", f"variables.specs.exists(t, {host_flags})"),
        ("containers", f"variables.specs.map(t, {containers})"),
        ("privileged", "variables.containers.exists(cs, cs.exists(c, has(c.securityContext) && "
                       "has(c.securityContext.privileged) && c.securityContext.privileged == true))"),
        ("hostPorts", "variables.containers.exists(cs, cs.exists(c, has(c.ports) && "
                      "c.ports.exists(p, has(p.hostPort) && p.hostPort != 0)))"),
    )
    expression = ("variables.exempt || !(variables.hostNamespaces || variables.privileged || variables.hostPorts)")
    message = ("SR1: outside the system namespaces no pod may use hostNetwork, hostPID or hostIPC, run a "
               "privileged container or bind a hostPort (NetworkPolicy does not apply to host traffic)")
    return variables, expression, message


def validating_admission_policy(exempt: Iterable[str], *, name: str = POLICY_NAME,
                                enforce: bool = True) -> tuple[dict, dict]:
    """`(policy, binding)`: the host-isolation ValidatingAdmissionPolicy and its cluster-wide binding
    (`Deny` when `enforce`, else `Audit`). `failurePolicy: Fail`."""
    exempt = tuple(exempt)
    bad = [n for n in exempt if not n or any(c in n for c in "' \\\n")]
    if bad:
        raise ValueError(f"SR1 host-isolation exemptions must be Kubernetes names; got {bad}")
    variables, expression, message = host_cel(exempt)
    rules: dict[tuple[str, str], list[str]] = {}
    for k in TEMPLATE_KINDS:
        extra = EXTRA_SUBRESOURCES.get(k.resource, ()) + (POD_SUBRESOURCES if k.resource == "pods" else ())
        rules.setdefault((k.group, k.version), []).extend((k.resource, *extra))
    return admission.validating_admission_policy(
        name, resource_rules=rules, operations=OPERATIONS, variables=variables, expression=expression,
        message=message, metadata_labels=SR1_LABELS, enforce=enforce)


def objects(inputs: ControlInputs) -> list[Rendered]:
    """What GovernancePack creates for host isolation: the policy and its binding (Deny), exempting
    Kubernetes' and the substrate's system namespaces."""
    vap, binding = validating_admission_policy(host_exempt_namespaces(inputs.capabilities.system_namespaces))
    return [Rendered(role="host-isolation-policy", obj=vap),
            Rendered(role="host-isolation-binding", obj=binding, after=("host-isolation-policy",))]
