"""GovernancePack: the in-stack component that renders the platform's controls (SR1, SR2, tenancy).

Not to be confused with the CrossGuard policy pack in `policy/`: this component *renders* the
controls into the cluster; the CrossGuard pack *checks* them at preview/update time.

What it renders is decided by one pure function, `llmplatform.controls.tiers.plan_controls`
(trust tier x profile x substrate facts x governance config), and nothing else:

- SR1 network path (enforced on multi-team and untrusted): native NetworkPolicies with default-deny
  in llm-serving, llm-gateway and llm-tenant-gateway (`llmplatform.controls.sr1`), and the identity
  ValidatingAdmissionPolicy + binding that ties every pod label those policies trust as a peer to
  its ServiceAccount, generated from the policies (`llmplatform.controls.identity`), and the
  host-isolation ValidatingAdmissionPolicy: no hostNetwork/PID/IPC, hostPort or privileged pod outside
  the system namespaces, including namespaces created later (`llmplatform.controls.podsecurity`).
  Monitoring is under default-deny too (only KEDA reaches Prometheus).
- SR2 GPU admission (enforced, or audit on trusted): the native ValidatingAdmissionPolicy + binding
  and, with `governance.kyverno`, a pinned Kyverno release and the same rule as a Kyverno
  ClusterPolicy (`llmplatform.controls.sr2`). Managed namespaces are every namespace except the
  exempt list (deny-by-default).
- Tenancy (untrusted): ResourceQuota, LimitRange, key-reader RBAC and default-deny NetworkPolicies in
  every `tenant-<name>` namespace (`llmplatform.controls.tenancy`).
- SR3 is rendered by the TenantGateway; this component checks that the tenant gateway's shape meets
  the plan's SR3 decision (fail closed on prod, >= 3 Postgres instances, Redis above one replica).

A dormant control creates **nothing**. The plan is recorded three ways: the `control_plan`
attribute (and stack output `controlPlan`), a ConfigMap `governance-control-plan` in llm-serving,
and one `pulumi.log.info` line per dormant control.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pulumi.errors import InputPropertiesError, InputPropertyErrorDetails

from components.platform_namespaces import PlatformNamespaces
from llmplatform import labels, naming
from llmplatform.config.model import Governance, Profile, TenantGatewaySpec, TenantSpec, TrustTier
from llmplatform.controls import identity, podsecurity, sr1, sr2, tenancy, tiers
from llmplatform.controls import namespace_guard
from llmplatform.controls.exemptions import sr2_exempt_namespaces, unowned_exempt_names
from llmplatform.predicates.sr3 import BudgetFacts, sr3_violations
from substrates.capabilities import SubstrateCapabilities

TYPE = "llmplatform:governance_pack:GovernancePack"

KYVERNO_CHART = "kyverno"
KYVERNO_CHART_VERSION = "3.9.0"
"""kyverno/kyverno chart 3.9.0 ships Kyverno v1.19.0, the release whose ClusterPolicy CRD schema
the validity proof checks against (shared/crd-schemas)."""
KYVERNO_CHART_REPO = "https://kyverno.github.io/kyverno/"
KYVERNO_RELEASE = "kyverno"
CONTROL_PLAN_CONFIGMAP = "governance-control-plan"
CONTROL_PLAN_KEY = "control-plan.json"
SR2_POLICY_NAME = "llmplatform-sr2-gpu-queue"
SR2_NAMESPACE_GUARD_NAME = "llmplatform-sr2-exempt-names"
LITELLM_SERVICE_ACCOUNT = "litellm"


@dataclass(frozen=True, kw_only=True)
class GovernancePackArgs:
    """All shape inputs (they decide which objects exist), so all plain values."""

    trust_tier: TrustTier
    """Decides SR1 (dormant on trusted), SR2 (audit on trusted), tenancy and GPU isolation (untrusted)."""
    profile: Profile
    """Decides SR3 (prod fails closed); prod refuses the trusted tier. Also Kyverno's HA (prod: 3
    admission controller replicas, 2 of each other controller; dev: 1 each)."""
    capabilities: SubstrateCapabilities
    """`network_policy_enforced` False with SR1 enforced is an error (a paper control);
    `mig_available` and `gpu_time_slicing_replicas` decide GPU isolation on untrusted."""
    tenants: tuple[TenantSpec, ...]
    """On untrusted, each gets its namespace's quota (GPUs from `gpu_quota`), RBAC and NetworkPolicies."""
    governance: Governance = Governance()
    """`prefix_cache` override, `kyverno` (SR2 also as a Kyverno ClusterPolicy plus the Kyverno
    release), `extra_exempt_namespaces` (added to the SR2 exemptions when `sr2_exempt_namespaces` is None)."""
    tenant_gateway: TenantGatewaySpec = TenantGatewaySpec()
    """The tenant gateway's shape, checked against the plan's SR3 decision; `backup_bucket` also opens
    Postgres's egress to GCS and the metadata server (SR1)."""
    fail_closed: bool | None = None
    """What the TenantGateway was rendered with; must equal the plan's SR3 decision. None: not cross-checked."""
    litellm_service_account: str = LITELLM_SERVICE_ACCOUNT
    """The only ServiceAccount whose pods may carry `llmplatform.io/role: tenant-gateway` (pass
    `TenantGateway.service_account_name`)."""
    serving_models: tuple[str, ...] = ()
    """Names of the served models: each model's endpoint picker runs as its own ServiceAccount, and only
    those may carry the endpoint-picker label in llm-serving (SR1 identity). Empty: no pod may."""
    namespaces: PlatformNamespaces | None = None
    """Children land in these Namespaces and wait for them; tenant namespaces must exist for every
    tenant on untrusted. None: the fixed names in `llmplatform.naming` (the Namespaces must exist)."""
    sr2_exempt_namespaces: tuple[str, ...] | None = None
    """Namespaces SR2 does not manage (by name; everything else is managed). None:
    `exemptions.sr2_exempt_namespaces(governance.extra_exempt_namespaces)`. Must not name a platform
    or tenant namespace (the rule would then be a paper control there)."""
    kube_api_cidrs: tuple[str, ...] = ()
    """Where pods reach the Kubernetes API (GKE private cluster: `master_ipv4_cidr`). Empty: any
    address on 443/6443 for the few pods that need the API (see `sr1.NetworkFacts`)."""
    model_download_egress: bool = True
    """True: model servers may reach public HTTPS (Hugging Face weights). False with an in-cluster mirror."""
    client_cidrs: tuple[str, ...] = ()
    """Non-pod callers of LiteLLM (VPC ranges behind an internal load balancer). Empty: pods only."""
    tenant_quota: tenancy.TenantQuota = field(default_factory=tenancy.TenantQuota)
    """Per-tenant-namespace limits besides GPUs (untrusted)."""
    tenant_group_format: str = tenancy.DEFAULT_GROUP_FORMAT
    """RBAC group of a tenant, `{name}` replaced by the tenant name (untrusted)."""


def kyverno_values(*, high_availability: bool, exempt_namespaces: tuple[str, ...]) -> dict[str, Any]:
    """Helm values for the pinned Kyverno release.

    - HA on prod: 3 admission controller replicas (the chart then adds a PDB), 2 of each other controller.
    - `policyExceptions` off: no namespace can exempt itself from SR2 with a PolicyException.
    - `generateValidatingAdmissionPolicy` off: the platform renders its own VAP for SR2; a second,
      Kyverno-generated one would duplicate it under another name.
    - Kyverno's webhooks skip the SR2-exempt namespaces (as the rule does), so operator and system
      namespaces never wait on Kyverno being up.
    - Every controller pod gets a pod security context (non-root, RuntimeDefault seccomp; the chart's
      container contexts already run as 65534, drop ALL and keep the root filesystem read-only) and
      pulls its tag-pinned image `Always`.
    - The background, cleanup and reports controllers keep the chart's requests and memory limits and
      get a CPU limit. The admission controller keeps none: it answers API writes within a webhook
      timeout, and throttling would turn a burst of pod creations into refused admissions.
    """
    replicas = 3 if high_availability else 1
    others = 2 if high_availability else 1
    pod_security = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    pull = {"pullPolicy": "Always"}

    def controller(count: int) -> dict[str, Any]:
        return {"replicas": count, "image": dict(pull), "podSecurityContext": dict(pod_security),
                # kyverno-chart-3.9.0 values.yaml defaults, plus the CPU limit.
                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                              "limits": {"cpu": "500m", "memory": "128Mi"}}}

    return {
        "crds": {"install": True},
        "admissionController": {"replicas": replicas, "podSecurityContext": dict(pod_security),
                                "container": {"image": dict(pull)}},
        "backgroundController": controller(others),
        "cleanupController": controller(others),
        "reportsController": controller(others),
        "features": {
            "policyExceptions": {"enabled": False},
            "generateValidatingAdmissionPolicy": {"enabled": False},
            "forceFailurePolicyIgnore": {"enabled": False},
        },
        "config": {"webhooks": {"namespaceSelector": {"matchExpressions": [
            {"key": labels.K8S_NS_NAME, "operator": "NotIn", "values": list(exempt_namespaces)}]}}},
    }


def exempt_namespaces_for(args: GovernancePackArgs) -> tuple[str, ...]:
    if args.sr2_exempt_namespaces is not None:
        return tuple(sorted(set(args.sr2_exempt_namespaces)))
    return sr2_exempt_namespaces(args.governance.extra_exempt_namespaces,
                                 system_namespaces=args.capabilities.system_namespaces)


def sr2_scope(args: GovernancePackArgs, plan: tiers.ControlPlan) -> tuple[sr2.KueueScope, sr2.GpuAccess]:
    """Where Kueue acts (the list its chart values are rendered from) and what reaches a GPU on this substrate."""
    from llmplatform.serving import charts, kueue

    untrusted = plan.tenant_namespaces.state == tiers.ControlState.ENFORCED
    tenants = [naming.tenant_namespace(t.name) for t in args.tenants] if untrusted else []
    caps = args.capabilities
    return (sr2.KueueScope(namespaces=kueue.managed_namespaces(tenants),
                           kinds=sr2.kinds_for_frameworks(charts.KUEUE_FRAMEWORKS)),
            sr2.GpuAccess(taint_keys=(caps.gpu_taint.key,) if caps.gpu_taint else (),
                          runtime_classes=(caps.runtime_class_name,) if caps.runtime_class_name else ()))


def network_facts(args: GovernancePackArgs, plan: tiers.ControlPlan) -> sr1.NetworkFacts:
    untrusted = plan.tenant_namespaces.state == tiers.ControlState.ENFORCED
    return sr1.NetworkFacts(
        tenant_namespaces=tuple(naming.tenant_namespace(t.name) for t in args.tenants) if untrusted else (),
        kube_api_cidrs=args.kube_api_cidrs,
        model_download_egress=args.model_download_egress,
        budget_backups=args.tenant_gateway.backup_bucket is not None,
        client_cidrs=args.client_cidrs,
    )


def identity_bindings(args: GovernancePackArgs, plan: tiers.ControlPlan) -> tuple[identity.IdentityBinding, ...]:
    """SR1 identity: one binding per pod label the rendered NetworkPolicies trust (generated from them)."""
    known = identity.platform_identities(litellm_service_account=args.litellm_service_account,
                                         serving_models=args.serving_models)
    return identity.bindings_for(sr1.all_policies(network_facts(args, plan)), known)


def validate(args: GovernancePackArgs) -> tuple[tiers.ControlPlan | None, list[InputPropertyErrorDetails]]:
    """The control plan and every problem with `args` (plan is None when it cannot be made)."""
    out: list[InputPropertyErrorDetails] = []

    def bad(path: str, reason: str) -> None:
        out.append({"property_path": path, "reason": reason})

    plan = None
    try:
        plan = tiers.plan_controls(trust_tier=args.trust_tier, profile=args.profile,
                                   capabilities=args.capabilities, governance=args.governance)
    except tiers.ControlPlanError as exc:
        for problem in exc.problems:
            path, _, reason = problem.partition(": ")
            bad(path, reason)

    exempt = exempt_namespaces_for(args)
    protected = {naming.NS_SERVING, naming.NS_GATEWAY, naming.NS_TENANT_GATEWAY}
    protected |= {naming.tenant_namespace(t.name) for t in args.tenants}
    for ns in sorted(protected & set(exempt)):
        bad("sr2_exempt_namespaces", f"names {ns!r}, where the platform or a tenant runs GPU work; SR2 would be "
            "a paper control there. Fix: remove it")
    if not args.litellm_service_account:
        bad("litellm_service_account", "is empty; pass TenantGateway.service_account_name")
    elif plan is not None and plan.sr1_enforced:
        try:
            identity_bindings(args, plan)
        except identity.UnboundPeerError as exc:
            for problem in exc.problems:
                bad("sr1 identity", problem)
    for problem in tenancy.group_format_problems(args.tenant_group_format) + args.tenant_quota.problems():
        path, _, reason = problem.partition(": ")
        bad(path, reason)

    gw = args.tenant_gateway
    sr3 = tiers.sr3_requirements(args.profile)
    if args.fail_closed is not None and args.fail_closed != sr3.fail_closed:
        bad("fail_closed", f"is {args.fail_closed} but profile {args.profile.value} decides SR3 "
            f"fail_closed={sr3.fail_closed}; render the TenantGateway with the plan's value")
    facts = BudgetFacts(allow_requests_on_db_unavailable=not sr3.fail_closed,
                        fail_closed_budget_enforcement=sr3.fail_closed, postgres_instances=gw.postgres_instances,
                        gateway_replicas=gw.replicas, redis_wired=gw.redis,
                        key_cache_ttl_seconds=gw.key_cache_ttl_seconds)
    for reason in sr3_violations(facts, fail_closed_required=sr3.fail_closed):
        bad("tenant_gateway", f"SR3: {reason}")
    if plan is not None:
        if plan.tenant_namespaces.state == tiers.ControlState.ENFORCED and args.namespaces is not None:
            missing = sorted(t.name for t in args.tenants if t.name not in args.namespaces.tenants)
            if missing:
                bad("namespaces.tenants", f"has no namespace for tenant(s) {', '.join(missing)}; the untrusted tier "
                    "renders into tenant-<name> (PlatformNamespaces tenant_namespaces)")
    return plan, out


class GovernancePack(pulumi.ComponentResource):
    """Renders the controls the trust tier and profile call for; see the module docstring.

    The CrossGuard pack in `policy/` checks these controls; this component is what puts them in place.
    """

    control_plan: tiers.ControlPlan
    """What is enforced, audited and dormant, with a reason each (also stack output `controlPlan`)."""
    network_policies: dict[str, k8s.networking.v1.NetworkPolicy]
    """`<namespace>/<policy name>` -> NetworkPolicy; empty when SR1 is dormant."""
    kyverno_release: k8s.helm.v3.Release | None
    """Escape hatch: the pinned Kyverno release (None without `governance.kyverno`)."""

    def __init__(self, name: str, args: GovernancePackArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        plan, problems = validate(args)
        if problems or plan is None:
            lines = "\n".join(f"  - {p['property_path']}: {p['reason']}" for p in problems)
            raise InputPropertiesError(f"GovernancePack {name!r} has {len(problems)} invalid input(s):\n{lines}",
                                       problems)
        self.control_plan = plan
        self.network_policies = {}
        self.kyverno_release = None
        ns = args.namespaces
        exempt = exempt_namespaces_for(args)
        facts = network_facts(args, plan)

        known = {} if ns is None else {
            naming.NS_SERVING: ns.serving, naming.NS_GATEWAY: ns.gateway,
            naming.NS_TENANT_GATEWAY: ns.tenant_gateway, **ns.platform,
            **{naming.tenant_namespace(t): n for t, n in ns.tenants.items()}}

        def namespace_ref(ns_name: str) -> pulumi.Input[str]:
            """The Namespace's name as an Output when we were given it, so children wait for it."""
            return known[ns_name].metadata.name if ns_name in known else ns_name

        def child(*deps: pulumi.Resource) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, depends_on=list(deps))

        def namespaced(obj: dict[str, Any]) -> dict[str, Any]:
            meta = dict(obj["metadata"])
            meta["namespace"] = namespace_ref(meta["namespace"])
            return meta

        # --- the record: always, whatever the tier --------------------------------------------------
        k8s.core.v1.ConfigMap(
            f"{name}-control-plan",
            metadata={"name": CONTROL_PLAN_CONFIGMAP, "namespace": namespace_ref(naming.NS_SERVING),
                      "labels": {**labels.standard("governance", "control-plan"),
                                 labels.TRUST_TIER: plan.trust_tier.value}},
            data={CONTROL_PLAN_KEY: plan.to_json_text()},
            opts=child())
        for line in plan.log_lines():
            pulumi.log.info(line, resource=self)
        for warning in plan.warnings:
            pulumi.log.warn(warning, resource=self)

        # --- SR1: NetworkPolicies and the identity binding ------------------------------------------
        if plan.sr1_enforced:
            for policies in sr1.platform_policies(facts).values():
                for policy in policies:
                    self._network_policy(f"{name}-netpol", policy, namespaced(policy), child())
            vap, binding = identity.validating_admission_policy(identity_bindings(args, plan), enforce=True)
            identity_policy = k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
                f"{name}-identity-policy", metadata=vap["metadata"], spec=vap["spec"], opts=child())
            k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
                f"{name}-identity-binding", metadata=binding["metadata"], spec=binding["spec"],
                opts=child(identity_policy))
            vap, binding = podsecurity.validating_admission_policy(
                podsecurity.host_exempt_namespaces(args.capabilities.system_namespaces))
            host_policy = k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
                f"{name}-host-isolation-policy", metadata=vap["metadata"], spec=vap["spec"], opts=child())
            k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
                f"{name}-host-isolation-binding", metadata=binding["metadata"], spec=binding["spec"],
                opts=child(host_policy))

        # --- SR2: GPU admission (native always; Kyverno when asked) ---------------------------------
        kueue_scope, gpu_access = sr2_scope(args, plan)
        vap, binding = sr2.validating_admission_policy(SR2_POLICY_NAME, enforce=plan.sr2_enforce,
                                                       exempt_namespaces=exempt, kueue=kueue_scope,
                                                       gpu_access=gpu_access)
        sr2_policy = k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
            f"{name}-sr2-policy", metadata=vap["metadata"], spec=vap["spec"], opts=child())
        k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
            f"{name}-sr2-binding", metadata=binding["metadata"], spec=binding["spec"], opts=child(sr2_policy))
        guard, guard_binding = namespace_guard.validating_admission_policy(
            SR2_NAMESPACE_GUARD_NAME, enforce=plan.sr2_enforce, names=unowned_exempt_names(exempt))
        guard_policy = k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
            f"{name}-sr2-namespace-guard", metadata=guard["metadata"], spec=guard["spec"], opts=child())
        k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
            f"{name}-sr2-namespace-guard-binding", metadata=guard_binding["metadata"], spec=guard_binding["spec"],
            opts=child(guard_policy))
        if plan.kyverno:
            self.kyverno_release = k8s.helm.v3.Release(
                f"{name}-kyverno",
                name=naming.helm_release(KYVERNO_RELEASE),
                chart=KYVERNO_CHART,
                version=KYVERNO_CHART_VERSION,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=KYVERNO_CHART_REPO),
                namespace=namespace_ref(naming.NS_KYVERNO),
                values=kyverno_values(high_availability=args.profile == Profile.PROD, exempt_namespaces=exempt),
                atomic=True, cleanup_on_fail=True, timeout=600,
                opts=child())
            policy = sr2.kyverno_cluster_policy(SR2_POLICY_NAME, enforce=plan.sr2_enforce, exempt_namespaces=exempt,
                                                kueue=kueue_scope, gpu_access=gpu_access)
            k8s.apiextensions.CustomResource(
                f"{name}-sr2-kyverno-policy", api_version=policy["apiVersion"], kind=policy["kind"],
                metadata=policy["metadata"], spec=policy["spec"], opts=child(self.kyverno_release))

        # --- tenancy (untrusted) ---------------------------------------------------------------------
        if plan.tenant_namespaces.state == tiers.ControlState.ENFORCED:
            for tenant in args.tenants:
                self._tenant(name, tenant, args, facts, namespaced, child)

        self.register_outputs({"controlPlan": plan.as_json()})

    def _network_policy(self, prefix: str, policy: dict[str, Any], metadata: dict[str, Any],
                        opts: pulumi.ResourceOptions) -> k8s.networking.v1.NetworkPolicy:
        ns_name, pol_name = policy["metadata"]["namespace"], policy["metadata"]["name"]
        resource = k8s.networking.v1.NetworkPolicy(f"{prefix}-{ns_name}-{pol_name}", metadata=metadata,
                                                   spec=policy["spec"], opts=opts)
        self.network_policies[f"{ns_name}/{pol_name}"] = resource
        return resource

    def _tenant(self, name: str, tenant: TenantSpec, args: GovernancePackArgs, facts: sr1.NetworkFacts,
                namespaced: Any, child: Any) -> None:
        base = f"{name}-tenant-{tenant.name}"
        objects = tenancy.tenant_objects(tenant, gpu_resource=args.capabilities.gpu_resource_name, facts=facts,
                                         quota=args.tenant_quota, group_format=args.tenant_group_format)
        role = None
        for obj in objects:
            kind = obj["kind"]
            if kind == "ResourceQuota":
                k8s.core.v1.ResourceQuota(f"{base}-quota", metadata=namespaced(obj), spec=obj["spec"], opts=child())
            elif kind == "LimitRange":
                k8s.core.v1.LimitRange(f"{base}-limits", metadata=namespaced(obj), spec=obj["spec"], opts=child())
            elif kind == "Role":
                role = k8s.rbac.v1.Role(f"{base}-key-reader-role", metadata=namespaced(obj), rules=obj["rules"],
                                        opts=child())
            elif kind == "RoleBinding":
                k8s.rbac.v1.RoleBinding(f"{base}-key-reader-binding", metadata=namespaced(obj),
                                        role_ref=obj["roleRef"], subjects=obj["subjects"],
                                        opts=child(*([role] if role else [])))
            elif kind == "NetworkPolicy":
                self._network_policy(f"{name}-netpol", obj, namespaced(obj), child())
            else:  # pragma: no cover - tenancy renders only the kinds above
                raise AssertionError(f"unexpected tenant object kind {kind}")
