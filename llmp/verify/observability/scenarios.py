"""promtool unit tests for the rendered rules, written from the stack config, not from the rule expressions.

Each alert gets a synthetic history that must fire it and one that must leave it silent, in the series
and labels the exporters really write (vLLM's `model_name`/`engine`, LiteLLM's `team`/`team_alias`/
`status_code`, CloudNativePG's per-instance `pod`, ...) plus the scrape job's `job`, `namespace`, `pod`,
`model`. The KEDA triggers' queries are evaluated on synthetic vLLM series and must equal the documented
signal: running requests / max_num_seqs, KV-cache use, waiting requests (summed over the model's pods).
Annotations are text for people; promtool compares them verbatim, so the unit tests run on a copy of the
rules without them (their templates are still checked by `promtool check rules` on the real files).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmplatform.config import PlatformConfig
from llmplatform.observability import jobs

LONG = 7 * 60 + 10
"""Minutes of synthetic history for the latency SLOs: the 6 h burn-rate window plus slack."""
SHORT = 40
"""Minutes of synthetic history for every other alert: their longest `for` (15 min by default) plus slack.
promtool evaluates every rule each minute up to the evaluation time, so history costs time. A config whose
`pending_workload_minutes` or `saturation_minutes` exceeds 35 makes that alert's firing case fail (never pass
falsely) until this grows with it."""


@dataclass(frozen=True)
class Case:
    alert: str
    fires: bool
    series: list[dict[str, str]]
    expected: list[dict[str, str]]
    """The alerts' labels (without `alertname`), when `fires`."""
    minutes: int = SHORT

    @property
    def eval_time(self) -> str:
        return f"{self.minutes - 5}m"


def _constant(value: float, minutes: int = SHORT) -> str:
    return f"{value:g}x{minutes}"


def _counter(per_minute: float, minutes: int = SHORT) -> str:
    return f"0+{per_minute:g}x{minutes}"


def _labels(**kw: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in kw.items()) + "}"


def _s(metric: str, values: str, /, **labels: str) -> dict[str, str]:
    return {"series": metric + _labels(**labels), "values": values}


def cases(cfg: PlatformConfig, *, serving_ns: str, tenant_ns: str, fail_closed: bool) -> list[Case]:
    o = cfg.observability
    gw = cfg.tenant_gateway
    sev = "page" if fail_closed else "ticket"
    out: list[Case] = []
    db = {"job": jobs.BUDGET_DB, "namespace": tenant_ns}
    n = gw.postgres_instances
    pods = [f"budget-db-{i + 1}" for i in range(n)]
    up = lambda k: [_s("cnpg_collector_up", _constant(1 if i < k else 0), **db, pod=p) for i, p in enumerate(pods)]  # noqa: E731
    out += [Case("BudgetDatabaseNotReady", True, up(n - 1), [{"severity": sev}]),
            Case("BudgetDatabaseNotReady", False, up(n), [])]
    rec = lambda primaries: [_s("cnpg_pg_replication_in_recovery", _constant(0 if i < primaries else 1), **db, pod=p)  # noqa: E731
                             for i, p in enumerate(pods)]
    out += [Case("BudgetDatabaseFailover", True, rec(0), [{"severity": sev}]),
            Case("BudgetDatabaseFailover", False, rec(1), [])]
    if gw.redis:
        cache = {"job": jobs.BUDGET_CACHE, "namespace": tenant_ns, "pod": "budget-cache-exporter"}
        out += [Case("BudgetCacheDown", True, [_s("redis_up", _constant(0), **cache)], [{"severity": sev}]),
                Case("BudgetCacheDown", False, [_s("redis_up", _constant(1), **cache)], [])]

    lite = {"job": jobs.TENANT_GATEWAY, "namespace": tenant_ns, "pod": "litellm-0", "team": "t1",
            "team_alias": "search"}
    req = lambda ratio: [  # noqa: E731
        _s("litellm_proxy_total_requests_metric_total", _counter(1000 * (1 - ratio)), **lite, status_code="200"),
        _s("litellm_proxy_total_requests_metric_total", _counter(1000 * ratio), **lite, status_code="503")]
    out += [Case("LiteLLMErrorRatioHigh", True, req(min(1.0, o.litellm_5xx_ratio * 2)), [{"severity": "page"}]),
            Case("LiteLLMErrorRatioHigh", False, req(o.litellm_5xx_ratio / 2), [])]
    budget = lambda share: [_s("litellm_team_max_budget_metric", _constant(1000), **lite),  # noqa: E731
                            _s("litellm_remaining_team_budget_metric", _constant(1000 * (1 - share)), **lite)]
    team = {"severity": "ticket", "team": "t1", "team_alias": "search"}
    out += [Case("TeamBudgetNearlySpent", True, budget((o.team_spend_alert_share + 1) / 2), [team]),
            Case("TeamBudgetNearlySpent", False, budget(o.team_spend_alert_share / 2), [])]

    m = cfg.models[0]
    vllm = {"job": jobs.MODEL_SERVERS, "namespace": serving_ns, "model": m.name, "model_name": m.served_name,
            "engine": "0"}
    for alert, metric, bound, target in (
            ("ModelTimeToFirstTokenSLOBurn", "vllm:time_to_first_token_seconds", o.ttft_slo_seconds, o.ttft_slo_target),
            ("ModelInterTokenLatencySLOBurn", "vllm:inter_token_latency_seconds", o.itl_slo_seconds, o.itl_slo_target)):
        def hist(bad: float) -> list[dict[str, str]]:
            le = repr(float(bound))
            return [_s(f"{metric}_bucket", _counter(100 * (1 - bad), LONG), **vllm, pod="p0", le=le),
                    _s(f"{metric}_bucket", _counter(100, LONG), **vllm, pod="p0", le="+Inf"),
                    _s(f"{metric}_count", _counter(100, LONG), **vllm, pod="p0")]
        budget_share = 1 - target
        out += [Case(alert, True, hist(min(1.0, 20 * budget_share)),
                     [{"severity": "page", "window": "1h", "model": m.name},
                      {"severity": "ticket", "window": "6h", "model": m.name}], LONG),
                Case(alert, False, hist(budget_share / 2), [], LONG)]

    kv = lambda v: [_s("vllm:kv_cache_usage_perc", _constant(v), **vllm, pod="p0")]  # noqa: E731
    out += [Case("ModelKvCacheSaturated", True, kv(min(1.0, o.kv_cache_saturation + 0.01)),
                 [{"severity": "ticket", "model": m.name}]),
            Case("ModelKvCacheSaturated", False, kv(o.kv_cache_saturation - 0.05), [])]

    for m in cfg.models:
        labels = {"job": jobs.MODEL_SERVERS, "namespace": serving_ns, "model": m.name, "model_name": m.served_name,
                  "engine": "0"}
        others = [_s("up", _constant(1), job=jobs.MODEL_SERVERS, namespace=serving_ns, model=x.name, pod=f"vllm-{x.name}-0")
                  for x in cfg.models if x.name != m.name]

        def replicas(count: int, waiting: float) -> list[dict[str, str]]:
            pods = [f"vllm-{m.name}-{i}" for i in range(m.max_replicas)]
            return others + ([_s("up", _constant(1 if i < count else 0), **{k: v for k, v in labels.items()
                                                                    if k in ("job", "namespace", "model")}, pod=p)
                     for i, p in enumerate(pods)]
                    + [_s("vllm:num_requests_waiting", _constant(waiting), **labels, pod=p) for p in pods[:count]])
        at_max = {"severity": "ticket", "model": m.name}
        out += [Case("ModelAtMaxReplicasWithRequestsWaiting", True, replicas(m.max_replicas, 3), [at_max]),
                Case("ModelAtMaxReplicasWithRequestsWaiting", False, replicas(m.max_replicas - 1, 3), []),
                Case("ModelAtMaxReplicasWithRequestsWaiting", False, replicas(m.max_replicas, 0), [])]
        if m.min_replicas > 0:
            out += [Case("ModelNoReadyReplica", True, replicas(0, 0), [{"severity": "page", "model": m.name}]),
                    Case("ModelNoReadyReplica", False, replicas(1, 0), [])]

    kueue = {"job": jobs.KUEUE, "namespace": "kueue-system", "pod": "kueue-0", "cluster_queue": "serving"}
    out += [Case("KueueWorkloadsPendingForQuota", True,
                 [_s("kueue_pending_workloads", _constant(2), **kueue, status="inadmissible")],
                 [{"severity": "ticket", "cluster_queue": "serving"}]),
            Case("KueueWorkloadsPendingForQuota", False,
                 [_s("kueue_pending_workloads", _constant(0), **kueue, status="inadmissible")], [])]
    keda = {"job": jobs.KEDA, "namespace": serving_ns, "pod": "keda-operator-0", "scaledObject": "vllm-x",
            "scaler": "prometheusScaler", "triggerIndex": "0", "metric": "s0-prometheus", "type": "scaledobject"}
    out += [Case("KedaScalerErrors", True, [_s("keda_scaler_detail_errors_total", _counter(1), **keda)],
                 [{"severity": "ticket", "namespace": serving_ns, "scaledObject": "vllm-x"}]),
            Case("KedaScalerErrors", False, [_s("keda_scaler_detail_errors_total", _constant(4), **keda)], [])]
    return out


def keda_signal_tests(cfg: PlatformConfig, scaled_objects: list[dict[str, Any]], *, serving_ns: str) -> dict[str, Any]:
    """One promtool test group: each rendered trigger query on synthetic vLLM series of two pods, expected to
    equal the documented signal."""
    series: list[dict[str, str]] = []
    tests: list[dict[str, Any]] = []
    values = {"running": (13, 51), "kv": (0.25, 0.5), "waiting": (3, 6)}
    for so in scaled_objects:
        model_name = so["metadata"]["labels"].get("llmplatform.io/model")
        m = next((x for x in cfg.models if x.name == model_name), None)
        if m is None:
            continue
        base = {"job": jobs.MODEL_SERVERS, "namespace": serving_ns, "model": m.name, "model_name": m.served_name,
                "engine": "0"}
        for i in range(2):
            series += [_s("vllm:num_requests_running", f"{values['running'][i]}x10", **base, pod=f"p{i}"),
                       _s("vllm:kv_cache_usage_perc", f"{values['kv'][i]}x10", **base, pod=f"p{i}"),
                       _s("vllm:num_requests_waiting", f"{values['waiting'][i]}x10", **base, pod=f"p{i}")]
        documented = {"running-ratio": sum(values["running"]) / m.max_num_seqs, "kv-cache": sum(values["kv"]),
                      "waiting": sum(values["waiting"])}
        for trig in so["spec"]["triggers"]:
            if trig["name"] in documented:
                tests.append({"expr": trig["metadata"]["query"], "eval_time": "5m",
                              "exp_samples": [{"labels": "{}", "value": documented[trig["name"]]}]})
    return {"interval": "1m", "input_series": series, "promql_expr_test": tests}


def promtool_tests(cases_: list[Case], rule_files: list[str], keda: dict[str, Any] | None) -> dict[str, Any]:
    """The promtool test file: one test group per case, so one case's series never leak into another's."""
    groups = []
    for case in cases_:
        groups.append({"interval": "1m", "input_series": case.series, "alert_rule_test": [{
            "eval_time": case.eval_time, "alertname": case.alert,
            "exp_alerts": [{"exp_labels": labels} for labels in case.expected] if case.fires else []}]})
    if keda and keda["promql_expr_test"]:
        groups.append(keda)
    return {"rule_files": rule_files, "evaluation_interval": "1m", "tests": groups}
