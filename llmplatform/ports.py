"""Ports: a contract between components, NetworkPolicies (SR1) and the proofs. Change with care."""

VLLM_HTTP = 8000
"""vLLM's OpenAI API and /metrics share this port: NetworkPolicy cannot split them, so completions
also require the vLLM API key that only LiteLLM holds (a metrics scraper may connect but not call)."""
EPP_GRPC = 9002
"""Endpoint picker ext-proc gRPC, called by the gateway proxy."""
EPP_HEALTH = 9003
EPP_METRICS = 9090
GATEWAY_HTTP = 80
"""Inference gateway listener (in-cluster Gateway API proxy pods)."""
LITELLM_HTTP = 4000
POSTGRES = 5432
REDIS = 6379
DNS = 53
PROMETHEUS_HTTP = 9090
GATEWAY_PROXY_METRICS = 15020
"""Istio proxy's merged Prometheus endpoint on the gateway pods (scraped by Prometheus only)."""
