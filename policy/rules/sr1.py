"""SR1: only LiteLLM reaches the inference gateway, and only the gateway reaches the model servers.

Four policies: Dataplane V2 on the GKE cluster (so NetworkPolicy is enforced at all), default-deny
in every managed namespace, no allow rule admitting anything but the contract's callers to a
protected pod, and the admission rules that tie trusted pod labels to their ServiceAccounts and keep
pods off the host's network (host isolation, checked by the same policy).
"""

from __future__ import annotations

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from llmplatform import labels
from llmplatform.controls.sr1_host_isolation.predicates import is_host_isolation_rule
from llmplatform.controls.sr1_identity.predicates import is_identity_rule
from llmplatform.controls.sr1_network import predicates as netpol
from llmplatform.predicates import admission

from .common import PROFILE_SCHEMA, SR1_IDENTITY, SR1_NETWORK, dormancy_reason, is_kind, objects_of, plain

GKE_CLUSTER_TYPE = "gcp:container/cluster:Cluster"
DATAPLANE_V2 = "ADVANCED_DATAPATH"


def _dataplane_v2(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != GKE_CLUSTER_TYPE:
        return
    datapath = plain(args.props).get("datapathProvider")
    if datapath != DATAPLANE_V2:
        # Absence is not "not applicable" here: GKE's default is the legacy datapath.
        shown = datapath if datapath else "unset (GKE's default, LEGACY_DATAPATH)"
        report(f"datapathProvider is {shown}; set {DATAPLANE_V2} (Dataplane V2 enforces NetworkPolicy with "
               "Cilium; without it SR1's policies are stored but not enforced)", None)


sr1_dataplane_v2 = ResourceValidationPolicy(
    name="sr1-dataplane-v2",
    description="SR1: the GKE cluster runs Dataplane V2 (datapathProvider ADVANCED_DATAPATH), so NetworkPolicies "
                "are enforced.",
    validate=_dataplane_v2,
    severity=Severity.CRITICAL,
    remediation_steps="Keep datapath_provider=ADVANCED_DATAPATH in substrates/gke/cluster.py (changing it replaces "
                      "the cluster).",
)


def _namespace_tiers(objects: list[tuple[str, dict]]) -> dict[str, str]:
    tiers = {}
    for _, obj in objects:
        if is_kind(obj, "Namespace"):
            meta = obj.get("metadata") or {}
            tier = (meta.get("labels") or {}).get(labels.NAMESPACE_TIER)
            if meta.get("name") and tier:
                tiers[str(meta["name"])] = str(tier)
    return tiers


def _network_policies(objects: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    return [(urn, obj) for urn, obj in objects if is_kind(obj, "NetworkPolicy", "networking.k8s.io")]


def _default_deny(args: StackValidationArgs, report: ReportViolation) -> None:
    objects = objects_of(args.resources)
    reason = dormancy_reason([o for _, o in objects], SR1_NETWORK, args.get_config())
    if reason:
        args.not_applicable(reason)
    namespaces = netpol.managed_namespaces(o for _, o in objects if is_kind(o, "Namespace"))
    gaps = netpol.default_deny_gaps(namespaces, [o for _, o in _network_policies(objects)])
    ns_urns = {(o.get("metadata") or {}).get("name"): urn for urn, o in objects if is_kind(o, "Namespace")}
    for ns, directions in sorted(gaps.items()):
        report(f"namespace {ns} has no default-deny for {' and '.join(directions)} (a NetworkPolicy with "
               "podSelector {} listing the direction in policyTypes and allowing nothing)", ns_urns.get(ns))


sr1_default_deny = StackValidationPolicy(
    name="sr1-default-deny",
    description="SR1: every managed namespace (serving, gateway, tenant gateway, tenants) has default-deny "
                "NetworkPolicies for ingress and egress.",
    validate=_default_deny,
    config_schema=PROFILE_SCHEMA,
    severity=Severity.CRITICAL,
)


def _only_litellm(args: StackValidationArgs, report: ReportViolation) -> None:
    objects = objects_of(args.resources)
    tiers = _namespace_tiers(objects)
    for urn, policy in _network_policies(objects):
        name = (policy.get("metadata") or {}).get("name", "?")
        for problem in netpol.ingress_violations(policy, tiers):
            report(f"NetworkPolicy {netpol.namespace_of(policy)}/{name}: {problem}", urn)


sr1_only_litellm = StackValidationPolicy(
    name="sr1-only-litellm-reaches-serving",
    description="SR1: no NetworkPolicy admits anything but LiteLLM to the inference gateway, or anything but the "
                "gateway (and Prometheus on the metrics port) to the model servers and endpoint picker.",
    validate=_only_litellm,
    severity=Severity.CRITICAL,
    remediation_steps="Put namespaceSelector (kubernetes.io/metadata.name) and podSelector (llmplatform.io/role) "
                      "in ONE `from` entry; never use ipBlock, namespaceSelector {} or a rule without `from`.",
)


def _identity_rule(args: StackValidationArgs, report: ReportViolation) -> None:
    objects = [o for _, o in objects_of(args.resources)]
    reason = dormancy_reason(objects, SR1_IDENTITY, args.get_config())
    if reason:
        args.not_applicable(reason)
    vaps = [o for o in objects if is_kind(o, "ValidatingAdmissionPolicy", "admissionregistration.k8s.io")]
    bindings = [o for o in objects if is_kind(o, "ValidatingAdmissionPolicyBinding", "admissionregistration.k8s.io")]
    kyverno = [o for o in objects if is_kind(o, "ClusterPolicy", "kyverno.io")]
    problems = admission.control_problems(
        "the LiteLLM identity rule (role tenant-gateway only on LiteLLM's ServiceAccount)",
        [v for v in vaps if is_identity_rule(v)], bindings,
        [k for k in kyverno if is_identity_rule(k)],
        required=(("", "pods"),), operations=("CREATE", "UPDATE"), vap_required=False)
    problems += admission.control_problems(
        "the host-isolation rule (no hostNetwork/hostPID/hostIPC, hostPort or privileged pod outside the system "
        "namespaces)", [v for v in vaps if is_host_isolation_rule(v)], bindings, [],
        required=(("", "pods"), ("apps", "deployments"), ("apps", "daemonsets")), operations=("CREATE", "UPDATE"))
    if problems:
        report("; ".join(problems), None)


sr1_identity_rule = StackValidationPolicy(
    name="sr1-identity-rule",
    description="SR1: enforcing admission rules bind every pod label a NetworkPolicy trusts to its ServiceAccount "
                f"(at least {labels.ROLE}={labels.ROLE_TENANT_GATEWAY} to LiteLLM's; CREATE and UPDATE), so the "
                "labels cannot be spoofed, and keep every pod outside the system namespaces off the host's network, "
                "PID and IPC namespaces, host ports and privilege, where NetworkPolicy does not reach.",
    validate=_identity_rule,
    config_schema=PROFILE_SCHEMA,
    severity=Severity.HIGH,
)

POLICIES = [sr1_dataplane_v2, sr1_default_deny, sr1_only_litellm, sr1_identity_rule]
