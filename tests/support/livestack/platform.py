"""The platform's own LiteLLM config, pointed at the fake backend, for live tests and benchmarks.

`rendered_gateway("prod", backend)` loads `Pulumi.prod.yaml` the way the program does, renders the
proxy config with `llmplatform.gateway.litellm_config.render_litellm_config` (the same function
TenantGateway mounts into the pods), and changes only what cannot exist on this machine: the
inference gateway URL becomes the fake backend's, and every served model name is answered by it.
The cache-salt hook file is mounted beside the config exactly as TenantGateway mounts it, and the
environment carries the variables the pods get from Secrets (fresh random values here).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmplatform.config.model import PlatformConfig, TenantSpec
from llmplatform.config.stack_file import load_stack_file
from llmplatform.gateway.hooks import hook_source
from llmplatform.config.rules import control_plan_for
from llmplatform.gateway.litellm_config import HOOK_MODULE, SECRET_ENV, hook_env, render_litellm_config

from .fake_backend import FakeOpenAIBackend

REPO_ROOT = Path(__file__).resolve().parents[3]


def stack_config(stack: str, **overrides: Any) -> PlatformConfig:
    """`Pulumi.<stack>.yaml` as the program reads it, with whole top-level keys replaced by `overrides`."""
    return load_stack_file(REPO_ROOT, stack, **overrides)


@dataclass(frozen=True)
class RenderedGateway:
    """What `start_proxy(...)` needs to run the platform's gateway config against the fake backend."""

    cfg: PlatformConfig
    config: dict[str, Any]
    extra_files: dict[str, str]
    env: dict[str, str]
    models: tuple[str, ...] = field(default=())
    """Served model names clients send (the `model_name`s in the config)."""

    @property
    def redis(self) -> bool:
        return self.cfg.tenant_gateway.redis


def rendered_gateway(stack: str, backend: FakeOpenAIBackend, **overrides: Any) -> RenderedGateway:
    """The proxy config `stack` renders, with the inference gateway replaced by `backend`.

    overrides: whole top-level stack-config keys to replace (e.g. `tenant_gateway={...}`), validated
    like the stack file itself.
    """
    cfg = stack_config(stack, **overrides)
    # render_proxy_config appends /v1 to the gateway URL; the fake backend's url already ends in /v1.
    gateway_url = backend.url.removesuffix("/v1")
    served = {m.name: m.served_name for m in cfg.models}
    plan = control_plan_for(cfg)
    config = render_litellm_config(cfg, control_plan=plan, gateway_url=gateway_url, served_names=served)
    env = {
        SECRET_ENV["vllm_api_key"]: backend.api_key or "sk-fake-backend",
        SECRET_ENV["cache_salt_key"]: secrets.token_hex(32),
        SECRET_ENV["salt_key"]: "sk-salt-" + secrets.token_hex(16),
        **hook_env(plan),
    }
    return RenderedGateway(
        cfg=cfg,
        config=config,
        extra_files={f"{HOOK_MODULE}.py": hook_source(HOOK_MODULE)},
        env=env,
        models=tuple(served[m.name] for m in cfg.models),
    )


def provision(proxy: Any, cfg: PlatformConfig, tenants: Sequence[TenantSpec] | None = None) -> tuple[Any, dict[str, str]]:
    """Provision `tenants` (default: the stack's) on a running proxy as the reconcile Job does (the real
    reconciler over the admin API, keys into a memory sink). Returns (the reconcile summary, tenant -> key)."""
    from llmplatform import naming
    from llmplatform.gateway import reconcile as rc
    from llmplatform.gateway import tenants as tenants_mod

    doc = tenants_mod.desired_state(tuple(cfg.tenants if tenants is None else tenants), cfg.models,
                                    served_names={m.name: m.served_name for m in cfg.models}, key_namespaces={},
                                    default_key_namespace=naming.NS_TENANT_GATEWAY)
    sink = rc.MemorySink()
    api = rc.AdminAPI.connect(proxy.url, proxy.master_key)
    try:
        summary = rc.reconcile(api, rc.Desired.from_json(doc), sink)
    finally:
        api.client.close()
    return summary, sink.keys


def wait_for(predicate: Callable[[], Any], timeout_s: float, interval_s: float = 1.0) -> Any:
    """Poll `predicate` until it returns something truthy or `timeout_s` passes; its last value either way."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval_s)
