"""SR3: prod budgets fail closed. The facts a prod tenant gateway must have, as one predicate."""

from __future__ import annotations

from dataclasses import dataclass

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


def sr3_violations(facts: BudgetFacts, *, fail_closed_required: bool) -> list[str]:
    """Every way `facts` lets a prod tenant spend past its budget (empty when SR3 holds).

    Redis is required whenever more than one gateway replica counts spend, on every profile: without
    shared counters each replica enforces the budget alone and a burst overspends.
    """
    out: list[str] = []
    if fail_closed_required:
        if facts.allow_requests_on_db_unavailable:
            out.append("allow_requests_on_db_unavailable is true: with the database down any sk- key is served unmetered")
        if not facts.fail_closed_budget_enforcement:
            out.append("fail_closed_budget_enforcement is off: budget checks that cannot run let requests through")
        if facts.postgres_instances < MIN_PROD_POSTGRES_INSTANCES:
            out.append(f"budget database has {facts.postgres_instances} instance(s); prod needs >= "
                       f"{MIN_PROD_POSTGRES_INSTANCES} for HA")
        if facts.key_cache_ttl_seconds > MAX_PROD_KEY_CACHE_TTL_SECONDS:
            out.append(f"key cache TTL {facts.key_cache_ttl_seconds}s exceeds {MAX_PROD_KEY_CACHE_TTL_SECONDS}s: "
                       "revoked or over-budget keys keep working that long")
    if facts.gateway_replicas > 1 and not facts.redis_wired:
        out.append(f"{facts.gateway_replicas} gateway replicas without Redis: each replica counts spend alone "
                   "and a concurrent burst overspends the budget")
    return out
