"""The tenant gateway's base URL as clients use it (`<base>/chat/completions`), from the stack or the user."""

from __future__ import annotations

from urllib.parse import urlsplit

from llmplatform.config.model import ExposureMode, PlatformConfig
from llmplatform.gateway.edge import client_base_url

from llmp.ide.roles import IdeConfigError


def stack_base_url(cfg: PlatformConfig) -> str | None:
    """The URL clients outside the cluster use, where the stack alone decides it: the tenant edge's
    `client_base_url` (public `https://<hostname>`, internal with a DNS name `http://<hostname>:4000`) plus
    `/v1`. None otherwise: a `cluster` stack's URL is in-cluster only, no use to an IDE, and an internal load
    balancer without a hostname gets its address at deployment (the stack output `tenantClientUrl`), so the
    user passes --base-url."""
    exposure = cfg.tenant_gateway.exposure
    if exposure.mode == ExposureMode.CLUSTER or not exposure.hostname:
        return None
    base = client_base_url(cfg)
    return f"{base}/v1" if base else None


def resolve_base_url(cfg: PlatformConfig, stack: str, override: str | None) -> str:
    """`override` (checked: http(s) with a host; a trailing `/` dropped) or the stack's URL; IdeConfigError
    saying how to get one when neither exists."""
    if override is not None:
        parts = urlsplit(override)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise IdeConfigError(f"--base-url {override!r}: must be an http(s) URL with a host and no query, the "
                                 "part clients put before /chat/completions, e.g. https://llm.example.com/v1")
        return override.rstrip("/")
    derived = stack_base_url(cfg)
    if derived is None:
        raise IdeConfigError(
            f"stack {stack} does not publish the tenant gateway under a DNS name, so its URL is known only after "
            "deployment: pass --base-url, e.g. https://<the internal load balancer's address>/v1, "
            "http://127.0.0.1:4000/v1 through `kubectl -n llm-tenant-gateway port-forward svc/litellm 4000`, or, "
            "for a client inside the cluster, the `base_url` of the tenant's key Secret (docs/ide.md)")
    return derived
