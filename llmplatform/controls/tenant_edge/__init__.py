"""Tenant edge: nothing but LiteLLM's API port is reachable through a load balancer, NodePort, external IP or Gateway listener."""
