"""Alert and recording rules, rendered from the stack config (pure functions, Prometheus rule-file dicts).

They are installed with the pinned Prometheus chart's own mechanism: `serverFiles."alerting_rules.yml"` and
`serverFiles."recording_rules.yml"`, which the chart's default `prometheus.yml` already lists in
`rule_files` (prometheus-community/helm-charts tag prometheus-28.10.0, charts/prometheus/values.yaml).
Every alert links its runbook step in docs/operations.md (`RUNBOOK` + the alert's anchor); `llmp verify`
checks the rules with promtool, runs their unit tests and checks every metric they read exists.

Latency SLOs are multiwindow burn-rate alerts (the Google SRE workbook's "alerting on SLOs", for a
30-day objective): page when the error budget burns 14.4 times too fast over 1 h and over 5 min
(2% of the month's budget in an hour), ticket at 6 times over 6 h and 30 min (5% in 6 hours). The good
events are vLLM's histogram buckets at the objective's bound, which is why the config accepts only
bucket bounds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llmplatform.config import ModelSpec, Observability
from llmplatform.observability import jobs

RUNBOOK = "docs/operations.md"
"""Every alert's `runbook` annotation is this file plus `#` and the alert's name in lower case."""
PAGE, TICKET = "page", "ticket"
BURN_WINDOWS = (("5m", "1h", 14.4), ("30m", "6h", 6.0))
"""(short window, long window, burn-rate factor): fast burn pages, slow burn makes a ticket."""
SLO_WINDOWS = ("5m", "30m", "1h", "6h")
SLI = {
    "ttft": ("vllm:time_to_first_token_seconds", "time to first token"),
    "itl": ("vllm:inter_token_latency_seconds", "inter-token latency"),
}
"""SLI key -> (vLLM 0.14.0 histogram, what it measures)."""
LITELLM_REQUESTS = "litellm_proxy_total_requests_metric_total"
LITELLM_TEAM_MAX_BUDGET = "litellm_team_max_budget_metric"
LITELLM_TEAM_REMAINING_BUDGET = "litellm_remaining_team_budget_metric"
CNPG_UP = "cnpg_collector_up"
CNPG_IN_RECOVERY = "cnpg_pg_replication_in_recovery"
REDIS_UP = "redis_up"
KUEUE_PENDING = "kueue_pending_workloads"
KEDA_SCALER_ERRORS = "keda_scaler_detail_errors_total"
"""KEDA v2.20.2 counts scaler errors here (pkg/metricscollector/prommetrics.go); `keda_scaler_errors_total` is gone."""
VLLM_KV_CACHE = "vllm:kv_cache_usage_perc"
VLLM_WAITING = "vllm:num_requests_waiting"


@dataclass(frozen=True, kw_only=True)
class RuleInputs:
    """What the rules are rendered from: the stack config's models and thresholds, and the platform's shape."""

    models: tuple[ModelSpec, ...]
    """Per-model rules (no ready replica, at max replicas) read each model's replica bounds."""
    observability: Observability
    serving_namespace: str
    tenant_gateway_namespace: str
    budget_db_instances: int
    """CloudNativePG instances of the budget database; fewer reporting up raises BudgetDatabaseNotReady."""
    budget_cache: bool
    """True: the budget cache (Redis) is deployed, so BudgetCacheDown is rendered."""
    fail_closed: bool
    """True (prod): the budget database or cache down refuses every tenant request, so those alerts page."""
    scraped_jobs: frozenset[str]
    """The Prometheus jobs the rendered scrape config has (llmplatform/observability/jobs.py). An alert is
    rendered only where its series are scraped: one that reads a job nobody scrapes would see no series and
    (for the `or vector(0)` readiness alerts) fire for ever, or (for the others) never."""


def _sel(job: str, namespace: str, **extra: str) -> str:
    pairs = {"job": job, "namespace": namespace, **extra}
    return "{" + ",".join(f'{k}="{v}"' for k, v in pairs.items()) + "}"


def _num(value: float) -> str:
    return format(value, "g")


def le_matcher(bound: float) -> str:
    """`le` as the Python client writes it (`2.5`, `1.0`) and as Prometheus 3 normalises it (`1`)."""
    forms = sorted({repr(float(bound)), _num(bound)})
    return "|".join(f.replace(".", "\\\\.") for f in forms)


def _alert(name: str, expr: str, severity: str, summary: str, description: str, *, for_: str | None = None,
           labels: dict[str, str] | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {"alert": name, "expr": expr}
    if for_:
        rule["for"] = for_
    rule["labels"] = {"severity": severity, **(labels or {})}
    rule["annotations"] = {"summary": summary, "description": description, "runbook": f"{RUNBOOK}#{name.lower()}"}
    return rule


def slo_record(sli: str, window: str) -> str:
    """The recording rule holding one SLI's error ratio over `window`, per model."""
    return f"model:vllm_{sli}_slo_errors:ratio_rate{window}"


def recording_rules(inputs: RuleInputs) -> dict[str, Any]:
    """Error ratios of the latency SLIs per model over the burn-rate windows."""
    o = inputs.observability
    bounds = {"ttft": o.ttft_slo_seconds, "itl": o.itl_slo_seconds}
    sel = f'job="{jobs.MODEL_SERVERS}",namespace="{inputs.serving_namespace}"'
    rules: list[dict[str, Any]] = []
    if jobs.MODEL_SERVERS not in inputs.scraped_jobs:
        return {"groups": []}
    for sli, (metric, _) in SLI.items():
        good = f'{metric}_bucket{{{sel},le=~"{le_matcher(bounds[sli])}"}}'
        for window in SLO_WINDOWS:
            rules.append({"record": slo_record(sli, window),
                          "expr": f"1 - (sum by (model) (rate({good}[{window}])) / "
                                  f"sum by (model) (rate({metric}_count{{{sel}}}[{window}])))"})
    return {"groups": [{"name": "llmplatform-slo-ratios", "rules": rules}]}


def _budget_rules(inputs: RuleInputs) -> list[dict[str, Any]]:
    ns, n = inputs.tenant_gateway_namespace, inputs.budget_db_instances
    severity = PAGE if inputs.fail_closed else TICKET
    consequence = ("prod fails closed: every tenant request is refused while it lasts" if inputs.fail_closed
                   else "dev fails open: requests are served unmetered while it lasts")
    db = _sel(jobs.BUDGET_DB, ns)
    rules = [] if jobs.BUDGET_DB not in inputs.scraped_jobs else [
        _alert("BudgetDatabaseNotReady", f"(sum({CNPG_UP}{db}) or vector(0)) < {n}", severity,
               "The budget database has fewer than {} ready instances".format(n),
               f"CloudNativePG instances of the budget database reporting up: {{{{ $value }}}} of {n}; "
               f"with none, {consequence}.", for_="5m"),
        _alert("BudgetDatabaseFailover", f"(count({CNPG_IN_RECOVERY}{db} == 0) or vector(0)) != 1", severity,
               "The budget database does not have exactly one primary (failing over)",
               f"Instances not in recovery: {{{{ $value }}}}. LiteLLM writes spend only to the primary; "
               f"until one is promoted, {consequence}.", for_="2m"),
    ]
    if inputs.budget_cache and jobs.BUDGET_CACHE in inputs.scraped_jobs:
        rules.append(_alert(
            "BudgetCacheDown", f"(max({REDIS_UP}{_sel(jobs.BUDGET_CACHE, ns)}) or vector(0)) < 1", severity,
            "The budget cache (Redis) is down",
            f"The Redis exporter cannot reach the budget cache, where LiteLLM's replicas share spend counters; "
            f"{consequence}.", for_="2m"))
    return rules


def _gateway_rules(inputs: RuleInputs) -> list[dict[str, Any]]:
    o = inputs.observability
    if jobs.TENANT_GATEWAY not in inputs.scraped_jobs:
        return []
    sel = f'job="{jobs.TENANT_GATEWAY}",namespace="{inputs.tenant_gateway_namespace}"'
    requests = f"sum(rate({LITELLM_REQUESTS}{{{sel}}}[5m]))"
    errors = f'sum(rate({LITELLM_REQUESTS}{{{sel},status_code=~"5.."}}[5m]))'
    budget = f"{{{sel}}}"
    spent = (f"max by (team, team_alias) (1 - {LITELLM_TEAM_REMAINING_BUDGET}{budget} / "
             f"{LITELLM_TEAM_MAX_BUDGET}{budget})")
    return [
        _alert("LiteLLMErrorRatioHigh", f"{errors} / {requests} > {_num(o.litellm_5xx_ratio)}", PAGE,
               "LiteLLM answers too many requests with 5xx",
               f"{{{{ $value | humanizePercentage }}}} of LiteLLM's responses over 5 minutes are 5xx "
               f"(threshold {_num(o.litellm_5xx_ratio * 100)}%).", for_="5m"),
        _alert("TeamBudgetNearlySpent", f"{spent} > {_num(o.team_spend_alert_share)}", TICKET,
               "Team {{ $labels.team_alias }} has spent most of its budget",
               f"Team {{{{ $labels.team_alias }}}} has spent {{{{ $value | humanizePercentage }}}} of its budget "
               f"this period (alert share {_num(o.team_spend_alert_share * 100)}%); at 100% LiteLLM refuses its "
               "keys with budget_exceeded."),
    ]


def _model_rules(inputs: RuleInputs) -> list[dict[str, Any]]:
    o = inputs.observability
    ns = inputs.serving_namespace
    sel = f'job="{jobs.MODEL_SERVERS}",namespace="{ns}"'
    sat = f"{o.saturation_minutes}m"
    rules: list[dict[str, Any]] = []
    if jobs.MODEL_SERVERS not in inputs.scraped_jobs:
        return rules
    for sli, (_, what) in SLI.items():
        target = o.ttft_slo_target if sli == "ttft" else o.itl_slo_target
        bound = o.ttft_slo_seconds if sli == "ttft" else o.itl_slo_seconds
        name = {"ttft": "ModelTimeToFirstTokenSLOBurn", "itl": "ModelInterTokenLatencySLOBurn"}[sli]
        for (short, long, factor), severity in zip(BURN_WINDOWS, (PAGE, TICKET)):
            limit = _num(round(factor * (1 - target), 10))
            rules.append(_alert(
                name, f"{slo_record(sli, long)} > {limit} and {slo_record(sli, short)} > {limit}", severity,
                f"Model {{{{ $labels.model }}}} burns its {what} error budget {_num(factor)}x too fast",
                f"Over {long} (and {short}) {{{{ $value | humanizePercentage }}}} of model {{{{ $labels.model }}}}'s "
                f"requests missed {_num(bound)} s of {what}; the objective allows {_num((1 - target) * 100)}% "
                "over 30 days.", labels={"window": long}))
    rules.append(_alert(
        "ModelKvCacheSaturated", f"max by (model) ({VLLM_KV_CACHE}{{{sel}}}) > {_num(o.kv_cache_saturation)}", TICKET,
        "Model {{ $labels.model }}'s KV cache is saturated",
        f"A replica of {{{{ $labels.model }}}} has used {{{{ $value | humanizePercentage }}}} of its KV cache for "
        f"{sat}; requests queue or are preempted.", for_=sat))
    for m in inputs.models:
        msel = f'{{{sel},model="{m.name}"}}'
        ready = f"count(up{msel} == 1)"
        rules.append(_alert(
            "ModelAtMaxReplicasWithRequestsWaiting",
            f"{ready} >= {m.max_replicas} and sum({VLLM_WAITING}{msel}) > 0", TICKET,
            f"Model {m.name} runs at max_replicas ({m.max_replicas}) with requests waiting",
            f"KEDA cannot add replicas of {m.name} beyond models[].max_replicas = {m.max_replicas}, and "
            f"{{{{ $value }}}} request(s) wait.", for_=sat, labels={"model": m.name}))
        if m.min_replicas > 0:
            rules.append(_alert(
                "ModelNoReadyReplica", f"({ready} or vector(0)) < 1", PAGE,
                f"Model {m.name} has no ready replica",
                f"min_replicas is {m.min_replicas}, yet no {m.name} replica serves metrics: requests for it "
                "fail.", for_="5m", labels={"model": m.name}))
    return rules


def _capacity_rules(inputs: RuleInputs) -> list[dict[str, Any]]:
    o = inputs.observability
    wait = f"{o.pending_workload_minutes}m"
    out = [
        _alert("KueueWorkloadsPendingForQuota",
               f'sum by (cluster_queue) ({KUEUE_PENDING}{{job="{jobs.KUEUE}"}}) > 0', TICKET,
               "Workloads wait for GPU quota in ClusterQueue {{ $labels.cluster_queue }}",
               f"{{{{ $value }}}} workload(s) have waited in {{{{ $labels.cluster_queue }}}} for {wait}: the "
               "quota (models[].max_replicas x gpus_per_replica, tenants[].gpu_quota) or the pool is exhausted.",
               for_=wait),
        _alert("KedaScalerErrors",
               f'sum by (namespace, scaledObject) (rate({KEDA_SCALER_ERRORS}{{job="{jobs.KEDA}"}}[5m])) > 0',
               TICKET, "KEDA cannot read the scaling signals of {{ $labels.scaledObject }}",
               "The ScaledObject's Prometheus queries fail; KEDA holds its fallback replica count and does not "
               "scale on load.", for_="10m"),
    ]
    return [r for r, job in zip(out, (jobs.KUEUE, jobs.KEDA)) if job in inputs.scraped_jobs]


def alerting_rules(inputs: RuleInputs) -> dict[str, Any]:
    """The alert groups: budget store, tenant gateway, models, capacity (a group with no scraped job is left out)."""
    groups = [
        {"name": "llmplatform-budget-store", "rules": _budget_rules(inputs)},
        {"name": "llmplatform-tenant-gateway", "rules": _gateway_rules(inputs)},
        {"name": "llmplatform-models", "rules": _model_rules(inputs)},
        {"name": "llmplatform-capacity", "rules": _capacity_rules(inputs)},
    ]
    return {"groups": [g for g in groups if g["rules"]]}


def alert_names(rules: dict[str, Any]) -> list[str]:
    """Distinct alert names in a rule file, in order."""
    seen: list[str] = []
    for group in rules.get("groups", []):
        for rule in group.get("rules", []):
            if "alert" in rule and rule["alert"] not in seen:
                seen.append(rule["alert"])
    return seen


def exprs(rule_files: Sequence[dict[str, Any]]) -> list[str]:
    """Every expression of the given rule files."""
    return [r["expr"] for f in rule_files for g in f.get("groups", []) for r in g.get("rules", [])]
