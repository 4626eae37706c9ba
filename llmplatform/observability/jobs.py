"""Prometheus job names: the `job` label every rule, dashboard and KEDA trigger selects series by.

The scrape configs (llmplatform/serving/charts.py) give each job its name; the rules read series only
through these, so a renamed job breaks a test, not an alert in silence.
"""

from __future__ import annotations

MODEL_SERVERS = "model-servers"
"""vLLM, through each pod's metrics sidecar; series carry `model` (the config's model name)."""
ENDPOINT_PICKERS = "endpoint-pickers"
INFERENCE_GATEWAY = "inference-gateway"
TENANT_GATEWAY = "tenant-gateway"
"""LiteLLM's Prometheus callback on its API port (`/metrics`)."""
BUDGET_DB = "budget-db"
"""CloudNativePG's per-instance exporter (cnpg_collector_*, and cnpg_pg_* from its default queries)."""
BUDGET_CACHE = "budget-cache"
"""The Redis exporter in front of the budget cache (redis_*)."""
KEDA = "keda"
KUEUE = "kueue"

ALL = frozenset({MODEL_SERVERS, ENDPOINT_PICKERS, INFERENCE_GATEWAY, TENANT_GATEWAY, BUDGET_DB, BUDGET_CACHE, KEDA, KUEUE})
"""Every job a rule may read; the rendered scrape config has a subset (`charts.scraped_jobs`)."""
