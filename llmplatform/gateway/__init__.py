"""The tenant gateway's pure parts: LiteLLM config rendering, tenant desired state, Kubernetes specs,
and the files mounted into pods as-is (the cache-salt hook, the reconciler, the readiness probe).

`components/tenant_gateway.py` composes them into Pulumi resources; the live harness starts a real
LiteLLM with `litellm_config.render_litellm_config` and drives `reconcile.py` against it.
See docs/tenant-gateway.md.
"""
