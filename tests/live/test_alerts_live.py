"""A real Prometheus (Debian's `prometheus`) scrapes the real LiteLLM proxy while a team spends past its alert
share, and the rendered TeamBudgetNearlySpent rule fires (read back from Prometheus' /api/v1/alerts).

The proxy runs the prod config the platform renders (with its `prometheus` callback); the rule file is the
one the plan renders for prod, with the scrape job's labels given by a static target. The scrape lists the
metric names the pinned proxy exposes without a licence: `LLMP_RECORD_LITELLM_METRICS=1` writes them to
llmp/verify/observability/metric_names.json, and every LiteLLM name the rules read must be among them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml

from llmplatform import naming
from llmplatform.config.model import TenantSpec
from llmplatform.config.stack_file import load_stack_file
from llmplatform.observability import jobs, rules
from llmp.verify.observability.proof import CATALOGUE
from llmp.verify.observability.promql_names import metric_names
from tests.support.gates import require
from tests.support.livestack._proc import LOOPBACK, free_port
from tests.support.livestack.platform import provision, rendered_gateway, wait_for

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[2]
BUDGET_USD = 0.05
COMPLETION_TOKENS = 100_000
"""$0.02 a call on qwen-1-5b at $0.20/Mtok output: two calls spend 80% of the budget. LiteLLM 1.100.1 sets the
team's remaining-budget gauge after a call from the spend it read before it, so after two calls the gauge
shows one call's spend, 40%: past the 30% share, and 60% below the budget, so no call is refused."""
MODEL = "qwen-1-5b"
TENANT = {"name": "labs", "budget_usd": BUDGET_USD, "rpm": 600, "tpm": 50_000_000, "allowed_models": [MODEL],
          "gpu_quota": 1}
SHARE = 0.3
DEADLINE_S = 40.0


def _rule_file(share: float) -> dict:
    cfg = load_stack_file(ROOT, "prod")
    obs = cfg.observability.model_copy(update={"team_spend_alert_share": share})
    inputs = rules.RuleInputs(models=cfg.models, observability=obs, serving_namespace=naming.NS_SERVING,
                              tenant_gateway_namespace=naming.NS_TENANT_GATEWAY, budget_db_instances=3,
                              budget_cache=True, fail_closed=True, scraped_jobs=jobs.ALL)
    doc = rules.alerting_rules(inputs)
    group = next(g for g in doc["groups"] if g["name"] == "llmplatform-tenant-gateway")
    return {"groups": [group]}


def test_a_real_prometheus_fires_team_budget_nearly_spent_from_the_real_proxy(
        start_proxy, fake_backend, tmp_path) -> None:
    binary = shutil.which("prometheus")
    require(binary is not None, "the prometheus server is missing: apt-get install prometheus")
    gw = rendered_gateway("prod", fake_backend, tenants=[TENANT])
    assert "prometheus" in gw.config["litellm_settings"]["callbacks"]
    proxy = start_proxy(gw.config, extra_files=gw.extra_files, env=gw.env, with_redis=gw.redis)
    cfg = gw.cfg
    served = {m.name: m.served_name for m in cfg.models}
    _, keys = provision(proxy, cfg, [TenantSpec.model_validate(TENANT)])
    key = keys["labs"]
    fake_backend.completion_tokens = COMPLETION_TOKENS

    port = free_port()
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(_rule_file(SHARE)))
    # The pinned proxy answers /metrics only to a valid key (`require_auth_for_metrics_endpoint` defaults to
    # true in 1.100.1): Prometheus presents one from a file, as a Secret-mounted credential would be.
    (tmp_path / "scrape-key").write_text(proxy.master_key)
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["rules.yml"],
        "scrape_configs": [{"job_name": jobs.TENANT_GATEWAY, "metrics_path": "/metrics/",
                            "authorization": {"credentials_file": str(tmp_path / "scrape-key")},
                            "static_configs": [{"targets": [f"{LOOPBACK}:{proxy.port}"],
                                                "labels": {"namespace": naming.NS_TENANT_GATEWAY,
                                                           "pod": "litellm-0"}}]}]}))
    server = subprocess.Popen(
        [binary, "--config.file=prometheus.yml", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address={LOOPBACK}:{port}"], cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    api_url = f"http://{LOOPBACK}:{port}/api/v1"
    try:
        with proxy.client(api_key=key) as client:
            for _ in range(2):
                r = client.post("/v1/chat/completions", json={
                    "model": served[MODEL], "messages": [{"role": "user", "content": "spend"}], "max_tokens": 1000})
                assert r.status_code == 200, r.text
        response = httpx.get(f"{proxy.url}/metrics/", timeout=10, follow_redirects=True,
                             headers={"Authorization": f"Bearer {proxy.master_key}"})
        scrape = response.text
        exposed = sorted(set(re.findall(r"^([a-zA-Z_:][\w:]*)(?:\{| )", scrape, re.M)))
        if os.environ.get("LLMP_RECORD_LITELLM_METRICS"):
            record = json.loads(CATALOGUE.read_text())
            record["sources"]["litellm"] = {
                "source": "live scrape of the pinned proxy (.venv-litellm, no licence), tests/live/test_alerts_live.py",
                "names": [n for n in exposed if n.startswith("litellm_")]}
            CATALOGUE.write_text(json.dumps(record, indent=1) + "\n")
        read = {n for r in _rule_file(SHARE)["groups"][0]["rules"] for n in metric_names(r["expr"])}
        assert read <= set(exposed), (
            f"the rules read LiteLLM metrics the proxy does not expose: {read - set(exposed)} "
            f"(HTTP {response.status_code}: {scrape[:300]!r})")

        def firing():
            try:
                alerts = httpx.get(f"{api_url}/alerts", timeout=5).json()["data"]["alerts"]
            except (httpx.HTTPError, ValueError, KeyError):
                return None
            return [a for a in alerts if a["labels"].get("alertname") == "TeamBudgetNearlySpent"
                    and a["state"] == "firing"]

        fired = wait_for(firing, DEADLINE_S, interval_s=0.5)
        assert fired, f"TeamBudgetNearlySpent did not fire within {DEADLINE_S}s; series: " + httpx.get(
            f"{api_url}/query", params={"query": "litellm_remaining_team_budget_metric"}, timeout=5).text
        assert fired[0]["labels"]["team_alias"] == "labs"
        assert float(fired[0]["value"]) > SHARE
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
