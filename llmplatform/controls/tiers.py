"""Trust tiers as configuration: which control is enforced, audited or dormant, and why.

`plan_controls` is the one place that turns (trust tier, profile, substrate facts, governance
config) into a `ControlPlan`. The GovernancePack renders exactly what the plan says (a dormant
control creates nothing), records the plan in the cluster (ConfigMap `governance-control-plan`)
and in the stack outputs, and `docs/trust-tiers.md` carries `render_tier_table()` verbatim (a test
compares them, so the doc cannot drift from the code).

States
------
- `enforced`: rendered and blocking (NetworkPolicies applied, admission `Deny`, fail-closed budgets).
- `audit`: rendered, reporting only (admission `Audit` / Kyverno `Audit`); nothing is blocked.
- `dormant`: **not rendered at all**; the plan records it with a reason and `pulumi.log.info` says so.

Tiers
-----
- `trusted`: one team. The prefix cache is shared, SR1 is dormant, SR2 audits.
- `multi-team`: several teams that trust the platform but not each other's spend: SR1 and SR2
  enforced, the prefix cache is salted per tenant.
- `untrusted`: adds per-tenant namespaces (quota, RBAC, default-deny) and GPU isolation (MIG where
  the pool is partitioned, whole GPUs otherwise; time-slicing is refused), and the prefix cache must
  be salted per tenant or off.

The profile, not the tier, decides SR3: `prod` fails closed, `dev` fails open. Prod must be at
least multi-team (the same rule the stack config applies; repeated here so the component is safe
outside this program).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from llmplatform.config.model import Governance, PrefixCacheMode, Profile, TrustTier
from llmplatform.controls import registry
from llmplatform.controls.sr3_fail_closed.predicates import MIN_PROD_POSTGRES_INSTANCES
from llmplatform.problems import InvalidInputs, Problem, raise_problems
from substrates.capabilities import SubstrateCapabilities


class ControlState(StrEnum):
    ENFORCED = "enforced"
    AUDIT = "audit"
    DORMANT = "dormant"


class GpuIsolation(StrEnum):
    """How one tenant's GPU work is kept off another's GPU memory (untrusted tier)."""

    SHARED = "shared"
    """No isolation claimed (trusted and multi-team: model servers are the platform's, not tenants')."""
    MIG = "mig"
    """Hardware partitions: each slice has its own memory and compute (A100/H100 pools with sharing: mig)."""
    WHOLE_GPU = "whole-gpu"
    """Each GPU belongs to one container at a time (no time-slicing, no MPS)."""


class ControlPlanError(InvalidInputs):
    """The inputs ask for a combination no tier allows; `problems` lists every one (path, value, reason, fix)."""

    def __init__(self, subject: str, problems: Sequence[Problem]):
        super().__init__(subject, problems)


@dataclass(frozen=True)
class ControlDecision:
    """One control's verdict for this stack."""

    key: str
    """Stable id (`sr1-network`, `sr1-identity`, `sr2-gpu-admission`, `sr3-fail-closed`, `prefix-cache`,
    `tenant-namespaces`, `gpu-isolation`); used in outputs, the ConfigMap and log lines."""
    title: str
    state: ControlState
    reason: str
    """One sentence for humans: why this state on this tier/profile."""
    mode: str = ""
    """Extra detail where a control has variants (prefix cache mode, GPU isolation mode); else empty."""

    def as_json(self) -> dict[str, str]:
        out = {"control": self.key, "title": self.title, "state": self.state.value, "reason": self.reason}
        if self.mode:
            out["mode"] = self.mode
        return out


TITLES = registry.TITLES
"""Control key -> title, in the order plans, tables and logs list them (the registry's decided controls)."""


@dataclass(frozen=True, kw_only=True)
class ControlPlan:
    """What the GovernancePack renders for one stack; computed by `plan_controls`, never by hand."""

    trust_tier: TrustTier
    profile: Profile
    sr1_network: ControlDecision
    """Enforced: default-deny NetworkPolicies plus the allow-list in llm-serving, llm-gateway,
    llm-tenant-gateway (and tenant namespaces). Dormant: no NetworkPolicy at all."""
    sr1_identity: ControlDecision
    """Enforced: the ValidatingAdmissionPolicy that ties LiteLLM's pod label to its namespace and
    ServiceAccount. Dormant with SR1."""
    sr2_gpu_admission: ControlDecision
    """Enforced (Deny) or audit: GPU requests must be Kueue-queued. Never dormant."""
    sr3_fail_closed: ControlDecision
    """Enforced on prod (budgets fail closed, HA budget store); dormant on dev (fails open)."""
    prefix_cache: ControlDecision
    """Enforced when the cache is salted per tenant or off; dormant when shared."""
    tenant_namespaces: ControlDecision
    """Enforced on untrusted: ResourceQuota, LimitRange, RBAC and default-deny per tenant namespace."""
    gpu_isolation: ControlDecision
    """Enforced on untrusted: MIG or whole GPUs; time-slicing is refused."""
    prefix_cache_mode: PrefixCacheMode
    """The effective mode (governance override, else the tier's default)."""
    gpu_isolation_mode: GpuIsolation
    fail_closed: bool
    """SR3: what the tenant gateway must be rendered with."""
    min_postgres_instances: int
    """SR3: CNPG instances the budget database needs (3 on prod, 1 on dev)."""
    redis_required_above_replicas: int = 1
    """SR3: more LiteLLM replicas than this need Redis (shared spend counters), on every profile."""
    kyverno: bool
    """SR2 is also rendered as a Kyverno ClusterPolicy (and the pinned Kyverno release is installed)."""
    high_availability: bool
    """Prod: the platform's controllers run replicated (Kueue, KEDA, Kyverno, the CNPG operator) and the
    cluster must be regional on non-Spot system nodes. Not part of `as_json` (the recorded plan)."""
    warnings: tuple[str, ...] = field(default=())
    """Allowed but weaker than the tier's default (e.g. a shared prefix cache on multi-team)."""

    @property
    def decisions(self) -> tuple[ControlDecision, ...]:
        """Every control, in `TITLES` order."""
        return (self.sr1_network, self.sr1_identity, self.sr2_gpu_admission, self.sr3_fail_closed,
                self.prefix_cache, self.tenant_namespaces, self.gpu_isolation)

    def decision(self, key: str) -> ControlDecision:
        """The decision of control `key` (a decided control's key, `registry.TITLES`)."""
        return next(d for d in self.decisions if d.key == key)

    @property
    def dormant(self) -> tuple[ControlDecision, ...]:
        return tuple(d for d in self.decisions if d.state == ControlState.DORMANT)

    @property
    def sr1_enforced(self) -> bool:
        return self.sr1_network.state == ControlState.ENFORCED

    @property
    def prefix_caching(self) -> bool:
        """vLLM caches prefixes (shared or salted per tenant); False when the mode is `off`."""
        return self.prefix_cache_mode != PrefixCacheMode.OFF

    @property
    def sr2_enforce(self) -> bool:
        """True: SR2 denies (`Deny` / `Enforce`); False: it audits."""
        return self.sr2_gpu_admission.state == ControlState.ENFORCED

    def as_json(self) -> dict[str, Any]:
        """The plan as plain JSON (stack output `controlPlan`, ConfigMap `governance-control-plan`)."""
        return {
            "trustTier": self.trust_tier.value,
            "profile": self.profile.value,
            "controls": [d.as_json() for d in self.decisions],
            "prefixCacheMode": self.prefix_cache_mode.value,
            "gpuIsolationMode": self.gpu_isolation_mode.value,
            "sr3": {"failClosed": self.fail_closed, "minPostgresInstances": self.min_postgres_instances,
                    "redisRequiredAboveReplicas": self.redis_required_above_replicas},
            "kyverno": self.kyverno,
            "warnings": list(self.warnings),
        }

    def to_json_text(self) -> str:
        return json.dumps(self.as_json(), indent=2, sort_keys=True) + "\n"

    def log_lines(self) -> list[str]:
        """One line per dormant control, as `pulumi.log.info` prints them."""
        return [f"{d.title} dormant on tier {self.trust_tier.value} / profile {self.profile.value}: not applied "
                f"({d.reason})" for d in self.dormant]


@dataclass(frozen=True)
class Sr3Requirements:
    """SR3 as the profile decides it (the tier plays no part)."""

    fail_closed: bool
    min_postgres_instances: int
    redis_required_above_replicas: int = 1


def high_availability(profile: Profile) -> bool:
    """Prod is highly available: replicated controllers, a regional control plane, no Spot system nodes."""
    return profile == Profile.PROD


def sr3_requirements(profile: Profile) -> Sr3Requirements:
    """Prod: fail closed with >= MIN_PROD_POSTGRES_INSTANCES Postgres instances; dev: fail open, one instance.
    Redis above one LiteLLM replica on both (shared spend counters)."""
    prod = high_availability(profile)
    return Sr3Requirements(fail_closed=prod, min_postgres_instances=MIN_PROD_POSTGRES_INSTANCES if prod else 1)


def capability_problems(*, sr1_enforced: bool, gpu_isolation: bool,
                        capabilities: SubstrateCapabilities) -> list[Problem]:
    """What the substrate lacks for the plan: SR1 enforced where NetworkPolicy is not (a paper
    control); GPU isolation on time-sliced GPUs (no memory isolation between tenants).

    `plan_controls` applies it to the substrate it plans for, and the GovernancePack to the
    capabilities it renders with (it receives both, so they must agree)."""
    out: list[Problem] = []
    if sr1_enforced and not capabilities.network_policy_enforced:
        out.append(Problem("capabilities.network_policy_enforced", False,
                           f"{capabilities.display_name} does not enforce NetworkPolicy, and SR1 is enforced on "
                           "this tier: it would be a paper control there",
                           fix="use a substrate whose CNI enforces NetworkPolicy, or the trusted tier (dev only)"))
    if gpu_isolation and capabilities.gpu_time_slicing_replicas > 1:
        out.append(Problem("capabilities.gpu_time_slicing_replicas", capabilities.gpu_time_slicing_replicas,
                           "time-sliced GPUs share memory between tenants, and the untrusted tier isolates GPUs",
                           fix="gpu_pool.sharing none, or mig on an A100/H100 pool"))
    return out


def _decision(key: str, state: ControlState, reason: str, mode: str = "") -> ControlDecision:
    return ControlDecision(key=key, title=TITLES[key], state=state, reason=reason, mode=mode)


def plan_controls(
    *,
    trust_tier: TrustTier,
    profile: Profile,
    capabilities: SubstrateCapabilities,
    governance: Governance = Governance(),
) -> ControlPlan:
    """Decide every control for this stack; raise `ControlPlanError` listing every problem at once.

    Problems: prod on the trusted tier; SR1 enforced on a substrate that does not enforce
    NetworkPolicy (a paper control); a shared prefix cache on the untrusted tier; time-sliced GPUs
    on the untrusted tier (no memory isolation between tenants).
    """
    E, A, D = ControlState.ENFORCED, ControlState.AUDIT, ControlState.DORMANT
    problems: list[Problem] = []
    warnings: list[str] = []
    tier = trust_tier
    multi = tier.rank >= TrustTier.MULTI_TEAM.rank
    untrusted = tier == TrustTier.UNTRUSTED

    if high_availability(profile) and not multi:
        problems.append(Problem("trust_tier", tier, "prod must be at least multi-team "
                                "(SR1 and SR2 enforced)", fix="set trust_tier to multi-team or untrusted"))
    problems += capability_problems(sr1_enforced=multi, gpu_isolation=untrusted, capabilities=capabilities)

    # SR1: network path and the identity binding that makes its label selectors mean something.
    if multi:
        net = _decision("sr1-network", E, "several teams share the cluster: only LiteLLM may reach the inference "
                        "gateway and model servers, default-deny elsewhere in the platform namespaces")
        ident = _decision("sr1-identity", E, "NetworkPolicy selects LiteLLM by namespace and pod label; admission "
                          "ties that label to LiteLLM's namespace and ServiceAccount so no other pod can wear it")
    else:
        net = _decision("sr1-network", D, "single team: every caller is trusted, the vLLM API key still guards "
                        "completions")
        ident = _decision("sr1-identity", D, "nothing selects on the LiteLLM label while SR1 network policies are "
                          "dormant")

    # SR2: always rendered; deny-by-default namespaces; blocking only when teams share GPUs.
    sr2 = (_decision("sr2-gpu-admission", E, "GPU requests outside Kueue would bypass other teams' quota: denied")
           if multi else
           _decision("sr2-gpu-admission", A, "single team: unqueued GPU requests are reported (audit), not denied"))

    # SR3: the profile decides.
    if sr3_requirements(profile).fail_closed:
        sr3 = _decision("sr3-fail-closed", E, f"prod: requests are refused while the budget store is down; "
                        f">= {MIN_PROD_POSTGRES_INSTANCES} Postgres instances, Redis when LiteLLM has > 1 replica")
    else:
        sr3 = _decision("sr3-fail-closed", D, "dev: LiteLLM keeps serving when Postgres is down (fails open, "
                        "unmetered during the outage); Redis is still required above one replica")

    # Prefix cache: the tier's default unless governance overrides it.
    tier_default = PrefixCacheMode.SHARED if tier == TrustTier.TRUSTED else PrefixCacheMode.TENANT_SALTED
    mode = governance.prefix_cache or tier_default
    if mode == PrefixCacheMode.SHARED:
        prefix = _decision("prefix-cache", D, "shared: one tenant can time another's cached prompt prefixes",
                           mode.value)
        if untrusted:
            problems.append(Problem("governance.prefix_cache", mode, "untrusted tenants must not share a prefix "
                                    "cache (trust_tier untrusted)", fix="tenant-salted (the default) or off"))
        elif multi:
            warnings.append("governance.prefix_cache is 'shared' on the multi-team tier: teams can observe each "
                            "other's cache hits (timing)")
    elif mode == PrefixCacheMode.TENANT_SALTED:
        prefix = _decision("prefix-cache", E, "LiteLLM sets a per-tenant cache_salt: cache hits never cross tenants",
                           mode.value)
    else:
        prefix = _decision("prefix-cache", E, "prefix caching is off: nothing to share", mode.value)

    # Untrusted only: per-tenant namespaces and GPU isolation.
    if untrusted:
        tenants = _decision("tenant-namespaces", E, "each tenant gets tenant-<name> with a ResourceQuota, "
                            "LimitRange, read access to its own key only and default-deny networking")
        iso_mode = GpuIsolation.MIG if capabilities.mig_available else GpuIsolation.WHOLE_GPU
        iso = _decision("gpu-isolation", E, "MIG slices have their own memory" if iso_mode == GpuIsolation.MIG else
                        "no time-slicing: each GPU belongs to one container at a time", iso_mode.value)
    else:
        tenants = _decision("tenant-namespaces", D, "tenants are LiteLLM teams only; they run no workloads of "
                            "their own on the platform")
        iso_mode = GpuIsolation.SHARED
        iso = _decision("gpu-isolation", D, "GPUs run the platform's model servers only", iso_mode.value)

    raise_problems(f"the control plan for tier {tier.value} / profile {profile.value}", problems,
                   error=ControlPlanError)
    sr3_needs = sr3_requirements(profile)
    return ControlPlan(
        trust_tier=tier, profile=profile, sr1_network=net, sr1_identity=ident, sr2_gpu_admission=sr2,
        sr3_fail_closed=sr3, prefix_cache=prefix, tenant_namespaces=tenants, gpu_isolation=iso,
        prefix_cache_mode=mode, gpu_isolation_mode=iso_mode, fail_closed=sr3_needs.fail_closed,
        min_postgres_instances=sr3_needs.min_postgres_instances,
        redis_required_above_replicas=sr3_needs.redis_required_above_replicas,
        kyverno=governance.kyverno, high_availability=high_availability(profile), warnings=tuple(warnings),
    )


# ---- the docs table -----------------------------------------------------------------------------

def _cell(decision: ControlDecision) -> str:
    return f"{decision.state.value} ({decision.mode})" if decision.mode else decision.state.value


def _plans(tier: TrustTier) -> dict[tuple[str, bool], ControlPlan]:
    """The tier's plans over profiles (dev, prod) and MIG (off, on); refused combinations are left out.

    Computed with GKE's default capabilities (NetworkPolicy enforced, no time-slicing)."""
    found: dict[tuple[str, bool], ControlPlan] = {}
    for profile in (Profile.DEV, Profile.PROD):
        for mig in (False, True):
            caps = SubstrateCapabilities(display_name="reference", gpus_per_node=1, mig_available=mig)
            try:
                found[(profile.value, mig)] = plan_controls(trust_tier=tier, profile=profile, capabilities=caps)
            except ControlPlanError:
                continue
    return found


def _cells(tier: TrustTier, key: str) -> str:
    """One table cell: the control's state over the tier's allowed profiles and MIG, merged."""
    found = {variant: _cell(next(d for d in plan.decisions if d.key == key))
             for variant, plan in _plans(tier).items()}
    profiles = sorted({p for p, _ in found})
    if len(set(found.values())) == 1:
        return next(iter(found.values()))
    if all(found[(p, False)] == found[(p, True)] for p in profiles):
        return "; ".join(f"{p}: {found[(p, False)]}" for p in profiles)
    if all(found[(profiles[0], m)] == found[(p, m)] for p in profiles for m in (False, True)):
        return f"{found[(profiles[0], False)]}; with MIG: {found[(profiles[0], True)]}"
    return "; ".join(f"{p}{' with MIG' if m else ''}: {v}" for (p, m), v in found.items())


def tier_table() -> list[tuple[str, str, str, str]]:
    """(control title, trusted, multi-team, untrusted) per control, from `plan_controls` itself; the
    first row lists the profiles each tier allows (prod refuses `trusted`)."""
    tiers = (TrustTier.TRUSTED, TrustTier.MULTI_TEAM, TrustTier.UNTRUSTED)
    allowed = tuple(", ".join(sorted({p for p, _ in _plans(t)})) for t in tiers)
    rows: list[tuple[str, str, str, str]] = [("Profiles allowed", *allowed)]  # type: ignore[list-item]
    rows += [(title, *(_cells(t, key) for t in tiers)) for key, title in TITLES.items()]  # type: ignore[misc]
    return rows


def render_tier_table() -> str:
    """`tier_table()` as the Markdown table docs/trust-tiers.md carries verbatim."""
    lines = ["| Control | trusted | multi-team | untrusted |", "|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in tier_table()]
    return "\n".join(lines) + "\n"
