"""The stack config's rules that span keys, the control plan's among them.

`cross_field_problems` is what `load_platform_config` applies after the schema: unique names, models
that exist, GPU quota that fits the pool, and every rule of the trust tier and profile, decided by the
one tier logic (`llmplatform.controls.tiers`): the control plan for this config on its substrate's
capabilities (computed from the substrate config alone, as the program computes them), its SR3
requirements and prod's high availability. Each problem names the config key to change.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from llmplatform.config.model import ClusterLocation, GkeSubstrate, PlatformConfig, VastSubstrate
from llmplatform.controls import tiers
from llmplatform.gateway.capacity import Measured, capacity_problems, gateway_load
from llmplatform.predicates.capacity import quota_violations
from llmplatform.predicates.models import unknown_model_problems
from llmplatform.controls.sr3_fail_closed.predicates import BudgetFacts, sr3_violations
from llmplatform.problems import Problem
from substrates.capabilities import SubstrateCapabilities

CAPABILITY_KEYS: dict[str, dict[str, str]] = {
    "gke": {"capabilities.network_policy_enforced": "substrate.kind",
            "capabilities.gpu_time_slicing_replicas": "gpu_pool.sharing"},
    "vast": {"capabilities.network_policy_enforced": "substrate.kind",
             "capabilities.gpu_time_slicing_replicas": "substrate.time_slicing_replicas"},
}
"""Substrate kind -> the config key behind each capability the control plan may refuse."""

SR3_KEYS: dict[str, str] = {
    "allow_requests_on_db_unavailable": "profile",
    "fail_closed_budget_enforcement": "profile",
    "postgres_instances": "tenant_gateway.postgres_instances",
    "key_cache_ttl_seconds": "tenant_gateway.key_cache_ttl_seconds",
    "redis_wired": "tenant_gateway.redis",
}
"""`BudgetFacts` field (the path of an SR3 problem) -> the config key that sets it."""


def substrate_capabilities(cfg: PlatformConfig) -> SubstrateCapabilities:
    """The capabilities the program builds this stack's substrate with (the substrate builders' pure half)."""
    # The substrate modules import this package (its config types): imported on call.
    if isinstance(cfg.substrate, VastSubstrate):
        from substrates.vast.substrate import vast_capabilities

        return vast_capabilities(cfg.substrate)
    from substrates.gke import gke_capabilities

    return gke_capabilities(cfg.gpu_pool)


def control_plan_for(cfg: PlatformConfig) -> tiers.ControlPlan:
    """The control plan the program computes for `cfg` (for tools and tests; the program itself
    plans from the substrate it built). Raises ControlPlanError."""
    return tiers.plan_controls(trust_tier=cfg.trust_tier, profile=cfg.profile,
                               capabilities=substrate_capabilities(cfg), governance=cfg.governance)


def control_plan_problems(cfg: PlatformConfig) -> list[Problem]:
    """The control plan's problems for `cfg`, each at the config key that decides it."""
    try:
        control_plan_for(cfg)
    except tiers.ControlPlanError as exc:
        keys = CAPABILITY_KEYS[cfg.substrate.kind]
        return [_at_key(cfg, problem, keys.get(problem.path, problem.path)) for problem in exc.problems]
    return []


def cross_field_problems(cfg: PlatformConfig) -> list[Problem]:
    """Rules that span keys; each names the key path a user should change."""
    out: list[Problem] = []
    pool = cfg.gpu_pool
    names = [m.name for m in cfg.models]
    for i, m in enumerate(cfg.models):
        if names.index(m.name) != i:
            out.append(Problem(f"models[{i}].name", m.name, "must be unique among models"))
    served = [m.served_name for m in cfg.models]
    for i, m in enumerate(cfg.models):
        if served.index(m.served_name) != i:
            out.append(Problem(f"models[{i}].served_name", m.served_name, "must be unique among models"))
    tenant_names = [t.name for t in cfg.tenants]
    for i, t in enumerate(cfg.tenants):
        if tenant_names.index(t.name) != i:
            out.append(Problem(f"tenants[{i}].name", t.name, "must be unique among tenants"))
    out += unknown_model_problems([(t.name, t.allowed_models) for t in cfg.tenants], names)
    out += quota_violations(
        capacity=pool.capacity,
        gpus_per_node=pool.gpus_per_node,
        models=[(m.name, m.gpus_per_replica, m.max_replicas) for m in cfg.models],
        tenants=[(t.name, t.gpu_quota) for t in cfg.tenants],
    )

    out += control_plan_problems(cfg)
    out += _high_availability_problems(cfg)
    out += edge_problems(cfg)
    gw = cfg.tenant_gateway
    sr3 = tiers.sr3_requirements(cfg.profile)
    facts = BudgetFacts(
        allow_requests_on_db_unavailable=not sr3.fail_closed,
        fail_closed_budget_enforcement=sr3.fail_closed,
        postgres_instances=gw.postgres_instances,
        gateway_replicas=max(gw.replicas, gw.max_replicas or 0),
        redis_wired=gw.redis,
        key_cache_ttl_seconds=gw.key_cache_ttl_seconds,
    )
    out += [_at_key(cfg, p, SR3_KEYS[p.path]) for p in sr3_violations(facts, fail_closed_required=sr3.fail_closed)]
    if sr3.fail_closed and not gw.backup_bucket:
        out.append(Problem("tenant_gateway.backup_bucket", None, "required on prod: the budget database needs backups",
                           missing=True))
    out += capacity_problems(gateway_load(gw, cfg.tenants), Measured.load())
    if gw.backup_bucket and not re.fullmatch(r"gs://[a-z0-9][-_.a-z0-9]{1,220}(/.*)?", gw.backup_bucket):
        out.append(Problem("tenant_gateway.backup_bucket", gw.backup_bucket, "must be a gs:// bucket URL"))
    return out


def edge_problems(cfg: PlatformConfig) -> list[Problem]:
    """The tenant edge's mode must be one the substrate can build (its capability `tenant_edge_modes`)."""
    mode = cfg.tenant_gateway.exposure.mode
    allowed = substrate_capabilities(cfg).tenant_edge_modes
    if mode.value in allowed:
        return []
    return [Problem("tenant_gateway.exposure.mode", mode.value,
                    f"substrate {cfg.substrate.kind} supports only: {', '.join(allowed)} (it has no load balancer "
                    "that keeps client addresses, no VPC and no Google proxies in front of it)")]


SLO_WINDOW_DAYS = 30
"""The latency objectives' period (llmplatform/observability/rules.py): prod keeps at least this much history."""


def _high_availability_problems(cfg: PlatformConfig) -> list[Problem]:
    """Prod keeps the cluster highly available: the cheap dev shapes are refused there."""
    if not tiers.high_availability(cfg.profile):
        return []
    out = []
    if cfg.observability.retention_days < SLO_WINDOW_DAYS:
        out.append(Problem("observability.retention_days", cfg.observability.retention_days,
                           f"prod keeps at least {SLO_WINDOW_DAYS} days of history, the latency SLOs' window "
                           f"(their error budget and burn rates are computed over it); set {SLO_WINDOW_DAYS} or more"))
    sub = cfg.substrate
    if not isinstance(sub, GkeSubstrate):
        return out
    if sub.location != ClusterLocation.REGIONAL:
        out.append(Problem("substrate.location", sub.location.value,
                           "prod must be regional: a zonal control plane is one replica in one zone, so a zone "
                           "outage or a control-plane upgrade stops scheduling, and LiteLLM and the budget "
                           "database's Postgres replicas cannot fail over"))
    if sub.system_spot:
        out.append(Problem("substrate.system_spot", True,
                           "prod must not run the system pool on Spot: one preemption evicts the controllers, "
                           "LiteLLM and the budget database's Postgres at once (SR3 needs them highly available)"))
    return out


def _at_key(cfg: PlatformConfig, problem: Problem, key: str) -> Problem:
    """`problem` reported at config key `key`, with the value configured there."""
    return replace(problem, path=key, value=_lookup(cfg, key))


def _lookup(cfg: PlatformConfig, path: str) -> Any:
    node: Any = cfg
    for part in re.findall(r"[^.\[\]]+", path):
        node = node[int(part)] if part.isdigit() else getattr(node, part)
    return node.value if hasattr(node, "value") else node
