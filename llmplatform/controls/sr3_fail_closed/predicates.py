"""SR3: prod budgets fail closed. The facts a prod tenant gateway must have, as one predicate."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llmplatform.problems import Problem

MIN_PROD_POSTGRES_INSTANCES = 3
MAX_PROD_KEY_CACHE_TTL_SECONDS = 60


@dataclass(frozen=True)
class BudgetFacts:
    """What decides whether budgets can be bypassed, read from config or from rendered manifests."""

    allow_requests_on_db_unavailable: bool
    fail_closed_budget_enforcement: bool
    postgres_instances: int
    gateway_replicas: int
    redis_wired: bool
    key_cache_ttl_seconds: int


def sr3_violations(facts: BudgetFacts, *, fail_closed_required: bool) -> list[Problem]:
    """Every way `facts` lets a prod tenant spend past its budget (empty when SR3 holds).

    Each problem's path is the `BudgetFacts` field at fault (`postgres_instances`, `redis_wired`, ...);
    callers put it under their own inputs (the stack config's `tenant_gateway.*`, a component's args).
    Redis is required whenever more than one gateway replica counts spend, on every profile: without
    shared counters each replica enforces the budget alone and a burst overspends.
    """
    out: list[Problem] = []
    if fail_closed_required:
        if facts.allow_requests_on_db_unavailable:
            out.append(Problem("allow_requests_on_db_unavailable", True, "allow_requests_on_db_unavailable is true: "
                               "with the database down any sk- key is served unmetered"))
        if not facts.fail_closed_budget_enforcement:
            out.append(Problem("fail_closed_budget_enforcement", False, "fail_closed_budget_enforcement is off: "
                               "budget checks that cannot run let requests through"))
        if facts.postgres_instances < MIN_PROD_POSTGRES_INSTANCES:
            out.append(Problem("postgres_instances", facts.postgres_instances,
                               f"budget database has {facts.postgres_instances} instance(s); prod needs >= "
                               f"{MIN_PROD_POSTGRES_INSTANCES} for HA"))
        if facts.key_cache_ttl_seconds > MAX_PROD_KEY_CACHE_TTL_SECONDS:
            out.append(Problem("key_cache_ttl_seconds", facts.key_cache_ttl_seconds,
                               f"key cache TTL {facts.key_cache_ttl_seconds}s exceeds "
                               f"{MAX_PROD_KEY_CACHE_TTL_SECONDS}s: revoked or over-budget keys keep working that long"))
    if facts.gateway_replicas > 1 and not facts.redis_wired:
        out.append(Problem("redis_wired", False, f"{facts.gateway_replicas} gateway replicas without Redis: each "
                           "replica counts spend alone and a concurrent burst overspends the budget"))
    return out


@dataclass(frozen=True)
class ConfigFacts:
    """SR3's facts that LiteLLM's proxy config states on its own (no workloads, no database)."""

    allow_requests_on_db_unavailable: bool
    fail_closed_budget_enforcement: bool
    redis_configured: bool
    """Spend coordination and the transaction buffer in Redis, with a Redis cache backend."""
    key_cache_ttl_seconds: int


def config_facts(config: Mapping[str, Any]) -> ConfigFacts:
    """The one reading of a rendered LiteLLM proxy config (parsed `config.yaml`) for SR3.

    Where a value is odd, it reads toward a violation: any truthy `allow_requests_on_db_unavailable`
    allows (unset: False, LiteLLM refuses); `fail_closed_budget_enforcement` counts only when exactly
    true; Redis counts only when `coordination_redis` is set, `use_redis_transaction_buffer` is
    exactly true and the cache backend is `redis` (the renderer writes the three together). Unset
    `user_api_key_cache_ttl`: 60 s, LiteLLM's default.
    """
    general = config.get("general_settings") or {}
    litellm = config.get("litellm_settings") or {}
    cache_is_redis = (litellm.get("cache_params") or {}).get("type") == "redis"
    return ConfigFacts(
        allow_requests_on_db_unavailable=bool(general.get("allow_requests_on_db_unavailable", False)),
        fail_closed_budget_enforcement=general.get("fail_closed_budget_enforcement") is True,
        redis_configured=(bool(general.get("coordination_redis"))
                          and general.get("use_redis_transaction_buffer") is True and cache_is_redis),
        key_cache_ttl_seconds=int(general.get("user_api_key_cache_ttl", 60)),
    )


LITELLM_CONFIG_KEY = "config.yaml"


def litellm_config_from_objects(objects: list[dict]) -> dict | None:
    """LiteLLM's proxy config as rendered: the `config.yaml` of the ConfigMap LiteLLM mounts, parsed."""
    import yaml

    for obj in objects:
        if obj.get("kind") == "ConfigMap":
            text = (obj.get("data") or {}).get(LITELLM_CONFIG_KEY)
            if text and "general_settings" in text:
                parsed = yaml.safe_load(text)
                if isinstance(parsed, dict) and "model_list" in parsed:
                    return parsed
    return None


def facts_from_objects(objects: list[dict], *, tenant_gateway_role: str, budget_cache_role: str) -> BudgetFacts | None:
    """Read SR3's facts back from rendered Kubernetes objects (manifests or plan inputs).

    None when no LiteLLM config is rendered. The config is read by `config_facts`; Redis counts as
    wired only when the config uses it *and* a pod with the budget-cache role exists.
    """
    config = litellm_config_from_objects(objects)
    if config is None:
        return None
    stated = config_facts(config)

    def pod_role(obj: dict) -> str | None:
        template = ((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}
        return (template.get("labels") or {}).get("llmplatform.io/role")

    workloads = [o for o in objects if o.get("kind") in ("Deployment", "StatefulSet")]
    gateways = [o for o in workloads if pod_role(o) == tenant_gateway_role]
    # The most pods a gateway Deployment runs: its own count (1 when unset), or what an autoscaler targeting
    # it may scale it to; an HPA's maximum counts, not the count the Deployment starts with.
    scalers = {((o.get("metadata") or {}).get("namespace"), ((o.get("spec") or {}).get("scaleTargetRef") or {}).get(
        "name")): int((o.get("spec") or {}).get("maxReplicas") or (o.get("spec") or {}).get("maxReplicaCount") or 1)
        for o in objects if o.get("kind") in ("HorizontalPodAutoscaler", "ScaledObject")}
    replicas = sum(max(int((o.get("spec") or {}).get("replicas", 1)), scalers.get(
        ((o.get("metadata") or {}).get("namespace"), (o.get("metadata") or {}).get("name")), 0)) for o in gateways)
    cache_pods = any(pod_role(o) == budget_cache_role for o in workloads)
    clusters = [o for o in objects if o.get("kind") == "Cluster" and str(o.get("apiVersion", "")).startswith(
        "postgresql.cnpg.io/")]
    instances = min((int((c.get("spec") or {}).get("instances", 1)) for c in clusters), default=0)
    return BudgetFacts(
        allow_requests_on_db_unavailable=stated.allow_requests_on_db_unavailable,
        fail_closed_budget_enforcement=stated.fail_closed_budget_enforcement,
        postgres_instances=instances,
        gateway_replicas=replicas,
        redis_wired=cache_pods and stated.redis_configured,
        key_cache_ttl_seconds=stated.key_cache_ttl_seconds,
    )
