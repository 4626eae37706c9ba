"""`llmp ide-config`: stack file -> the tenant's models -> a client's configuration text, checked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llmplatform.config.stack_file import load_stack_file

from llmp.ide.base_url import resolve_base_url
from llmp.ide.checks import problems
from llmp.ide.clients import API_KEY_ENV, OPENCODE_PROMPT_TOKENS, OUTPUT_TOKENS, Client, dump, load, render
from llmp.ide.roles import ClientModels, IdeConfigError, choose_models, require_usable


@dataclass(frozen=True)
class IdeConfig:
    client: Client
    text: str
    """The file's content."""
    models: ClientModels
    base_url: str
    notes: tuple[str, ...]
    """What the user should know: a role the tenant has no model for, where the key goes."""


def build(project_dir: Path, stack: str, tenant: str, client: Client, base_url: str | None = None) -> IdeConfig:
    """The checked configuration of `client` for `tenant` on `stack`.

    Raises ConfigError (a bad stack file) or IdeConfigError (unknown tenant, no model the client can use, no
    base URL, or a rendered document that fails `checks.problems`); both mean exit 2.
    """
    cfg = load_stack_file(project_dir, stack)
    models = choose_models(cfg, tenant, stack)
    require_usable(models, client.value, stack)
    url = resolve_base_url(cfg, stack, base_url)
    text = dump(client, render(client, models, url, stack=stack))
    found = problems(client, load(client, text), text, models, url)
    if found:  # the renderer and the checks disagree: never write such a file
        raise IdeConfigError(f"the rendered {client} configuration fails its checks: " + "; ".join(found))
    return IdeConfig(client, text, models, url, tuple(_notes(client, models)))


def _notes(client: Client, models: ClientModels) -> list[str]:
    out = [f"the key is read from ${API_KEY_ENV}: set it to tenant {models.tenant}'s key (docs/ide.md)"]
    if client == Client.CONTINUE and models.chat is None:
        out.append(f"no chat: none of tenant {models.tenant}'s models has capability chat; Continue gets "
                   "autocomplete only")
    if models.agent is None and models.chat is not None:
        out.append(f"no tool calls: none of tenant {models.tenant}'s models has capabilities chat + tools, so "
                   f"{'agent mode' if client == Client.CONTINUE else 'opencode'} can answer but not act")
    if client == Client.CONTINUE and models.fim is None:
        out.append(f"no autocomplete: none of tenant {models.tenant}'s models has capability completions with a "
                   "fim format")
    main = models.agent or models.chat
    if client == Client.OPENCODE and main is not None:
        answer = min(OUTPUT_TOKENS, main.max_model_len // 4)
        room = main.max_model_len - OPENCODE_PROMPT_TOKENS - answer
        # Less room than opencode's own prompt takes: a few turns at most; none at all: every request refused.
        if room < OPENCODE_PROMPT_TOKENS:
            out.append(f"{main.served_name} has a context of {main.max_model_len} tokens; opencode's own prompt and "
                       f"tools take about {OPENCODE_PROMPT_TOKENS} and an answer up to {answer}, " + (
                           f"leaving about {room} for the conversation" if room > 0 else
                           "more than the context: the model will refuse opencode's requests (context length)"))
    if client == Client.OPENCODE and models.fim is not None:
        out.append(f"opencode has no autocomplete; the FIM model {models.fim.served_name} is for Continue")
    return out
