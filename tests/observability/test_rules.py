"""The rules rendered from config: every alert has its runbook section, thresholds come from the config,
and what the profile decides (paging, history on a volume) follows it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from llmplatform import naming
from llmplatform.config import Observability
from llmplatform.config.stack_file import load_stack_file
from llmplatform.observability import jobs, rules
from llmplatform.serving import charts
from tests.support.gates import require, shared_dir

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = ROOT / "docs" / "operations.md"


def _inputs(stack: str, scraped=jobs.ALL, **obs) -> rules.RuleInputs:
    cfg = load_stack_file(ROOT, stack)
    return rules.RuleInputs(models=cfg.models, observability=cfg.observability.model_copy(update=obs),
                            serving_namespace=naming.NS_SERVING, tenant_gateway_namespace=naming.NS_TENANT_GATEWAY,
                            budget_db_instances=cfg.tenant_gateway.postgres_instances,
                            budget_cache=cfg.tenant_gateway.redis, fail_closed=stack == "prod",
                            scraped_jobs=scraped)


def _rules(doc):
    return [r for g in doc["groups"] for r in g["rules"]]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_alert_links_a_runbook_section_that_exists(stack):
    headings = {h.lower() for h in re.findall(r"^### (\w+)$", OPERATIONS.read_text(), flags=re.M)}
    for rule in _rules(rules.alerting_rules(_inputs(stack))):
        anchor = rule["annotations"]["runbook"].split("#", 1)[1]
        assert rule["annotations"]["runbook"].startswith("docs/operations.md#") and anchor in headings, rule["alert"]


def test_prod_pages_on_the_budget_store_and_dev_makes_tickets():
    for stack, severity in (("prod", "page"), ("dev", "ticket")):
        budget = rules.alerting_rules(_inputs(stack))["groups"][0]["rules"]
        assert {r["labels"]["severity"] for r in budget} == {severity}


def test_the_budget_cache_alert_exists_only_where_the_cache_runs():
    assert "BudgetCacheDown" in rules.alert_names(rules.alerting_rules(_inputs("prod")))
    assert "BudgetCacheDown" not in rules.alert_names(rules.alerting_rules(_inputs("dev")))


def test_thresholds_come_from_the_config():
    doc = rules.alerting_rules(_inputs("prod", team_spend_alert_share=0.65, kv_cache_saturation=0.9,
                                       saturation_minutes=7))
    by_name = {r["alert"]: r for r in _rules(doc)}
    assert by_name["TeamBudgetNearlySpent"]["expr"].endswith("> 0.65")
    assert by_name["ModelKvCacheSaturated"]["expr"].endswith("> 0.9") and by_name["ModelKvCacheSaturated"]["for"] == "7m"


def test_no_ready_replica_is_rendered_only_for_models_with_a_floor():
    cfg = load_stack_file(ROOT, "dev")
    doc = rules.alerting_rules(_inputs("dev"))
    floors = {m.name for m in cfg.models if m.min_replicas > 0}
    assert {r["labels"]["model"] for r in _rules(doc) if r["alert"] == "ModelNoReadyReplica"} == floors


def test_the_slo_bucket_matcher_accepts_both_spellings_of_a_bound():
    assert rules.le_matcher(1.0) == "1|1\\\\.0" and rules.le_matcher(2.5) == "2\\\\.5"


def test_an_slo_bound_off_the_histogram_buckets_is_refused_with_the_allowed_bounds():
    with pytest.raises(ValueError, match="bucket bound of vLLM's vllm:time_to_first_token_seconds.*2.5, 5"):
        Observability(ttft_slo_seconds=3.0)


def test_prod_keeps_history_on_a_volume_and_dev_on_an_empty_dir():
    values = charts.prometheus_values("s", "g", history=charts.PrometheusHistory(30, 50))
    assert values["server"]["retention"] == "30d" and values["server"]["persistentVolume"]["size"] == "50Gi"
    dev = charts.prometheus_values("s", "g")
    assert dev["server"]["retention"] == "2d" and dev["server"]["persistentVolume"] == {"enabled": False}


def test_the_rule_files_go_where_the_charts_default_config_reads_them():
    chart = shared_dir() / "charts" / "prometheus-28.10.0"
    require(chart.is_dir(), f"{chart} not at hand (the pinned chart sources, ../shared/charts)")
    chart_values = yaml.safe_load((chart / "values.yaml").read_text())
    listed = chart_values["serverFiles"]["prometheus.yml"]["rule_files"]
    values = charts.prometheus_values("s", "g", alerting_rules={"groups": []}, recording_rules={"groups": []})
    for name in ("alerting_rules.yml", "recording_rules.yml"):
        assert name in values["serverFiles"] and f"/etc/config/{name}" in listed


def test_an_alert_is_rendered_only_where_its_series_are_scraped():
    scraped = charts.scraped_jobs(naming.NS_SERVING, naming.NS_GATEWAY)
    rendered = set(rules.alert_names(rules.alerting_rules(_inputs("prod", scraped))))
    everything = set(rules.alert_names(rules.alerting_rules(_inputs("prod"))))
    assert rendered == {a for a in everything if a.startswith(("Model", "BudgetDatabase"))}
    for rule in [r for g in rules.alerting_rules(_inputs("prod", scraped))["groups"] for r in g["rules"]]:
        assert set(re.findall(r'job="([^"]+)"', rule["expr"])) <= scraped, rule["alert"]
    assert rules.alerting_rules(_inputs("prod", frozenset())) == {"groups": []}
