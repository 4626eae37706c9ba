"""Which of a tenant's models an IDE uses for chat, FIM (autocomplete) and agentic tool calls.

Pure: reads the typed stack config, never the cluster. A model qualifies for a role by the capabilities the
stack gives it (`models[].capabilities`: `chat`, `completions`, `tools`; FIM also needs `models[].fim`, the
model's fill-in-the-middle tokens), and only among the tenant's `allowed_models`; clients send its
`served_name`, the name LiteLLM and the tenant's key know.
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
    fim: str | None
    """The model's FIM token format (`models[].fim`, e.g. `qwen-coder`); None: not offered for FIM."""


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
    fim = getattr(model.fim, "value", model.fim)
    return ServedModel(model.name, model.served_name, capabilities(model), model.max_model_len, fim)


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
    - fim: among those with `completions` and a `fim` format, the first without `chat` (a base model, trained
      for fill-in-the-middle, as prod serves one), else the first.

    Raises IdeConfigError for an unknown tenant.
    """
    tenant = find_tenant(cfg, tenant_name, stack)
    allowed = tuple(_served(m) for m in cfg.models if m.name in tenant.allowed_models)
    agent = next((m for m in allowed if {CHAT, TOOLS} <= m.capabilities), None)
    chat = agent or next((m for m in allowed if CHAT in m.capabilities), None)
    for_fim = [m for m in allowed if COMPLETIONS in m.capabilities and m.fim is not None]
    fim = next((m for m in for_fim if CHAT not in m.capabilities), None) or next(iter(for_fim), None)
    return ClientModels(tenant=tenant.name, chat=chat, fim=fim, agent=agent, allowed=allowed)


def require_usable(models: ClientModels, client: str, stack: str) -> None:
    """IdeConfigError unless the client can use one of the tenant's models: Continue a chat model or one for
    FIM (`completions` with a `fim` format), opencode (chat and agent only) a chat model."""
    if models.chat or (client == "continue" and models.fim):
        return
    needs = "capability `chat`, or `completions` with a `fim` format," if client == "continue" else \
        "capability `chat`"
    listed = ", ".join(f"{m.name} ({', '.join(sorted(m.capabilities))}{f'; fim {m.fim}' if m.fim else ''})"
                       for m in models.allowed)
    raise IdeConfigError(
        f"tenant {models.tenant!r} on stack {stack} has no model {client} can use: it needs one with {needs} "
        f"among the tenant's allowed_models, which are {listed or 'none'}; allow such a model in "
        f"tenants[].allowed_models of Pulumi.{stack}.yaml")
