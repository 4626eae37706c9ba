"""The tenant gateway's base URL as clients use it (`<base>/chat/completions`), from the stack or the user."""

from __future__ import annotations

from urllib.parse import urlsplit

from llmplatform import ports
from llmplatform.config.model import PlatformConfig

from llmp.ide.roles import IdeConfigError


def stack_base_url(cfg: PlatformConfig) -> str | None:
    """The URL clients outside the cluster use, where the stack alone decides it: a public edge serves
    `https://<hostname>/v1`, an internal one with a DNS name `http://<hostname>:4000/v1`. None otherwise (no
    edge, or an internal load balancer whose address is assigned at deployment): the user passes --base-url.

    The one place this is derived. It reads `tenant_gateway.exposure` (issue 17's tenant edge: `mode`,
    `hostname`) where the config has it; on merging the edge, this becomes its `client_base_url(cfg)` + `/v1`
    for the public and internal modes (that function's cluster-mode URL is in-cluster only, no use to an IDE).
    """
    exposure = getattr(cfg.tenant_gateway, "exposure", None)
    mode = getattr(getattr(exposure, "mode", None), "value", getattr(exposure, "mode", None))
    hostname = getattr(exposure, "hostname", None)
    if not hostname:
        return None
    if mode == "public":
        return f"https://{hostname}/v1"
    if mode == "internal":
        return f"http://{hostname}:{ports.LITELLM_HTTP}/v1"
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
