"""The tenant gateway's base URL as clients use it (`<base>/chat/completions`), from the stack or the user."""

from __future__ import annotations

from urllib.parse import urlsplit

from llmplatform.config.model import PlatformConfig

from llmp.ide.roles import IdeConfigError


def stack_base_url(cfg: PlatformConfig) -> str | None:
    """The URL clients outside the cluster use, where the stack alone decides it: a public edge with a DNS
    name serves `https://<hostname>/v1`. None where it does not (the cluster-only or internal edge: the
    address comes from a load balancer or a port-forward, known only after `pulumi up`).

    The one place this is derived; it reads `tenant_gateway.exposure` (issue 17's tenant edge) where the
    config has it, and nothing on a config without it.
    """
    exposure = getattr(cfg.tenant_gateway, "exposure", None)
    mode = getattr(getattr(exposure, "mode", None), "value", getattr(exposure, "mode", None))
    hostname = getattr(exposure, "hostname", None)
    if mode == "public" and hostname:
        return f"https://{hostname}/v1"
    return None


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
