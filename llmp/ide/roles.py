"""Which of a tenant's models an IDE uses for chat, FIM (autocomplete) and agentic tool calls.

Pure: reads the typed stack config, never the cluster. A model qualifies for a role by the capabilities the
stack gives it (`models[].capabilities`: `chat`, `completions`, `tools`), and only among the tenant's
`allowed_models`; clients send its `served_name`, the name LiteLLM and the tenant's key know.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmplatform.config.model import ModelSpec, PlatformConfig, TenantSpec

CHAT, COMPLETIONS, TOOLS = "chat", "completions", "tools"


class IdeConfigError(Exception):
    """A request `llmp ide-config` cannot serve (unknown tenant, no usable model, no base URL): exit 2."""

    exit_code = 2


@dataclass(frozen=True)
class ServedModel:
    """One model as a client sees it."""

    name: str
    """The stack's model `name` (for messages)."""
    served_name: str
    """What the client sends as `model`."""
    capabilities: frozenset[str]
    max_model_len: int


@dataclass(frozen=True)
class ClientModels:
    """The tenant's models by role; None where no allowed model has the capability (the client then goes
    without chat, autocomplete or tool calls; `require_usable` says which clients can do without what)."""

    tenant: str
    chat: ServedModel | None
    fim: ServedModel | None
    agent: ServedModel | None
    allowed: tuple[ServedModel, ...]
    """Every model the tenant may call, in stack order."""


def capabilities(model: ModelSpec) -> frozenset[str]:
    """The model's capabilities as plain strings (`chat`, `completions`, `tools`)."""
    return frozenset(str(getattr(c, "value", c)) for c in model.capabilities)


def _served(model: ModelSpec) -> ServedModel:
    return ServedModel(model.name, model.served_name, capabilities(model), model.max_model_len)


def find_tenant(cfg: PlatformConfig, name: str, stack: str) -> TenantSpec:
    tenant = next((t for t in cfg.tenants if t.name == name), None)
    if tenant is None:
        raise IdeConfigError(f"unknown tenant {name!r} on stack {stack}; tenants there: "
                             f"{', '.join(t.name for t in cfg.tenants)}")
    return tenant


def choose_models(cfg: PlatformConfig, tenant_name: str, stack: str) -> ClientModels:
    """The tenant's chat, FIM and agent models. Rules, each in stack order among the tenant's allowed models:

    - agent: the first with `chat` and `tools` (tool calls need both);
    - chat: the agent model when there is one (one model answers and acts), else the first with `chat`;
    - fim: the first with `completions` and without `chat` (a base model, trained for fill-in-the-middle,
      as prod serves one), else the first with `completions`.

    Raises IdeConfigError for an unknown tenant.
    """
    tenant = find_tenant(cfg, tenant_name, stack)
    allowed = tuple(_served(m) for m in cfg.models if m.name in tenant.allowed_models)
    agent = next((m for m in allowed if {CHAT, TOOLS} <= m.capabilities), None)
    chat = agent or next((m for m in allowed if CHAT in m.capabilities), None)
    fim = next((m for m in allowed if COMPLETIONS in m.capabilities and CHAT not in m.capabilities), None) \
        or next((m for m in allowed if COMPLETIONS in m.capabilities), None)
    return ClientModels(tenant=tenant.name, chat=chat, fim=fim, agent=agent, allowed=allowed)


def require_usable(models: ClientModels, client: str, stack: str) -> None:
    """IdeConfigError unless the client can use one of the tenant's models: Continue a chat or an
    autocomplete model, opencode (chat and agent only) a chat model."""
    needs = (CHAT, COMPLETIONS) if client == "continue" else (CHAT,)
    if (CHAT in needs and models.chat) or (COMPLETIONS in needs and models.fim):
        return
    listed = ", ".join(f"{m.name} ({', '.join(sorted(m.capabilities)) or 'no capabilities'})" for m in models.allowed)
    raise IdeConfigError(
        f"tenant {models.tenant!r} on stack {stack} has no model {client} can use: it needs one with capability "
        f"{' or '.join(f'`{n}`' for n in needs)} among the tenant's allowed_models, which are {listed or 'none'}; "
        f"allow such a model in tenants[].allowed_models of Pulumi.{stack}.yaml")
