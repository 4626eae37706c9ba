"""The two IDE clients' configuration documents, rendered from a tenant's models and the gateway URL.

Continue (`config.yaml`, schema v1, validated by `@continuedev/config-yaml`'s zod schema) and opencode
(`opencode.json`, JSON Schema https://opencode.ai/config.json). The key is never written: each client reads
it from the environment variable API_KEY_ENV through its own reference syntax:

- Continue: `${{ secrets.LLMP_API_KEY }}`, resolved from `~/.continue/.env`, the workspace's `.continue/.env`
  or `.env`, then the IDE's process environment (Continue's LocalPlatformClient);
- opencode: `{env:LLMP_API_KEY}`, substituted from the environment when the config is loaded.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

import yaml

from llmp.ide.roles import TOOLS, ClientModels, ServedModel

API_KEY_ENV = "LLMP_API_KEY"
"""The environment variable both clients read the tenant's virtual key from."""
PROVIDER_ID = "llm-platform"
"""opencode's provider id for the gateway: models are `llm-platform/<served name>`."""
OPENCODE_SCHEMA = "https://opencode.ai/config.json"
OUTPUT_TOKENS = 4096
"""opencode's per-reply output budget (`limit.output`), at most a quarter of the model's context."""


OPENCODE_PROMPT_TOKENS = 8000
"""About what opencode 1.18.33 sends before the user's first word: its system prompt and 10 tool definitions,
about 31,000 characters (measured against the fake backend, tests/ide). A model needs room for it, the
conversation and `limit.output`."""


class Client(StrEnum):
    CONTINUE = "continue"
    OPENCODE = "opencode"


CONTINUE_FIM_TEMPLATES = {
    "qwen-coder": "<|fim_prefix|>{{{prefix}}}<|fim_suffix|>{{{suffix}}}<|fim_middle|>",
    "starcoder": "<fim_prefix>{{{prefix}}}<fim_suffix>{{{suffix}}}<fim_middle>",
    "codellama": "<PRE> {{{prefix}}} <SUF>{{{suffix}}} <MID>",
    "deepseek-coder": "<｜fim▁begin｜>{{{prefix}}}<｜fim▁hole｜>{{{suffix}}}<｜fim▁end｜>",
}
"""Continue's autocomplete prompt (`promptTemplates.autocomplete`, Handlebars: `{{{prefix}}}`, `{{{suffix}}}`)
for each `models[].fim` format (`FimFormat`): the model's own tokens, not a guess from its served name."""

KEY_REFERENCE = {Client.CONTINUE: f"${{{{ secrets.{API_KEY_ENV} }}}}", Client.OPENCODE: f"{{env:{API_KEY_ENV}}}"}
"""How each client's config names the key: a reference the client resolves, never the value."""
DEFAULT_FILE = {Client.CONTINUE: "config.yaml", Client.OPENCODE: "opencode.json"}


def continue_config(models: ClientModels, base_url: str, *, stack: str) -> dict[str, Any]:
    """Continue's config: the chat model (roles chat, edit, apply; `tool_use` when it can call tools, which
    Continue's agent mode needs) and the FIM model (role autocomplete, on `/completions`: the OpenAI provider
    with `useLegacyCompletionsEndpoint`, the tenant key's FIM route; its prompt written with the model's FIM
    tokens, `promptTemplates.autocomplete`)."""
    common = {"provider": "openai", "apiBase": base_url, "apiKey": KEY_REFERENCE[Client.CONTINUE]}
    entries: list[dict[str, Any]] = []
    if models.chat is not None:
        chat = models.chat
        entries.append({
            "name": f"{chat.served_name} (chat)", "model": chat.served_name, **common,
            "roles": ["chat", "edit", "apply"],
            **({"capabilities": ["tool_use"]} if TOOLS in chat.capabilities else {}),
            "defaultCompletionOptions": {"contextLength": chat.max_model_len},
        })
    if models.fim is not None:
        entries.append({
            "name": f"{models.fim.served_name} (autocomplete)", "model": models.fim.served_name, **common,
            "roles": ["autocomplete"], "useLegacyCompletionsEndpoint": True,
            "promptTemplates": {"autocomplete": CONTINUE_FIM_TEMPLATES[models.fim.fim or ""]},
            "defaultCompletionOptions": {"contextLength": models.fim.max_model_len},
        })
    return {"name": f"llm-platform {stack} ({models.tenant})", "version": "1.0.0", "schema": "v1",
            "models": entries}


def _opencode_model(model: ServedModel) -> dict[str, Any]:
    return {"name": model.served_name, "tool_call": TOOLS in model.capabilities,
            "limit": {"context": model.max_model_len, "output": min(OUTPUT_TOKENS, model.max_model_len // 4)}}


def opencode_config(models: ClientModels, base_url: str, *, stack: str) -> dict[str, Any]:
    """opencode's config: one OpenAI-compatible provider with every chat model the tenant may call, the agent
    model (tool calls) as `model`, else the chat model. opencode has no autocomplete: the FIM model is not
    listed."""
    listed = [m for m in models.allowed if "chat" in m.capabilities]
    main = models.agent or models.chat
    assert main is not None, "require_usable(models, 'opencode', ...) first"
    return {
        "$schema": OPENCODE_SCHEMA,
        "provider": {PROVIDER_ID: {
            "npm": "@ai-sdk/openai-compatible",
            "name": f"llm-platform {stack}",
            "options": {"baseURL": base_url, "apiKey": KEY_REFERENCE[Client.OPENCODE]},
            "models": {m.served_name: _opencode_model(m) for m in listed},
        }},
        "model": f"{PROVIDER_ID}/{main.served_name}",
    }


def render(client: Client, models: ClientModels, base_url: str, *, stack: str) -> dict[str, Any]:
    return (continue_config if client == Client.CONTINUE else opencode_config)(models, base_url, stack=stack)


def dump(client: Client, doc: dict[str, Any]) -> str:
    """The file's text: YAML for Continue, JSON for opencode."""
    if client == Client.CONTINUE:
        return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=1000)
    return json.dumps(doc, indent=2) + "\n"


def load(client: Client, text: str) -> Any:
    return yaml.safe_load(text) if client == Client.CONTINUE else json.loads(text)
