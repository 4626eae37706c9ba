"""LiteLLM proxy `config.yaml` rendered from the typed stack config: a pure function, no Pulumi.

The same dict is what TenantGateway mounts into the LiteLLM pods and what the live tests start a
real proxy with, so the two cannot drift. Secrets never appear in it: every credential is an
`os.environ/<VAR>` reference that LiteLLM resolves at start-up (see `SECRET_ENV`).

Setting names were checked against the source of the LiteLLM release the image runs
(`images.LITELLM_VERSION`, 1.100.1: `litellm/proxy/_types.py` `ConfigGeneralSettings`,
`proxy/proxy_server.py`, `proxy/auth/user_api_key_auth.py`, `proxy/db/exception_handler.py`,
`proxy/spend_tracking/budget_reservation.py`); docs/tenant-gateway.md lists where each one is read,
and tests/live/test_settings_known.py fails if a rendered `general_settings` key is not in that source.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from llmplatform.config.model import ModelCapability, ModelSpec, PlatformConfig, PrefixCacheMode, TenantGatewaySpec
from llmplatform.controls.sr3_fail_closed.predicates import BudgetFacts, config_facts
from llmplatform.controls.tiers import ControlPlan

HOOK_MODULE = "tenant_cache_salt"
"""File name (without .py) of the pre-call hook, mounted next to config.yaml."""
HOOK_CALLBACK = f"{HOOK_MODULE}.proxy_handler_instance"
"""LiteLLM resolves `<module>.<attribute>` relative to the config file's directory."""
PROMETHEUS_CALLBACK = "prometheus"
"""LiteLLM's Prometheus logger (litellm/integrations/prometheus.py): it mounts `/metrics` on the proxy's port."""

CONFIG_FILE = "config.yaml"

SECRET_ENV: Mapping[str, str] = {
    "master_key": "LITELLM_MASTER_KEY",
    "salt_key": "LITELLM_SALT_KEY",
    "database_url": "DATABASE_URL",
    "vllm_api_key": "VLLM_API_KEY",
    "cache_salt_key": "LLMP_CACHE_SALT_KEY",
    "redis_password": "REDIS_PASSWORD",
}
"""Logical secret -> the environment variable LiteLLM (or the hook) reads it from."""

PLAIN_ENV: Mapping[str, str] = {
    "prefix_cache_mode": "LLMP_PREFIX_CACHE_MODE",
    "redis_host": "REDIS_HOST",
    "redis_port": "REDIS_PORT",
}
"""Non-secret settings passed as environment variables (not config) because LiteLLM or the hook reads them so."""

BUDGET_DURATION = "30d"
"""Team budget window: LiteLLM resets a team's spend every 30 days from creation (`1mo` would reset
on the same day each calendar month; 30d keeps the window length identical for every tenant)."""


def secret_env_names(*, redis: bool) -> dict[str, str]:
    """Logical secret name -> environment variable, for the secrets a gateway with/without Redis needs."""
    return {k: v for k, v in SECRET_ENV.items() if redis or k != "redis_password"}


def cost_per_token(cost_per_mtok_usd: float) -> float:
    """USD per million tokens -> USD per token, as LiteLLM's cost map expects it.

    Decimal division keeps the rendered value exact in YAML (0.2 -> 2e-07, not 2.0000000000000002e-07)."""
    return float(Decimal(str(cost_per_mtok_usd)) / Decimal(1_000_000))


def _env(name: str) -> str:
    return f"os.environ/{name}"


def litellm_mode(model: ModelSpec) -> str:
    """LiteLLM's `model_info.mode` for a model: `chat` when it serves chat, else `completion`.

    In LiteLLM 1.100.1 the mode routes nothing: one entry answers `/chat/completions` and `/completions`
    alike (`text_completion` sends an `openai/` model's prompt to the backend's own `/v1/completions`,
    `main.py`). It decides the health-check probe (`proxy/health_check.py`: a chat call, or a text
    completion for `completion`), what `/model/info` reports, and the cost map entry the router
    registers for the deployment (`router.py`)."""
    return "chat" if model.serves(ModelCapability.CHAT) else "completion"


def capability_info(model: ModelSpec) -> dict[str, Any]:
    """`model_info` keys stating the model's capabilities to clients that read `/model/info`."""
    info: dict[str, Any] = {"mode": litellm_mode(model)}
    if model.serves(ModelCapability.TOOLS):
        info["supports_function_calling"] = True
        info["supports_tool_choice"] = True
    return info


def render_litellm_config(
    cfg: PlatformConfig,
    *,
    control_plan: ControlPlan,
    gateway_url: str,
    served_names: Mapping[str, str],
    extra_headers: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, Any]:
    """LiteLLM's proxy config for `cfg` under `control_plan`'s SR3 decision (see `render_proxy_config`)."""
    return render_proxy_config(models=cfg.models, gateway=cfg.tenant_gateway, fail_closed=control_plan.fail_closed,
                               gateway_url=gateway_url, served_names=served_names, extra_headers=extra_headers)


def render_proxy_config(
    *,
    models: Sequence[ModelSpec],
    gateway: TenantGatewaySpec,
    fail_closed: bool,
    gateway_url: str,
    served_names: Mapping[str, str],
    extra_headers: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, Any]:
    """LiteLLM's proxy config from the parts of the stack config it depends on.

    gateway_url: the inference gateway's base URL (no `/v1`); every model is reached through it.
    served_names: model `name` -> the `model` value the serving layer answers to (and clients send).
    extra_headers: model `name` -> headers LiteLLM adds when calling that model (for a serving layer
        that routes on a header rather than the body). None or a missing model: no extra headers.

    Profile knobs (SR3): dev keeps serving when Postgres is down; prod refuses (503) instead,
    enforces budgets fail-closed and re-reads keys after `key_cache_ttl_seconds`. With Redis
    (required above one replica) spend, budget reservations and rate-limit counters are shared
    through it, so N replicas enforce one budget rather than N.
    """
    missing = [m.name for m in models if m.name not in served_names]
    if missing:
        raise ValueError(f"served_names has no entry for model(s) {', '.join(missing)}; "
                         f"it must map every configured model name to its served name")
    api_base = gateway_url.rstrip("/") + "/v1"
    gw = gateway
    model_list = []
    for m in models:
        served = served_names[m.name]
        costs = {
            "input_cost_per_token": cost_per_token(m.input_cost_per_mtok_usd),
            "output_cost_per_token": cost_per_token(m.output_cost_per_mtok_usd),
        }
        params: dict[str, Any] = {
            # `openai/` sends the request unchanged to an OpenAI-compatible server (vLLM), including
            # the `cache_salt` the hook sets, which vLLM reads from the request body.
            "model": f"openai/{served}",
            "api_base": api_base,
            "api_key": _env(SECRET_ENV["vllm_api_key"]),
            # Custom pricing: a price in litellm_params overrides model_info when the router
            # registers the deployment (router.py); without a price, spend stays 0 and no budget binds.
            **costs,
        }
        headers = (extra_headers or {}).get(m.name)
        if headers:
            params["extra_headers"] = dict(headers)
        model_list.append({
            "model_name": served,
            "litellm_params": params,
            "model_info": {
                "id": m.name,
                **capability_info(m),
                # One price per token for every capability: chat, FIM and tool calls are charged alike.
                **costs,
                # Budget reservation reserves input + max_output_tokens at the price above before a
                # call; without a ceiling it assumes a large default and over-reserves.
                "max_input_tokens": m.max_model_len,
                "max_output_tokens": m.max_model_len,
                "max_tokens": m.max_model_len,
            },
        })

    general: dict[str, Any] = {
        "master_key": _env(SECRET_ENV["master_key"]),
        "database_url": _env(SECRET_ENV["database_url"]),
        # Models come from this file only: nobody can add a backend through the admin API.
        "store_model_in_db": False,
        # SR3. True: with Postgres down any `sk-` string is served unmetered (tests/live/test_db_outage_live.py).
        "allow_requests_on_db_unavailable": not fail_closed,
        "user_api_key_cache_ttl": gw.key_cache_ttl_seconds,
        # Reserve estimated cost before the call (the default); disabling it overspent 4x (NOTES.md, 1.106.2).
        "disable_budget_reservation": False,
    }
    if fail_closed:
        # A budget reservation that cannot be written (e.g. Redis down) rejects the request (503)
        # instead of letting it through unreserved. A counter already past its budget is refused
        # (429 budget_exceeded) with or without this flag.
        general["fail_closed_budget_enforcement"] = True
    # `prometheus`: LiteLLM's own metrics on its API port at /metrics (requests by status, spend, team budgets);
    # the tenant-gateway scrape job and the TeamBudgetNearlySpent / LiteLLMErrorRatioHigh alerts read them.
    litellm_settings: dict[str, Any] = {"callbacks": [HOOK_CALLBACK, PROMETHEUS_CALLBACK]}
    out: dict[str, Any] = {"model_list": model_list, "general_settings": general,
                           "litellm_settings": litellm_settings}
    if gw.redis:
        redis_ref = {
            "host": _env(PLAIN_ENV["redis_host"]),
            "port": _env(PLAIN_ENV["redis_port"]),
            "password": _env(SECRET_ENV["redis_password"]),
        }
        # Cross-pod spend counters, budget reservations, rate limits and key-cache invalidation.
        general["coordination_redis"] = dict(redis_ref)
        # Spend updates queue in Redis and one pod (holding a Redis lock) writes them to Postgres.
        general["use_redis_transaction_buffer"] = True
        # Not set: `fail_closed_rate_limit_enforcement` (503 instead of per-pod limits when Redis is
        # unreachable) arrives after the pinned release (images.LITELLM_VERSION), which ignores it.
        # A Redis cache backend as in the measured no-overspend setup, but caching no call type:
        # LiteLLM's response cache key is not tenant-scoped, so a hit would hand one tenant
        # another's completion and skip billing.
        litellm_settings["cache"] = True
        litellm_settings["cache_params"] = {"type": "redis", **redis_ref, "mode": "default_off",
                                            "supported_call_types": []}
        out["router_settings"] = {
            "redis_host": _env(PLAIN_ENV["redis_host"]),
            "redis_port": _env(PLAIN_ENV["redis_port"]),
            "redis_password": _env(SECRET_ENV["redis_password"]),
        }
    return out


def hook_env(control_plan: ControlPlan) -> dict[str, str]:
    """Plain environment the cache-salt hook reads (its HMAC key comes from a Secret)."""
    return {PLAIN_ENV["prefix_cache_mode"]: control_plan.prefix_cache_mode.value}


def prefix_cache_mode_values() -> tuple[str, ...]:
    """Values the hook understands for `LLMP_PREFIX_CACHE_MODE` (the config enum's values)."""
    return tuple(m.value for m in PrefixCacheMode)


def budget_facts(config: Mapping[str, Any], *, postgres_instances: int, gateway_replicas: int) -> BudgetFacts:
    """SR3's facts read from a rendered proxy config with `predicates.sr3.config_facts` (the reading the
    policy pack and `llmp verify` use on the ConfigMap), so the component validates what it deploys
    rather than what it meant to deploy."""
    stated = config_facts(config)
    return BudgetFacts(
        allow_requests_on_db_unavailable=stated.allow_requests_on_db_unavailable,
        fail_closed_budget_enforcement=stated.fail_closed_budget_enforcement,
        postgres_instances=postgres_instances,
        gateway_replicas=gateway_replicas,
        redis_wired=stated.redis_configured,
        key_cache_ttl_seconds=stated.key_cache_ttl_seconds,
    )
