"""LiteLLM pre-call hook: the platform, not the client, decides who shares vLLM's prefix cache.

Mounted unchanged next to LiteLLM's config.yaml (ConfigMap) and loaded through
`litellm_settings.callbacks: [tenant_cache_salt.proxy_handler_instance]`. It imports only the
standard library, LiteLLM and the FastAPI it serves through, which is all the LiteLLM image has.

vLLM keys its automatic prefix cache by the token prefix plus an optional `cache_salt` from the
request body; two requests share cache blocks only when their salts are equal. A shared cache lets
one tenant time another's prompts (a hit returns the first token faster), so:

- Every client-supplied `cache_salt` is removed, top level and inside `extra_body`, in every mode:
  no client can join another tenant's cache by guessing its salt, and none can opt out of the
  platform's choice (random per-request salts would also waste shared GPU on cache misses).
- `LLMP_PREFIX_CACHE_MODE=tenant-salted`: `cache_salt` = hex HMAC-SHA256(key, "team:<team_id>")
  (or "key:<hashed key>" for a key without a team). Same tenant -> same salt -> its own hits stay;
  different tenants -> different salts -> no shared blocks. The HMAC key (`LLMP_CACHE_SALT_KEY`)
  is a platform secret, so a salt observed in one place cannot be forged for another tenant.
  A missing key rejects the request rather than serving it unsalted.
- `shared`: nothing is added: everyone shares one cache (the trusted tier).
- `off`: nothing is added: the model servers run without prefix caching.
- Only call types whose request shape the hook knows are served: chat and text completions
  (`SALTED_CALL_TYPES`), where LiteLLM's `openai/` provider forwards a top-level `cache_salt` in
  the JSON body to vLLM. Every other call type LiteLLM 1.100.1 passes to a pre-call hook (Responses,
  Anthropic messages, Gemini generateContent, pass-through, embeddings, batches, files, realtime,
  MCP tools ...) is refused with HTTP 403 in every mode: the Responses translation drops
  `cache_salt`, and for the rest the hook could neither place the salt nor strip a client's.
  Tenant keys are also limited to those routes (`allowed_routes`, set by the reconciler); this is
  the second wall, for a key made some other way.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Any

from litellm.integrations.custom_logger import CustomLogger

MODE_ENV = "LLMP_PREFIX_CACHE_MODE"
KEY_ENV = "LLMP_CACHE_SALT_KEY"
SALT_FIELD = "cache_salt"

SHARED = "shared"
TENANT_SALTED = "tenant-salted"
OFF = "off"
MODES = (SHARED, TENANT_SALTED, OFF)

SALTED_CALL_TYPES = frozenset({"completion", "acompletion", "text_completion", "atext_completion"})
"""The call types the hook serves: chat (`/chat/completions`) and text completions (`/completions`),
whose top-level `cache_salt` LiteLLM's `openai/` provider forwards to vLLM. Not `aresponses`: LiteLLM
1.100.1's Responses path does not carry the hook's `cache_salt` to the model server (issue 15 found
such calls reaching vLLM unsalted)."""

try:  # LiteLLM's proxy answers an HTTPException raised by a pre-call hook with its status code.
    from fastapi import HTTPException as _HTTPError
except ImportError:  # the project's unit tests load this file without LiteLLM's web stack
    class _HTTPError(Exception):  # type: ignore[no-redef]
        def __init__(self, status_code: int, detail: Any = None) -> None:
            super().__init__(detail)
            self.status_code = status_code
            self.detail = detail


class CacheSaltConfigError(RuntimeError):
    """The hook is configured in a way that would silently share the cache; the request is refused."""


class CallTypeRefused(_HTTPError):
    """HTTP 403: a call type the hook cannot salt (or strip a client salt from) is not served."""

    def __init__(self, call_type: str) -> None:
        super().__init__(status_code=403, detail={"error": (
            f"call type {call_type!r} is not served by this gateway: only chat and text completions "
            f"carry the platform's prefix-cache scope ({', '.join(sorted(SALTED_CALL_TYPES))})")})
        self.call_type = call_type


def tenant_identity(user_api_key_dict: Any) -> str:
    """What one cache scope is: the key's team, else the (hashed) key itself."""
    team_id = getattr(user_api_key_dict, "team_id", None)
    if team_id:
        return f"team:{team_id}"
    team_alias = getattr(user_api_key_dict, "team_alias", None)
    if team_alias:
        return f"team-alias:{team_alias}"
    token = getattr(user_api_key_dict, "token", None) or getattr(user_api_key_dict, "api_key", None)
    if token:
        return f"key:{token}"
    raise CacheSaltConfigError("request has neither a team nor a key to scope its prefix cache to")


def tenant_salt(secret: str, identity: str) -> str:
    """hex HMAC-SHA256(secret, identity): stable per tenant, unguessable without the secret."""
    return hmac.new(secret.encode(), identity.encode(), hashlib.sha256).hexdigest()


def strip_client_salt(data: dict) -> bool:
    """Remove every client-supplied cache_salt from a request body; True if one was present."""
    found = data.pop(SALT_FIELD, None) is not None
    extra = data.get("extra_body")
    if isinstance(extra, dict) and SALT_FIELD in extra:
        extra.pop(SALT_FIELD, None)
        found = True
    return found


def current_mode() -> str:
    mode = os.environ.get(MODE_ENV, TENANT_SALTED).strip()
    if mode not in MODES:
        # An unknown mode must not fall through to "no salt": treat it as a configuration error.
        raise CacheSaltConfigError(f"{MODE_ENV}={mode!r} is not one of {', '.join(MODES)}")
    return mode


def apply_cache_policy(data: dict, user_api_key_dict: Any, call_type: str, *, mode: str, secret: str | None) -> dict:
    """The hook's whole decision as a plain function (the class below only reads the environment)."""
    if call_type not in SALTED_CALL_TYPES:
        raise CallTypeRefused(str(call_type))
    strip_client_salt(data)
    if mode == TENANT_SALTED:
        if not secret:
            raise CacheSaltConfigError(f"{KEY_ENV} is empty: refusing to serve a tenant-salted tier unsalted")
        data[SALT_FIELD] = tenant_salt(secret, tenant_identity(user_api_key_dict))
    return data


class TenantCacheSalt(CustomLogger):
    """The pre-call hook LiteLLM runs before routing each request."""

    async def async_pre_call_hook(self, user_api_key_dict, cache, data, call_type):  # noqa: ANN001 - LiteLLM's signature
        return apply_cache_policy(
            data, user_api_key_dict, call_type, mode=current_mode(), secret=os.environ.get(KEY_ENV)
        )


proxy_handler_instance = TenantCacheSalt()
