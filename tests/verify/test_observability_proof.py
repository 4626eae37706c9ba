"""The observability proof (issue 18): the rendered rules pass promtool's check and unit tests, the KEDA
triggers equal their documented signals, every metric read is exported by a pinned release; and each way to
break that is caught: a planted broken rule, a planted unknown metric, a rule that no longer fires, a
trigger query that no longer computes its signal.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from llmp.plan.render import load_manifests
from llmp.verify.observability import proof, record
from llmp.verify.observability.promql_names import metric_names
from llmplatform import naming
from llmplatform.config.stack_file import load_stack_file
from llmplatform.observability import jobs, rules
from llmplatform.serving import names
from tests.support.gates import require, require_rendered_charts

ROOT = Path(__file__).resolve().parents[2]
VLLM_WHEEL = os.environ.get("LLMP_VLLM_SRC")


@pytest.fixture(scope="module")
def prod_plan(planned) -> tuple[list[dict[str, Any]], Any]:
    require(proof.promtool() is not None, "promtool missing: apt-get install prometheus")
    build = planned("prod")
    require_rendered_charts(build)
    return load_manifests(build / "manifests"), load_stack_file(ROOT, "prod")


@pytest.fixture(scope="module")
def prod(prod_plan) -> tuple[list[dict[str, Any]], Any]:
    """The prod plan with the rules every job's scrape would give (jobs.ALL): each alert is proved, including
    those the rendered scrape config does not feed yet (it renders the model servers' and the budget database's)."""
    objects, cfg = prod_plan
    objects = copy.deepcopy(objects)
    inputs = rules.RuleInputs(models=cfg.models, observability=cfg.observability, serving_namespace=naming.NS_SERVING,
                              tenant_gateway_namespace=naming.NS_TENANT_GATEWAY,
                              budget_db_instances=cfg.tenant_gateway.postgres_instances,
                              budget_cache=cfg.tenant_gateway.redis, fail_closed=True, scraped_jobs=jobs.ALL)
    cm = _config_map(objects)
    cm["data"]["alerting_rules.yml"] = yaml.safe_dump(rules.alerting_rules(inputs), sort_keys=False)
    cm["data"]["recording_rules.yml"] = yaml.safe_dump(rules.recording_rules(inputs), sort_keys=False)
    return objects, cfg


def test_the_rendered_prod_plan_passes(prod_plan):
    objects, cfg = prod_plan
    result = proof.check(objects, cfg, fail_closed=True)
    assert result.problems == [] and result.alerts
    assert all(a.startswith(("Model", "BudgetDatabase")) for a in result.alerts)


def _config_map(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return next(o for o in objects if o.get("kind") == "ConfigMap" and o["metadata"]["name"] == names.PROMETHEUS_SERVER
                and "alerting_rules.yml" in o.get("data", {}))


def _edit_rule(objects: list[dict[str, Any]], alert: str, **changes: str) -> list[dict[str, Any]]:
    objects = copy.deepcopy(objects)
    cm = _config_map(objects)
    doc = yaml.safe_load(cm["data"]["alerting_rules.yml"])
    for group in doc["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == alert:
                rule.update(changes)
    cm["data"]["alerting_rules.yml"] = yaml.safe_dump(doc, sort_keys=False)
    return objects


def test_every_alert_passes_promtool_its_unit_tests_and_names_only_known_metrics(prod):
    objects, cfg = prod
    result = proof.check(objects, cfg, fail_closed=True)
    assert result.problems == []
    assert {"BudgetDatabaseNotReady", "BudgetDatabaseFailover", "BudgetCacheDown", "LiteLLMErrorRatioHigh",
            "TeamBudgetNearlySpent", "ModelTimeToFirstTokenSLOBurn", "ModelInterTokenLatencySLOBurn",
            "ModelKvCacheSaturated", "ModelAtMaxReplicasWithRequestsWaiting", "ModelNoReadyReplica",
            "KueueWorkloadsPendingForQuota", "KedaScalerErrors"} == set(result.alerts)
    assert result.unit_cases >= 2 * len(result.alerts)
    assert result.keda_queries == 3 * len(cfg.models)
    assert {"vllm", "litellm", "cloudnative-pg", "redis-exporter", "kueue", "keda"} <= set(result.metrics.values())


def test_a_planted_broken_rule_fails_promtool_check(prod):
    objects, cfg = prod
    broken = _edit_rule(objects, "LiteLLMErrorRatioHigh", expr="sum(rate(litellm_proxy_total_requests_metric_total[5m]) > ")
    problems = proof.check(broken, cfg, fail_closed=True).problems
    assert len(problems) == 1 and problems[0].startswith("promtool check rules failed")


def test_a_planted_unknown_metric_is_named(prod):
    objects, cfg = prod
    planted = _edit_rule(objects, "ModelKvCacheSaturated",
                         expr='max by (model) (vllm:gpu_cache_usage_perc{job="model-servers"}) > 0.95')
    problems = proof.check(planted, cfg, fail_closed=True).problems
    assert any("'vllm:gpu_cache_usage_perc', which no pinned release exports" in p for p in problems)


def test_a_rule_that_no_longer_fires_fails_its_unit_test(prod):
    objects, cfg = prod
    planted = _edit_rule(objects, "TeamBudgetNearlySpent", expr=(
        'max by (team, team_alias) (1 - litellm_remaining_team_budget_metric{job="tenant-gateway"} / '
        'litellm_team_max_budget_metric{job="tenant-gateway"}) > 0.99'))
    problems = proof.check(planted, cfg, fail_closed=True).problems
    assert len(problems) == 1 and "promtool test rules failed" in problems[0] and "TeamBudgetNearlySpent" in problems[0]


def test_a_keda_trigger_that_no_longer_computes_its_signal_fails(prod):
    objects, cfg = prod
    planted = copy.deepcopy(objects)
    so = next(o for o in planted if o.get("kind") == "ScaledObject")
    trig = next(t for t in so["spec"]["triggers"] if t["name"] == "running-ratio")
    trig["metadata"]["query"] = trig["metadata"]["query"].replace("sum(", "max(", 1)
    problems = proof.check(planted, cfg, fail_closed=True).problems
    assert len(problems) == 1 and "promtool test rules failed" in problems[0]


def test_an_alert_without_a_unit_test_is_named(prod):
    objects, cfg = prod
    planted = copy.deepcopy(objects)
    cm = _config_map(planted)
    doc = yaml.safe_load(cm["data"]["alerting_rules.yml"])
    doc["groups"][0]["rules"].append({"alert": "Untested", "expr": "up == 0", "labels": {"severity": "ticket"}})
    cm["data"]["alerting_rules.yml"] = yaml.safe_dump(doc)
    problems = proof.check(planted, cfg, fail_closed=True).problems
    assert problems == ["alert Untested has no unit test (llmp/verify/observability/scenarios.py)"]


@pytest.mark.parametrize("expr, names", [
    ('sum by (model) (rate(a:b_total{job="x",le=~"1|1\\\\.0"}[5m])) / on (model) group_left c', {"a:b_total", "c"}),
    ("(sum(x offset 5m) or vector(0)) > 1e-3 and {__name__=\"y\"}", {"x", "y"}),
    ("histogram_quantile(0.9, sum without (pod) (rate(h_bucket[1h])))", {"h_bucket"}),
])
def test_metric_names_are_read_from_promql(expr, names):
    assert metric_names(expr) == names


def test_the_metric_record_is_what_the_pinned_sources_generate():
    mirror = Path(os.environ.get("LLMP_SOURCE_MIRROR", "/work/.mirror"))
    if not VLLM_WHEEL or not Path(VLLM_WHEEL).is_file() or not all(
            (mirror / repo / "repo").is_dir() for repo, _, _ in record.GO_SOURCES.values()):
        pytest.skip("LLMP_VLLM_SRC (the vLLM 0.14.0 wheel) or the pinned sources' mirrors are not at hand: "
                    "metric_names.json is the record")
    stored = json.loads(proof.CATALOGUE.read_text())
    assert record.generate(Path(VLLM_WHEEL), mirror, stored["sources"]["litellm"]) == stored


def test_the_record_knows_the_names_the_signals_rest_on():
    known = proof.known_metrics()
    for name in ["vllm:num_requests_running", "vllm:kv_cache_usage_perc", "vllm:time_to_first_token_seconds_bucket",
                 "inference_objective_request_total", "cnpg_collector_up", "redis_up", "kueue_pending_workloads",
                 "keda_scaler_detail_errors_total", "litellm_remaining_team_budget_metric"]:
        assert name in known, name
    # names that are not exported by the pinned releases (renamed or never there)
    for name in ["vllm:gpu_cache_usage_perc", "keda_scaler_errors_total", "vllm:time_per_output_token_seconds_bucket"]:
        assert name not in known, name
