"""Ports: a contract between components, NetworkPolicies (SR1) and the proofs. Change with care."""

VLLM_HTTP = 8000
"""vLLM's serving port: its OpenAI API, its unauthenticated control routes (`/pause`, `/invocations`,
...; see llmp/verify/vllm_routes.json) and /metrics. Only the inference gateway may connect."""
VLLM_METRICS = 8001
"""The model-server pod's metrics-only port (a sidecar that answers GET /metrics from vLLM on loopback):
what the endpoint pickers and Prometheus connect to instead of VLLM_HTTP."""
EPP_GRPC = 9002
"""Endpoint picker ext-proc gRPC, called by the gateway proxy."""
EPP_HEALTH = 9003
EPP_METRICS = 9090
GATEWAY_HTTP = 80
"""Inference gateway listener (in-cluster Gateway API proxy pods)."""
LITELLM_HTTP = 4000
POSTGRES = 5432
CNPG_METRICS = 9187
"""CloudNativePG's per-instance exporter (`cnpg_collector_*`, `cnpg_pg_*`), served by every instance pod's
instance manager (container port `metrics`). Scraped by Prometheus only."""
REDIS = 6379
DNS = 53
PROMETHEUS_HTTP = 9090
GATEWAY_PROXY_METRICS = 15020
"""Istio proxy's merged Prometheus endpoint on the gateway pods (scraped by Prometheus only)."""
