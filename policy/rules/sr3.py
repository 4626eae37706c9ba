"""SR3: prod budgets fail closed, and spend is counted once however many LiteLLM replicas run.

All three policies read the same facts the components validate and `llmp verify` proves
(`llmplatform.controls.sr3_fail_closed.predicates.facts_from_objects`) and judge them with the same predicate
(`sr3_violations`). Each policy asks the predicate about its own facts only, by holding every other
fact at a compliant value, so one finding never shows up under three policy names.
"""

from __future__ import annotations

from dataclasses import replace

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from llmplatform import labels
from llmplatform.controls.sr3_fail_closed.predicates import (
    LITELLM_CONFIG_KEY,
    MAX_PROD_KEY_CACHE_TTL_SECONDS,
    MIN_PROD_POSTGRES_INSTANCES,
    BudgetFacts,
    facts_from_objects,
    sr3_violations,
)

from .common import PROFILE_SCHEMA, STRICT_PROFILE, is_kind, k8s_object, objects_of, profile

COMPLIANT = BudgetFacts(
    allow_requests_on_db_unavailable=False,
    fail_closed_budget_enforcement=True,
    postgres_instances=MIN_PROD_POSTGRES_INSTANCES,
    gateway_replicas=1,
    redis_wired=True,
    key_cache_ttl_seconds=MAX_PROD_KEY_CACHE_TTL_SECONDS,
)
"""Facts that satisfy SR3 on every profile: the neutral background each policy sets its own facts against."""


def _facts(objects: list[dict]) -> BudgetFacts | None:
    return facts_from_objects(objects, tenant_gateway_role=labels.ROLE_TENANT_GATEWAY,
                              budget_cache_role=labels.ROLE_BUDGET_CACHE)


def _role(obj: dict) -> str | None:
    template = ((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}
    return (template.get("labels") or {}).get(labels.ROLE)


def _litellm_config_urn(pairs: list[tuple[str, dict]]) -> str | None:
    for urn, obj in pairs:
        if is_kind(obj, "ConfigMap") and "general_settings" in str((obj.get("data") or {}).get(LITELLM_CONFIG_KEY, "")):
            return urn
    return None


def _fails_closed(args: StackValidationArgs, report: ReportViolation) -> None:
    if profile(args.get_config()) != STRICT_PROFILE:
        args.not_applicable(f"profile {profile(args.get_config())}: budgets fail open by design off prod")
    pairs = objects_of(args.resources)
    objects = [o for _, o in pairs]
    facts = _facts(objects)
    if facts is None:
        gateways = [urn for urn, o in pairs if _role(o) == labels.ROLE_TENANT_GATEWAY]
        if gateways:
            report(f"LiteLLM runs but no ConfigMap holds its {LITELLM_CONFIG_KEY} (with general_settings and "
                   "model_list): its fail-closed settings cannot be established", gateways[0])
        return
    own = replace(COMPLIANT, allow_requests_on_db_unavailable=facts.allow_requests_on_db_unavailable,
                  fail_closed_budget_enforcement=facts.fail_closed_budget_enforcement,
                  key_cache_ttl_seconds=facts.key_cache_ttl_seconds)
    urn = _litellm_config_urn(pairs)
    for problem in sr3_violations(own, fail_closed_required=True):
        report(problem.reason, urn)


sr3_prod_fails_closed = StackValidationPolicy(
    name="sr3-prod-fails-closed",
    description="SR3: on prod, LiteLLM refuses requests when the budget database is down "
                "(allow_requests_on_db_unavailable false, fail_closed_budget_enforcement true) and trusts a cached "
                f"key for at most {MAX_PROD_KEY_CACHE_TTL_SECONDS}s (user_api_key_cache_ttl).",
    validate=_fails_closed,
    config_schema=PROFILE_SCHEMA,
    severity=Severity.CRITICAL,
)


def _budget_db_ha(args: ResourceValidationArgs, report: ReportViolation) -> None:
    obj = k8s_object(args.resource_type, args.props)
    if not is_kind(obj, "Cluster", "postgresql.cnpg.io"):
        return
    if profile(args.get_config()) != STRICT_PROFILE:
        args.not_applicable(f"profile {profile(args.get_config())}: a single budget database instance is allowed "
                            "off prod")
    # The shared reader decides how an instance count is read (default 1); ask it about this cluster alone.
    facts = _facts([obj, _probe_config()])
    assert facts is not None
    for problem in sr3_violations(replace(COMPLIANT, postgres_instances=facts.postgres_instances),
                                  fail_closed_required=True):
        report(f"{(obj.get('metadata') or {}).get('name', 'Cluster')}: {problem.reason}", None)


def _probe_config() -> dict:
    # A minimal LiteLLM config so facts_from_objects reads the cluster; every other fact is ignored above.
    return {"kind": "ConfigMap", "data": {LITELLM_CONFIG_KEY: "model_list: []\ngeneral_settings: {}\n"}}


sr3_prod_budget_db_ha = ResourceValidationPolicy(
    name="sr3-prod-budget-db-ha",
    description=f"SR3: on prod, every CloudNativePG Cluster (the budget database) runs at least "
                f"{MIN_PROD_POSTGRES_INSTANCES} instances.",
    validate=_budget_db_ha,
    config_schema=PROFILE_SCHEMA,
    severity=Severity.HIGH,
)


def _shared_counters(args: StackValidationArgs, report: ReportViolation) -> None:
    pairs = objects_of(args.resources)
    facts = _facts([o for _, o in pairs])
    if facts is None:
        return
    own = replace(COMPLIANT, gateway_replicas=facts.gateway_replicas, redis_wired=facts.redis_wired)
    gateway_urn = next((urn for urn, o in pairs if _role(o) == labels.ROLE_TENANT_GATEWAY), None)
    for problem in sr3_violations(own, fail_closed_required=False):
        report(problem.reason + " (Redis counts as wired when a budget-cache pod exists and LiteLLM's config uses it for "
               "coordination and its cache)", gateway_urn)


sr3_shared_budget_counters = StackValidationPolicy(
    name="sr3-shared-budget-counters",
    description="SR3: whenever LiteLLM runs more than one replica (any profile), budget counters are shared through "
                "Redis: a budget-cache pod exists and LiteLLM's config points coordination and its cache at it.",
    validate=_shared_counters,
    severity=Severity.HIGH,
)

POLICIES = [sr3_prod_fails_closed, sr3_prod_budget_db_ha, sr3_shared_budget_counters]
