"""GovernancePack: the in-stack component that renders the platform's controls (SR1, SR2, tenancy).

Not to be confused with the CrossGuard policy pack in `policy/`: this component *renders* the
controls into the cluster; the CrossGuard pack *checks* them at preview/update time.

What it renders is decided by the `ControlPlan` it is given, and nothing else: one pure function,
`llmplatform.controls.tiers.plan_controls` (trust tier x profile x substrate facts x governance
config), computes it once in `__main__.py`, and every component that needs a tier decision receives it:

- SR1 network path (enforced on multi-team and untrusted): native NetworkPolicies with default-deny
  in llm-serving, llm-gateway and llm-tenant-gateway (`llmplatform.controls.sr1_network.render`), and the identity
  ValidatingAdmissionPolicy + binding that ties every pod label those policies trust as a peer to
  its ServiceAccount, generated from the policies (`llmplatform.controls.sr1_identity.render`), and the
  host-isolation ValidatingAdmissionPolicy: no hostNetwork/PID/IPC, hostPort or privileged pod outside
  the system namespaces, including namespaces created later (`llmplatform.controls.sr1_host_isolation.render`).
  Monitoring is under default-deny too (only KEDA reaches Prometheus).
- SR2 GPU admission (enforced, or audit on trusted): the native ValidatingAdmissionPolicy + binding
  and, with `governance.kyverno`, a pinned Kyverno release and the same rule as a Kyverno
  ClusterPolicy (`llmplatform.controls.sr2_gpu_admission.render`). Managed namespaces are every namespace except the
  exempt list (deny-by-default).
- Tenancy (untrusted): ResourceQuota, LimitRange, key-reader RBAC and default-deny NetworkPolicies in
  every `tenant-<name>` namespace (`llmplatform.controls.tenant_namespaces.render`).
- SR3 is rendered by the TenantGateway; this component checks that the tenant gateway's shape meets
  the plan's SR3 decision (fail closed on prod, >= 3 Postgres instances, Redis above one replica).

A dormant control creates **nothing**. The plan is recorded three ways: the `control_plan`
attribute (and stack output `controlPlan`), a ConfigMap `governance-control-plan` in llm-serving,
and one `pulumi.log.info` line per dormant control.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.platform_namespaces import PlatformNamespaces
from llmplatform import labels, naming
from llmplatform.config.model import Governance, TenantGatewaySpec, TenantSpec
from llmplatform.controls import registry, tiers
from llmplatform.controls.exemptions import sr2_exempt_namespaces
from llmplatform.controls.rendering import ControlInputs, Release, Rendered
from llmplatform.controls.sr1_identity import render as identity
from llmplatform.controls.sr1_network import render as sr1
from llmplatform.controls.sr3_fail_closed.predicates import BudgetFacts, sr3_violations
from llmplatform.controls.tenant_namespaces import render as tenancy
from llmplatform.controls.tiers import ControlPlan
from llmplatform.problems import Problem, raise_problems
from substrates.capabilities import SubstrateCapabilities

TYPE = "llmplatform:governance_pack:GovernancePack"

CONTROL_PLAN_CONFIGMAP = "governance-control-plan"
CONTROL_PLAN_KEY = "control-plan.json"
LITELLM_SERVICE_ACCOUNT = "litellm"


@dataclass(frozen=True, kw_only=True)
class GovernancePackArgs:
    """All shape inputs (they decide which objects exist), so all plain values."""

    control_plan: ControlPlan
    """What to render (`tiers.plan_controls`, computed once by the program): SR1 (dormant on trusted),
    SR2 (audit on trusted), tenancy and GPU isolation (untrusted), SR3's requirements on the tenant
    gateway (prod fails closed), Kyverno (`kyverno`) and its HA (prod: 3 admission controller replicas,
    2 of each other controller; dev: 1 each). Recorded as given (ConfigMap, `control_plan`)."""
    capabilities: SubstrateCapabilities
    """What the controls render against (GPU resource, taint, RuntimeClass, system namespaces); must
    give what the plan enforces: NetworkPolicy enforced under SR1 (else a paper control), no
    time-slicing under GPU isolation."""
    tenants: tuple[TenantSpec, ...]
    """On untrusted, each gets its namespace's quota (GPUs from `gpu_quota`), RBAC and NetworkPolicies."""
    governance: Governance = Governance()
    """`extra_exempt_namespaces` (added to the SR2 exemptions when `sr2_exempt_namespaces` is None); its
    other fields are already decided in `control_plan`."""
    tenant_gateway: TenantGatewaySpec = TenantGatewaySpec()
    """The tenant gateway's shape, checked against the plan's SR3 decision; `backup_bucket` also opens
    Postgres's egress to GCS and the metadata server (SR1)."""
    fail_closed: bool | None = None
    """What the TenantGateway was rendered with, where it was not given this same plan; must equal the
    plan's SR3 decision. None (the program passes both the one plan): not cross-checked."""
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


def exempt_namespaces_for(args: GovernancePackArgs) -> tuple[str, ...]:
    if args.sr2_exempt_namespaces is not None:
        return tuple(sorted(set(args.sr2_exempt_namespaces)))
    return sr2_exempt_namespaces(args.governance.extra_exempt_namespaces,
                                 system_namespaces=args.capabilities.system_namespaces)


def network_facts(args: GovernancePackArgs, plan: tiers.ControlPlan) -> sr1.NetworkFacts:
    untrusted = plan.tenant_namespaces.state == tiers.ControlState.ENFORCED
    return sr1.NetworkFacts(
        tenant_namespaces=tuple(naming.tenant_namespace(t.name) for t in args.tenants) if untrusted else (),
        kube_api_cidrs=args.kube_api_cidrs,
        model_download_egress=args.model_download_egress,
        budget_backups=args.tenant_gateway.backup_bucket is not None,
        client_cidrs=args.client_cidrs,
    )


def control_inputs(args: GovernancePackArgs, plan: tiers.ControlPlan) -> ControlInputs:
    """What the controls' builders read: the plan and this stack's facts."""
    untrusted = plan.tenant_namespaces.state == tiers.ControlState.ENFORCED
    return ControlInputs(
        plan=plan, capabilities=args.capabilities, network=network_facts(args, plan),
        tenants=args.tenants if untrusted else (), exempt_namespaces=exempt_namespaces_for(args),
        litellm_service_account=args.litellm_service_account, serving_models=args.serving_models,
        high_availability=plan.high_availability, tenant_quota=args.tenant_quota,
        tenant_group_format=args.tenant_group_format)


def identity_bindings(args: GovernancePackArgs, plan: tiers.ControlPlan) -> tuple[identity.IdentityBinding, ...]:
    """SR1 identity: one binding per pod label the rendered NetworkPolicies trust (generated from them)."""
    return identity.bindings_for_inputs(control_inputs(args, plan))


SR3_ARGS: dict[str, str] = {
    "allow_requests_on_db_unavailable": "control_plan.fail_closed",
    "fail_closed_budget_enforcement": "control_plan.fail_closed",
    "postgres_instances": "tenant_gateway.postgres_instances",
    "key_cache_ttl_seconds": "tenant_gateway.key_cache_ttl_seconds",
    "redis_wired": "tenant_gateway.redis",
}
"""`BudgetFacts` field (the path of an SR3 problem) -> the argument that sets it."""


def validate(args: GovernancePackArgs) -> list[Problem]:
    """Every problem with `args` (empty: renderable)."""
    plan = args.control_plan
    out = tiers.capability_problems(sr1_enforced=plan.sr1_enforced,
                                    gpu_isolation=plan.gpu_isolation.state == tiers.ControlState.ENFORCED,
                                    capabilities=args.capabilities)
    exempt = exempt_namespaces_for(args)
    protected = {naming.NS_SERVING, naming.NS_GATEWAY, naming.NS_TENANT_GATEWAY}
    protected |= {naming.tenant_namespace(t.name) for t in args.tenants}
    for ns in sorted(protected & set(exempt)):
        out.append(Problem("sr2_exempt_namespaces", ns, "names a namespace where the platform or a tenant runs "
                           "GPU work; SR2 would be a paper control there", fix="remove it"))
    if not args.litellm_service_account:
        out.append(Problem("litellm_service_account", "", "must name LiteLLM's ServiceAccount",
                           fix="pass TenantGateway.service_account_name"))
    elif plan.sr1_enforced:
        try:
            identity_bindings(args, plan)
        except identity.UnboundPeerError as exc:
            out += [Problem("sr1 identity", reason=problem) for problem in exc.problems]
    out += tenancy.group_format_problems(args.tenant_group_format) + args.tenant_quota.problems()

    gw = args.tenant_gateway
    if args.fail_closed is not None and args.fail_closed != plan.fail_closed:
        out.append(Problem("fail_closed", args.fail_closed, f"the plan decides SR3 fail_closed={plan.fail_closed} "
                           f"(profile {plan.profile.value})", fix="render the TenantGateway with the plan's value"))
    facts = BudgetFacts(allow_requests_on_db_unavailable=not plan.fail_closed,
                        fail_closed_budget_enforcement=plan.fail_closed, postgres_instances=gw.postgres_instances,
                        gateway_replicas=gw.replicas, redis_wired=gw.redis,
                        key_cache_ttl_seconds=gw.key_cache_ttl_seconds)
    for problem in sr3_violations(facts, fail_closed_required=plan.fail_closed):
        out.append(replace(problem, path=SR3_ARGS[problem.path], reason=f"SR3: {problem.reason}"))
    if plan.tenant_namespaces.state == tiers.ControlState.ENFORCED and args.namespaces is not None:
        missing = sorted(t.name for t in args.tenants if t.name not in args.namespaces.tenants)
        if missing:
            out.append(Problem("namespaces.tenants", sorted(args.namespaces.tenants), f"has no namespace for "
                               f"tenant(s) {', '.join(missing)}; the untrusted tier renders into tenant-<name>",
                               fix="PlatformNamespaces with the same control plan and tenants"))
    return out


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
        raise_problems(f"GovernancePack {name!r}", validate(args))
        plan = self.control_plan = args.control_plan
        self.network_policies = {}
        self.kyverno_release = None
        ns = args.namespaces
        known = {} if ns is None else {
            naming.NS_SERVING: ns.serving, naming.NS_GATEWAY: ns.gateway,
            naming.NS_TENANT_GATEWAY: ns.tenant_gateway, **ns.platform,
            **{naming.tenant_namespace(t): n for t, n in ns.tenants.items()}}

        def namespace_ref(ns_name: str) -> pulumi.Input[str]:
            """The Namespace's name as an Output when we were given it, so children wait for it."""
            return known[ns_name].metadata.name if ns_name in known else ns_name

        # --- the record: always, whatever the tier --------------------------------------------------
        k8s.core.v1.ConfigMap(
            f"{name}-control-plan",
            metadata={"name": CONTROL_PLAN_CONFIGMAP, "namespace": namespace_ref(naming.NS_SERVING),
                      "labels": {**labels.standard("governance", "control-plan"),
                                 labels.TRUST_TIER: plan.trust_tier.value}},
            data={CONTROL_PLAN_KEY: plan.to_json_text()},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[]))
        for line in plan.log_lines():
            pulumi.log.info(line, resource=self)
        for warning in plan.warnings:
            pulumi.log.warn(warning, resource=self)

        # --- every control the plan does not leave dormant, from the registry -----------------------
        inputs = control_inputs(args, plan)
        for control in registry.CONTROLS:
            if control.decided_by is None or plan.decision(control.decided_by).state == tiers.ControlState.DORMANT:
                continue
            created: dict[str, pulumi.Resource] = {}
            for item in control.objects(inputs):
                created[item.role] = self._create(name, item, [created[r] for r in getattr(item, "after", ())],
                                                  namespace_ref)

        self.register_outputs({"controlPlan": plan.as_json()})

    def _create(self, name: str, item: Rendered | Release, after: list[pulumi.Resource],
                namespace_ref: Any) -> pulumi.Resource:
        """One control item as a child `f"{name}-{item.role}"`: the thin wrapper over the pure builders."""
        opts = pulumi.ResourceOptions(parent=self, depends_on=after)
        if isinstance(item, Release):
            self.kyverno_release = k8s.helm.v3.Release(
                f"{name}-{item.role}", name=item.release, chart=item.chart, version=item.version,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=item.repo),
                namespace=namespace_ref(item.namespace), values=dict(item.values),
                atomic=True, cleanup_on_fail=True, timeout=item.timeout, opts=opts)
            return self.kyverno_release
        obj = item.obj
        metadata: Any = obj["metadata"]
        if "namespace" in metadata:
            metadata = {**metadata, "namespace": namespace_ref(metadata["namespace"])}
        kind, resource_name = obj["kind"], f"{name}-{item.role}"
        if kind == "NetworkPolicy":
            resource: pulumi.Resource = k8s.networking.v1.NetworkPolicy(
                resource_name, metadata=metadata, spec=obj["spec"], opts=opts)
            self.network_policies[f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"] = resource
        elif kind == "ValidatingAdmissionPolicy":
            resource = k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
                resource_name, metadata=metadata, spec=obj["spec"], opts=opts)
        elif kind == "ValidatingAdmissionPolicyBinding":
            resource = k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
                resource_name, metadata=metadata, spec=obj["spec"], opts=opts)
        elif kind == "ResourceQuota":
            resource = k8s.core.v1.ResourceQuota(resource_name, metadata=metadata, spec=obj["spec"], opts=opts)
        elif kind == "LimitRange":
            resource = k8s.core.v1.LimitRange(resource_name, metadata=metadata, spec=obj["spec"], opts=opts)
        elif kind == "Role":
            resource = k8s.rbac.v1.Role(resource_name, metadata=metadata, rules=obj["rules"], opts=opts)
        elif kind == "RoleBinding":
            resource = k8s.rbac.v1.RoleBinding(resource_name, metadata=metadata, role_ref=obj["roleRef"],
                                               subjects=obj["subjects"], opts=opts)
        elif "/" in obj["apiVersion"] and "spec" in obj:
            resource = k8s.apiextensions.CustomResource(
                resource_name, api_version=obj["apiVersion"], kind=kind, metadata=metadata, spec=obj["spec"],
                opts=opts)
        else:  # pragma: no cover - a control rendered a kind this wrapper does not know
            raise AssertionError(f"unexpected control object kind {kind}")
        return resource
